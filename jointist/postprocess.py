"""Posteriorgrams -> notes. Plain numpy, testable without a model.

Both transcription heads end in :class:`~jointist.notes.NoteArray` per instrument, so MIDI export
(:mod:`jointist.midi`), JSON export (:mod:`jointist.export`) and metrics are shared.

Note decoding (onsets-and-frames style), per pitch:
1. an onset is a frame whose onset probability is >= ``onset_threshold`` and a local maximum
   (a run of frames above the threshold yields one onset, at its peak);
2. the note sounds from the onset frame while the frame probability stays >= ``frame_threshold``
   (the onset frame and the ``onset_frames`` after it count as sounding, since frame activations
   often lag the onset), and stops at the next onset of the same pitch; from a model with an offset
   head and with ``offset_threshold`` set, it also stops at the first offset peak (a local maximum
   >= the threshold) after those frames: the note ends at that frame;
3. notes shorter than ``min_note_s`` are dropped. Times are frame indices / frames per second (frame
   ``k`` is centred at ``k / fps``), the rule of :mod:`jointist.data.targets`.
Drums keep onsets only; each hit gets a fixed ``drum_note_s`` duration.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import cast

import numpy as np

from jointist.constants import FRAMES_PER_SECOND, MIN_MIDI, N_PITCHES
from jointist.instruments import DRUMS, UnknownInstrumentError, by_index, by_name
from jointist.note_ends import EndStage, NoteEndChooser
from jointist.notes import NoteArray
from jointist.verifier import AFTER, BEFORE, OnsetVerifier, verified_onsets

__all__ = ["DecodeConfig", "DecodeConfigError", "NoteTracker", "TrackDecoder", "decode_notes", "decode_tracks",
           "note_hold", "suppress_shared_onsets"]


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
    offset_threshold: float | None = None
    """With the offset probabilities of a model with an offset head, a note also ends at the first
    frame after its onset frames whose offset probability is a local maximum >= this; None or 0 ignores
    offsets (and a model without the head has none)."""
    shared_onset_ratio: float = 0.0
    """Across pitched instruments decoded together, an onset whose probability is below this share of
    the strongest instrument's onset at the same key (within one frame) is dropped: 1 lets only the
    most likely instrument keep a note, 0 (default) decodes every instrument independently."""
    class_thresholds: Mapping[str, Sequence[float | None]] | Sequence[Sequence[object]] | None = None
    """Per-instrument ``[onset_threshold, frame_threshold]``, ``[onset_threshold, frame_threshold,
    shared_onset_ratio]`` or ``[onset_threshold, frame_threshold, shared_onset_ratio,
    offset_threshold]`` replacing the settings above for the instruments named, e.g.
    ``{Timpani: [0.1, 0.1], Strings: [0.2, 0.2, 0.0], Piano: [0.3, 0.2, null, 0.3]}``: a conditioned
    transcriber is not equally confident about every timbre, an ensemble class that doubles a solo one
    loses fewer notes without suppression, and a decaying timbre's note ends are surer than a sustained
    one's (``jointist-evaluate tune_decode=true tune_per_class=true`` fits them on validation songs).
    A null ratio or offset threshold keeps the shared one; an offset threshold of 0 ignores offsets for
    that instrument. Stored as sorted ``(name, onset, frame, ratio or None, offset or None)``. A
    mapping or such tuples (with or without the last items) are accepted; an empty mapping clears the
    table."""

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
        if self.offset_threshold is not None and not 0.0 <= self._number("offset_threshold") <= 1.0:
            raise DecodeConfigError("decode.offset_threshold must be in [0, 1] (a probability; 0 or null: offsets "
                                    f"ignored), got {self.offset_threshold}")
        for name in ("min_note_s", "drum_note_s"):
            value = self._number(name)
            if not (np.isfinite(value) and value >= 0.0):
                raise DecodeConfigError(f"decode.{name} must be a duration >= 0 seconds, got {getattr(self, name)}")
        if self._integer("onset_frames") < 1:
            raise DecodeConfigError(f"decode.onset_frames must be >= 1 frame, got {self.onset_frames}")
        if not 1 <= self._integer("velocity") <= 127:
            raise DecodeConfigError(f"decode.velocity must be a MIDI velocity in 1..127, got {self.velocity}")
        object.__setattr__(self, "class_thresholds", self._class_table(self.class_thresholds))

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

    @staticmethod
    def _class_table(value: object) -> tuple[tuple[str, float, float, float | None, float | None], ...] | None:
        """``class_thresholds`` as sorted ``(canonical name, onset, frame, ratio or None, offset or None)``,
        or a clear error."""
        if value is None:
            return None
        if isinstance(value, Mapping):
            items = [(name, setting) for name, setting in value.items()]
        elif isinstance(value, (list, tuple)) and all(isinstance(v, (list, tuple)) and 3 <= len(v) <= 5 for v in value):
            items = [(v[0], list(v[1:])) for v in value]
        else:
            raise DecodeConfigError("decode.class_thresholds must map instrument names to [onset, frame] thresholds "
                                    "(and optionally a shared-onset ratio and an offset threshold), e.g. "
                                    f"{{Piano: [0.3, 0.2]}}, got {value!r}")
        table: dict[str, tuple[float, float, float | None, float | None]] = {}
        for name, setting in items:
            try:
                inst = by_name(name)  # type: ignore[arg-type]
            except UnknownInstrumentError as err:
                raise DecodeConfigError(f"decode.class_thresholds: {err}") from err
            if not isinstance(setting, (list, tuple)) or not 2 <= len(setting) <= 4:
                raise DecodeConfigError(f"decode.class_thresholds.{inst.name} must be [onset, frame], [onset, frame, "
                                        f"shared_onset_ratio] or [onset, frame, ratio, offset], got {setting!r}")
            values: list[float | None] = [None, None, None, None]
            for k, (what, x) in enumerate(zip(("onset threshold", "frame threshold", "shared-onset ratio",
                                               "offset threshold"), setting)):
                if x is None and k >= 2:  # the shared ratio / offset threshold
                    continue
                if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, float, np.integer, np.floating)) \
                        or not 0.0 <= float(x) <= 1.0:
                    raise DecodeConfigError(f"decode.class_thresholds.{inst.name}: the {what} must be in [0, 1]"
                                            f"{' (or null: the shared one)' if k >= 2 else ''}, got {x!r}")
                values[k] = float(x)
            if inst.name in table:
                raise DecodeConfigError(f"decode.class_thresholds names {inst.name} twice")
            table[inst.name] = (cast(float, values[0]), cast(float, values[1]), values[2], values[3])
        return tuple((name, *table[name]) for name in sorted(table)) or None

    def with_classes(self, rows: Mapping[str, Sequence[float | None]] | Sequence[Sequence[object]]) -> DecodeConfig:
        """These settings with the ``class_thresholds`` rows of ``rows`` (same forms) added, replacing
        the rows of the instruments they name (e.g. the ``Drums`` row of a drum transcriber's card)."""
        new = self._class_table(rows) or ()
        named = {row[0] for row in new}
        kept = tuple(row for row in (self.class_thresholds or ()) if row[0] not in named)  # type: ignore[union-attr]
        return replace(self, class_thresholds=[list(row) for row in (*kept, *new)])

    def for_class(self, index: int) -> DecodeConfig:
        """The settings that decode instrument class ``index``: its own thresholds (ratio, offset
        threshold) where ``class_thresholds`` names it, these otherwise."""
        name = by_index(index).name
        table = cast("tuple[tuple[str, float, float, float | None, float | None], ...]", self.class_thresholds or ())
        for entry_name, onset_threshold, frame_threshold, ratio, offset_threshold in table:
            if entry_name == name:
                return replace(self, onset_threshold=onset_threshold, frame_threshold=frame_threshold,
                               shared_onset_ratio=self.shared_onset_ratio if ratio is None else ratio,
                               offset_threshold=self.offset_threshold if offset_threshold is None else offset_threshold,
                               class_thresholds=None)
        return self


def note_hold(config: DecodeConfig, fps: float = FRAMES_PER_SECOND) -> int:
    """A decoded note's first frames, which always sound: its onset frame, ``config.onset_frames``
    after it, and at least the shortest note (``config.min_note_s``)."""
    return max(1 + config.onset_frames, int(round(config.min_note_s * fps)), 1)


def _onset_peaks(onset: np.ndarray, threshold: float) -> np.ndarray:
    """Boolean (T, P): frames above threshold that are the maximum of their run."""
    above = onset >= threshold
    prev = np.vstack([np.full((1, onset.shape[1]), -np.inf), onset[:-1]])
    nxt = np.vstack([onset[1:], np.full((1, onset.shape[1]), -np.inf)])
    return above & (onset >= prev) & (onset > nxt)


class NoteTracker:
    """Notes of one instrument from its onset and frame probabilities, arriving in consecutive blocks.

    The decoding rule of the module docstring, applied as frames arrive: a frame is decoded once its
    next frame is known (an onset peak needs both neighbours), and a note stays open until a frame
    below ``frame_threshold`` or the next onset of its key closes it, however many blocks later. It
    holds one block of frames, so a song of any length decodes in bounded memory; the notes are the
    same whatever the block sizes (:func:`decode_notes` is one block).

    Args:
        is_drum: drum rule: onsets only, each hit ``config.drum_note_s`` long.
        offset_s: time of frame 0.
    """

    def __init__(self, *, is_drum: bool = False, config: DecodeConfig = DecodeConfig(), fps: float = FRAMES_PER_SECOND,
                 offset_s: float = 0.0) -> None:
        self.is_drum = is_drum
        self.config = config
        self.fps = fps
        self.offset_s = offset_s
        self.min_frames = max(1, int(round(config.min_note_s * fps)))
        self._onset = np.zeros((0, N_PITCHES), np.float32)  # buffered frames, from song frame self._start on
        self._frame = np.zeros((0, N_PITCHES), np.float32)
        self._velocity: np.ndarray | None = None
        self._offset: np.ndarray | None = None  # buffered offset probabilities, when they end notes
        self._with_offsets = False  # whether the blocks come with offsets
        self._start = 0
        self._settled = 0  # frames before this one are decoded
        self._received = 0
        self._open = np.full(N_PITCHES, -1, np.int64)  # per key: onset frame of the note still sounding, or -1
        self._open_hold = np.zeros(N_PITCHES, np.int64)  # first frame at which a drop in the frame roll ends it
        self._open_velocity = np.zeros(N_PITCHES, np.int64)
        # onset frame, end frame, key and velocity of each finished note, 8 bytes a value (a long song has many)
        self._notes = tuple(array("q") for _ in range(4))
        self._drum_hits: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (frames, keys, velocities)

    def push(self, onset: np.ndarray, frame: np.ndarray, velocity: np.ndarray | None = None,
             offsets: np.ndarray | None = None) -> None:
        """The next frames: onset and frame probabilities (n, 88), the velocity roll (velocity / 127,
        (n, 88)) if the model has a velocity head, and the offset probabilities (n, 88) if it has an
        offset head (each then on every push)."""
        onset = np.asarray(onset, dtype=np.float32)
        frame = np.asarray(frame, dtype=np.float32)
        if onset.shape != frame.shape or onset.ndim != 2 or onset.shape[1] != N_PITCHES:
            raise ValueError(f"onset and frame must both be (time, {N_PITCHES}), got {onset.shape} and {frame.shape}")
        if (velocity is None) != (self._velocity is None) and self._received:
            raise ValueError("velocity must be given with every block or with none")
        if self._received and (offsets is not None) != self._with_offsets:
            raise ValueError("offsets must be given with every block or with none")
        self._with_offsets = offsets is not None
        self._onset = np.concatenate([self._onset, onset])
        self._frame = np.concatenate([self._frame, frame])
        if velocity is not None:
            velocity = np.asarray(velocity, dtype=np.float32)
            if velocity.shape != onset.shape:
                raise ValueError(f"velocity must be {onset.shape} like onset, got {velocity.shape}")
            self._velocity = velocity if self._velocity is None else np.concatenate([self._velocity, velocity])
        if offsets is not None:
            offsets = np.asarray(offsets, dtype=np.float32)
            if offsets.shape != onset.shape:
                raise ValueError(f"offsets must be {onset.shape} like onset, got {offsets.shape}")
            if self.config.offset_threshold and not self.is_drum:  # buffered only where they end notes
                self._offset = offsets if self._offset is None else np.concatenate([self._offset, offsets])
        self._received += len(onset)
        self._advance(final=False)

    def finish(self) -> NoteArray:
        """Decode the last frame, close the notes still sounding at the song's end, and return every note."""
        self._advance(final=True)
        total = self._received
        if self.is_drum:
            hits = [np.concatenate(parts) for parts in zip(*self._drum_hits)] if self._drum_hits else [np.zeros(0, np.int64)] * 3
            frames, keys, vel = hits
            on = frames / self.fps + self.offset_s
            off = np.minimum(on + self.config.drum_note_s, total / self.fps + self.offset_s)  # not past the audio
            return NoteArray.from_arrays(on, off, keys + MIN_MIDI, vel)
        for key in np.flatnonzero(self._open >= 0):
            self._close(int(key), total)
        starts, ends, keys, vel = (np.frombuffer(column, np.int64) if len(column) else np.zeros(0, np.int64)
                                   for column in self._notes)
        return NoteArray.from_arrays(starts / self.fps + self.offset_s, ends / self.fps + self.offset_s,
                                     keys + MIN_MIDI, vel)

    def closed_notes(self, since: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Onset frames, end frames and keys (0..87) of the notes closed so far, from the ``since``-th
        on (in the order they were closed, which is the order :meth:`finish` returns them in)."""
        return tuple(np.frombuffer(column, np.int64)[since:].copy() if len(column) > since else np.zeros(0, np.int64)
                     for column in self._notes[:3])  # type: ignore[return-value]

    def open_notes(self) -> tuple[np.ndarray, np.ndarray]:
        """Onset frames and keys of the notes still sounding."""
        keys = np.flatnonzero(self._open >= 0)
        return self._open[keys].copy(), keys

    def _close(self, key: int, end: int) -> None:
        start = int(self._open[key])
        if end - start >= self.min_frames:
            for column, value in zip(self._notes, (start, end, key, int(self._open_velocity[key]))):
                column.append(value)
        self._open[key] = -1

    def _advance(self, *, final: bool) -> None:
        """Decode the buffered frames whose neighbours are known (all of them when ``final``)."""
        stop = self._received if final else self._received - 1
        if stop <= self._settled:
            return
        # the buffer's edges stand for the song's edges only where they are: it starts one frame before
        # the first frame decoded here (or at the song's start) and, unless final, ends one frame after
        peaks = _onset_peaks(self._onset, self.config.onset_threshold)
        a, b = self._settled - self._start, stop - self._start
        velocity = None if self._velocity is None else self._velocity[a:b]
        offset_peaks = None
        if self._offset is not None:
            offset_peaks = _onset_peaks(self._offset, self.config.offset_threshold or 0.0)[a:b]
        self._track(peaks[a:b], self._frame[a:b] >= self.config.frame_threshold, velocity, first=self._settled,
                    offset_peaks=offset_peaks)
        self._settled = stop
        keep = max(stop - 1, self._start) - self._start
        self._onset, self._frame = self._onset[keep:], self._frame[keep:]
        if self._velocity is not None:
            self._velocity = self._velocity[keep:]
        if self._offset is not None:
            self._offset = self._offset[keep:]
        self._start += keep

    def _track(self, peaks: np.ndarray, active: np.ndarray, velocity: np.ndarray | None, *, first: int,
               offset_peaks: np.ndarray | None = None) -> None:
        """Open and close notes over frames ``first ..`` (onset peaks and active frames, (n, 88) each;
        ``offset_peaks`` likewise also end a note: a peak is the first frame where the note no longer sounds)."""
        starts_t, starts_p = np.nonzero(peaks)  # ordered by frame
        vel = _velocities(velocity, starts_t, starts_p, self.config)
        if self.is_drum:
            self._drum_hits.append((starts_t + first, starts_p, vel))
            return
        for p in np.union1d(starts_p, np.flatnonzero(self._open >= 0)):
            key = int(p)
            mine = starts_p == key
            onsets, onset_vel = starts_t[mine], vel[mine]
            stopping = ~active[:, key] if offset_peaks is None else ~active[:, key] | offset_peaks[:, key]
            inactive = np.flatnonzero(stopping)  # relative frames where the key stops sounding
            if self._open[key] >= 0:  # a note from an earlier block: the first drop after its hold, or an onset
                j = np.searchsorted(inactive, max(int(self._open_hold[key]) - first, 0))
                ends = ([int(inactive[j])] if j < len(inactive) else []) + ([int(onsets[0])] if len(onsets) else [])
                if ends:
                    self._close(key, first + min(ends))
            for i, start in enumerate(onsets):
                hold = int(start) + 1 + self.config.onset_frames  # the onset frame and the next ones sound
                j = np.searchsorted(inactive, hold)
                ends = ([int(inactive[j])] if j < len(inactive) else []) + ([int(onsets[i + 1])] if i + 1 < len(onsets) else [])
                self._open[key], self._open_hold[key], self._open_velocity[key] = first + start, first + hold, onset_vel[i]
                if ends:
                    self._close(key, first + min(ends))


def decode_notes(
    onset: np.ndarray,
    frame: np.ndarray,
    *,
    is_drum: bool = False,
    config: DecodeConfig = DecodeConfig(),
    fps: int = FRAMES_PER_SECOND,
    offset_s: float = 0.0,
    velocity: np.ndarray | None = None,
    offsets: np.ndarray | None = None,
) -> NoteArray:
    """Notes from onset and frame probabilities of one instrument, each (T, 88).

    Args:
        offset_s: time of frame 0 (for windows that do not start at 0).
        velocity: (T, 88) velocity / 127 from a velocity head: each note takes the value at its onset
            frame (1..127); None gives every note ``config.velocity``.
        offsets: (T, 88) offset probabilities from an offset head (used with ``config.offset_threshold``).
    """
    onset = np.asarray(onset, dtype=np.float32)
    frame = np.asarray(frame, dtype=np.float32)
    if onset.shape != frame.shape or onset.ndim != 2 or onset.shape[1] != N_PITCHES:
        raise ValueError(f"onset and frame must both be (time, {N_PITCHES}), got {onset.shape} and {frame.shape}")
    tracker = NoteTracker(is_drum=is_drum, config=config, fps=fps, offset_s=offset_s)
    tracker.push(onset, frame, velocity, offsets)
    return tracker.finish()


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


class TrackDecoder:
    """Notes of several instruments decoded together from posteriorgrams arriving in consecutive blocks.

    Blocks are onset and frame probabilities (n, K, 88) of the classes ``classes`` (K,) (and the
    velocity and offset rolls of a model with those heads), as compact
    codes with ``scale`` (e.g. the uint8 of a :class:`~jointist.results.Posteriorgram`, 255:
    probabilities are ``codes / scale``) or as probabilities (``scale`` 1). Where an instrument's
    ``shared_onset_ratio`` (its own, see :meth:`DecodeConfig.for_class`) is > 0, its onsets are
    suppressed as :func:`suppress_shared_onsets` does with that ratio (it needs the next frame, so
    frames are passed on one frame late). Each instrument's :class:`NoteTracker`
    holds one block, in float32, one instrument at a time: the pipeline decodes a song of any length
    while its windows are stitched, in memory that does not grow with the song.

    With a ``verifier`` (a :class:`~jointist.models.verifier.NoteVerifier`), the pitched instruments'
    onsets are first replaced by its probabilities that each candidate onset starts a note
    (:func:`~jointist.verifier.verified_onsets`; frames are then passed on ``AFTER`` frames late), so the
    onset thresholds of ``config`` apply to those probabilities.

    With an ``ender`` (a :class:`~jointist.models.note_ends.NoteEnder`), the pitched notes the trackers
    close get their ends chosen among their candidate ends (:class:`~jointist.note_ends.EndStage`,
    about ``HORIZON`` frames behind the trackers).
    """

    def __init__(self, classes: Sequence[int], *, config: DecodeConfig = DecodeConfig(), fps: float = FRAMES_PER_SECOND,
                 scale: float = 1.0, verifier: OnsetVerifier | None = None, ender: NoteEndChooser | None = None) -> None:
        self.classes = [int(c) for c in classes]
        self.config = config
        self.scale = scale
        self.drums = np.array([c == DRUMS.index for c in self.classes], bool)
        own = [config.for_class(c) for c in self.classes]
        self.trackers = [NoteTracker(is_drum=bool(d), config=o, fps=fps) for o, d in zip(own, self.drums)]
        self.ratios = np.array([o.shared_onset_ratio for o in own])  # each instrument's own share
        self.suppress = bool((self.ratios[~self.drums] > 0).any()) and int((~self.drums).sum()) >= 2
        self._pending: list[np.ndarray | None] = []  # (onset, frame, velocity, offsets) codes not yet passed on
        self._start = 0  # song frame of the pending frames' first
        self._settled = 0
        self._received = 0
        # with a verifier: (onset, frame, velocity, offsets) codes not yet verified, from song frame _vstart
        self.verifier = verifier if verifier is not None and not self.drums.all() else None
        self._unverified: list[np.ndarray | None] = []
        self._vstart = 0
        self._verified = 0
        self._vreceived = 0
        self.ends = None if ender is None or self.drums.all() else EndStage(
            ender, self.classes, hold=note_hold(config, fps), fps=fps, scale=scale)

    def push(self, onset: np.ndarray, frame: np.ndarray, velocity: np.ndarray | None = None,
             offsets: np.ndarray | None = None) -> None:
        """The next frames of every instrument: onset and frame (n, K, 88), velocity / 127 and offset
        probabilities likewise or None."""
        onset, frame = np.asarray(onset), np.asarray(frame)
        k = len(self.classes)
        if onset.shape != frame.shape or onset.ndim != 3 or onset.shape[1:] != (k, N_PITCHES):
            raise ValueError(f"onset and frame must both be (time, {k}, 88), got {onset.shape} and {frame.shape}")
        if self.verifier is not None:
            parts = (onset, frame, velocity, offsets)
            self._unverified = list(parts) if not self._unverified else [
                None if old is None or new is None else np.concatenate([old, new])
                for old, new in zip(self._unverified, parts)]
            self._vreceived += len(onset)
            self._verify(final=False)
            return
        self._receive(onset, frame, velocity, offsets)

    def _verify(self, *, final: bool) -> None:
        """Pass on the unverified frames whose features are known (all when ``final``), their pitched
        onsets replaced by the verifier's probabilities (:func:`~jointist.verifier.verified_onsets`)."""
        assert self.verifier is not None
        stop = self._vreceived if final else self._vreceived - AFTER
        if stop <= self._verified or not self._unverified:
            return
        onset, frame, velocity, offsets = self._unverified
        assert onset is not None and frame is not None
        a, b = self._verified - self._vstart, stop - self._vstart
        checked = verified_onsets(self.verifier, onset, frame, offsets, self.classes, scale=self.scale, first=a, stop=b)
        self._receive(checked, frame[a:b], None if velocity is None else velocity[a:b],
                      None if offsets is None else offsets[a:b])
        self._verified = stop
        keep = max(stop - BEFORE, self._vstart) - self._vstart
        self._unverified = [None if x is None else x[keep:] for x in self._unverified]
        self._vstart += keep

    def _receive(self, onset: np.ndarray, frame: np.ndarray, velocity: np.ndarray | None,
                 offsets: np.ndarray | None) -> None:
        """The next frames for the shared-onset rule and the note trackers."""
        if not self.suppress:
            self._pass_on(onset, frame, velocity, offsets, near=None)
            return
        parts = (onset, frame, velocity, offsets)
        self._pending = list(parts) if not self._pending else [
            None if old is None or new is None else np.concatenate([old, new]) for old, new in zip(self._pending, parts)]
        self._received += len(onset)
        self._advance(final=False)

    def finish(self) -> dict[int, NoteArray]:
        """class -> notes."""
        if self.verifier is not None:
            self._verify(final=True)
        if self.suppress:
            self._advance(final=True)
        notes = {c: tracker.finish() for c, tracker in zip(self.classes, self.trackers)}
        return notes if self.ends is None else self.ends.finish(self.trackers, notes)

    def _probabilities(self, codes: np.ndarray) -> np.ndarray:
        return codes.astype(np.float32) / self.scale if self.scale != 1.0 else codes.astype(np.float32, copy=False)

    def _advance(self, *, final: bool) -> None:
        """Pass on the pending frames whose next frame is known (all when ``final``), onsets suppressed."""
        stop = self._received if final else self._received - 1
        if stop <= self._settled or not self._pending:
            return
        onset, frame, velocity, offsets = self._pending
        assert onset is not None and frame is not None
        # per frame and key, the strongest pitched onset within one frame, over the pending frames
        # (which start one frame before those passed on here, or at the song's start)
        strongest = np.zeros((onset.shape[0], onset.shape[2]), onset.dtype)
        for j in np.flatnonzero(~self.drums):
            np.maximum(strongest, onset[:, j], out=strongest)
        near = self._probabilities(strongest)
        near[1:] = np.maximum(near[1:], near[:-1].copy())
        near[:-1] = np.maximum(near[:-1], self._probabilities(strongest[1:]))
        a, b = self._settled - self._start, stop - self._start
        self._pass_on(onset[a:b], frame[a:b], None if velocity is None else velocity[a:b],
                      None if offsets is None else offsets[a:b], near=near[a:b])
        self._settled = stop
        keep = max(stop - 1, self._start) - self._start
        self._pending = [None if x is None else x[keep:] for x in self._pending]
        self._start += keep

    def _pass_on(self, onset: np.ndarray, frame: np.ndarray, velocity: np.ndarray | None, offsets: np.ndarray | None, *,
                 near: np.ndarray | None) -> None:
        for j, tracker in enumerate(self.trackers):
            on = self._probabilities(onset[:, j])
            ratio = float(self.ratios[j])
            if near is not None and not self.drums[j] and ratio > 0:
                on = np.where(on < ratio * near, np.float32(0.0), on)
            tracker.push(on, self._probabilities(frame[:, j]),
                         None if velocity is None else self._probabilities(velocity[:, j]),
                         None if offsets is None else self._probabilities(offsets[:, j]))
        if self.ends is not None:
            self.ends.push(frame, offsets, self.trackers)


def decode_tracks(
    onset: np.ndarray, frame: np.ndarray, classes: list[int] | np.ndarray, *, config: DecodeConfig = DecodeConfig(),
    fps: int = FRAMES_PER_SECOND, velocity: np.ndarray | None = None, scale: float = 1.0, block_frames: int = 6000,
    offsets: np.ndarray | None = None, verifier: OnsetVerifier | None = None, ender: NoteEndChooser | None = None,
) -> dict[int, NoteArray]:
    """Notes of every instrument decoded together: onset and frame probabilities (T, K, 88) of the
    classes ``classes`` (K,) -> class -> notes, with :func:`suppress_shared_onsets` applied first;
    ``velocity`` (T, K, 88), velocity / 127, gives the notes their velocities; ``offsets`` (T, K, 88),
    an offset head's probabilities, end notes at their peaks with ``config.offset_threshold``;
    ``verifier`` decides which onsets start notes and ``ender`` where they end (:class:`TrackDecoder`).

    The inputs may be compact codes (e.g. the uint8 of a :class:`~jointist.results.Posteriorgram`)
    with ``scale`` (255): probabilities are ``codes / scale``. A :class:`TrackDecoder` takes them
    ``block_frames`` at a time, so only one block of one instrument is ever held in float32.
    """
    onset, frame = np.asarray(onset), np.asarray(frame)
    if onset.shape != frame.shape or onset.ndim != 3 or onset.shape[1] != len(classes):
        raise ValueError(f"onset and frame must both be (time, {len(classes)}, 88), got {onset.shape} and {frame.shape}")
    decoder = TrackDecoder([int(c) for c in classes], config=config, fps=fps, scale=scale, verifier=verifier,
                           ender=ender)
    for a in range(0, max(len(onset), 1), block_frames):
        decoder.push(onset[a: a + block_frames], frame[a: a + block_frames],
                     None if velocity is None else velocity[a: a + block_frames],
                     None if offsets is None else offsets[a: a + block_frames])
    return decoder.finish()
