"""Piano-roll targets from notes, exact to the frame.

Rounding rule (shared by every roll and by post-processing): a time ``t`` seconds after the start of a
window falls on frame ``floor(t * fps + 0.5)``, the frame whose centre (frame ``k`` is centred at
``k / fps`` s, as the centred spectrogram frames are) is nearest; ties round up. With 100 frames/s a
note starting at 1.234 s in a window starting at 1.0 s has its onset at frame 23 (23.4 -> 23), one at
1.235 s at frame 24 (23.5 -> 24).

For a pitched note with onset frame ``a`` and offset frame ``b``:
- onset roll: 1 at ``a`` (only if the onset lies inside the window);
- frame roll: 1 on ``[a, max(b, a + 1))`` clipped to the window, so every note covers >= 1 frame;
- offset roll: 1 at ``b`` (only if the offset lies inside the window);
- velocity roll: ``velocity / 127`` at ``a``.
Drum notes carry no duration: their onset roll is set, their frame roll equals their onset roll, and
their offset roll stays empty. Pitches outside A0..C8 (21..108) are dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from jointist.constants import FRAMES_PER_SECOND, MAX_MIDI, MIN_MIDI, N_PITCHES
from jointist.instruments import DRUMS
from jointist.notes import NoteArray

__all__ = ["Rolls", "class_rolls", "class_rolls_with_velocity", "class_target_rolls", "notes_to_rolls", "time_to_frame"]


def time_to_frame(time_s: float | np.ndarray, *, fps: int = FRAMES_PER_SECOND) -> np.ndarray:
    """Frame index of a time by the module's rule: ``floor(t * fps + 0.5)``.

    A tolerance of 1e-6 frame makes ties robust to floating point (``1.235 - 1.0`` is 0.23499999...).
    """
    return np.floor(np.asarray(time_s, dtype=np.float64) * fps + 0.5 + 1e-6).astype(np.int64)


@dataclass(frozen=True)
class Rolls:
    """Targets of one instrument over one window, each ``(frames, 88)`` float32."""

    onset: np.ndarray
    frame: np.ndarray
    offset: np.ndarray
    velocity: np.ndarray

    def stack(self) -> np.ndarray:
        """(4, frames, 88): onset, frame, offset, velocity."""
        return np.stack([self.onset, self.frame, self.offset, self.velocity])


def notes_to_rolls(
    notes: NoteArray, *, num_frames: int, is_drum: bool = False, fps: int = FRAMES_PER_SECOND
) -> Rolls:
    """Build onset/frame/offset/velocity rolls of ``num_frames`` frames for notes relative to the window.

    Args:
        notes: notes with times relative to the window start (negative onsets started earlier).
        num_frames: frames in the window (``samples // hop + 1``: 1001 for 10 s).
        is_drum: drum rule (onsets only; frame = onset; no offsets).
    """
    shape = (num_frames, N_PITCHES)
    onset, frame, offset, velocity = (np.zeros(shape, np.float32) for _ in range(4))
    in_range = (notes.pitch >= MIN_MIDI) & (notes.pitch <= MAX_MIDI)
    if not np.any(in_range):
        return Rolls(onset, frame, offset, velocity)
    key = notes.pitch[in_range].astype(np.int64) - MIN_MIDI
    start = time_to_frame(notes.onset_s[in_range], fps=fps)
    vel = notes.velocity[in_range].astype(np.float32) / 127.0

    has_onset = (start >= 0) & (start < num_frames)
    onset[start[has_onset], key[has_onset]] = 1.0
    velocity[start[has_onset], key[has_onset]] = vel[has_onset]
    if is_drum:
        frame[:] = onset
        return Rolls(onset, frame, offset, velocity)

    end = time_to_frame(notes.offset_s[in_range], fps=fps)
    has_offset = (end >= 0) & (end < num_frames)
    offset[end[has_offset], key[has_offset]] = 1.0

    # Frame roll by a difference array: +1 where a note starts sounding, -1 where it stops.
    first = np.clip(start, 0, num_frames)
    last = np.clip(np.maximum(end, start + 1), 0, num_frames)
    sounding = last > first
    diff = np.zeros((num_frames + 1, N_PITCHES), np.int32)
    np.add.at(diff, (first[sounding], key[sounding]), 1)
    np.add.at(diff, (last[sounding], key[sounding]), -1)
    frame[:] = (np.cumsum(diff[:-1], axis=0) > 0).astype(np.float32)
    return Rolls(onset, frame, offset, velocity)


def class_rolls(
    notes: Mapping[int, NoteArray], classes: Sequence[int], *, num_frames: int
) -> tuple[np.ndarray, np.ndarray]:
    """Onset and frame rolls ``(K, num_frames, 88)`` of ``notes`` (class -> notes, times relative to
    the window) for each of ``classes``, drums by the drum rule; a class without notes gets empty rolls."""
    onset, frame, _ = class_rolls_with_velocity(notes, classes, num_frames=num_frames)
    return onset, frame


def class_rolls_with_velocity(
    notes: Mapping[int, NoteArray], classes: Sequence[int], *, num_frames: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`class_rolls` and the velocity rolls (velocity / 127 on each onset cell, 0 elsewhere)."""
    onset, frame, velocity, _ = class_target_rolls(notes, classes, num_frames=num_frames)
    return onset, frame, velocity


def class_target_rolls(
    notes: Mapping[int, NoteArray], classes: Sequence[int], *, num_frames: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Onset, frame, velocity and offset rolls ``(K, num_frames, 88)`` of ``notes`` for each of
    ``classes`` (drums by the drum rule: no offsets)."""
    onset = np.zeros((len(classes), num_frames, N_PITCHES), np.float32)
    frame, velocity, offset = np.zeros_like(onset), np.zeros_like(onset), np.zeros_like(onset)
    for j, c in enumerate(classes):
        part = notes.get(int(c))
        if part is not None and len(part):
            rolls = notes_to_rolls(part, num_frames=num_frames, is_drum=int(c) == DRUMS.index)
            onset[j], frame[j], velocity[j], offset[j] = rolls.onset, rolls.frame, rolls.velocity, rolls.offset
    return onset, frame, velocity, offset
