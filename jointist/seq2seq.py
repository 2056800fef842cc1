"""The seq2seq head's glue: the 39 classes and their notes on one side, MT3-style tokens on the other.

The codec (:mod:`jointist.tokens`) speaks General MIDI programs; the rest of jointist speaks classes.
A class is written as its representative program (the ``jointist`` program granularity) and drums as
drum events, so a token stream decodes back to exactly the classes it was made from. Pure numpy: the
training task and the inference pipeline both use it.

Multi-channel decoding (YourMT3+'s remedy for instruments swapping between independently decoded
segments) gives each :data:`CHANNEL_GROUPS` entry its own token stream: a decoder with shared weights
is told the channel, and only that group's classes can appear in it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from jointist.instruments import DRUMS, INSTRUMENTS, NUM_CLASSES, by_program
from jointist.notes import NoteArray
from jointist.tokens import ProgramNote, Vocabulary, encode_notes

__all__ = [
    "CHANNEL_GROUPS",
    "CHANNEL_OF_CLASS",
    "GRANULARITY",
    "allowed_tokens",
    "channels_for",
    "class_notes",
    "instrument_swaps",
    "program_notes",
    "segment_tokens",
]

GRANULARITY = "jointist"
"""Programs are our 39 classes: each class is written as its representative GM program."""

CHANNEL_GROUPS: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("keyboards", (0, 1, 2, 3)),
    ("chromatic percussion", (4,)),
    ("organs", (5, 6, 7)),
    ("guitars", (8, 9)),
    ("bass", (10,)),
    ("solo strings", (11, 12, 13, 14)),
    ("ensemble", (15, 16, 17, 18)),
    ("brass", (19, 20, 21, 22, 23)),
    ("reeds", (24, 25, 26, 27)),
    ("pipes", (28, 29, 30, 31)),
    ("synths", (32, 33, 34)),
    ("ethnic and effects", (35, 36, 37)),
    ("drums", (38,)),
)
"""The 13 token streams of multi-channel decoding: instrument families, as YourMT3+ groups programs."""

CHANNEL_OF_CLASS = np.zeros(NUM_CLASSES, np.int64)
for _channel, (_, _classes) in enumerate(CHANNEL_GROUPS):
    CHANNEL_OF_CLASS[list(_classes)] = _channel
if sorted(c for _, group in CHANNEL_GROUPS for c in group) != list(range(NUM_CLASSES)):
    raise AssertionError("CHANNEL_GROUPS must hold every class exactly once")


def program_notes(notes: Mapping[int, NoteArray], classes: Iterable[int] | None = None) -> list[ProgramNote]:
    """Class -> notes as the codec's notes (the class's representative program; drums as drums)."""
    wanted = None if classes is None else {int(c) for c in classes}
    out = []
    for c, part in notes.items():
        if wanted is not None and int(c) not in wanted:
            continue
        inst = INSTRUMENTS[int(c)]
        for on, off, pitch, vel in zip(part.onset_s, part.offset_s, part.pitch, part.velocity):
            out.append(ProgramNote(onset_s=float(on), offset_s=float(off), pitch=int(pitch), velocity=int(vel),
                                   program=inst.program, is_drum=inst.is_drum))
    return out


def class_notes(notes: Iterable[ProgramNote]) -> dict[int, NoteArray]:
    """The codec's notes back as class -> notes (sorted), for every class that has any."""
    parts: dict[int, list[ProgramNote]] = {}
    for note in notes:
        c = DRUMS.index if note.is_drum else by_program(note.program).index
        parts.setdefault(c, []).append(note)
    out = {}
    for c, group in sorted(parts.items()):
        onset = np.array([n.onset_s for n in group], np.float64)
        offset = np.maximum(np.array([n.offset_s for n in group], np.float64), onset)
        pitch = np.array([n.pitch for n in group], np.int16)
        velocity = np.clip(np.array([n.velocity for n in group], np.int16), 1, 127)
        order = np.lexsort((pitch, onset))
        out[c] = NoteArray(onset[order], offset[order], pitch[order], velocity[order])
    return out


def channels_for(classes: Iterable[int]) -> list[int]:
    """The channels (sorted) whose groups hold any of ``classes``."""
    return sorted({int(CHANNEL_OF_CLASS[int(c)]) for c in classes})


def segment_tokens(notes: Mapping[int, NoteArray], vocab: Vocabulary, *, segment_s: float,
                   channel: int | None = None) -> list[int]:
    """The target token ids (ending with EOS) of one segment ``[0, segment_s)`` whose notes are
    ``notes`` (class -> notes, times relative to the segment start; notes sounding at 0 go into the
    tie section); with ``channel``, only the classes of that channel group."""
    classes = None if channel is None else CHANNEL_GROUPS[channel][1]
    return encode_notes(program_notes(notes, classes), vocab, start_s=0.0, end_s=segment_s, granularity=GRANULARITY)


def allowed_tokens(vocab: Vocabulary, classes: Iterable[int] | None) -> np.ndarray:
    """(vocab_size,) bool: the token ids a decoder may emit when only ``classes`` are wanted (None:
    every token). Program tokens of other classes are banned, and drum tokens unless drums are wanted."""
    allowed = np.ones(vocab.vocab_size, bool)
    if classes is None:
        return allowed
    wanted = {int(c) for c in classes}
    allowed[sorted(vocab.program_ids())] = False
    programs = {INSTRUMENTS[c].program for c in wanted if c != DRUMS.index}
    if programs:
        allowed[sorted(vocab.program_ids(programs))] = True
    if DRUMS.index not in wanted:
        allowed[sorted(vocab.drum_ids())] = False
    return allowed


def instrument_swaps(reference: Mapping[int, NoteArray], estimate: Mapping[int, NoteArray],
                     boundaries_s: Sequence[float], *, tolerance_s: float = 0.02) -> tuple[int, int]:
    """How often a sustained note changes instrument at a segment boundary: (swaps, opportunities).

    An opportunity is a pitched reference note sounding across a boundary (from ``tolerance_s``
    before it to ``tolerance_s`` after it) for which the estimate has a note of the same pitch
    sounding just before the boundary and one sounding just after it. It is a swap when the classes of
    those two estimated notes differ and the reference note's class is among them: the note was
    heard, but handed from one instrument to another between segments.
    """

    def sounding(notes: Mapping[int, NoteArray], t: float) -> dict[int, set[int]]:
        out: dict[int, set[int]] = {}
        for c, part in notes.items():
            if int(c) == DRUMS.index:
                continue
            on = (part.onset_s <= t) & (part.offset_s > t)
            for pitch in part.pitch[on]:
                out.setdefault(int(pitch), set()).add(int(c))
        return out

    swaps = opportunities = 0
    for b in boundaries_s:
        before_ref, after_ref = sounding(reference, b - tolerance_s), sounding(reference, b + tolerance_s)
        before_est, after_est = sounding(estimate, b - tolerance_s), sounding(estimate, b + tolerance_s)
        for pitch, classes in before_ref.items():
            for c in classes & after_ref.get(pitch, set()):
                left, right = before_est.get(pitch, set()), after_est.get(pitch, set())
                if not left or not right:
                    continue
                opportunities += 1
                if c not in left & right and (c in left or c in right):
                    swaps += 1
    return swaps, opportunities
