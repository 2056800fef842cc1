"""Note encoding with ties and decoding: literal model ids derived by hand, round trips, bad input.

Model ids with 1 velocity bin (codec index + 3): shift s -> s + 3, pitch p -> 1004 + p, velocity off /
on -> 1132 / 1133, tie -> 1134, program P -> 1135 + P, drum d -> 1263 + d, EOS -> 1.
With 127 bins: velocity b -> 1132 + b, tie -> 1260, program P -> 1261 + P, drum d -> 1389 + d.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from jointist.tokens import (
    DecodeState,
    ProgramNote,
    Vocabulary,
    decode_segments,
    decode_tokens,
    encode_notes,
    flush,
    mt3_codec,
    velocity_to_bin,
)
from jointist.tokens.notes import step_of

VOCAB = Vocabulary(mt3_codec(1))
VOCAB_127 = Vocabulary(mt3_codec(127))
SEGMENT_S = 2.048

TIE, EOS, OFF, ON = 1134, 1, 1132, 1133


def shift(steps: int) -> int:
    return steps + 3


def pitch(p: int) -> int:
    return 1004 + p


def program(p: int) -> int:
    return 1135 + p


def drum(d: int) -> int:
    return 1263 + d


def test_one_note():
    notes = [ProgramNote(0.5, 1.0, 60, 100, 0)]
    ids = encode_notes(notes, VOCAB, start_s=0.0, end_s=SEGMENT_S)
    # tie | +50: program 0, on, pitch 60 | +100: off, pitch 60 (program 0 repeated: dropped) | EOS
    assert ids == [1134, 53, 1135, 1133, 1064, 103, 1132, 1064, 1]
    assert ids == [TIE, shift(50), program(0), ON, pitch(60), shift(100), OFF, pitch(60), EOS]
    decoded, stats = decode_segments([ids], [0.0], VOCAB)
    assert decoded == [ProgramNote(0.5, 1.0, 60, 127, 0, False)]  # 1 bin decodes to velocity 127
    assert (stats.invalid_events, stats.dropped_events) == (0, 0)


def test_two_programs():
    notes = [ProgramNote(0.10, 0.50, 60, 90, 0), ProgramNote(0.10, 0.30, 40, 70, 33)]
    ids = encode_notes(notes, VOCAB, start_s=0.0, end_s=SEGMENT_S)
    # at 0.10 onsets sorted by (program, pitch); the second "on" is redundant; offsets at 0.30 and 0.50
    assert ids == [1134, 13, 1135, 1133, 1064, 1168, 1044, 33, 1132, 1044, 53, 1135, 1064, 1]
    decoded, _ = decode_segments([ids], [0.0], VOCAB)
    assert decoded == [ProgramNote(0.10, 0.50, 60, 127, 0), ProgramNote(0.10, 0.30, 40, 127, 33)]


def test_offset_before_onset_at_the_same_time():
    notes = [ProgramNote(1.0, 1.5, 60, 100, 0), ProgramNote(0.5, 1.0, 60, 100, 0)]
    ids = encode_notes(notes, VOCAB, start_s=0.0, end_s=SEGMENT_S)
    assert ids == [1134, 53, 1135, 1133, 1064, 103, 1132, 1064, 1133, 1064, 153, 1132, 1064, 1]
    decoded, _ = decode_segments([ids], [0.0], VOCAB)
    assert decoded == [ProgramNote(0.5, 1.0, 60, 127, 0), ProgramNote(1.0, 1.5, 60, 127, 0)]


def test_drum_hit():
    notes = [ProgramNote(0.25, 0.35, 36, 100, 0, is_drum=True)]
    # drums: velocity + drum pitch, no program, no offset
    assert encode_notes(notes, VOCAB, start_s=0.0, end_s=SEGMENT_S) == [1134, 28, 1133, 1299, 1]
    notes.append(ProgramNote(0.25, 0.50, 60, 100, 0))
    ids = encode_notes(notes, VOCAB, start_s=0.0, end_s=SEGMENT_S)
    # the pitched note sorts before the drum at the same time; the drum reuses the "on" velocity
    assert ids == [1134, 28, 1135, 1133, 1064, 1299, 53, 1132, 1064, 1]
    decoded, _ = decode_segments([ids], [0.0], VOCAB)
    assert decoded == [ProgramNote(0.25, 0.50, 60, 127, 0, False), ProgramNote(0.25, 0.26, 36, 127, 0, True)]


def test_notes_tied_across_segment_boundaries():
    notes = [ProgramNote(1.5, 2.5, 60, 100, 0), ProgramNote(1.0, 3.0, 40, 100, 33)]
    starts = [0.0, 2.048, 4.096]
    segments = [encode_notes(notes, VOCAB, start_s=s, end_s=s + SEGMENT_S) for s in starts]
    # offsets at/after the segment end (step 204) are left to the next segment
    assert segments[0] == [1134, 103, 1168, 1133, 1044, 153, 1135, 1064, 1]
    # tie section sorted by (program, pitch), then tie; shifts count from step 204 (2.04 s)
    assert segments[1] == [1135, 1064, 1168, 1044, 1134, 49, 1135, 1132, 1064, 99, 1168, 1044, 1]
    assert segments[2] == [1134, 1]
    decoded, stats = decode_segments(segments, starts, VOCAB)
    assert decoded == [ProgramNote(1.0, 3.0, 40, 127, 33), ProgramNote(1.5, 2.5, 60, 127, 0)]
    assert (stats.invalid_events, stats.dropped_events, stats.num_segments) == (0, 0, 3)


def test_offset_on_the_first_step_is_tied_then_ended():
    notes = [ProgramNote(1.0, 2.04, 60, 100, 0)]
    assert encode_notes(notes, VOCAB, start_s=2.04, end_s=4.08) == [1135, 1064, 1134, 1132, 1064, 1]
    # a note ending before the segment is not tied
    assert encode_notes(notes, VOCAB, start_s=2.05, end_s=4.08) == [1134, 1]


def test_velocity_bins_127():
    notes = [ProgramNote(0.5, 1.0, 60, 100, 0), ProgramNote(0.5, 0.7, 62, 64, 0)]
    ids = encode_notes(notes, VOCAB_127, start_s=0.0, end_s=SEGMENT_S)
    # tie 1260 | +50: program 0 (1261), velocity 100 (1232), pitch 60, velocity 64 (1196), pitch 62 |
    # +70: velocity 0 (1132), pitch 62 | +100: pitch 60 | EOS
    assert ids == [1260, 53, 1261, 1232, 1064, 1196, 1066, 73, 1132, 1066, 103, 1064, 1]
    decoded, _ = decode_segments([ids], [0.0], VOCAB_127)
    assert decoded == [ProgramNote(0.5, 1.0, 60, 100, 0), ProgramNote(0.5, 0.7, 62, 64, 0)]


@pytest.mark.parametrize(
    ("granularity", "expected"),
    [
        ("full", [1134, 1180, 1133, 1064, 13, 1132, 1064, 1]),  # program 45
        ("midi_class", [1134, 1175, 1133, 1064, 13, 1132, 1064, 1]),  # 45 // 8 * 8 = 40
        ("jointist", [1134, 1179, 1133, 1064, 13, 1132, 1064, 1]),  # Strings -> 44
        ("flat", [1134, 1133, 1064, 13, 1132, 1064, 1]),  # no program tokens
    ],
)
def test_program_granularity(granularity, expected):
    notes = [ProgramNote(0.0, 0.1, 60, 100, 45)]
    assert encode_notes(notes, VOCAB, start_s=0.0, end_s=SEGMENT_S, granularity=granularity) == expected


def test_unknown_granularity():
    with pytest.raises(ValueError, match="granularity"):
        encode_notes([], VOCAB, start_s=0.0, end_s=1.0, granularity="coarse")


def test_long_shift_is_split_and_summed():
    notes = [ProgramNote(12.0, 12.5, 60, 100, 0)]
    ids = encode_notes(notes, VOCAB, start_s=0.0, end_s=15.0)
    assert ids == [1134, 1003, 203, 1135, 1133, 1064, 1003, 253, 1132, 1064, 1]
    decoded, _ = decode_segments([ids], [0.0], VOCAB)
    assert decoded == [ProgramNote(12.0, 12.5, 60, 127, 0)]


def test_segment_start_is_floored_to_a_step():
    assert step_of(0.29, 100) == 29
    assert step_of(2.048, 100) == 204
    assert step_of(3 * 2.048, 100) == 614
    notes = [ProgramNote(0.30, 0.40, 60, 100, 0)]
    assert encode_notes(notes, VOCAB, start_s=0.29, end_s=1.0) == [1134, 4, 1135, 1133, 1064, 14, 1132, 1064, 1]


def test_invalid_notes_raise():
    with pytest.raises(ValueError, match="end after"):
        encode_notes([ProgramNote(1.0, 1.0, 60)], VOCAB, start_s=0.0, end_s=2.0)
    with pytest.raises(ValueError, match="velocity"):
        encode_notes([ProgramNote(0.0, 1.0, 60, 0)], VOCAB, start_s=0.0, end_s=2.0)
    with pytest.raises(ValueError, match="pitch"):
        encode_notes([ProgramNote(0.0, 1.0, 128)], VOCAB, start_s=0.0, end_s=2.0)
    with pytest.raises(ValueError, match="before"):
        encode_notes([], VOCAB, start_s=2.0, end_s=1.0)


# --------------------------------------------------------------------------------------- round trip


def random_notes(rng: np.random.Generator, n: int, duration_s: float) -> list[ProgramNote]:
    """Random notes of several programs and drums; notes of one (program, pitch) never overlap (MT3's
    format cannot express that) and are at least 30 ms apart."""
    notes: list[ProgramNote] = []
    for _ in range(n):
        is_drum = bool(rng.random() < 0.2)
        prog = 0 if is_drum else int(rng.choice([0, 33, 40, 73, 81]))
        p = int(rng.integers(35, 50)) if is_drum else int(rng.integers(40, 56))
        onset = float(rng.uniform(0.0, duration_s))
        offset = onset + float(rng.choice([rng.uniform(0.03, 0.3), rng.uniform(0.3, 6.0)]))
        same_key = [m for m in notes if (m.program, m.pitch, m.is_drum) == (prog, p, is_drum)]
        if any(m.onset_s - 0.03 < offset and onset < m.offset_s + 0.03 for m in same_key):
            continue
        notes.append(ProgramNote(onset, offset, p, int(rng.integers(1, 128)), prog, is_drum))
    return notes


@pytest.mark.parametrize(("bins", "granularity", "seed"), [(1, "full", 0), (127, "full", 1), (127, "full", 2)])
def test_round_trip_random_notes(bins, granularity, seed):
    vocab = Vocabulary(mt3_codec(bins))
    rng = np.random.default_rng(seed)
    notes = random_notes(rng, 300, 12.0)
    assert len(notes) > 100
    assert sum(n.offset_s - n.onset_s > 2 * SEGMENT_S for n in notes if not n.is_drum) > 5  # several boundaries
    end_s = max(n.offset_s for n in notes) + 0.1
    starts = [k * SEGMENT_S for k in range(math.ceil(end_s / SEGMENT_S))]
    segments = [encode_notes(notes, vocab, start_s=s, end_s=s + SEGMENT_S, granularity=granularity) for s in starts]
    decoded, stats = decode_segments(segments, starts, vocab)
    assert (stats.invalid_events, stats.dropped_events) == (0, 0)

    def key(n: ProgramNote) -> tuple:
        return (n.is_drum, n.program, n.pitch, n.onset_s)

    expected = sorted(notes, key=key)
    got = sorted(decoded, key=key)
    assert len(got) == len(expected)
    for want, have in zip(expected, got):
        assert (have.is_drum, have.program, have.pitch) == (want.is_drum, want.program, want.pitch)
        assert abs(have.onset_s - want.onset_s) <= 0.01
        if not want.is_drum:
            assert abs(have.offset_s - want.offset_s) <= 0.01
        assert velocity_to_bin(have.velocity, bins) == velocity_to_bin(want.velocity, bins)


def test_round_trip_jointist_granularity_maps_programs():
    notes = [ProgramNote(0.5, 3.0, 60, 100, 45), ProgramNote(1.0, 1.5, 40, 100, 35)]
    starts = [0.0, SEGMENT_S]
    segments = [encode_notes(notes, VOCAB, start_s=s, end_s=s + SEGMENT_S, granularity="jointist") for s in starts]
    decoded, _ = decode_segments(segments, starts, VOCAB)
    assert decoded == [ProgramNote(0.5, 3.0, 60, 127, 44), ProgramNote(1.0, 1.5, 40, 127, 32)]


# ------------------------------------------------------------------------------------- bad sequences


def test_note_off_without_note_on_is_invalid():
    state = decode_tokens([TIE, shift(10), program(0), OFF, pitch(60), EOS], VOCAB, start_s=0.0)
    assert (state.invalid_events, state.dropped_events) == (1, 0)
    assert flush(state) == []


def test_garbage_ids_are_invalid():
    ids = [TIE, 2, 5000, 1391, -7, shift(50), program(0), ON, pitch(60), shift(100), OFF, pitch(60), EOS]
    state = decode_tokens(ids, VOCAB, start_s=0.0)
    assert state.invalid_events == 4  # UNK, two ids past the vocabulary, a negative id
    assert flush(state) == [ProgramNote(0.5, 1.0, 60, 127, 0)]


def test_pad_is_skipped_and_eos_ends_the_segment():
    ids = [TIE, 0, shift(50), 0, program(0), ON, pitch(60), EOS, shift(100), OFF, pitch(60)]
    state = decode_tokens(ids, VOCAB, start_s=0.0)
    assert state.invalid_events == 0
    assert flush(state) == [ProgramNote(0.5, 0.51, 60, 127, 0)]  # never ended: minimum duration


def test_tie_in_the_wrong_place_is_invalid():
    state = decode_tokens([TIE, shift(50), TIE, EOS], VOCAB, start_s=0.0)
    assert state.invalid_events == 1
    # a pitch in the tie section that is not sounding, and one tied twice
    state = decode_tokens([program(0), ON, pitch(60), TIE, EOS], VOCAB, start_s=0.0)
    assert state.invalid_events == 1
    state = decode_tokens([program(0), pitch(60), TIE, shift(10), ON, pitch(60), EOS], VOCAB, start_s=0.0)
    state = decode_tokens([program(0), pitch(60), pitch(60), TIE, EOS], VOCAB, start_s=1.0, state=state)
    assert state.invalid_events == 1 + 1
    assert 60 in {p for _, p in state.active}


def test_untied_notes_end_at_the_segment_start():
    first = [TIE, shift(150), program(0), ON, pitch(60), EOS]
    decoded, stats = decode_segments([first, [TIE, EOS]], [0.0, 2.048], VOCAB)
    assert decoded == [ProgramNote(1.5, 2.04, 60, 127, 0)]
    assert stats.invalid_events == 0


def test_shift_backwards_and_silent_drum_are_invalid():
    ids = [TIE, shift(50), program(0), ON, pitch(60), shift(30), OFF, pitch(60), EOS]
    state = decode_tokens(ids, VOCAB, start_s=0.0)
    assert state.invalid_events == 2
    state = decode_tokens([TIE, OFF, drum(36), EOS], VOCAB, start_s=0.0)
    assert state.invalid_events == 1
    assert flush(state) == []


def test_events_past_the_next_segment_are_dropped():
    ids = [TIE, shift(50), program(0), ON, pitch(60), shift(100), OFF, pitch(60), EOS]
    state = decode_tokens(ids, VOCAB, start_s=0.0, max_time_s=0.75)
    assert (state.invalid_events, state.dropped_events) == (0, 3)
    assert flush(state, 0.75) == [ProgramNote(0.5, 0.75, 60, 127, 0)]


def test_missing_tie_token_never_raises():
    first = [TIE, shift(10), program(0), ON, pitch(60), EOS]
    second = [shift(10), program(0), OFF, pitch(60), ON, pitch(61), EOS]  # the whole segment is a tie section
    decoded, stats = decode_segments([first, second], [0.0, 2.048], VOCAB, end_s=4.096)
    assert stats.invalid_events == 1  # pitch 61 is not sounding, so it cannot be tied
    assert decoded == [ProgramNote(0.1, 4.096, 60, 127, 0)]


def test_decode_state_is_a_plain_dataclass():
    state = DecodeState()
    assert (state.current_time_s, state.current_program, state.current_velocity) == (0.0, 0, 100)
    assert state.active == {} and state.tied == set() and not state.in_tie_section
    assert (state.invalid_events, state.dropped_events) == (0, 0)
