"""Posteriorgrams -> notes. Plain numpy, testable without a model.

Both transcription heads end in :class:`~jointist.notes.NoteArray` per instrument, so MIDI export
(:mod:`jointist.midi`), JSON export (:mod:`jointist.export`) and metrics are shared.

Note decoding (onsets-and-frames style), per pitch:
1. an onset is a frame whose onset probability is >= ``onset_threshold`` and a local maximum
   (a run of frames above the threshold yields one onset, at its peak);
2. the note sounds from the onset frame while the frame probability stays >= ``frame_threshold``
   (the onset frame and the ``onset_frames`` after it count as sounding, since frame activations
   often lag the onset), and stops at the next onset of the same pitch;
3. notes shorter than ``min_note_s`` are dropped. Times are frame indices / frames per second (frame
   ``k`` is centred at ``k / fps``), the rule of :mod:`jointist.data.targets`.
Drums keep onsets only; each hit gets a fixed ``drum_note_s`` duration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jointist.constants import FRAMES_PER_SECOND, MIN_MIDI, N_PITCHES
from jointist.instruments import DRUMS
from jointist.notes import NoteArray

__all__ = ["DecodeConfig", "DecodeConfigError", "decode_notes", "decode_tracks", "suppress_shared_onsets"]


class DecodeConfigError(ValueError):
    """A decoding setting out of its range (a threshold above 1, a negative duration, ...)."""


@dataclass(frozen=True)
class DecodeConfig:
    """Thresholds of note decoding (named defaults shared by API, CLI, evaluation and tests)."""

    onset_threshold: float = 0.5
    frame_threshold: float = 0.4
    min_note_s: float = 0.03
    onset_frames: int = 1
    drum_note_s: float = 0.1
    velocity: int = 100
    shared_onset_ratio: float = 0.0
    """Across pitched instruments decoded together, an onset whose probability is below this share of
    the strongest instrument's onset at the same key (within one frame) is dropped: 1 lets only the
    most likely instrument keep a note, 0 (default) decodes every instrument independently."""

    def __post_init__(self) -> None:
        """Refuse values that would silently give no notes (or nonsense) with a message naming the field.

        Raises:
            DecodeConfigError: a threshold or ``shared_onset_ratio`` outside [0, 1], a negative
                ``min_note_s`` or ``drum_note_s``, ``onset_frames`` below 1, ``velocity`` outside
                1..127, or a value of the wrong type.
        """
        for name, what in (("onset_threshold", "a probability"), ("frame_threshold", "a probability"),
                           ("shared_onset_ratio", "a share of the strongest onset")):
            if not 0.0 <= self._number(name) <= 1.0:
                raise DecodeConfigError(f"decode.{name} must be in [0, 1] ({what}), got {getattr(self, name)}")
        for name in ("min_note_s", "drum_note_s"):
            value = self._number(name)
            if not (np.isfinite(value) and value >= 0.0):
                raise DecodeConfigError(f"decode.{name} must be a duration >= 0 seconds, got {getattr(self, name)}")
        if self._integer("onset_frames") < 1:
            raise DecodeConfigError(f"decode.onset_frames must be >= 1 frame, got {self.onset_frames}")
        if not 1 <= self._integer("velocity") <= 127:
            raise DecodeConfigError(f"decode.velocity must be a MIDI velocity in 1..127, got {self.velocity}")

    def _number(self, name: str) -> float:
        value = getattr(self, name)
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise DecodeConfigError(f"decode.{name} must be a number, got {value!r}")
        return float(value)

    def _integer(self, name: str) -> int:
        value = getattr(self, name)
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise DecodeConfigError(f"decode.{name} must be an integer, got {value!r}")
        return int(value)


def _onset_peaks(onset: np.ndarray, threshold: float) -> np.ndarray:
    """Boolean (T, P): frames above threshold that are the maximum of their run."""
    above = onset >= threshold
    prev = np.vstack([np.full((1, onset.shape[1]), -np.inf), onset[:-1]])
    nxt = np.vstack([onset[1:], np.full((1, onset.shape[1]), -np.inf)])
    return above & (onset >= prev) & (onset > nxt)


def decode_notes(
    onset: np.ndarray,
    frame: np.ndarray,
    *,
    is_drum: bool = False,
    config: DecodeConfig = DecodeConfig(),
    fps: int = FRAMES_PER_SECOND,
    offset_s: float = 0.0,
    velocity: np.ndarray | None = None,
) -> NoteArray:
    """Notes from onset and frame probabilities of one instrument, each (T, 88).

    Args:
        offset_s: time of frame 0 (for windows that do not start at 0).
        velocity: (T, 88) velocity / 127 from a velocity head: each note takes the value at its onset
            frame (1..127); None gives every note ``config.velocity``.
    """
    onset = np.asarray(onset, dtype=np.float32)
    frame = np.asarray(frame, dtype=np.float32)
    if onset.shape != frame.shape or onset.ndim != 2 or onset.shape[1] != N_PITCHES:
        raise ValueError(f"onset and frame must both be (time, {N_PITCHES}), got {onset.shape} and {frame.shape}")
    num_frames = onset.shape[0]
    peaks = _onset_peaks(onset, config.onset_threshold)
    starts_t, starts_p = np.nonzero(peaks)
    if is_drum:
        on = starts_t / fps + offset_s
        off = np.minimum(on + config.drum_note_s, num_frames / fps + offset_s)  # not past the audio
        return NoteArray.from_arrays(on, off, starts_p + MIN_MIDI, _velocities(velocity, starts_t, starts_p, config))
    on_list, off_list, pitch_list = [], [], []
    active = frame >= config.frame_threshold
    min_frames = max(1, int(round(config.min_note_s * fps)))
    for p in np.unique(starts_p):
        onsets = np.sort(starts_t[starts_p == p])
        column = active[:, p]
        # first frame at or after each index where the pitch is not active
        inactive = np.flatnonzero(~column)
        for i, start in enumerate(onsets):
            limit = onsets[i + 1] if i + 1 < len(onsets) else num_frames
            hold = min(start + 1 + config.onset_frames, limit)
            j = np.searchsorted(inactive, hold)
            end = min(inactive[j] if j < len(inactive) else num_frames, limit)
            end = max(end, hold)
            if end - start >= min_frames:
                on_list.append(start)
                off_list.append(end)
                pitch_list.append(p + MIN_MIDI)
    on = np.asarray(on_list, np.float64) / fps + offset_s
    off = np.asarray(off_list, np.float64) / fps + offset_s
    vel = _velocities(velocity, np.asarray(on_list, np.int64), np.asarray(pitch_list, np.int64) - MIN_MIDI, config)
    return NoteArray.from_arrays(on, off, pitch_list, vel)


def _velocities(velocity: np.ndarray | None, frames: np.ndarray, keys: np.ndarray, config: DecodeConfig) -> np.ndarray:
    """MIDI velocities (1..127) of notes starting at ``frames`` on ``keys``, read from a (T, 88) velocity
    roll (velocity / 127), or the fixed ``config.velocity``."""
    if velocity is None:
        return np.full(len(frames), config.velocity)
    return np.clip(np.rint(np.asarray(velocity, np.float32)[frames, keys] * 127.0), 1, 127).astype(np.int64)


def suppress_shared_onsets(onset: np.ndarray, ratio: float, *, pitched: np.ndarray | None = None) -> np.ndarray:
    """Onset probabilities (T, K, 88) of K instruments with the weaker claims on a note removed.

    A conditioned transcriber often hears one note in two instruments of similar timbre; with
    ``ratio`` > 0 an instrument keeps an onset cell only where its probability is at least ``ratio``
    times the largest probability any pitched instrument has at that key within one frame. Rows
    where ``pitched`` (K,) is False (drums) neither compete nor are changed. Returns a new array.
    """
    onset = np.asarray(onset, dtype=np.float32)
    if onset.ndim != 3 or onset.shape[2] != N_PITCHES:
        raise ValueError(f"onset must be (time, instruments, {N_PITCHES}), got {onset.shape}")
    out = onset.copy()
    mask = np.ones(onset.shape[1], bool) if pitched is None else np.asarray(pitched, bool)
    if ratio <= 0 or mask.sum() < 2:
        return out
    strongest = onset[:, mask].max(axis=1)  # (T, 88)
    near = strongest.copy()
    near[1:] = np.maximum(near[1:], strongest[:-1])
    near[:-1] = np.maximum(near[:-1], strongest[1:])
    weak = onset[:, mask] < ratio * near[:, None, :]
    sub = out[:, mask]
    sub[weak] = 0.0
    out[:, mask] = sub
    return out


def decode_tracks(
    onset: np.ndarray, frame: np.ndarray, classes: list[int] | np.ndarray, *, config: DecodeConfig = DecodeConfig(),
    fps: int = FRAMES_PER_SECOND, velocity: np.ndarray | None = None, scale: float = 1.0,
) -> dict[int, NoteArray]:
    """Notes of every instrument decoded together: onset and frame probabilities (T, K, 88) of the
    classes ``classes`` (K,) -> class -> notes, with :func:`suppress_shared_onsets` applied first;
    ``velocity`` (T, K, 88), velocity / 127, gives the notes their velocities.

    The inputs may be compact codes (e.g. the uint8 of a :class:`~jointist.results.Posteriorgram`)
    with ``scale`` (255): probabilities are ``codes / scale``. They are turned into float32 one
    instrument at a time, so decoding a long song for many instruments holds one instrument's float
    copy, not all of them (the strongest onset per key, which instruments compete against, is taken
    over the codes themselves).
    """
    classes = [int(c) for c in classes]
    onset, frame = np.asarray(onset), np.asarray(frame)
    if onset.shape != frame.shape or onset.ndim != 3 or onset.shape[1] != len(classes):
        raise ValueError(f"onset and frame must both be (time, {len(classes)}, 88), got {onset.shape} and {frame.shape}")
    drums = np.array([c == DRUMS.index for c in classes], bool)
    ratio = config.shared_onset_ratio
    near = None  # per frame and key, the strongest pitched onset within one frame (probability)
    if ratio > 0 and (~drums).sum() >= 2:
        strongest = np.zeros((onset.shape[0], onset.shape[2]), onset.dtype)
        for k in np.flatnonzero(~drums):
            np.maximum(strongest, onset[:, k], out=strongest)
        near = strongest.astype(np.float32) / scale
        near[1:] = np.maximum(near[1:], near[:-1].copy())
        near[:-1] = np.maximum(near[:-1], strongest[1:].astype(np.float32) / scale)

    def probabilities(codes: np.ndarray) -> np.ndarray:
        return codes.astype(np.float32) / scale if scale != 1.0 else codes.astype(np.float32, copy=False)

    notes = {}
    for j, c in enumerate(classes):
        on = probabilities(onset[:, j])
        if near is not None and not drums[j]:
            on = np.where(on < ratio * near, np.float32(0.0), on)
        notes[c] = decode_notes(on, probabilities(frame[:, j]), is_drum=bool(drums[j]), config=config, fps=fps,
                                velocity=None if velocity is None else probabilities(velocity[:, j]))
    return notes
