"""A learned note-onset verifier: which candidate onsets of a conditioned transcriber to keep.

The transcriber hears each named instrument through its own FiLM-conditioned head, so a note of a
sustained keyboard often shows up as an onset in two or three instruments' rolls, and a weak true
onset of one instrument looks like a ghost of another's. Fixed rules decide this today: a per-instrument
onset threshold and a shared-onset ratio (:class:`~jointist.postprocess.DecodeConfig`). The verifier
learns the decision instead, from what the posteriorgram shows around each candidate:

- a candidate is a local onset peak >= ``floor`` of a pitched instrument at a key (drums keep the rules);
- its features (:func:`candidate_features`) are the instrument's own onset peak and its shape, how the
  key's frame roll sounded before and after it, the offset head around it, the same instrument's onsets
  an octave and a semitone away and at all other keys (a chord), the strongest other instrument's
  onset, sustain and earlier sound at the key within one frame, with both instruments' identities
  (learned embeddings);
- a small MLP (:class:`NoteVerifier`) gives the probability that the candidate starts a note of that
  instrument (a reference onset of that instrument and key within 50 ms that no stronger candidate
  claims, :func:`candidate_labels`), trained on posteriorgrams of training songs told their true
  instruments; a candidate is kept where it is >= the verifier's threshold.

Kept candidates become the onsets the note trackers follow (their frame and offset thresholds are
unchanged), in :class:`~jointist.postprocess.TrackDecoder`, block by block like the rules, so long
songs still decode in bounded memory. Features need ``BEFORE`` frames before a candidate and ``AFTER``
after it; frames outside the song count as silent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from jointist.constants import MIN_MIDI, N_PITCHES
from jointist.instruments import DRUMS, NUM_CLASSES
from jointist.notes import NoteArray

__all__ = ["AFTER", "BEFORE", "FEATURES", "NO_RIVAL", "Candidates", "OnsetVerifier", "candidate_features", "candidate_labels", "verified_onsets"]

BEFORE = 2
"""Frames of context a candidate needs before its onset frame."""
AFTER = 12
"""Frames of context a candidate needs after its onset frame (the note's first 120 ms)."""
NO_RIVAL = NUM_CLASSES
"""The rival identity of a candidate that no other pitched instrument contests."""

FEATURES = (
    "onset", "onset_before", "onset_after",
    "frame_before2", "frame_before", "frame_at", "frame_next4", "frame_later8",
    "offset_max8", "offset_mean8",
    "octave_below", "octave_above", "semitone",
    "rival_onset", "rivals_sum", "rival_sustain", "rivals_sustain_max", "rival_later8", "rival_frame_before",
    "chord", "all_onsets", "others", "drums", "pitch", "onset_log",
)
"""The numeric features of a candidate, in order (:func:`candidate_features`)."""


@dataclass(frozen=True)
class Candidates:
    """Candidate onsets of one block: frame (relative to the block), instrument row, key (0..87),
    numeric features (n, len(FEATURES)) and the instrument class and its strongest rival's class
    (:data:`NO_RIVAL` where none)."""

    frame: np.ndarray
    row: np.ndarray
    key: np.ndarray
    features: np.ndarray
    own: np.ndarray
    rival: np.ndarray

    def __len__(self) -> int:
        return len(self.frame)


def _window_mean(roll: np.ndarray, start: int, stop: int, frames: np.ndarray, rows: np.ndarray,
                 keys: np.ndarray) -> np.ndarray:
    """Mean of ``roll`` (T, K, 88) over frames ``frames + start .. frames + stop`` at each (row, key),
    summed in the same order whatever the block, so a candidate's features do not depend on where
    the blocks begin."""
    return np.stack([roll[frames + d, rows, keys] for d in range(start, stop)]).mean(axis=0)


def candidate_features(
    onset: np.ndarray, frame: np.ndarray, offsets: np.ndarray | None, classes: Sequence[int], *,
    floor: float, first: int = 0, stop: int | None = None,
) -> Candidates:
    """The candidate onsets of frames ``first .. stop`` of a block and their features.

    Args:
        onset, frame: probabilities (n, K, 88) of the instruments ``classes`` (K,).
        offsets: an offset head's probabilities likewise, or None (features 0).
        floor: the smallest onset probability of a candidate.
        first, stop: the frames whose candidates are wanted; the block's frames outside them are
            context, and frames beyond the block count as silent (a song's edges).
    """
    onset = np.asarray(onset, np.float32)
    frame = np.asarray(frame, np.float32)
    n, k, _ = onset.shape
    stop = n if stop is None else stop
    classes_arr = np.asarray(classes, np.int64)
    pitched = classes_arr != DRUMS.index
    pad = ((BEFORE, AFTER + 1), (0, 0), (0, 0))
    on = np.pad(onset, pad)
    fr = np.pad(frame, pad)
    # candidates: local onset peaks >= floor (the rule of the note trackers), pitched instruments only
    centre = on[1:-1]
    peaks = (centre >= floor) & (centre >= on[:-2]) & (centre > on[2:])
    peaks[:, ~pitched] = False
    peaks[: BEFORE - 1 + first] = False
    peaks[BEFORE - 1 + stop:] = False
    t, j, p = np.nonzero(peaks)
    tt = t + 1  # index into the padded rolls
    empty = np.zeros(0, np.int64)
    if len(t) == 0:
        return Candidates(empty, empty, empty, np.zeros((0, len(FEATURES)), np.float32), empty, empty)
    near = on.copy()  # each frame's onset with its neighbours' (within one frame)
    near[1:] = np.maximum(near[1:], on[:-1])
    near[:-1] = np.maximum(near[:-1], on[1:])
    own = on[tt, j, p]
    feats = {
        "onset": own,
        "onset_before": on[tt - 1, j, p],
        "onset_after": on[tt + 1, j, p],
        "frame_before2": fr[tt - 2, j, p],
        "frame_before": fr[tt - 1, j, p],
        "frame_at": fr[tt, j, p],
        "frame_next4": _window_mean(fr, 1, 5, tt, j, p),
        "frame_later8": _window_mean(fr, 5, 13, tt, j, p),
    }
    if offsets is not None:
        off = np.pad(np.asarray(offsets, np.float32), pad)
        ahead = np.stack([off[tt + d, j, p] for d in range(1, 9)])
        feats["offset_max8"], feats["offset_mean8"] = ahead.max(axis=0), ahead.mean(axis=0)
    else:
        feats["offset_max8"] = feats["offset_mean8"] = np.zeros(len(t), np.float32)
    feats["octave_below"] = np.where(p >= 12, near[tt, j, np.maximum(p - 12, 0)], 0.0)
    feats["octave_above"] = np.where(p < N_PITCHES - 12, near[tt, j, np.minimum(p + 12, N_PITCHES - 1)], 0.0)
    feats["semitone"] = np.maximum(np.where(p > 0, near[tt, j, np.maximum(p - 1, 0)], 0.0),
                                   np.where(p < N_PITCHES - 1, near[tt, j, np.minimum(p + 1, N_PITCHES - 1)], 0.0))
    # the other pitched instruments at the same key
    rivals = near[tt, :, p]  # (N, K)
    contest = np.broadcast_to(pitched, rivals.shape).copy()
    contest[np.arange(len(t)), j] = False
    rivals = np.where(contest, rivals, -1.0)
    strongest = rivals.argmax(axis=1)
    rival_onset = np.maximum(rivals[np.arange(len(t)), strongest], 0.0)
    sustain = np.stack([_window_mean(fr, 0, 5, tt, np.full(len(t), r), p) for r in range(k)], axis=1)
    feats["rival_onset"] = rival_onset
    feats["rivals_sum"] = np.where(contest, np.maximum(rivals, 0.0), 0.0).sum(axis=1)
    feats["rival_sustain"] = sustain[np.arange(len(t)), strongest] * (rival_onset > 0)
    feats["rivals_sustain_max"] = np.where(contest, sustain, 0.0).max(axis=1)
    feats["rival_later8"] = _window_mean(fr, 5, 13, tt, strongest, p) * (rival_onset > 0)
    feats["rival_frame_before"] = fr[tt - 1, strongest, p] * (rival_onset > 0)
    # how many notes start at once: the instrument's onsets at the other keys, and every instrument's
    per_row = near.sum(axis=2)  # (frames, K): each instrument's onsets summed over the keys
    feats["chord"] = per_row[tt, j] - near[tt, j, p]
    feats["all_onsets"] = per_row[tt][:, pitched].sum(axis=1)
    feats["others"] = np.full(len(t), (int(pitched.sum()) - 1) / 5.0)
    feats["drums"] = np.full(len(t), float((~pitched).any()))
    feats["pitch"] = p / (N_PITCHES - 1.0)
    feats["onset_log"] = np.log(own + 1e-3)
    features = np.stack([np.asarray(feats[name], np.float32) for name in FEATURES], axis=1)
    rival = np.where(rival_onset > 0.01, classes_arr[strongest], NO_RIVAL)
    return Candidates(t - BEFORE + 1, j, p, features, classes_arr[j], rival)


def candidate_labels(cands: Candidates, reference: Mapping[int, NoteArray], classes: Sequence[int], *,
                     fps: float, first: int = 0, tolerance_s: float = 0.05) -> np.ndarray:
    """1 where a candidate starts a reference note of its instrument and key within ``tolerance_s``
    (each reference note claimed by at most one candidate, the strongest first), else 0.
    ``first``: the song frame of the block's frame 0."""
    labels = np.zeros(len(cands), np.float32)
    order = np.argsort(-cands.features[:, FEATURES.index("onset")], kind="stable")
    times = (cands.frame + first) / fps
    free: dict[tuple[int, int], list[float]] = {}
    for c in set(int(x) for x in classes):
        notes = reference.get(c)
        if notes is None:
            continue
        for on, pitch in zip(notes.onset_s, notes.pitch):
            free.setdefault((c, int(pitch) - MIN_MIDI), []).append(float(on))
    for i in order:
        onsets = free.get((int(cands.own[i]), int(cands.key[i])))
        if not onsets:
            continue
        gaps = np.abs(np.asarray(onsets) - times[i])
        best = int(gaps.argmin())
        if gaps[best] <= tolerance_s + 1e-9:
            labels[i] = 1.0
            onsets.pop(best)
    return labels


@runtime_checkable
class OnsetVerifier(Protocol):
    """What :func:`verified_onsets` needs of a verifier (:class:`~jointist.models.verifier.NoteVerifier`),
    and the protocol of the ``verifier`` role of model files."""

    floor: float

    def probabilities(self, cands: Candidates) -> np.ndarray: ...


def verified_onsets(verifier: OnsetVerifier, onset: np.ndarray, frame: np.ndarray, offsets: np.ndarray | None,
                    classes: Sequence[int], *, scale: float = 1.0, first: int = 0, stop: int | None = None) -> np.ndarray:
    """The onset roll of frames ``first .. stop`` of a block with the verifier's decisions in it.

    Pitched instruments' rows hold, at each candidate onset (:func:`candidate_features`), the
    verifier's probability that it starts a note, and 0 elsewhere; drum rows are left as they are.
    A note tracker's onset threshold then keeps the candidates at least that probable (a candidate is
    a local peak, so its neighbours are 0). Inputs are probabilities, or codes with ``scale`` (255 for
    uint8), and so is the result (same dtype).
    """
    onset = np.asarray(onset)
    stop = len(onset) if stop is None else stop
    probabilities = (lambda x: np.asarray(x, np.float32) / scale) if scale != 1.0 else (lambda x: np.asarray(x, np.float32))
    cands = candidate_features(probabilities(onset), probabilities(frame),
                               None if offsets is None else probabilities(offsets), classes,
                               floor=verifier.floor, first=first, stop=stop)
    out = onset[first:stop].copy()
    pitched = np.asarray(classes) != DRUMS.index
    out[:, pitched] = 0
    values = verifier.probabilities(cands) * scale
    if np.issubdtype(out.dtype, np.integer):
        values = np.clip(np.rint(values), 0, np.iinfo(out.dtype).max)
    out[cands.frame - first, cands.row, cands.key] = values.astype(out.dtype)
    return out
