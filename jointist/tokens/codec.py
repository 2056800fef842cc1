"""Event codec: a typed event ``(type, value)`` <-> one contiguous class index.

The index space is a concatenation of blocks, one per event type, in a fixed order. ``shift`` is always
the first block and starts at index 0 (value 0 is index 0), so a shift index *is* its step count.
:func:`mt3_codec` builds MT3's codec (block order shift, pitch, velocity, tie, program, drum), whose
indices are identical to MT3's for the same settings.

Velocity is quantised into bins; bin 0 means "note off". :func:`velocity_to_bin` and
:func:`bin_to_velocity` reproduce MT3's quantisation (``ceil`` on the way in, ``floor`` on the way out),
so ``velocity_to_bin(bin_to_velocity(b)) == b`` for every bin.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, SupportsIndex, cast

__all__ = [
    "DEFAULT_MAX_SHIFT_SECONDS",
    "DEFAULT_STEPS_PER_SECOND",
    "MAX_MIDI_VELOCITY",
    "Codec",
    "Event",
    "EventRange",
    "bin_to_velocity",
    "mt3_codec",
    "velocity_to_bin",
]

DEFAULT_STEPS_PER_SECOND = 100
"""Time resolution of shift events (MT3's default): one step is 10 ms."""

DEFAULT_MAX_SHIFT_SECONDS = 10
"""Longest shift one token can express (MT3's default), so ``max_shift_steps`` is 1000."""

MAX_MIDI_VELOCITY = 127

SHIFT = "shift"


@dataclass(frozen=True)
class EventRange:
    """One block of the index space: every integer value of ``type`` in ``[min_value, max_value]``."""

    type: str
    min_value: int
    max_value: int

    def __post_init__(self) -> None:
        if self.max_value < self.min_value:
            raise ValueError(f"event range {self.type!r}: max_value {self.max_value} < min_value {self.min_value}")

    @property
    def size(self) -> int:
        return self.max_value - self.min_value + 1


class Event(NamedTuple):
    """A decoded event: ``("pitch", 60)``."""

    type: str
    value: int


def _as_int(value: object, what: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{what} must be an integer, got {value!r}")
    try:
        return operator.index(cast(SupportsIndex, value))
    except TypeError:
        raise ValueError(f"{what} must be an integer, got {value!r}") from None


class Codec:
    """Maps events to class indices and back.

    Args:
        max_shift_steps: largest shift value; shift values ``0..max_shift_steps`` form the first block.
        steps_per_second: shift steps per second (a shift of ``n`` steps lasts ``n / steps_per_second``).
        event_ranges: the other blocks, in index order after the shift block.
    """

    def __init__(self, *, max_shift_steps: int, steps_per_second: int, event_ranges: Sequence[EventRange]) -> None:
        if max_shift_steps < 1:
            raise ValueError(f"max_shift_steps must be >= 1, got {max_shift_steps}")
        if steps_per_second < 1:
            raise ValueError(f"steps_per_second must be >= 1, got {steps_per_second}")
        ranges = (EventRange(SHIFT, 0, int(max_shift_steps)), *event_ranges)
        types = [er.type for er in ranges]
        if len(set(types)) != len(types):
            raise ValueError(f"event types must be unique (shift is implicit), got {types}")
        self._steps_per_second = int(steps_per_second)
        self._ranges = ranges
        self._first: dict[str, int] = {}
        first = 0
        for er in ranges:
            self._first[er.type] = first
            first += er.size
        self._num_classes = first

    @property
    def steps_per_second(self) -> int:
        return self._steps_per_second

    @property
    def max_shift_steps(self) -> int:
        return self._ranges[0].max_value

    @property
    def num_classes(self) -> int:
        """Number of event indices (the codec's output size, without special tokens)."""
        return self._num_classes

    @property
    def event_ranges(self) -> tuple[EventRange, ...]:
        """All blocks in index order, the shift block first."""
        return self._ranges

    @property
    def event_types(self) -> tuple[str, ...]:
        return tuple(er.type for er in self._ranges)

    @property
    def num_velocity_bins(self) -> int:
        """Velocity bins excluding the note-off bin 0 (MT3's ``num_velocity_bins_from_codec``)."""
        first, last = self.event_range("velocity")
        return last - first

    def _range(self, event_type: str) -> EventRange:
        for er in self._ranges:
            if er.type == event_type:
                return er
        raise ValueError(f"unknown event type {event_type!r}; this codec has {', '.join(self.event_types)}")

    def encode(self, event_type: str, value: int) -> int:
        """The class index of one event.

        Raises:
            ValueError: unknown event type, or a value outside the type's range.
        """
        er = self._range(event_type)
        value = _as_int(value, f"{event_type} value")
        if not er.min_value <= value <= er.max_value:
            raise ValueError(f"{event_type} value {value} is outside [{er.min_value}, {er.max_value}]")
        return self._first[event_type] + value - er.min_value

    def decode(self, index: int) -> Event:
        """The event of a class index.

        Raises:
            ValueError: the index is not in ``[0, num_classes)``.
        """
        index = _as_int(index, "event index")
        if not 0 <= index < self._num_classes:
            raise ValueError(f"event index {index} is outside [0, {self._num_classes})")
        for er in reversed(self._ranges):
            first = self._first[er.type]
            if index >= first:
                return Event(er.type, er.min_value + index - first)
        raise AssertionError("unreachable: the shift block starts at 0")

    def event_range(self, event_type: str) -> tuple[int, int]:
        """``(first_index, last_index)`` of a type's block, both inclusive."""
        er = self._range(event_type)
        first = self._first[event_type]
        return first, first + er.size - 1

    def is_shift(self, index: int) -> bool:
        """True for shift indices (``0..max_shift_steps``)."""
        return 0 <= index <= self.max_shift_steps

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Codec):
            return NotImplemented
        return self._ranges == other._ranges and self._steps_per_second == other._steps_per_second

    def __hash__(self) -> int:
        return hash((self._ranges, self._steps_per_second))

    def __repr__(self) -> str:
        blocks = ", ".join(f"{er.type}[{er.min_value}..{er.max_value}]" for er in self._ranges)
        return f"Codec({self._num_classes} classes, {self._steps_per_second} steps/s: {blocks})"


def mt3_codec(
    num_velocity_bins: int = 1,
    *,
    steps_per_second: int = DEFAULT_STEPS_PER_SECOND,
    max_shift_seconds: int = DEFAULT_MAX_SHIFT_SECONDS,
) -> Codec:
    """MT3's codec: shift, pitch 0-127, velocity 0..bins (0 = off), tie 0, program 0-127, drum 0-127.

    1388 classes with 1 velocity bin (MT3's "no velocity" setting), 1514 with 127 bins.
    """
    if num_velocity_bins < 1:
        raise ValueError(f"num_velocity_bins must be >= 1, got {num_velocity_bins}")
    return Codec(
        max_shift_steps=steps_per_second * max_shift_seconds,
        steps_per_second=steps_per_second,
        event_ranges=[
            EventRange("pitch", 0, 127),
            EventRange("velocity", 0, num_velocity_bins),
            EventRange("tie", 0, 0),
            EventRange("program", 0, 127),
            EventRange("drum", 0, 127),
        ],
    )


def velocity_to_bin(velocity: int, num_velocity_bins: int) -> int:
    """MIDI velocity 0-127 -> bin 0..num_velocity_bins: ``ceil(bins * velocity / 127)``; 0 stays 0."""
    velocity = _as_int(velocity, "velocity")
    if not 0 <= velocity <= MAX_MIDI_VELOCITY:
        raise ValueError(f"velocity {velocity} is outside [0, {MAX_MIDI_VELOCITY}]")
    if num_velocity_bins < 1:
        raise ValueError(f"num_velocity_bins must be >= 1, got {num_velocity_bins}")
    return -(-num_velocity_bins * velocity // MAX_MIDI_VELOCITY)


def bin_to_velocity(velocity_bin: int, num_velocity_bins: int) -> int:
    """Bin -> MIDI velocity: ``floor(127 * bin / bins)``; bin 0 (note off) is velocity 0."""
    velocity_bin = _as_int(velocity_bin, "velocity bin")
    if num_velocity_bins < 1:
        raise ValueError(f"num_velocity_bins must be >= 1, got {num_velocity_bins}")
    if not 0 <= velocity_bin <= num_velocity_bins:
        raise ValueError(f"velocity bin {velocity_bin} is outside [0, {num_velocity_bins}]")
    return MAX_MIDI_VELOCITY * velocity_bin // num_velocity_bins
