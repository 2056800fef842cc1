"""Note types shared by data, post-processing, metrics and MIDI export.

``NoteEvent`` is the typed value users see; ``NoteArray`` holds many notes as parallel numpy arrays so
the data pipeline can window and shift thousands of notes per example without Python loops.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["NoteArray", "NoteEvent"]


@dataclass(frozen=True)
class NoteEvent:
    """One note: times in seconds, MIDI pitch 0-127, MIDI velocity 1-127."""

    onset_s: float
    offset_s: float
    pitch: int
    velocity: int = 100


@dataclass(frozen=True)
class NoteArray:
    """Notes as parallel arrays of equal length, sorted by onset then pitch.

    Attributes:
        onset_s: (n,) float64 onset times in seconds.
        offset_s: (n,) float64 offset times in seconds (>= onset_s).
        pitch: (n,) int16 MIDI pitches.
        velocity: (n,) int16 MIDI velocities.
    """

    onset_s: np.ndarray
    offset_s: np.ndarray
    pitch: np.ndarray
    velocity: np.ndarray

    @classmethod
    def empty(cls) -> NoteArray:
        return cls(np.zeros(0), np.zeros(0), np.zeros(0, np.int16), np.zeros(0, np.int16))

    @classmethod
    def from_arrays(
        cls,
        onset_s: Sequence[float] | np.ndarray,
        offset_s: Sequence[float] | np.ndarray,
        pitch: Sequence[int] | np.ndarray,
        velocity: Sequence[int] | np.ndarray | None = None,
    ) -> NoteArray:
        onset = np.asarray(onset_s, dtype=np.float64).reshape(-1)
        offset = np.asarray(offset_s, dtype=np.float64).reshape(-1)
        pitches = np.asarray(pitch, dtype=np.int16).reshape(-1)
        vel = np.full(len(onset), 100, np.int16) if velocity is None else np.asarray(velocity, np.int16).reshape(-1)
        if not len(onset) == len(offset) == len(pitches) == len(vel):
            raise ValueError("onset_s, offset_s, pitch and velocity must have the same length")
        if np.any(offset < onset):
            raise ValueError("every note must end at or after its onset")
        order = np.lexsort((pitches, onset))
        return cls(onset[order], offset[order], pitches[order], vel[order])

    @classmethod
    def from_events(cls, events: Iterable[NoteEvent]) -> NoteArray:
        events = list(events)
        return cls.from_arrays(
            [e.onset_s for e in events], [e.offset_s for e in events], [e.pitch for e in events],
            [e.velocity for e in events],
        )

    @classmethod
    def concatenate(cls, parts: Sequence[NoteArray]) -> NoteArray:
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0]
        return cls.from_arrays(
            np.concatenate([p.onset_s for p in parts]), np.concatenate([p.offset_s for p in parts]),
            np.concatenate([p.pitch for p in parts]), np.concatenate([p.velocity for p in parts]),
        )

    def __len__(self) -> int:
        return len(self.onset_s)

    def to_events(self) -> list[NoteEvent]:
        return [
            NoteEvent(float(on), float(off), int(p), int(v))
            for on, off, p, v in zip(self.onset_s, self.offset_s, self.pitch, self.velocity)
        ]

    def window(self, start_s: float, end_s: float) -> NoteArray:
        """Notes sounding in ``[start_s, end_s)``, with times made relative to ``start_s``.

        A note that started before the window keeps its negative onset (so targets know it carries
        no onset inside the window); one that ends after it keeps its late offset.
        """
        keep = (self.onset_s < end_s) & (np.maximum(self.offset_s, self.onset_s + 1e-9) > start_s)
        return NoteArray(
            self.onset_s[keep] - start_s, self.offset_s[keep] - start_s, self.pitch[keep], self.velocity[keep]
        )

    def starting_within(self, start_s: float, end_s: float) -> NoteArray:
        """Notes whose onset lies in ``[start_s, end_s)``, offsets clipped to ``end_s`` (times unchanged).

        What can be scored in a window: a note that started earlier has no onset there.
        """
        keep = (self.onset_s >= start_s) & (self.onset_s < end_s)
        return NoteArray(
            self.onset_s[keep], np.minimum(self.offset_s[keep], end_s), self.pitch[keep], self.velocity[keep]
        )
