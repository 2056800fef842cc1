"""Run-length encoding of time shifts, removal of redundant state changes, and the timed decode loop.

Shift semantics (MT3's): inside one segment a shift's value is the *absolute* number of steps from the
segment start, not the step since the previous event. A run of consecutive shift tokens adds up (that
is how offsets beyond ``max_shift_steps`` are written: 1500 steps -> ``1000, 500``), and the first
non-shift event after a run resets the counter, so the next run again counts from the segment start.
Example with 100 steps/s: ``[shift 3, A, shift 6, B]`` puts A at +30 ms and B at +60 ms. A run that
lands before the current time (``[shift 50, A, shift 30, B]``) is a shift backwards; the event decoder
rejects B. Shift value 0 is never written; trailing shifts are trimmed.

Everything here works on codec indices (not model ids).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from jointist.tokens.codec import Codec, Event

__all__ = ["decode_events", "remove_redundant_state_changes", "run_length_encode_shifts"]

STATE_CHANGE_TYPES = ("velocity", "program")
"""Event types that set decoder state; a repeat of the current value is redundant (MT3 drops it)."""


def run_length_encode_shifts(indices: Iterable[int], codec: Codec) -> list[int]:
    """Turn a stream of relative shifts into MT3's absolute run-length shifts.

    ``indices`` hold shifts as step *increments* (typically one ``shift 1`` per step, as MT3 builds its
    event stream). Each run of shifts followed by a non-shift event becomes the absolute step count
    since the start of the stream, split into tokens of at most ``codec.max_shift_steps``; shifts after
    the last event are dropped.
    """
    output: list[int] = []
    total_steps = 0
    pending = False
    for index in indices:
        index = int(index)
        if codec.is_shift(index):
            total_steps += index  # a shift index is its own step count
            pending = pending or index > 0
            continue
        if pending:
            remaining = total_steps
            while remaining > 0:
                steps = min(codec.max_shift_steps, remaining)
                output.append(steps)
                remaining -= steps
            pending = False
        output.append(index)
    return output


def remove_redundant_state_changes(
    indices: Iterable[int], codec: Codec, *, event_types: Sequence[str] = STATE_CHANGE_TYPES
) -> list[int]:
    """Drop state-change events that repeat the current state of their type.

    The state starts unset at the beginning of ``indices`` (one segment), so the first velocity and the
    first program of a segment are always kept.
    """
    ranges = [codec.event_range(t) for t in event_types]
    current: list[int | None] = [None] * len(ranges)
    output = []
    for index in indices:
        index = int(index)
        redundant = False
        for i, (first, last) in enumerate(ranges):
            if first <= index <= last:
                redundant = current[i] == index
                current[i] = index
        if not redundant:
            output.append(index)
    return output


def decode_events(
    indices: Sequence[int],
    codec: Codec,
    *,
    start_step: int,
    max_step: int | None,
    handle_event: Callable[[float, Event], bool],
) -> tuple[int, int]:
    """Walk one segment's codec indices, tracking time, and hand each non-shift event to ``handle_event``.

    Args:
        indices: the segment's codec indices (invalid entries, e.g. :data:`DECODED_INVALID`, allowed).
        codec: the codec.
        start_step: the segment start in absolute steps.
        max_step: events after this absolute step are dropped (with everything after them), or None.
        handle_event: ``(time_s, event) -> ok``; False counts the event as invalid.

    Returns:
        ``(invalid_events, dropped_events)``: indices that are no event or that ``handle_event``
        rejected, and the number of indices left when a shift passed ``max_step`` (that shift included).
    """
    invalid = 0
    steps = 0
    time_s = start_step / codec.steps_per_second
    for position, index in enumerate(indices):
        try:
            event = codec.decode(index)
        except ValueError:
            invalid += 1
            continue
        if event.type == "shift":
            steps += event.value
            if max_step is not None and start_step + steps > max_step:
                return invalid, len(indices) - position
            time_s = (start_step + steps) / codec.steps_per_second
            continue
        steps = 0
        if not handle_event(time_s, event):
            invalid += 1
    return invalid, 0
