"""Notes <-> token ids for one segment, with MT3's tie section, and the decoding state machine.

Encoding one segment ``[start_s, end_s)`` (MT3's ``NoteEncodingWithTiesSpec`` followed by its target
preprocessing: program map, run-length shifts, redundant state removal, EOS):

1. Every note gives an onset event ``(program, velocity bin, pitch)``; a non-drum note also gives an
   offset event ``(program, 0, pitch)``; a drum hit gives ``(velocity bin, drum pitch)`` only. Events
   are ordered by their unrounded time, offsets before onsets at equal times, then by ``(is_drum,
   program, pitch)``; their step is ``round(time * steps_per_second)`` (absolute, Python rounding).
2. The segment covers the absolute steps ``floor(start_s * sps) <= step < floor(end_s * sps)``, so
   consecutive segments share no event; the decoder uses ``floor(start_s * sps) / sps`` as the start.
3. The tie section lists ``program, pitch`` for every (program, pitch) whose last event before the
   segment's first step is an onset, i.e. for a lone note ``onset_step < start_step <= offset_step``
   (a note whose offset falls on the first step is tied and then ended at shift 0). It is sorted by
   (program, pitch) with the notes' own programs (the granularity maps the tokens afterwards, as in
   MT3) and closed by the ``tie`` token, which is written in every segment, the first too.
4. The segment's events follow, with run-length shifts (see :mod:`jointist.tokens.run_length`).
   Offsets at or after the segment end are left to the next segment's tie section.
5. Program tokens are mapped to the granularity (``flat`` drops them), repeated velocity and program
   tokens are dropped, indices become model ids and EOS is appended.

Decoding is an explicit state machine (:class:`DecodeState`, :func:`begin_segment`, :func:`apply_event`,
:func:`flush`) that follows MT3's ``decode_note_event``: nonsense is counted, never raised.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from jointist.instruments import GRANULARITIES, program_for_granularity
from jointist.tokens.codec import Event, bin_to_velocity, velocity_to_bin
from jointist.tokens.run_length import decode_events, remove_redundant_state_changes, run_length_encode_shifts
from jointist.tokens.vocabulary import EOS_ID, Vocabulary

__all__ = [
    "DEFAULT_VELOCITY",
    "DRUM_DURATION_S",
    "MIN_NOTE_DURATION_S",
    "DecodeState",
    "DecodeStats",
    "ProgramNote",
    "apply_event",
    "begin_segment",
    "decode_segments",
    "decode_tokens",
    "encode_notes",
    "flush",
    "step_of",
]

DEFAULT_VELOCITY = 100
"""Velocity of notes decoded before any velocity token (MT3's decoder default)."""

MIN_NOTE_DURATION_S = 0.01
"""Decoded notes last at least this long (quantisation can make onset == offset); MT3's value."""

DRUM_DURATION_S = 0.01
"""Duration given to decoded drum hits, which have no offset token (MT3's value)."""

_STEP_EPS = 1e-6


@dataclass(frozen=True)
class ProgramNote:
    """One note of a General MIDI program (0-127) or, with ``is_drum``, a drum hit (pitch = drum key).

    Decoded drum hits have ``program`` 0 and last :data:`DRUM_DURATION_S`, as in MT3.
    """

    onset_s: float
    offset_s: float
    pitch: int
    velocity: int = DEFAULT_VELOCITY
    program: int = 0
    is_drum: bool = False


def step_of(time_s: float, steps_per_second: int) -> int:
    """The step a segment boundary falls in: ``floor(time_s * steps_per_second)``, tolerant of float
    error (``0.29 * 100`` is 28.999999999999996 and must give 29)."""
    return math.floor(time_s * steps_per_second + _STEP_EPS)


# ----------------------------------------------------------------------------------------- encoding


@dataclass(frozen=True)
class _NoteEvent:
    step: int
    note: ProgramNote
    is_onset: bool


def _validate(note: ProgramNote) -> None:
    if not 0 <= note.pitch <= 127:
        raise ValueError(f"pitch must be in 0..127: {note}")
    if not 1 <= note.velocity <= 127:
        raise ValueError(f"velocity must be in 1..127: {note}")
    if not 0 <= note.program <= 127:
        raise ValueError(f"program must be in 0..127: {note}")
    if not note.is_drum and not note.offset_s > note.onset_s:
        raise ValueError(f"a note must end after its onset: {note}")


def _note_events(notes: Iterable[ProgramNote], steps_per_second: int) -> list[_NoteEvent]:
    """All onset and offset events in MT3's order (see the module docstring, step 1)."""
    ordered = sorted(notes, key=lambda n: (n.is_drum, n.program, n.pitch))
    for note in ordered:
        _validate(note)
    timed = [(n.offset_s, n, False) for n in ordered if not n.is_drum] + [(n.onset_s, n, True) for n in ordered]
    timed.sort(key=lambda item: item[0])  # stable: offsets before onsets at equal times
    return [_NoteEvent(round(time_s * steps_per_second), note, is_onset) for time_s, note, is_onset in timed]


def _event_indices(event: _NoteEvent, vocab: Vocabulary) -> list[int]:
    codec = vocab.codec
    note = event.note
    velocity_bin = velocity_to_bin(note.velocity, codec.num_velocity_bins) if event.is_onset else 0
    if note.is_drum:
        return [codec.encode("velocity", velocity_bin), codec.encode("drum", note.pitch)]
    return [
        codec.encode("program", note.program),
        codec.encode("velocity", velocity_bin),
        codec.encode("pitch", note.pitch),
    ]


def _map_programs(indices: list[int], vocab: Vocabulary, granularity: str) -> list[int]:
    if granularity not in GRANULARITIES:
        raise ValueError(f"unknown program granularity {granularity!r}; choose one of {', '.join(GRANULARITIES)}")
    first, last = vocab.codec.event_range("program")
    if granularity == "flat":
        return [i for i in indices if not first <= i <= last]
    return [first + program_for_granularity(i - first, granularity) if first <= i <= last else i for i in indices]


def encode_notes(
    notes: Iterable[ProgramNote],
    vocab: Vocabulary,
    *,
    start_s: float,
    end_s: float,
    granularity: str = "full",
) -> list[int]:
    """Model token ids of the segment ``[start_s, end_s)``: tie section, tie, events, EOS.

    Args:
        notes: all notes of the piece (those outside the segment are ignored, those sounding at its
            start go to the tie section).
        vocab: the vocabulary (its codec sets steps/s and velocity bins).
        start_s, end_s: the segment, in seconds of the piece.
        granularity: ``flat``, ``midi_class``, ``full`` or ``jointist`` (each program becomes its
            39-class's representative program).

    Raises:
        ValueError: ``end_s < start_s``, an unknown granularity, or an invalid note (pitch, velocity
            1-127, program out of range, or a non-drum note that does not end after its onset).
    """
    codec = vocab.codec
    sps = codec.steps_per_second
    start_step, end_step = step_of(start_s, sps), step_of(end_s, sps)
    if end_step < start_step:
        raise ValueError(f"end_s ({end_s}) is before start_s ({start_s})")
    events = _note_events(notes, sps)

    # Tie section: the encoder state (on or off per (program, pitch)) after every event before the segment.
    state: dict[tuple[int, int], int] = {}
    for event in events:
        if event.step >= start_step:
            break
        if not event.note.is_drum:
            state[(event.note.program, event.note.pitch)] = 1 if event.is_onset else 0
    indices: list[int] = []
    for program, pitch in sorted(key for key, on in state.items() if on):
        indices += [codec.encode("program", program), codec.encode("pitch", pitch)]
    indices.append(codec.encode("tie", 0))

    # The segment's events, with shifts as step increments; run_length_encode_shifts makes them absolute.
    current = start_step
    for event in events:
        if event.step < start_step:
            continue
        if event.step >= end_step:
            break
        while current < event.step:
            steps = min(codec.max_shift_steps, event.step - current)
            indices.append(codec.encode("shift", steps))
            current += steps
        indices += _event_indices(event, vocab)

    indices = _map_programs(indices, vocab, granularity)
    indices = run_length_encode_shifts(indices, codec)
    indices = remove_redundant_state_changes(indices, codec)
    return [*vocab.encode(indices), EOS_ID]


# ----------------------------------------------------------------------------------------- decoding


@dataclass
class DecodeState:
    """Everything the decoder knows between two events.

    Attributes:
        current_time_s: time of the last accepted event (events may not go back in time).
        current_program: program applied to the following pitch events.
        current_velocity: MIDI velocity applied to the following onsets (0: pitch events are offsets).
        active: sounding notes, ``(program, pitch) -> (onset_s, velocity)``.
        in_tie_section: True from a segment's start until its tie token.
        tied: ``(program, pitch)`` listed in the current tie section.
        notes: finished notes, in the order they ended.
        invalid_events: ids or events that made no sense (counted, skipped).
        dropped_events: ids dropped because they went past the next segment's start.
    """

    current_time_s: float = 0.0
    current_program: int = 0
    current_velocity: int = DEFAULT_VELOCITY
    active: dict[tuple[int, int], tuple[float, int]] = field(default_factory=dict)
    in_tie_section: bool = False
    tied: set[tuple[int, int]] = field(default_factory=set)
    notes: list[ProgramNote] = field(default_factory=list)
    invalid_events: int = 0
    dropped_events: int = 0


@dataclass(frozen=True)
class DecodeStats:
    """Totals over the segments decoded by :func:`decode_segments`."""

    invalid_events: int
    dropped_events: int
    num_segments: int


def _end_note(state: DecodeState, key: tuple[int, int], end_s: float) -> None:
    onset_s, velocity = state.active.pop(key)
    program, pitch = key
    end_s = max(end_s, onset_s + MIN_NOTE_DURATION_S)
    state.notes.append(ProgramNote(onset_s, end_s, pitch, velocity, program, is_drum=False))


def begin_segment(state: DecodeState) -> None:
    """Enter a new segment: its first ids, up to the tie token, declare the notes that continue."""
    state.tied = set()
    state.in_tie_section = True


def apply_event(state: DecodeState, time_s: float, event: Event, *, num_velocity_bins: int) -> bool:
    """Apply one non-shift event at ``time_s``; False (state unchanged) when it makes no sense.

    ``num_velocity_bins`` (the codec's) turns velocity bins back into MIDI velocities.

    Rejected: an event earlier than the current time; in the tie section a pitch that is not sounding
    or is already tied; a note-off of a pitch that is not sounding; a drum hit at velocity 0; a tie
    token outside the tie section; a shift or unknown type. An onset of a pitch that is already
    sounding ends the sounding note there and starts a new one (accepted, as in MT3).
    """
    if time_s < state.current_time_s:
        return False
    state.current_time_s = time_s
    kind, value = event
    if kind == "pitch":
        key = (state.current_program, value)
        if state.in_tie_section:
            if key not in state.active or key in state.tied:
                return False
            state.tied.add(key)
        elif state.current_velocity == 0:
            if key not in state.active:
                return False
            _end_note(state, key, time_s)
        else:
            if key in state.active:
                _end_note(state, key, time_s)
            state.active[key] = (time_s, state.current_velocity)
        return True
    if kind == "drum":
        if state.current_velocity == 0:
            return False
        state.notes.append(ProgramNote(time_s, time_s + DRUM_DURATION_S, value, state.current_velocity, 0, True))
        return True
    if kind == "velocity":
        state.current_velocity = bin_to_velocity(value, num_velocity_bins)
        return True
    if kind == "program":
        state.current_program = value
        return True
    if kind == "tie":
        if not state.in_tie_section:
            return False
        for key in [k for k in state.active if k not in state.tied]:
            _end_note(state, key, state.current_time_s)
        state.in_tie_section = False
        return True
    return False


def decode_tokens(
    ids: Iterable[int],
    vocab: Vocabulary,
    *,
    start_s: float,
    state: DecodeState | None = None,
    max_time_s: float | None = None,
) -> DecodeState:
    """Decode one segment's model ids into ``state`` (a new one if None) and return it.

    The segment starts at ``floor(start_s * sps) / sps``; ids after the first EOS are ignored, PAD is
    skipped, UNK, extra and out-of-range ids count as invalid. Events after ``max_time_s`` (the next
    segment's start) are dropped with all ids after them. Active notes not listed in the tie section
    end at the tie token.
    """
    decoding = DecodeState() if state is None else state
    bins = vocab.codec.num_velocity_bins
    sps = vocab.codec.steps_per_second
    begin_segment(decoding)
    invalid, dropped = decode_events(
        vocab.decode(ids),
        vocab.codec,
        start_step=step_of(start_s, sps),
        max_step=None if max_time_s is None else step_of(max_time_s, sps),
        handle_event=lambda time_s, event: apply_event(decoding, time_s, event, num_velocity_bins=bins),
    )
    decoding.invalid_events += invalid
    decoding.dropped_events += dropped
    return decoding


def flush(state: DecodeState, end_s: float | None = None) -> list[ProgramNote]:
    """End every sounding note and return all finished notes, sorted by onset, drums last, program, pitch.

    Sounding notes end together at the latest of the current time, ``end_s`` and every sounding note's
    onset + :data:`MIN_NOTE_DURATION_S` (MT3's flush, with ``end_s`` added).
    """
    end = state.current_time_s if end_s is None else max(state.current_time_s, end_s)
    for onset_s, _ in state.active.values():
        end = max(end, onset_s + MIN_NOTE_DURATION_S)
    for key in list(state.active):
        _end_note(state, key, end)
    state.current_time_s = end
    return sorted(state.notes, key=lambda n: (n.onset_s, n.is_drum, n.program, n.pitch, n.offset_s))


def decode_segments(
    segments: Sequence[Iterable[int]],
    starts_s: Sequence[float],
    vocab: Vocabulary,
    *,
    end_s: float | None = None,
) -> tuple[list[ProgramNote], DecodeStats]:
    """Decode consecutive segments (sorted by start) into notes, as MT3 combines its predictions.

    Each segment may not decode events past the next segment's start; the notes still sounding after
    the last segment end at ``end_s`` (or the last event, at least :data:`MIN_NOTE_DURATION_S` after
    their onset).
    """
    if len(segments) != len(starts_s):
        raise ValueError(f"{len(segments)} segments but {len(starts_s)} start times")
    order = sorted(range(len(segments)), key=lambda i: starts_s[i])
    state = DecodeState()
    for rank, i in enumerate(order):
        next_start = starts_s[order[rank + 1]] if rank + 1 < len(order) else None
        decode_tokens(segments[i], vocab, start_s=starts_s[i], state=state, max_time_s=next_start)
    notes = flush(state, end_s)
    return notes, DecodeStats(state.invalid_events, state.dropped_events, len(segments))
