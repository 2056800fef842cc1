"""The 39-class instrument map of Jointist.

Every General MIDI program (0-127) belongs to exactly one of 38 pitched classes; any drum track
(``is_drum``) is class 38, ``Drums``. Classes can be looked up by index, by GM program and by name,
with forgiving aliases ("piano", "Electric Bass", "e-guitar", "drums"; case, spaces and punctuation
are ignored). MT3's program granularities are provided for the seq2seq head.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = [
    "DRUMS",
    "INSTRUMENTS",
    "NUM_CLASSES",
    "Instrument",
    "UnknownInstrumentError",
    "by_index",
    "by_name",
    "by_program",
    "class_names",
    "parse_instruments",
    "program_for_granularity",
]


class UnknownInstrumentError(ValueError):
    """A name that matches no class; the message lists the valid names."""


@dataclass(frozen=True)
class Instrument:
    """One of the 39 classes.

    Attributes:
        index: class index, 0-38.
        name: display name ("Electric Guitar").
        programs: the 0-based General MIDI programs of the class (empty for drums).
        is_drum: True only for class 38.
    """

    index: int
    name: str
    programs: tuple[int, ...]
    is_drum: bool = False

    @property
    def program(self) -> int:
        """Representative GM program used when writing MIDI (the class's first program; 0 for drums)."""
        return self.programs[0] if self.programs else 0

    @property
    def slug(self) -> str:
        """File-name friendly name: ``electric_guitar``."""
        return re.sub(r"[^a-z0-9]+", "_", self.name.lower()).strip("_")


def _r(first: int, last: int) -> tuple[int, ...]:
    return tuple(range(first, last + 1))


INSTRUMENTS: tuple[Instrument, ...] = (
    Instrument(0, "Piano", _r(0, 3)),
    Instrument(1, "Electric Piano", _r(4, 5)),
    Instrument(2, "Harpsichord", (6,)),
    Instrument(3, "Clavinet", (7,)),
    Instrument(4, "Chromatic Percussion", _r(8, 15)),
    Instrument(5, "Organ", _r(16, 20)),
    Instrument(6, "Accordion", (21, 23)),
    Instrument(7, "Harmonica", (22,)),
    Instrument(8, "Acoustic Guitar", _r(24, 25)),
    Instrument(9, "Electric Guitar", _r(26, 31)),
    Instrument(10, "Bass", _r(32, 39)),
    Instrument(11, "Violin", (40,)),
    Instrument(12, "Viola", (41,)),
    Instrument(13, "Cello", (42,)),
    Instrument(14, "Contrabass", (43,)),
    Instrument(15, "Strings", (44, 45, 48, 49, 50, 51, 55)),
    Instrument(16, "Harp", (46,)),
    Instrument(17, "Timpani", (47,)),
    Instrument(18, "Voice", _r(52, 54)),
    Instrument(19, "Trumpet", (56, 59)),
    Instrument(20, "Trombone", (57,)),
    Instrument(21, "Tuba", (58,)),
    Instrument(22, "Horn", (60, 69)),
    Instrument(23, "Brass", _r(61, 63)),
    Instrument(24, "Saxophone", _r(64, 67)),
    Instrument(25, "Oboe", (68,)),
    Instrument(26, "Bassoon", (70,)),
    Instrument(27, "Clarinet", (71,)),
    Instrument(28, "Piccolo", (72,)),
    Instrument(29, "Flute", (73,)),
    Instrument(30, "Recorder", (74,)),
    Instrument(31, "Pipe", _r(75, 79)),
    Instrument(32, "Synth Lead", _r(80, 87)),
    Instrument(33, "Synth Pad", _r(88, 95)),
    Instrument(34, "Synth Effects", _r(96, 103)),
    Instrument(35, "Ethnic", _r(104, 111)),
    Instrument(36, "Percussive", _r(112, 119)),
    Instrument(37, "Sound Effects", _r(120, 127)),
    Instrument(38, "Drums", (), is_drum=True),
)
NUM_CLASSES = len(INSTRUMENTS)
DRUMS = INSTRUMENTS[38]

_PROGRAM_TO_CLASS: tuple[int, ...] = tuple(
    next(inst.index for inst in INSTRUMENTS if program in inst.programs) for program in range(128)
)

# Extra spellings people use; class names, slugs and GM program names are accepted as well.
_ALIASES: dict[str, str] = {
    "piano": "Piano",
    "acoustic piano": "Piano",
    "grand piano": "Piano",
    "keys": "Piano",
    "e-piano": "Electric Piano",
    "epiano": "Electric Piano",
    "rhodes": "Electric Piano",
    "clav": "Clavinet",
    "chromatic": "Chromatic Percussion",
    "mallets": "Chromatic Percussion",
    "vibraphone": "Chromatic Percussion",
    "marimba": "Chromatic Percussion",
    "xylophone": "Chromatic Percussion",
    "glockenspiel": "Chromatic Percussion",
    "accordeon": "Accordion",
    "acoustic guitar": "Acoustic Guitar",
    "a-guitar": "Acoustic Guitar",
    "nylon guitar": "Acoustic Guitar",
    "guitar": "Electric Guitar",
    "e-guitar": "Electric Guitar",
    "eguitar": "Electric Guitar",
    "electric guitar": "Electric Guitar",
    "distortion guitar": "Electric Guitar",
    "bass": "Bass",
    "electric bass": "Bass",
    "e-bass": "Bass",
    "bass guitar": "Bass",
    "synth bass": "Bass",
    "fiddle": "Violin",
    "double bass": "Contrabass",
    "upright bass": "Contrabass",
    "string ensemble": "Strings",
    "string": "Strings",
    "vocals": "Voice",
    "vocal": "Voice",
    "choir": "Voice",
    "french horn": "Horn",
    "brass section": "Brass",
    "sax": "Saxophone",
    "reed": "Saxophone",
    "synth": "Synth Lead",
    "lead": "Synth Lead",
    "pad": "Synth Pad",
    "fx": "Synth Effects",
    "sfx": "Sound Effects",
    "drum": "Drums",
    "drums": "Drums",
    "drum kit": "Drums",
    "percussion": "Drums",
    "kit": "Drums",
}


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", name.lower())


@lru_cache(maxsize=1)
def _name_table() -> dict[str, int]:
    import pretty_midi  # lazy: only needed for GM program names

    table: dict[str, int] = {}
    for program in range(128):
        table.setdefault(_normalise(pretty_midi.program_to_instrument_name(program)), _PROGRAM_TO_CLASS[program])
    for alias, class_name in _ALIASES.items():
        table[_normalise(alias)] = next(i.index for i in INSTRUMENTS if i.name == class_name)
    for inst in INSTRUMENTS:  # class names win over everything else
        table[_normalise(inst.name)] = inst.index
        table[_normalise(inst.name) + "s"] = inst.index
    return table


def class_names() -> list[str]:
    """The 39 class names in index order."""
    return [inst.name for inst in INSTRUMENTS]


def by_index(index: int) -> Instrument:
    """The class with this index (0-38)."""
    if not 0 <= int(index) < NUM_CLASSES:
        raise UnknownInstrumentError(f"instrument index {index} is out of range 0..{NUM_CLASSES - 1}")
    return INSTRUMENTS[int(index)]


def by_program(program: int, *, is_drum: bool = False) -> Instrument:
    """The class of a General MIDI program (0-based); any drum track is ``Drums``."""
    if is_drum:
        return DRUMS
    if not 0 <= int(program) <= 127:
        raise ValueError(f"MIDI program must be in 0..127, got {program}")
    return INSTRUMENTS[_PROGRAM_TO_CLASS[int(program)]]


def _valid_names() -> str:
    return ", ".join(inst.slug for inst in INSTRUMENTS)


def _not_an_instrument(value: object, why: str) -> UnknownInstrumentError:
    return UnknownInstrumentError(
        f"{why}; valid names (case and punctuation ignored) are: {_valid_names()}; or give a class index "
        f"0..{NUM_CLASSES - 1}"
    )


def by_name(name: str | int | Instrument) -> Instrument:
    """Look a class up by name, alias, GM program name or index (an int or a string of digits, 0-38).

    Raises:
        UnknownInstrumentError: the name matches nothing, or the value is a bool, a float, a negative or
            out-of-range number (``[1.5]``, ``true`` and ``-1`` are mistakes, not instruments); the
            message names the value and lists the valid names.
    """
    if isinstance(name, Instrument):
        return name
    if isinstance(name, (bool, np.bool_)):
        raise _not_an_instrument(name, f"{name!r} is a boolean, not an instrument")
    if isinstance(name, (int, np.integer)):
        if not 0 <= int(name) < NUM_CLASSES:
            raise _not_an_instrument(name, f"instrument index {int(name)} is out of range 0..{NUM_CLASSES - 1}")
        return INSTRUMENTS[int(name)]
    if not isinstance(name, str):
        raise _not_an_instrument(name, f"{name!r} ({type(name).__name__}) is not an instrument")
    text = name.strip()
    if text.isdigit():
        return by_name(int(text))
    if _NUMBER.fullmatch(text):
        raise _not_an_instrument(name, f"{name!r} is not an instrument name or class index")
    index = _name_table().get(_normalise(text))
    if index is None:
        raise _not_an_instrument(name, f"unknown instrument {name!r}")
    return INSTRUMENTS[index]


_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|[-+]?(inf|infinity|nan)", re.IGNORECASE)
"""Numbers that are not class indices (signed, fractional, exponent, inf, nan): rejected, never read as
names (punctuation is ignored in names, so ``1.5`` would otherwise be class 15)."""


def parse_instruments(spec: str | Iterable[str | int] | None) -> list[Instrument]:
    """Parse a user's instrument list: ``"all"``, ``"piano,bass"`` or ``["piano", "bass"]``.

    Duplicates are removed and the order of first mention is kept.
    """
    if spec is None:
        raise UnknownInstrumentError("no instruments given; name some (e.g. [piano,bass]) or use 'all'")
    if isinstance(spec, str):
        if spec.strip().lower() == "all":
            return list(INSTRUMENTS)
        items: Sequence[str | int] = [part for part in re.split(r"[,;]", spec.strip("[] ")) if part.strip()]
    else:
        items = list(spec)
        if len(items) == 1 and isinstance(items[0], str) and items[0].strip().lower() == "all":
            return list(INSTRUMENTS)
    if not items:
        raise UnknownInstrumentError("the instrument list is empty; name some (e.g. [piano,bass]) or use 'all'")
    seen: dict[int, Instrument] = {}
    for item in items:
        inst = by_name(item.strip() if isinstance(item, str) else item)
        seen.setdefault(inst.index, inst)
    return list(seen.values())


GRANULARITIES = ("flat", "midi_class", "full", "jointist")


def program_for_granularity(program: int, granularity: str) -> int:
    """Map a GM program to the coarser program MT3 uses at a given granularity.

    ``flat``: every program becomes 0; ``midi_class``: the first program of its GM family of eight
    (``program // 8 * 8``); ``full``: unchanged; ``jointist``: the representative program of its
    39-class (so two programs of one class decode to the same track).
    """
    if not 0 <= int(program) <= 127:
        raise ValueError(f"MIDI program must be in 0..127, got {program}")
    if granularity == "flat":
        return 0
    if granularity == "midi_class":
        return int(program) // 8 * 8
    if granularity == "full":
        return int(program)
    if granularity == "jointist":
        return by_program(program).program
    raise ValueError(f"unknown program granularity {granularity!r}; choose one of {', '.join(GRANULARITIES)}")
