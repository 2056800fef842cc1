"""Run-length shifts, redundant state changes and the timed decode loop, on MT3's own test cases.

These use the codec of MT3's tests (shift 0..100, pitch, velocity 0..127, drum, program, tie: a
different block order than MT3's model codec), so the expected indices are MT3's literals:
shift s = s, pitch p = 101 + p, velocity v = 229 + v, drum d = 357 + d, program P = 485 + P, tie = 613.
"""

from __future__ import annotations

import pytest

from jointist.tokens import (
    Codec,
    DecodeState,
    EventRange,
    ProgramNote,
    apply_event,
    decode_events,
    flush,
    mt3_codec,
    remove_redundant_state_changes,
    run_length_encode_shifts,
)

CODEC = Codec(
    max_shift_steps=100,
    steps_per_second=100,
    event_ranges=[
        EventRange("pitch", 0, 127),
        EventRange("velocity", 0, 127),
        EventRange("drum", 0, 127),
        EventRange("program", 0, 127),
        EventRange("tie", 0, 0),
    ],
)


def test_test_codec_layout():
    assert CODEC.encode("pitch", 60) == 161
    assert CODEC.encode("velocity", 127) == 356
    assert CODEC.encode("drum", 37) == 394
    assert CODEC.encode("program", 40) == 525
    assert CODEC.encode("tie", 0) == 613


def test_run_length_shifts_are_absolute_within_the_segment():
    assert run_length_encode_shifts([1, 1, 1, 161, 1, 1, 1, 162, 1, 1, 1], CODEC) == [3, 161, 6, 162]


def test_run_length_shifts_beyond_max():
    assert run_length_encode_shifts([1] * 202 + [161, 1, 1, 1], CODEC) == [100, 100, 2, 161]


def test_run_length_shifts_simultaneous_events():
    assert run_length_encode_shifts([1, 1, 1, 161, 162, 1, 1, 1], CODEC) == [3, 161, 162]


def test_run_length_shifts_accept_multi_step_increments():
    assert run_length_encode_shifts([2, 1, 161, 4, 162], CODEC) == [3, 161, 7, 162]
    assert run_length_encode_shifts([161, 0, 162], CODEC) == [161, 162]


def test_remove_redundant_state_changes():
    tokens = [3, 525, 356, 161, 2, 525, 356, 161, 355, 394]
    assert remove_redundant_state_changes(tokens, CODEC) == [3, 525, 356, 161, 2, 161, 355, 394]
    # only the listed types are state changes
    assert remove_redundant_state_changes([356, 356, 161], CODEC, event_types=("program",)) == [356, 356, 161]


def _decode(indices, *, start_step=0, max_step=None, state=None):
    state = DecodeState() if state is None else state
    invalid, dropped = decode_events(
        indices,
        CODEC,
        start_step=start_step,
        max_step=max_step,
        handle_event=lambda t, e: apply_event(state, t, e, num_velocity_bins=127),
    )
    return flush(state), invalid, dropped


def test_decode_velocity():
    notes, invalid, dropped = _decode([5, 356, 161, 25, 229, 161])
    assert (invalid, dropped) == (0, 0)
    assert notes == [ProgramNote(0.05, 0.25, 60, 127, 0, False)]


def test_decode_missing_offset_restarts_the_note():
    notes, invalid, dropped = _decode([5, 356, 161, 10, 161, 25, 229, 161])
    assert (invalid, dropped) == (0, 0)
    assert notes == [ProgramNote(0.05, 0.10, 60, 127), ProgramNote(0.10, 0.25, 60, 127)]


def test_decode_multitrack():
    # the second shift (15) counts from the segment start again: 0.15 s, not 0.20 s
    notes, invalid, dropped = _decode([5, 525, 356, 161, 15, 356, 394, 25, 525, 229, 161])
    assert (invalid, dropped) == (0, 0)
    assert notes == [
        ProgramNote(0.05, 0.25, 60, 127, 40, False),
        ProgramNote(0.15, 0.16, 37, 127, 0, True),
    ]


def test_decode_invalid_indices_are_counted():
    notes, invalid, dropped = _decode([5, 356, -1, 161, -2, 25, 229, 161, 9999])
    assert (invalid, dropped) == (3, 0)
    assert notes == [ProgramNote(0.05, 0.25, 60, 127)]


def test_decode_keeps_an_event_at_exactly_max_time():
    notes, invalid, dropped = _decode([161, 25, 229, 161], start_step=100, max_step=125)
    assert (invalid, dropped) == (0, 0)
    assert notes == [ProgramNote(1.00, 1.25, 60, 100)]


def test_decode_drops_events_after_max_time():
    notes, invalid, dropped = _decode([5, 161, 30, 229, 161], start_step=100, max_step=125)
    assert (invalid, dropped) == (0, 3)
    assert notes == [ProgramNote(1.05, 1.06, 60, 100)]  # flushed with the minimum duration


def test_decode_shift_backwards_is_invalid():
    notes, invalid, _ = _decode([50, 161, 30, 229, 161])
    assert invalid == 2
    assert notes == [ProgramNote(0.50, 0.51, 60, 100)]


@pytest.mark.parametrize("bins", [1, 127])
def test_shift_is_first_block_and_its_own_step_count(bins):
    codec = mt3_codec(bins)
    assert all(codec.is_shift(i) and codec.decode(i) == ("shift", i) for i in (0, 1, 500, 1000))
    assert not codec.is_shift(1001)
