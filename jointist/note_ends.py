"""A learned choice of where each decoded note ends.

The note trackers end a note at the first frame after its onset frames where the frame roll falls
below the instrument's threshold, where the offset head peaks, or where the key's next onset comes.
On decaying timbres (guitars, harp, piano, harpsichord) the sound fades long before the key is
released, and a third of their notes whose onset is right end too early for mir_eval's offset
tolerance (50 ms or 20% of the note). Often the true end is where the instrument's next note starts
(legato playing, a strummed chord held until the next), or where the frame roll falls below another
threshold. This module turns that into a choice among a note's candidate ends:

- the tracker's own end, the first frames where the key's frame roll falls below 0.5, 0.3, 0.2, 0.1
  and 0.05, the first offset peaks (>= 0.05), the instrument's next note starts (at any key), and
  the bound (the key's next note of the same instrument, ``HORIZON`` frames after the onset, or the
  song's end), each after the note's first ``hold`` frames;
- each candidate is described by :data:`FEATURES` (how long the note would be, relative to the
  tracker's choice, how the frame roll and offset head look around it and over the note, how many
  notes of the instrument and of everyone start there) and its kind;
- a small network (:class:`~jointist.models.note_ends.NoteEnder`) scores them, and the note ends at
  the best one; it is trained with a softmax over each note's candidates to put its mass on those
  within mir_eval's tolerance of the true end.

Notes longer than ``HORIZON`` under the tracker's rule keep their end. Features need the frame and
offset rolls of frames ``onset .. onset + HORIZON + AFTER`` and every note start of the instrument
before ``onset + HORIZON``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from jointist.constants import MIN_MIDI
from jointist.instruments import DRUMS
from jointist.notes import NoteArray

__all__ = ["AFTER", "FEATURES", "HORIZON", "KINDS", "EndCandidates", "EndStage", "NoteEndChooser", "end_candidates", "end_labels",
           "ended_notes", "song_candidates"]

HORIZON = 400
"""The longest note (frames) whose end is chosen; longer notes keep the tracker's end."""
AFTER = 5
"""Frames of context a candidate needs after it."""
NEXT_GAP = 50
"""How far after a candidate the instrument's next note start is looked for (frames)."""
THRESHOLDS = (0.5, 0.3, 0.2, 0.1, 0.05)
"""Frame-roll levels whose first crossing below is a candidate."""
N_PEAKS = 3
"""Offset peaks per note that are candidates."""
N_NEXT = 4
"""Next note starts of the instrument per note that are candidates."""
PEAK_FLOOR = 0.05
"""The smallest offset peak that is a candidate."""
KINDS = ("tracker", *(f"frame<{t}" for t in THRESHOLDS), *(f"offset peak {i + 1}" for i in range(N_PEAKS)),
         *(f"next start {i + 1}" for i in range(N_NEXT)), "bound")
"""The kinds of candidate, in slot order: each note has one slot per kind (unused slots are masked)."""

FEATURES = (
    "log_duration", "log_ratio_to_tracker", "after_tracker",
    "frame_before", "frame_at", "frame_after", "frame_mean_note", "frame_mean_next5", "frame_min_note",
    "frame_start", "frame_max_note", "offset_max_near", "offset_at",
    "starts_here", "everyone_starts_here", "key_restarts", "is_bound_by_key", "rank", "pitch",
    "frame_share_of_max", "frame_drop", "log_gap_to_next_start", "log_first_gap", "log_bound",
)
"""The numeric features of a candidate end (:func:`end_candidates`), in order."""


@dataclass(frozen=True)
class EndCandidates:
    """Candidate ends of ``n`` notes of one instrument: the notes' start frames, keys and tracker ends
    (n,), the candidates' end frames (n, len(KINDS)), a mask of the slots in use, and their features
    (n, len(KINDS), len(FEATURES)); ``klass`` is the instrument's class."""

    start: np.ndarray
    key: np.ndarray
    tracker_end: np.ndarray
    end: np.ndarray
    mask: np.ndarray
    features: np.ndarray
    klass: int

    def __len__(self) -> int:
        return len(self.start)


def _first_true(matrix: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Per row, the first column where ``matrix & allowed`` holds, or -1."""
    hit = matrix & allowed
    first = hit.argmax(axis=1)
    return np.where(hit.any(axis=1), first, -1)


def end_candidates(
    start: np.ndarray, key: np.ndarray, tracker_end: np.ndarray, frame: np.ndarray, offsets: np.ndarray | None,
    class_starts: np.ndarray, everyone_starts: np.ndarray, key_next: np.ndarray, *, klass: int, hold: int,
    total: int, first: int = 0,
) -> EndCandidates:
    """The candidate ends of notes of one instrument and their features.

    Args:
        start, key, tracker_end: the notes' onset frames (song frames), keys (0..87) and the tracker's
            end frames (n,).
        frame, offsets: the instrument's frame and offset probabilities (m, 88) from song frame
            ``first`` on (offsets None: no offset head); they must cover ``start + HORIZON + AFTER``
            of every note or reach the song's end (``total`` frames).
        class_starts: sorted song frames of every note start of the instrument (repeated for chords).
        everyone_starts: sorted song frames of every pitched note start of all instruments.
        key_next: per note, the song frame of the next note start of the instrument at its key, or
            a large number.
        hold: frames after the onset that always sound (the tracker's ``1 + onset_frames``; at least
            the shortest note).
    """
    n = len(start)
    width = HORIZON + AFTER + 2
    start = np.asarray(start, np.int64)
    key = np.asarray(key, np.int64)
    tracker_end = np.asarray(tracker_end, np.int64)
    # the frame and offset traces of each note from its onset (frames past the song are silent)
    cols = start[:, None] - first + np.arange(-1, width - 1)[None, :]  # column 0 is the frame before the onset
    inside = (cols >= 0) & (cols < len(frame)) & (cols + first < total)
    safe = np.clip(cols, 0, max(len(frame) - 1, 0))
    trace = np.where(inside, frame[safe, key[:, None]], 0.0).astype(np.float32) if len(frame) else \
        np.zeros((n, width), np.float32)
    otrace = np.zeros_like(trace) if offsets is None else \
        np.where(inside, offsets[safe, key[:, None]], 0.0).astype(np.float32)
    d = np.arange(width)[None, :] - 1  # offset from the onset of each column
    bound = np.minimum(np.minimum(np.asarray(key_next, np.int64), start + HORIZON), total) - start  # (n,)
    allowed = (d >= hold) & (d <= bound[:, None])
    slots = np.full((n, len(KINDS)), -1, np.int64)  # candidate end, as an offset from the onset
    slots[:, 0] = np.clip(tracker_end - start, hold, bound)
    for i, level in enumerate(THRESHOLDS):
        col = _first_true(trace < level, allowed)
        slots[:, 1 + i] = np.where(col >= 0, col - 1, -1)
    prev, nxt = np.roll(otrace, 1, axis=1), np.roll(otrace, -1, axis=1)
    peaks = (otrace >= PEAK_FLOOR) & (otrace >= prev) & (otrace > nxt) & allowed
    for i in range(N_PEAKS):
        col = _first_true(peaks, np.ones_like(peaks))
        slots[:, 1 + len(THRESHOLDS) + i] = np.where(col >= 0, col - 1, -1)
        peaks[np.arange(n), np.maximum(col, 0)] = False
    base = 1 + len(THRESHOLDS) + N_PEAKS
    distinct = np.unique(class_starts)
    later = np.searchsorted(distinct, start + hold, side="left")
    for i in range(N_NEXT):
        idx = later + i
        at = np.where(idx < len(distinct), distinct[np.minimum(idx, max(len(distinct) - 1, 0))] if len(distinct)
                      else 0, -1)
        ok = (idx < len(distinct)) & (at - start <= bound)
        slots[:, base + i] = np.where(ok, at - start, -1)
    slots[:, -1] = bound
    mask = slots >= hold
    mask[:, 0] = True
    dur = np.maximum(slots, 1)
    rows = np.arange(n)[:, None]
    col = np.clip(dur + 1, 0, width - 1)  # the candidate's column in the traces
    csum = np.concatenate([np.zeros((n, 1), np.float32), np.cumsum(trace, axis=1)], axis=1)
    note_mean = (csum[rows, col] - csum[:, 1:2]) / np.maximum(col - 1, 1)
    nxt5 = np.clip(col + 5, 0, width)
    next_mean = (csum[rows, nxt5] - csum[rows, col]) / np.maximum(nxt5 - col, 1)
    running_min = np.minimum.accumulate(np.where(np.arange(width)[None, :] >= hold + 1, trace, 1.0), axis=1)
    running_max = np.maximum.accumulate(np.where(np.arange(width)[None, :] >= 1, trace, 0.0), axis=1)
    omax = np.max(np.stack([otrace[rows, np.clip(col + s, 0, width - 1)] for s in range(-2, 3)]), axis=0)
    ends = start[:, None] + dur

    def counts(sorted_starts: np.ndarray) -> np.ndarray:
        lo = np.searchsorted(sorted_starts, ends - 1, side="left")
        hi = np.searchsorted(sorted_starts, ends + 1, side="right")
        return (hi - lo).astype(np.float32)

    tracker = np.maximum(slots[:, :1], 1)
    # how far the instrument's next note start is from each candidate, and from the note's onset
    nxt_idx = np.searchsorted(distinct, ends, side="left")
    nxt_at = np.where(nxt_idx < len(distinct), distinct[np.minimum(nxt_idx, max(len(distinct) - 1, 0))]
                      if len(distinct) else 0, ends + NEXT_GAP)
    first_gap = np.where(slots[:, base] >= 0, slots[:, base], bound)
    feats = {
        "log_duration": np.log(dur / 100.0),
        "log_ratio_to_tracker": np.log(dur / tracker),
        "after_tracker": (dur > tracker).astype(np.float32),
        "frame_before": trace[rows, np.clip(col - 1, 0, width - 1)],
        "frame_at": trace[rows, col],
        "frame_after": trace[rows, np.clip(col + 1, 0, width - 1)],
        "frame_mean_note": note_mean,
        "frame_mean_next5": next_mean,
        "frame_min_note": running_min[rows, np.clip(col - 1, 0, width - 1)],
        "frame_start": np.broadcast_to(trace[:, 2:3], dur.shape),
        "frame_max_note": running_max[rows, np.clip(col - 1, 0, width - 1)],
        "offset_max_near": omax,
        "offset_at": otrace[rows, col],
        "starts_here": counts(np.asarray(class_starts, np.int64)),
        "everyone_starts_here": counts(np.asarray(everyone_starts, np.int64)),
        "key_restarts": (start[:, None] + dur >= np.asarray(key_next, np.int64)[:, None]).astype(np.float32),
        "is_bound_by_key": np.broadcast_to((np.asarray(key_next) - start <= HORIZON)[:, None], dur.shape).astype(np.float32),
        "rank": np.argsort(np.argsort(np.where(mask, dur, 10 ** 6), axis=1, kind="stable"), axis=1) / len(KINDS),
        "pitch": np.broadcast_to((key / 87.0)[:, None], dur.shape),
        "frame_share_of_max": trace[rows, col] / np.maximum(running_max[rows, np.clip(col - 1, 0, width - 1)], 1e-3),
        "frame_drop": trace[rows, np.clip(col - 1, 0, width - 1)] - trace[rows, np.clip(col + 1, 0, width - 1)],
        "log_gap_to_next_start": np.log1p(np.clip(nxt_at - ends, 0, NEXT_GAP)),
        "log_first_gap": np.broadcast_to(np.log(np.maximum(first_gap, 1) / 100.0)[:, None], dur.shape),
        "log_bound": np.broadcast_to(np.log(np.maximum(bound, 1) / 100.0)[:, None], dur.shape),
    }
    features = np.stack([np.asarray(feats[name], np.float32) for name in FEATURES], axis=2)
    features = np.where(mask[:, :, None], features, 0.0).astype(np.float32)
    return EndCandidates(start, key, tracker_end, start[:, None] + np.where(mask, dur, 0), mask, features, int(klass))


def end_labels(cands: EndCandidates, reference: NoteArray, *, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """(n, len(KINDS)) 1 where a candidate ends within mir_eval's offset tolerance (50 ms or 20% of the
    reference note) of the reference note its onset matches (the nearest of its key within 50 ms),
    and (n,) whether the note matches one at all."""
    labels = np.zeros(cands.mask.shape, np.float32)
    matched = np.zeros(len(cands), bool)
    if not len(reference):
        return labels, matched
    on = np.asarray(reference.onset_s)
    off = np.asarray(reference.offset_s)
    pitch = np.asarray(reference.pitch) - MIN_MIDI
    for i in range(len(cands)):
        mine = np.flatnonzero(pitch == cands.key[i])
        if not len(mine):
            continue
        gaps = np.abs(on[mine] - cands.start[i] / fps)
        j = mine[gaps.argmin()]
        if gaps.min() > 0.05 + 1e-9:
            continue
        matched[i] = True
        tol = max(0.05, 0.2 * (off[j] - on[j]))
        labels[i] = (np.abs(cands.end[i] / fps - off[j]) <= tol + 1e-9) & cands.mask[i]
    return labels, matched


@runtime_checkable
class NoteEndChooser(Protocol):
    """What :func:`ended_notes` needs of a note-end model (:class:`~jointist.models.note_ends.NoteEnder`),
    and the protocol of the ``ender`` role of model files."""

    def choose(self, cands: EndCandidates) -> np.ndarray: ...


def song_candidates(
    notes: Mapping[int, NoteArray], frame: np.ndarray, offsets: np.ndarray | None, classes: Sequence[int], *,
    fps: float, hold: int, scale: float = 1.0,
) -> list[tuple[int, np.ndarray, EndCandidates]]:
    """The candidate ends of a whole song's notes: per pitched instrument with notes, ``(class, the
    indices of its notes whose end is chosen, their candidates)``, from the notes the trackers
    decoded (class -> notes) and the frame and offset rolls ``frame``, ``offsets`` ((T, K, 88) of the
    instruments ``classes``, codes with ``scale``). Notes longer than :data:`HORIZON` frames are left
    out."""
    total = len(frame)
    everyone = np.sort(np.concatenate([np.rint(np.asarray(notes[c].onset_s) * fps).astype(np.int64)
                                       for c in classes if c != DRUMS.index and c in notes] or [np.zeros(0, np.int64)]))
    out = []
    for j, c in enumerate(classes):
        found = notes.get(c, NoteArray.empty())
        if c == DRUMS.index or not len(found):
            continue
        start = np.rint(np.asarray(found.onset_s) * fps).astype(np.int64)
        end = np.rint(np.asarray(found.offset_s) * fps).astype(np.int64)
        key = np.asarray(found.pitch, np.int64) - MIN_MIDI
        order = np.lexsort((start, key))  # by key, then time: each note's next one at its key follows it
        key_next = np.full(len(start), 10 ** 9, np.int64)
        same = key[order[:-1]] == key[order[1:]]
        key_next[order[:-1][same]] = start[order[1:][same]]
        chosen = np.flatnonzero(end - start <= HORIZON)
        if not len(chosen):
            continue
        f = np.asarray(frame[:, j], np.float32) / scale
        o = None if offsets is None else np.asarray(offsets[:, j], np.float32) / scale
        cands = end_candidates(start[chosen], key[chosen], end[chosen], f, o, np.sort(start), everyone,
                               key_next[chosen], klass=c, hold=hold, total=total)
        out.append((int(c), chosen, cands))
    return out


def ended_notes(
    chooser: NoteEndChooser, notes: Mapping[int, NoteArray], frame: np.ndarray, offsets: np.ndarray | None,
    classes: Sequence[int], *, fps: float, hold: int, scale: float = 1.0,
) -> dict[int, NoteArray]:
    """The notes of a whole song (class -> notes, as the trackers decoded them from ``frame`` and
    ``offsets``, (T, K, 88) of the instruments ``classes``, codes with ``scale``) with their ends
    chosen by ``chooser`` (drums and notes longer than :data:`HORIZON` frames keep theirs)."""
    out = dict(notes)
    for c, chosen, cands in song_candidates(notes, frame, offsets, classes, fps=fps, hold=hold, scale=scale):
        found = notes[c]
        offset_s = np.asarray(found.offset_s, np.float64).copy()
        new_end = cands.end[np.arange(len(cands)), chooser.choose(cands)]
        offset_s[chosen] = np.asarray(found.onset_s)[chosen] + (new_end - cands.start) / fps
        out[c] = NoteArray.from_arrays(found.onset_s, offset_s, found.pitch, found.velocity)
    return out


_KEY_STRIDE = 10 ** 10
"""(key, frame) pairs are coded as ``key * _KEY_STRIDE + frame``."""


class _Tracker(Protocol):
    """What :class:`EndStage` reads of a :class:`~jointist.postprocess.NoteTracker`."""

    def closed_notes(self, since: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...

    def open_notes(self) -> tuple[np.ndarray, np.ndarray]: ...


class EndStage:
    """:func:`ended_notes` for posteriorgrams arriving in consecutive blocks, behind the note trackers.

    It keeps the frame and offset rolls of the last ``HORIZON + AFTER`` frames or so and the note
    starts since then, and chooses a note's end once the trackers have settled the frames its
    candidates need; the notes are the same whatever the block sizes (and the same as
    :func:`ended_notes` gives for the whole song), in memory that does not grow with the song.

    Args:
        classes: the instruments of the trackers, in order.
        hold: a note's first frames that always sound (its candidates come after).
        scale: codes with this scale (255 for uint8), or probabilities (1).
    """

    def __init__(self, chooser: NoteEndChooser, classes: Sequence[int], *, hold: int, fps: float,
                 scale: float = 1.0) -> None:
        self.chooser = chooser
        self.classes = [int(c) for c in classes]
        self.pitched = [j for j, c in enumerate(self.classes) if c != DRUMS.index]
        self.hold = int(hold)
        self.fps = fps
        self.scale = scale
        self._frame: np.ndarray | None = None  # buffered codes (n, K, 88) from song frame _first
        self._offsets: np.ndarray | None = None
        self._first = 0
        self._passed = 0  # frames given to the trackers
        self._seen = {j: 0 for j in self.pitched}  # closed notes taken from each tracker
        empty = np.zeros(0, np.int64)
        # per pitched row: index, start, end and key of the closed notes not yet chosen; starts and keys
        # of the closed notes still of use
        self._pending: dict[int, tuple[np.ndarray, ...]] = {j: (empty, empty, empty, empty) for j in self.pitched}
        self._known: dict[int, tuple[np.ndarray, ...]] = {j: (empty, empty) for j in self.pitched}
        self._chosen: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {j: [] for j in self.pitched}  # index, end

    def push(self, frame: np.ndarray, offsets: np.ndarray | None, trackers: Sequence[_Tracker]) -> None:
        """The frame (and offset) codes (n, K, 88) just given to ``trackers``."""
        self._frame = frame if self._frame is None else np.concatenate([self._frame, frame])
        if offsets is not None:
            self._offsets = offsets if self._offsets is None else np.concatenate([self._offsets, offsets])
        self._passed += len(frame)
        self._advance(trackers, final=False)

    def finish(self, trackers: Sequence[_Tracker], notes: Mapping[int, NoteArray]) -> dict[int, NoteArray]:
        """The trackers' notes of the whole song (after their ``finish``), with the chosen ends."""
        self._advance(trackers, final=True)
        out = dict(notes)
        for j, parts in self._chosen.items():
            c = self.classes[j]
            if not parts or not len(notes[c]):
                continue
            index, end = (np.concatenate(column) for column in zip(*parts))
            # a note of the tracker is its (key, onset frame): the notes come back in another order
            closed_start, _, closed_key = trackers[j].closed_notes()
            chosen = closed_key[index] * _KEY_STRIDE + closed_start[index]
            order = np.argsort(chosen)
            found = notes[c]
            onset_s = np.asarray(found.onset_s)
            offset_s = np.asarray(found.offset_s, np.float64).copy()
            start = np.rint(onset_s * self.fps).astype(np.int64)
            where = np.searchsorted(chosen, (np.asarray(found.pitch, np.int64) - MIN_MIDI) * _KEY_STRIDE + start,
                                    sorter=order)
            where = np.minimum(where, len(order) - 1)
            hit = chosen[order[where]] == (np.asarray(found.pitch, np.int64) - MIN_MIDI) * _KEY_STRIDE + start
            offset_s[hit] = onset_s[hit] + (end[order[where[hit]]] - start[hit]) / self.fps
            out[c] = NoteArray.from_arrays(onset_s, offset_s, found.pitch, found.velocity)
        return out

    def _advance(self, trackers: Sequence[_Tracker], *, final: bool) -> None:
        """Choose the ends of the closed notes whose candidates are known (all when ``final``)."""
        ready_until = self._passed if final else self._passed - (HORIZON + max(AFTER, NEXT_GAP) + 3 + self.hold)
        known: dict[int, tuple[np.ndarray, ...]] = {}
        for j in self.pitched:
            start, end, key = trackers[j].closed_notes(self._seen[j])
            index = np.arange(self._seen[j], self._seen[j] + len(start))
            self._seen[j] += len(start)
            self._pending[j] = tuple(np.concatenate([a, b]) for a, b in zip(self._pending[j], (index, start, end, key)))
            self._known[j] = tuple(np.concatenate([a, b]) for a, b in zip(self._known[j], (start, key)))
            open_start, open_key = trackers[j].open_notes()
            known[j] = (np.concatenate([self._known[j][0], open_start]), np.concatenate([self._known[j][1], open_key]))
        if self._frame is None or (ready_until < 0 and not final):
            return
        everyone = np.sort(np.concatenate([known[j][0] for j in self.pitched] or [np.zeros(0, np.int64)]))
        for j in self.pitched:
            index, start, end, key = self._pending[j]
            ready = start <= ready_until
            if not ready.any():
                continue
            self._pending[j] = tuple(a[~ready] for a in (index, start, end, key))
            index, start, end, key = (a[ready] for a in (index, start, end, key))
            chosen = end - start <= HORIZON
            if not chosen.any():
                continue
            index, start, end, key = (a[chosen] for a in (index, start, end, key))
            starts, keys = known[j]
            combo = np.sort(keys * _KEY_STRIDE + starts)
            at = np.searchsorted(combo, key * _KEY_STRIDE + start, side="right")
            hit = at < len(combo)
            nxt = combo[np.minimum(at, max(len(combo) - 1, 0))] if len(combo) else np.zeros(len(at), np.int64)
            key_next = np.where(hit & (nxt // _KEY_STRIDE == key), nxt % _KEY_STRIDE, 10 ** 9)
            frame = self._frame[:, j].astype(np.float32) / self.scale
            offsets = None if self._offsets is None else self._offsets[:, j].astype(np.float32) / self.scale
            cands = end_candidates(start, key, end, frame, offsets, np.sort(starts), everyone, key_next,
                                   klass=self.classes[j], hold=self.hold, total=self._passed, first=self._first)
            self._chosen[j].append((index, cands.end[np.arange(len(cands)), self.chooser.choose(cands)]))
        if final:
            return
        # every note still to be chosen starts after ready_until: drop what no such note needs
        mark = ready_until + 1
        for j in self.pitched:
            keep = self._known[j][0] >= mark - 1
            self._known[j] = (self._known[j][0][keep], self._known[j][1][keep])
        drop = max(mark - 2 - self._first, 0)
        if drop:
            self._frame = self._frame[drop:]
            self._offsets = None if self._offsets is None else self._offsets[drop:]
            self._first += drop
