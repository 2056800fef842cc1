"""Random multitrack songs, composed as notes, for the synthetic training corpus.

The project has no downloadable data, so it writes its own songs and renders every stem with FluidSynth
(:mod:`jointist.data.synthetic`). A song here is a list of stems (GM program, drum flag, musical role and
a :class:`~jointist.notes.NoteArray`); nothing is rendered and ``pretty_midi`` is not needed.

How a song is made (everything is drawn from the caller's ``numpy`` Generator, so a seed gives one song):

1. **Frame.** Tempo (uniform in the allowed range), metre (4/4, sometimes 3/4), swing (shuffle grooves
   and some hip-hop / reggae feels push the off-beat eighths late), a key (tonic and mode: major,
   minor, now and then dorian or mixolydian).
2. **Form.** Sections of 4 or 8 bars (intro, verse, pre-chorus, chorus, bridge, breakdown, outro), each
   with an energy between 0 and 1 that picks denser or sparser patterns and louder or softer playing.
3. **Harmony.** Every kind of section gets a progression from a bank of common ones (I-V-vi-IV,
   vi-IV-I-V, ii-V-I, i-VI-III-VII, i-iv-v, the Andalusian cadence, 12-bar blues, ...), built as
   diatonic triads or sevenths, one chord per 2 bars, per bar or per half bar.
4. **Band.** A number of stems between ``min_stems`` and ``max_stems`` (most often 7-9, as in Slakh2100).
   Drums and bass come first (usually), then comping, a melody and fillers (pads, arpeggios, a counter
   line, sparse hits). Each role draws its class from weights favouring common pop instruments and its
   program from the class's GM programs; ``guest_class`` forces one stem of a class in a role that suits
   it. Every stem plays in some sections and rests in others.
5. **Parts.** One generator per role writes idiomatic notes in beats (grooves with ghost notes, crashes
   and tom fills; bass roots, octaves, walking lines; voice-led chord voicings with strums; sustained
   pads; arpeggios; motif-based melodies; harmony lines; timpani rolls and effects).
6. **Performance.** Beats become seconds (with swing), then each stem gets timing jitter and velocity
   humanisation, pitches are folded into the class's range, notes are cut at ``duration_s``, and a
   note is shortened before the next onset of its pitch (MIDI cannot overlap them on one channel).
"""

from __future__ import annotations

import bisect
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from jointist.instruments import DRUMS, NUM_CLASSES, Instrument, by_index, by_program
from jointist.notes import NoteArray

__all__ = ["PITCH_RANGES", "ROLES", "Song", "Stem", "compose_song"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

ROLES = ("drums", "bass", "chords", "pad", "arpeggio", "melody", "counter", "hits")
"""Musical roles a stem can play, in the order stems are listed in a :class:`Song`."""

PITCH_RANGES: dict[int, tuple[int, int]] = {
    0: (21, 108),  # Piano
    1: (28, 103),  # Electric Piano
    2: (29, 89),  # Harpsichord
    3: (29, 88),  # Clavinet
    4: (48, 100),  # Chromatic Percussion (vibraphone, marimba, glockenspiel, bells)
    5: (36, 96),  # Organ
    6: (41, 89),  # Accordion
    7: (60, 96),  # Harmonica
    8: (40, 84),  # Acoustic Guitar
    9: (40, 88),  # Electric Guitar
    10: (28, 60),  # Bass
    11: (55, 100),  # Violin
    12: (48, 88),  # Viola
    13: (36, 76),  # Cello
    14: (28, 67),  # Contrabass
    15: (36, 96),  # Strings
    16: (24, 103),  # Harp
    17: (40, 55),  # Timpani
    18: (48, 79),  # Voice
    19: (54, 84),  # Trumpet
    20: (40, 72),  # Trombone
    21: (28, 58),  # Tuba
    22: (41, 77),  # Horn
    23: (41, 84),  # Brass
    24: (44, 81),  # Saxophone
    25: (58, 91),  # Oboe
    26: (34, 72),  # Bassoon
    27: (50, 91),  # Clarinet
    28: (74, 108),  # Piccolo
    29: (60, 96),  # Flute
    30: (65, 96),  # Recorder
    31: (55, 96),  # Pipe
    32: (36, 96),  # Synth Lead
    33: (36, 96),  # Synth Pad
    34: (36, 96),  # Synth Effects
    35: (40, 88),  # Ethnic
    36: (36, 84),  # Percussive
    37: (36, 84),  # Sound Effects
    38: (35, 81),  # Drums: the GM percussion key map
}
"""(lowest, highest) MIDI pitch each class plays, by class index; all within the 88 keys 21..108."""


@dataclass(frozen=True)
class Stem:
    """One instrument track of a song.

    Attributes:
        program: 0-based General MIDI program (0 for drums).
        is_drum: True for the drum kit (GM channel 10).
        role: musical role, one of :data:`ROLES`.
        notes: the notes, times in seconds from the song start; every offset is <= the song's duration.
    """

    program: int
    is_drum: bool
    role: str
    notes: NoteArray

    @property
    def instrument(self) -> Instrument:
        """The 39-class instrument of this stem."""
        return by_program(self.program, is_drum=self.is_drum)


@dataclass(frozen=True)
class Song:
    """A composed multitrack song.

    Attributes:
        tempo_bpm: constant tempo in quarter-note beats per minute.
        beats_per_bar: 4 (4/4) or 3 (3/4).
        key_name: tonic and mode, e.g. "E minor", "Bb major", "D dorian".
        duration_s: length of the song in seconds; no note ends after it.
        stems: the stems, ordered by role as in :data:`ROLES`.
    """

    tempo_bpm: float
    beats_per_bar: int
    key_name: str
    duration_s: float
    stems: tuple[Stem, ...]


# ---------------------------------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------------------------------

_NOTE_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")  # tonic spellings of major keys
_MINOR_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")  # ... and of minor / dorian keys
_MODES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
}
_MODE_WEIGHTS = {"major": 0.5, "minor": 0.38, "dorian": 0.06, "mixolydian": 0.06}
_PENTATONIC = {"major": (0, 2, 4, 7, 9), "minor": (0, 3, 5, 7, 10)}

_DOM7 = (0, 4, 7, 10)
_MIN7 = (0, 3, 7, 10)


@dataclass(frozen=True)
class _Progression:
    """A chord progression: scale degrees of the mode (0 = tonic) or, if ``explicit``, fixed chords.

    ``explicit`` chords are (root in semitones above the tonic, intervals above the root); they run on
    through the song at one chord per bar, like a 12-bar blues.
    """

    name: str
    modes: tuple[str, ...]
    degrees: tuple[int, ...] = ()
    seventh_p: float = 0.15
    harmonic_v: bool = False  # in minor, play V as a major chord (raised leading tone)
    explicit: tuple[tuple[int, tuple[int, ...]], ...] = ()
    weight: float = 1.0


_PROGRESSIONS: tuple[_Progression, ...] = (
    _Progression("I-V-vi-IV", ("major",), (0, 4, 5, 3), weight=2.0),
    _Progression("I-vi-IV-V", ("major",), (0, 5, 3, 4), weight=1.5),
    _Progression("vi-IV-I-V", ("major",), (5, 3, 0, 4), weight=1.5),
    _Progression("I-IV-V-IV", ("major", "mixolydian"), (0, 3, 4, 3)),
    _Progression("I-IV-vi-V", ("major",), (0, 3, 5, 4)),
    _Progression("I-iii-IV-V", ("major",), (0, 2, 3, 4), weight=0.6),
    _Progression("IV-I-V-vi", ("major",), (3, 0, 4, 5)),
    _Progression("ii-V-I-I", ("major",), (1, 4, 0, 0), seventh_p=0.85),
    _Progression("I-vi-ii-V", ("major",), (0, 5, 1, 4), seventh_p=0.6),
    _Progression("iii-vi-ii-V", ("major",), (2, 5, 1, 4), seventh_p=0.7, weight=0.5),
    _Progression("I-IV", ("major", "mixolydian"), (0, 3), weight=0.7),
    _Progression("canon", ("major",), (0, 4, 5, 2, 3, 0, 3, 4), weight=0.6),
    _Progression("I-bVII-IV-I", ("mixolydian",), (0, 6, 3, 0)),
    _Progression("I-bVII", ("mixolydian",), (0, 6)),
    _Progression("i-VI-III-VII", ("minor",), (0, 5, 2, 6), weight=2.0),
    _Progression("i-iv-v-i", ("minor",), (0, 3, 4, 0)),
    _Progression("i-iv-V-i", ("minor",), (0, 3, 4, 0), harmonic_v=True),
    _Progression("i-VII-VI-VII", ("minor",), (0, 6, 5, 6)),
    _Progression("i-iv-VII-III", ("minor",), (0, 3, 6, 2)),
    _Progression("i-VI-VII-i", ("minor",), (0, 5, 6, 0)),
    _Progression("i-VII-VI-V", ("minor",), (0, 6, 5, 4), harmonic_v=True),
    _Progression("ii-V-i", ("minor",), (1, 4, 0, 0), seventh_p=0.8, harmonic_v=True, weight=0.6),
    _Progression("i-IV", ("dorian",), (0, 3)),
    _Progression("i-IV-i-VII", ("dorian",), (0, 3, 0, 6)),
    _Progression("i-ii-III-ii", ("dorian",), (0, 1, 2, 1), weight=0.5),
    _Progression(
        "12-bar blues", ("major", "mixolydian"), seventh_p=0.85, weight=0.6,
        explicit=tuple((root, _DOM7) for root in (0, 0, 0, 0, 5, 5, 0, 0, 7, 5, 0, 7)),
    ),
    _Progression(
        "minor blues", ("minor", "dorian"), seventh_p=0.8, weight=0.4,
        explicit=((0, _MIN7),) * 4 + ((5, _MIN7),) * 2 + ((0, _MIN7),) * 2 + ((8, _DOM7), (7, _DOM7), (0, _MIN7), (7, _DOM7)),
    ),
)

_KINDS = ("intro", "verse", "prechorus", "chorus", "bridge", "breakdown", "outro")
_ENERGY: dict[str, tuple[float, float]] = {
    "intro": (0.3, 0.5), "verse": (0.5, 0.7), "prechorus": (0.62, 0.8), "chorus": (0.8, 1.0),
    "bridge": (0.45, 0.7), "breakdown": (0.25, 0.45), "outro": (0.35, 0.55),
}
# Probability that a stem of a role plays in a section of a kind (order of _KINDS).
_ACTIVITY: dict[str, tuple[float, ...]] = {
    "drums": (0.45, 0.9, 0.95, 1.0, 0.7, 0.25, 0.6),
    "bass": (0.4, 0.9, 0.95, 1.0, 0.8, 0.35, 0.7),
    "chords": (0.7, 0.8, 0.85, 0.9, 0.75, 0.6, 0.7),
    "pad": (0.6, 0.45, 0.6, 0.8, 0.7, 0.75, 0.6),
    "arpeggio": (0.6, 0.5, 0.6, 0.65, 0.6, 0.6, 0.5),
    "melody": (0.2, 0.85, 0.85, 0.95, 0.6, 0.4, 0.3),
    "counter": (0.1, 0.35, 0.5, 0.8, 0.5, 0.3, 0.2),
    "hits": (0.5, 0.3, 0.5, 0.7, 0.4, 0.4, 0.5),
}

# Classes suitable for each role, with how often they are drawn for it.
_ROLE_CLASSES: dict[str, dict[int, float]] = {
    "drums": {38: 1.0},
    "bass": {10: 0.82, 14: 0.07, 13: 0.03, 21: 0.03, 26: 0.02, 20: 0.02, 0: 0.01},
    "chords": {
        0: 0.22, 9: 0.2, 8: 0.14, 1: 0.12, 5: 0.1, 15: 0.04, 23: 0.03, 3: 0.03, 2: 0.02, 6: 0.02, 4: 0.02,
        22: 0.01, 35: 0.01, 33: 0.02,
    },
    "pad": {15: 0.34, 33: 0.3, 5: 0.1, 18: 0.08, 22: 0.04, 23: 0.03, 34: 0.04, 6: 0.02, 13: 0.02, 12: 0.02, 1: 0.02},
    "arpeggio": {
        0: 0.2, 4: 0.18, 8: 0.13, 16: 0.12, 9: 0.11, 32: 0.08, 1: 0.06, 2: 0.05, 15: 0.02, 35: 0.03, 34: 0.02,
    },
    "melody": {
        32: 0.15, 24: 0.1, 18: 0.1, 9: 0.1, 11: 0.08, 0: 0.06, 19: 0.06, 29: 0.06, 27: 0.04, 1: 0.03, 4: 0.03,
        31: 0.03, 35: 0.03, 25: 0.02, 30: 0.02, 7: 0.02, 22: 0.02, 20: 0.02, 28: 0.01, 12: 0.01, 6: 0.01,
        5: 0.01, 8: 0.02,
    },
    "counter": {
        15: 0.15, 13: 0.1, 11: 0.08, 12: 0.06, 22: 0.07, 29: 0.06, 24: 0.06, 18: 0.06, 32: 0.06, 20: 0.05,
        27: 0.05, 9: 0.05, 23: 0.04, 19: 0.03, 25: 0.03, 26: 0.03, 31: 0.02, 7: 0.01, 33: 0.01,
    },
    "hits": {17: 0.3, 36: 0.27, 34: 0.17, 37: 0.16, 4: 0.05, 15: 0.05},
}
# Programs of a class that suit a role, where not every program of the class does.
_ROLE_PROGRAMS: dict[tuple[str, int], tuple[int, ...]] = {
    ("chords", 15): (48, 49, 50, 51, 45),
    ("pad", 15): (48, 49, 50, 51, 44),
    ("counter", 15): (48, 49, 50, 51),
    ("arpeggio", 15): (45,),
    ("hits", 15): (55,),
    ("hits", 4): (14, 9, 8),
    ("chords", 35): (105,),
    ("arpeggio", 35): (105, 107, 108),
    ("chords", 9): (26, 27, 28, 29, 30),
    ("chords", 33): (88, 89, 90, 94, 95),
    ("arpeggio", 34): (96, 98, 99, 103),
    ("pad", 34): (96, 97, 99, 100, 101, 102),
}
# Preferred register (lowest, highest MIDI pitch) of each role, narrowed to the class's range.
_ROLE_WINDOWS: dict[str, tuple[int, int]] = {
    "bass": (28, 52), "chords": (48, 79), "pad": (48, 79), "arpeggio": (52, 88), "melody": (60, 86),
    "counter": (50, 76), "hits": (36, 72), "drums": (35, 81),
}
_CLASS_WINDOWS: dict[tuple[str, int], tuple[int, int]] = {
    ("chords", 8): (40, 76), ("chords", 9): (40, 76), ("hits", 4): (60, 88), ("arpeggio", 16): (43, 91),
}
_BASE_VELOCITY: dict[str, tuple[int, int]] = {
    "drums": (88, 108), "bass": (80, 104), "chords": (62, 92), "pad": (50, 78), "arpeggio": (56, 84),
    "melody": (78, 108), "counter": (58, 86), "hits": (72, 108),
}
_FILL_ROLES = {"chords": 0.27, "pad": 0.17, "arpeggio": 0.15, "counter": 0.15, "melody": 0.1, "hits": 0.09, "bass": 0.03}
_MAX_PER_ROLE = {"drums": 1, "bass": 2, "chords": 4, "pad": 3, "arpeggio": 3, "melody": 3, "counter": 3, "hits": 2}

MIN_NOTE_S = 0.03
"""Shortest note written (seconds)."""
_SAME_PITCH_GAP_S = 0.01
_DRUM_NOTE_S = 0.1

# ----- drums -----------------------------------------------------------------------------------------------------------
_KIT: dict[str, int] = {
    "kick": 36, "stick": 37, "snare": 38, "clap": 39, "hat": 42, "pedal": 44, "open": 46, "ride": 51, "bell": 53,
    "crash": 49, "tamb": 54, "cowbell": 56, "conga_hi": 62, "conga_open": 63, "conga_lo": 64, "cabasa": 69,
    "shaker": 70, "claves": 75,
}
_TOMS_HIGH = (50, 48)
_TOMS_MID = (47, 45)
_TOMS_LOW = (43, 41)
# Grooves on a 16th grid (4 steps a beat). X accent, x normal, g ghost, o open hi-hat, . rest.
_GROOVES: dict[str, dict[str, str]] = {
    "rock": {"kick": "X.......X.x.....", "snare": "....X.......X...", "hat": "X.x.X.x.X.x.X.x."},
    "pop": {"kick": "X.....x.X.....x.", "snare": "....X.......X...", "hat": "X.x.x.x.X.x.x.x."},
    "four_floor": {"kick": "X...X...X...X...", "snare": "....X.......X...", "hat": "x.o.x.o.x.o.x.o."},
    "funk": {"kick": "X..x..x...X..x..", "snare": "....X..g.g..X..g", "hat": "XxgxXxgxXxgxXxgx"},
    "halftime": {"kick": "X.....x...x.....", "snare": "........X.......", "hat": "X.x.x.x.X.x.x.x."},
    "shuffle": {"kick": "X.......X.x.....", "snare": "....X.g.....X.g.", "hat": "X.x.X.x.X.x.X.x."},
    "hiphop": {"kick": "X......x..X..x..", "snare": "....X.......X...", "hat": "x.x.x.x.x.x.x.x."},
    "bossa": {"kick": "X..xX..xX..xX..x", "stick": "x..x..x...x..x..", "shaker": "XgxgXgxgXgxgXgxg"},
    "latin": {
        "kick": "X..x....X..x....", "cowbell": "X.x.X.x.X.x.X.x.", "conga_open": "......xx......xx",
        "conga_hi": "..x.......x.....", "stick": "....x.......x...",
    },
    "ballad": {"kick": "X.......x.......", "stick": "....x.......x...", "ride": "x.x.x.x.x.x.x.x."},
    "one_drop": {"kick": "........X.......", "stick": "........X.......", "hat": "x.x.x.x.x.x.x.x."},
    "waltz": {"kick": "X...........", "snare": "....x...x...", "hat": "x...x...x..."},
    "rock34": {"kick": "X.......x...", "snare": "....X.......", "hat": "X.x.x.x.x.x."},
    "jazz_waltz": {"kick": "X...........", "pedal": "....x...x...", "ride": "X...x.x.x..."},
}
# Tempo range (bpm) and weight of each 4/4 groove; 3/4 grooves are drawn separately.
_GROOVE_TEMPI: dict[str, tuple[float, float, float]] = {
    "rock": (80, 185, 1.2), "pop": (68, 140, 1.3), "four_floor": (100, 140, 0.8), "funk": (80, 125, 0.8),
    "halftime": (125, 185, 0.6), "shuffle": (58, 150, 0.6), "hiphop": (65, 105, 0.6), "bossa": (90, 150, 0.5),
    "latin": (95, 150, 0.4), "ballad": (50, 90, 0.9), "one_drop": (58, 95, 0.4),
}
_GROOVES_34 = {"waltz": 1.0, "rock34": 0.8, "jazz_waltz": 0.5}
_SWING = {"shuffle": (1 / 6, 1 / 6), "jazz_waltz": (1 / 6, 1 / 6), "hiphop": (0.04, 0.1), "one_drop": (0.03, 0.1)}
_DRUM_VELOCITY = {"X": 112.0, "x": 90.0, "o": 92.0, "g": 40.0}

# ----- bass ------------------------------------------------------------------------------------------------------------
# (beat in bar, duration in beats, tone): R root, 5 fifth, 8 octave, 3 third, L fifth below, A approach to next root,
# or a number of semitones above the root ("b7", "6" as 10, 9).
_BassPattern = tuple[tuple[float, float, str], ...]
_BASS_PATTERNS_4: dict[str, _BassPattern] = {
    "whole": ((0, 4, "R"),),
    "halves": ((0, 2, "R"), (2, 2, "5")),
    "root_fifth": ((0, 1, "R"), (1, 1, "5"), (2, 1, "R"), (3, 1, "5")),
    "pop": ((0, 1.5, "R"), (1.5, 1, "R"), (2.5, 0.5, "5"), (3, 0.5, "R"), (3.5, 0.5, "A")),
    "eighths": tuple((i * 0.5, 0.5, "R") for i in range(8)),
    "octaves": tuple((i * 0.5, 0.5, "R" if i % 2 == 0 else "8") for i in range(8)),
    "funk": ((0, 0.75, "R"), (0.75, 0.25, "R"), (1.5, 0.5, "8"), (2.5, 0.5, "5"), (3, 0.25, "R"), (3.5, 0.5, "A")),
    "reggae": ((0, 1, "R"), (1.5, 0.5, "5"), (2, 1, "8"), (3, 0.5, "3"), (3.5, 0.5, "5")),
    "bossa": ((0, 1.5, "R"), (1.5, 0.5, "L"), (2, 1.5, "L"), (3.5, 0.5, "R")),
    "boogie": tuple((i * 0.5, 0.5, tone) for i, tone in enumerate(("R", "3", "5", "9", "10", "9", "5", "3"))),
}
_BASS_PATTERNS_3: dict[str, _BassPattern] = {
    "whole": ((0, 3, "R"),),
    "waltz": ((0, 2, "R"), (2, 1, "5")),
    "quarters": ((0, 1, "R"), (1, 1, "5"), (2, 1, "8")),
    "eighths": tuple((i * 0.5, 0.5, "R") for i in range(6)),
}
_BASS_BY_GROOVE: dict[str, dict[str, float]] = {
    "rock": {"eighths": 0.5, "pop": 0.25, "root_fifth": 0.15, "octaves": 0.1},
    "pop": {"pop": 0.45, "eighths": 0.2, "halves": 0.15, "octaves": 0.1, "walking": 0.1},
    "four_floor": {"octaves": 0.6, "eighths": 0.25, "funk": 0.15},
    "funk": {"funk": 0.55, "octaves": 0.25, "pop": 0.2},
    "halftime": {"pop": 0.4, "halves": 0.3, "eighths": 0.3},
    "shuffle": {"boogie": 0.45, "walking": 0.35, "root_fifth": 0.2},
    "hiphop": {"pop": 0.5, "funk": 0.3, "halves": 0.2},
    "bossa": {"bossa": 0.8, "halves": 0.2},
    "latin": {"bossa": 0.5, "funk": 0.3, "root_fifth": 0.2},
    "ballad": {"whole": 0.35, "halves": 0.4, "pop": 0.25},
    "one_drop": {"reggae": 0.8, "halves": 0.2},
    "none": {"halves": 0.3, "pop": 0.25, "walking": 0.2, "root_fifth": 0.15, "whole": 0.1},
    "waltz": {"waltz": 0.6, "whole": 0.2, "quarters": 0.2},
    "rock34": {"quarters": 0.4, "eighths": 0.4, "waltz": 0.2},
    "jazz_waltz": {"walking": 0.7, "waltz": 0.3},
}

# ----- comping ---------------------------------------------------------------------------------------------------------
# (beat in bar, duration in beats, stroke) with stroke "D" down, "U" up (guitars) or "" (block chord).
_CompPattern = tuple[tuple[float, float, str], ...]
_COMP_PATTERNS_4: dict[str, _CompPattern] = {
    "halves": ((0, 2, ""), (2, 2, "")),
    "quarters": ((0, 0.6, ""), (1, 0.6, ""), (2, 0.6, ""), (3, 0.6, "")),
    "offbeat": ((0.5, 0.35, "U"), (1.5, 0.35, "U"), (2.5, 0.35, "U"), (3.5, 0.35, "U")),
    "charleston": ((0, 1.2, ""), (1.5, 1.5, "")),
    "pop_sync": ((0, 1.45, "D"), (1.5, 1.45, "D"), (3, 0.95, "D")),
    "eighths": tuple((i * 0.5, 0.42, "D") for i in range(8)),
    "strum": ((0, 1, "D"), (1, 0.5, "D"), (1.5, 0.5, "U"), (2.5, 0.5, "U"), (3, 0.5, "D"), (3.5, 0.5, "U")),
    "funk16": ((0, 0.2, ""), (0.75, 0.2, ""), (1.5, 0.2, ""), (2.25, 0.2, ""), (2.75, 0.2, ""), (3.5, 0.2, "")),
}
_COMP_PATTERNS_3: dict[str, _CompPattern] = {
    "waltz": ((1, 0.7, ""), (2, 0.7, "")),
    "quarters": ((0, 0.7, ""), (1, 0.7, ""), (2, 0.7, "")),
    "strum": ((0, 1, "D"), (1, 0.5, "D"), (1.5, 0.5, "U"), (2, 0.5, "D"), (2.5, 0.5, "U")),
    "dotted": ((0, 1.45, ""), (1.5, 1.45, "")),
}
_COMP_WEIGHTS: dict[int, dict[str, float]] = {
    0: {"sustain": 0.25, "halves": 0.15, "quarters": 0.1, "pop_sync": 0.2, "charleston": 0.1, "eighths": 0.12,
        "offbeat": 0.05},
    1: {"sustain": 0.25, "charleston": 0.2, "pop_sync": 0.2, "halves": 0.15, "offbeat": 0.1, "quarters": 0.1},
    2: {"eighths": 0.3, "quarters": 0.3, "halves": 0.2, "sustain": 0.2},
    3: {"funk16": 0.5, "offbeat": 0.2, "quarters": 0.2, "pop_sync": 0.1},
    5: {"sustain": 0.45, "halves": 0.2, "offbeat": 0.15, "pop_sync": 0.2},
    6: {"quarters": 0.3, "offbeat": 0.3, "sustain": 0.2, "halves": 0.2},
    8: {"strum": 0.4, "eighths": 0.15, "offbeat": 0.1, "pop_sync": 0.2, "sustain": 0.15},
    9: {"strum": 0.3, "eighths": 0.25, "offbeat": 0.15, "pop_sync": 0.15, "sustain": 0.1, "funk16": 0.05},
    15: {"sustain": 0.5, "halves": 0.2, "eighths": 0.15, "quarters": 0.15},
    23: {"quarters": 0.3, "pop_sync": 0.3, "sustain": 0.2, "charleston": 0.2},
    4: {"halves": 0.3, "quarters": 0.3, "sustain": 0.2, "charleston": 0.2},
}
_COMP_DEFAULT = {"sustain": 0.3, "halves": 0.2, "quarters": 0.2, "pop_sync": 0.15, "eighths": 0.15}
_STRUMMED = {8, 9, 35}

# ----- melody rhythm cells: (onsets and durations in beats, weight, uses sixteenths) ---------------------------------
_Cell = tuple[tuple[tuple[float, float], ...], float, bool]
_CELLS_1: tuple[_Cell, ...] = (
    (((0.0, 1.0),), 3.0, False),
    (((0.0, 0.5), (0.5, 0.5)), 3.0, False),
    (((0.0, 0.5),), 0.8, False),
    (((0.5, 0.5),), 0.7, False),
    (((0.0, 0.75), (0.75, 0.25)), 0.9, True),
    (((0.0, 0.5), (0.5, 0.25), (0.75, 0.25)), 0.5, True),
    (((0.0, 0.25), (0.25, 0.25), (0.5, 0.5)), 0.5, True),
    ((), 0.9, False),
)
_CELLS_2: tuple[_Cell, ...] = (
    (((0.0, 2.0),), 1.0, False),
    (((0.0, 0.5), (0.5, 1.0), (1.5, 0.5)), 1.0, False),
    (((0.0, 1.5), (1.5, 0.5)), 1.2, False),
)
_TRIPLET = ((0.0, 1 / 3), (1 / 3, 1 / 3), (2 / 3, 1 / 3))


# ---------------------------------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------------------------------


def _pick(rng: np.random.Generator, options: Sequence[_T], weights: Sequence[float] | None = None) -> _T:
    """One of ``options`` (uniform, or proportional to ``weights``), with a single draw from ``rng``."""
    if weights is None:
        return options[min(int(rng.random() * len(options)), len(options) - 1)]
    total = float(sum(weights))
    r = rng.random() * total
    acc = 0.0
    last = 0
    for i, w in enumerate(weights):
        if w <= 0:
            continue
        acc += w
        last = i
        if r < acc:
            return options[i]
    return options[last]


def _pick_map(rng: np.random.Generator, table: Mapping[_T, float]) -> _T:
    keys = list(table)
    return _pick(rng, keys, [table[k] for k in keys])


def _randint(rng: np.random.Generator, low: int, high: int) -> int:
    """Integer in ``[low, high]``."""
    return low + min(int(rng.random() * (high - low + 1)), high - low)


def _uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return low + (high - low) * rng.random()


def _fold(pitch: int, low: int, high: int) -> int:
    """Move ``pitch`` by octaves into ``[low, high]`` (clamped when the range is narrower than an octave)."""
    while pitch < low:
        pitch += 12
    while pitch > high:
        pitch -= 12
    return min(max(pitch, low), high)


def _nearest_pc(target: int, pcs: Sequence[int], low: int, high: int) -> int:
    """The pitch in ``[low, high]`` nearest to ``target`` whose pitch class is in ``pcs`` (ties go down)."""
    target = min(max(target, low), high)
    for d in range(12):
        for p in (target - d, target + d):
            if low <= p <= high and p % 12 in pcs:
                return p
    return _fold(target, low, high)


def _scale_move(pitch: int, steps: int, mask: Sequence[bool]) -> int:
    """Move ``steps`` scale steps (``mask[pc]`` marks scale pitch classes) up (> 0) or down (< 0)."""
    direction = 1 if steps > 0 else -1
    for _ in range(abs(steps)):
        pitch += direction
        while not mask[pitch % 12]:
            pitch += direction
    return pitch


def _pc_mask(pcs: Sequence[int]) -> tuple[bool, ...]:
    return tuple(pc in pcs for pc in range(12))


# ---------------------------------------------------------------------------------------------------------------------
# Song plan
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class _Chord:
    start_beat: float
    end_beat: float
    pcs: tuple[int, ...]  # absolute pitch classes: root, third, fifth[, seventh]

    @property
    def root(self) -> int:
        return self.pcs[0]


@dataclass
class _Section:
    kind: str
    start_bar: int
    n_bars: int
    energy: float


@dataclass
class _Plan:
    """Song-level decisions shared by every part generator. Times are in beats unless named ``*_s``."""

    duration_s: float
    tempo_bpm: float
    beats_per_bar: int
    swing: float
    tonic: int
    mode: str
    scale_mask: tuple[bool, ...]
    melody_mask: tuple[bool, ...]
    groove: str  # drum groove name, or "none"
    sections: list[_Section] = field(default_factory=list)
    chords: list[_Chord] = field(default_factory=list)
    chord_starts: list[float] = field(default_factory=list)

    @property
    def beat_s(self) -> float:
        return 60.0 / self.tempo_bpm

    @property
    def end_beat(self) -> float:
        """The song's duration in beats."""
        return self.duration_s / self.beat_s

    def time_s(self, beat: float, *, straight: bool = False) -> float:
        """Seconds of a beat position; off-beat eighths are delayed by the swing unless ``straight``."""
        if self.swing and not straight:
            whole = math.floor(beat + 1e-9)
            frac = beat - whole
            if frac < 0.5:
                frac *= 1.0 + 2.0 * self.swing
            else:
                frac = 0.5 + self.swing + (frac - 0.5) * (1.0 - 2.0 * self.swing)
            beat = whole + frac
        return beat * self.beat_s

    def span(self, section: _Section) -> tuple[float, float]:
        """(start, end) beats of a section, the end cut at the song's end."""
        bpb = self.beats_per_bar
        return section.start_bar * bpb, min((section.start_bar + section.n_bars) * bpb, self.end_beat)

    def chord_index(self, beat: float) -> int:
        return max(bisect.bisect_right(self.chord_starts, beat + 1e-6) - 1, 0)

    def chord_at(self, beat: float) -> _Chord:
        return self.chords[self.chord_index(beat)]

    def chords_in(self, start: float, end: float) -> list[tuple[float, float, _Chord]]:
        """The chords sounding in ``[start, end)`` as (start, end, chord), clipped to the interval."""
        out = []
        i = self.chord_index(start)
        while i < len(self.chords) and self.chords[i].start_beat < end - 1e-6:
            chord = self.chords[i]
            out.append((max(chord.start_beat, start), min(chord.end_beat, end), chord))
            i += 1
        return out


def _plan_sections(rng: np.random.Generator, n_bars: int) -> list[_Section]:
    """Sections of 4 or 8 bars covering at least ``n_bars`` bars."""
    order = ["verse", "chorus", "verse", "chorus", "bridge", "chorus", "chorus", "outro"]
    if rng.random() < 0.3:
        order = ["verse", "prechorus", "chorus", "verse", "prechorus", "chorus", "breakdown", "chorus", "outro"]
    elif rng.random() < 0.2:
        order = ["verse", "verse", "chorus", "breakdown", "chorus", "bridge", "chorus", "outro"]
    if n_bars > 8 and rng.random() < 0.7:
        order.insert(0, "intro")
    sections: list[_Section] = []
    bar = 0
    i = 0
    while bar < n_bars:
        kind = order[i] if i < len(order) else ("chorus" if i % 2 else "verse")
        remaining = n_bars - bar
        if kind in ("intro", "prechorus", "breakdown", "outro"):
            length = 4
        else:
            length = 8 if remaining > 4 and rng.random() < 0.6 else 4
        lo, hi = _ENERGY[kind]
        sections.append(_Section(kind, bar, length, _uniform(rng, lo, hi)))
        bar += length
        i += 1
    return sections


def _diatonic_chord(scale: Sequence[int], degree: int, *, seventh: bool, raise_third: bool) -> tuple[int, ...]:
    tones = [scale[(degree + 2 * k) % 7] for k in range(4 if seventh else 3)]
    if raise_third:
        tones[1] = (tones[1] + 1) % 12
    return tuple(tones)


def _plan_harmony(rng: np.random.Generator, plan: _Plan, scale: Sequence[int]) -> bool:
    """Fill ``plan.chords``: a progression per kind of section, realised with a harmonic rhythm per section.

    Returns whether the song is a blues (one explicit progression running through the whole song).
    """
    options = [p for p in _PROGRESSIONS if plan.mode in p.modes]
    weights = [p.weight for p in options]
    verse = _pick(rng, options, weights)
    if verse.explicit:  # a blues is the whole song
        by_kind = dict.fromkeys(_KINDS, verse)
    else:
        plain = [p for p in options if not p.explicit]
        plain_w = [p.weight for p in plain]
        chorus = verse if rng.random() < 0.35 else _pick(rng, plain, plain_w)
        bridge = _pick(rng, plain, plain_w)
        by_kind = {
            "intro": chorus if rng.random() < 0.5 else verse, "verse": verse, "prechorus": bridge, "chorus": chorus,
            "bridge": bridge, "breakdown": verse if rng.random() < 0.5 else bridge, "outro": chorus,
        }
    jazz = _uniform(rng, 0.5, 1.5)
    realised: dict[str, list[tuple[int, ...]]] = {}
    for prog in dict.fromkeys(by_kind.values()):
        seventh_p = min(prog.seventh_p * jazz, 0.95)
        if prog.explicit:
            use_sevenths = rng.random() < seventh_p
            realised[prog.name] = [
                tuple((plan.tonic + root + iv) % 12 for iv in (ivs if use_sevenths else ivs[:3]))
                for root, ivs in prog.explicit
            ]
        else:
            realised[prog.name] = [
                _diatonic_chord(
                    scale, d, seventh=rng.random() < seventh_p,
                    raise_third=prog.harmonic_v and plan.mode == "minor" and d == 4,
                )
                for d in prog.degrees
            ]
    bpb = plan.beats_per_bar
    rhythm: dict[tuple[str, int], float] = {}  # beats per chord, kept for every repeat of a kind of section
    for section in plan.sections:
        prog = by_kind[section.kind]
        chords = realised[prog.name]
        start = float(section.start_bar * bpb)
        end = start + section.n_bars * bpb
        if prog.explicit:
            for bar in range(section.start_bar, section.start_bar + section.n_bars):
                plan.chords.append(_Chord(bar * bpb, (bar + 1) * bpb, chords[bar % len(chords)]))
            continue
        length = len(chords)
        choices = [float(bpb)]
        choice_w = [0.55]
        if 2 * length <= section.n_bars:
            choices.append(2.0 * bpb)
            choice_w.append(0.3)
        if bpb == 4 and length >= 4:
            choices.append(2.0)
            choice_w.append(0.15)
        key = (section.kind, section.n_bars)
        if key not in rhythm:
            rhythm[key] = _pick(rng, choices, choice_w)
        chord_beats = rhythm[key]
        beat = start
        i = 0
        while beat < end - 1e-6:
            plan.chords.append(_Chord(beat, min(beat + chord_beats, end), chords[i % length]))
            beat += chord_beats
            i += 1
    plan.chord_starts = [c.start_beat for c in plan.chords]
    return bool(verse.explicit)


def _pick_groove(rng: np.random.Generator, tempo_bpm: float, beats_per_bar: int, blues: bool) -> str:
    if beats_per_bar == 3:
        return _pick_map(rng, _GROOVES_34)
    if blues and rng.random() < 0.7:
        return "shuffle"
    fits = {name: w for name, (lo, hi, w) in _GROOVE_TEMPI.items() if lo <= tempo_bpm <= hi}
    return _pick_map(rng, fits) if fits else "rock"


# ---------------------------------------------------------------------------------------------------------------------
# Stems: choice of roles, classes and programs, and where each one plays
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class _Voice:
    role: str
    class_index: int
    program: int
    low: int  # preferred register of the part
    high: int
    base_velocity: float
    presence: float
    doubles: bool = False  # a second melody that doubles the lead rather than playing its own tune
    active: list[bool] = field(default_factory=list)

    @property
    def is_drum(self) -> bool:
        return self.class_index == DRUMS.index


def _register(rng: np.random.Generator, role: str, class_index: int) -> tuple[int, int]:
    """A register for a part: the role's window (shifted a little at random) narrowed to the class range."""
    c_lo, c_hi = PITCH_RANGES[class_index]
    if role == "drums":
        return c_lo, c_hi
    r_lo, r_hi = _CLASS_WINDOWS.get((role, class_index), _ROLE_WINDOWS[role])
    shift = _randint(rng, -4, 4)
    r_lo, r_hi = r_lo + shift, r_hi + shift
    low, high = max(c_lo, r_lo), min(c_hi, r_hi)
    want = min(17, c_hi - c_lo)
    if high - low < want:
        centre = (r_lo + r_hi) / 2.0
        low = int(round(min(max(centre - want / 2.0, c_lo), c_hi - want)))
        high = low + want
    return low, high


def _make_voice(rng: np.random.Generator, role: str, class_index: int, *, presence: float = 1.0) -> _Voice:
    programs = _ROLE_PROGRAMS.get((role, class_index), by_index(class_index).programs) or (0,)
    program = _pick(rng, programs)
    low, high = _register(rng, role, class_index)
    v_lo, v_hi = _BASE_VELOCITY[role]
    return _Voice(role, class_index, program, low, high, _uniform(rng, v_lo, v_hi), presence * _uniform(rng, 0.8, 1.15))


def _roles_for_class(class_index: int) -> dict[str, float]:
    return {role: table[class_index] for role, table in _ROLE_CLASSES.items() if table.get(class_index, 0.0) > 0}


def _choose_voices(
    rng: np.random.Generator, *, guest_class: int | None, min_stems: int, max_stems: int
) -> list[_Voice]:
    sizes = list(range(min_stems, max_stems + 1))
    n_stems = _pick(rng, sizes, [math.exp(-((k - 8.0) ** 2) / (2 * 2.3**2)) + 1e-3 for k in sizes])
    plan: list[tuple[str, int | None, float]] = []  # (role, class or None to draw, presence)
    if guest_class is not None:
        plan.append((_pick_map(rng, _roles_for_class(guest_class)), guest_class, 1.25))
    guest_role = plan[0][0] if plan else None
    if guest_role != "drums" and rng.random() < 0.85:
        plan.append(("drums", DRUMS.index, 1.0))
    if not (guest_role == "bass" and rng.random() < 0.7) and rng.random() < 0.9:
        plan.append(("bass", None, 1.0))
    if rng.random() < 0.95:
        plan.append(("chords", None, 1.0))
    if guest_role != "melody" and rng.random() < 0.85:
        plan.append(("melody", None, 1.0))
    counts: dict[str, int] = {}
    for role, _, _ in plan:
        counts[role] = counts.get(role, 0) + 1
    while len(plan) < n_stems:
        fill = {r: w for r, w in _FILL_ROLES.items() if counts.get(r, 0) < _MAX_PER_ROLE[r]}
        if "melody" in fill and not counts.get("melody"):
            fill["melody"] = 0.3  # a band of many stems rarely lacks a tune
        if not fill:
            fill = dict(_FILL_ROLES)
        role = _pick_map(rng, fill)
        counts[role] = counts.get(role, 0) + 1
        plan.append((role, None, 1.0))
    plan = plan[:n_stems]

    voices: list[_Voice] = []
    for role, class_index, presence in plan:
        if class_index is None:
            class_index = _pick_map(rng, _ROLE_CLASSES[role])
            if any(v.role == role and v.class_index == class_index for v in voices):
                class_index = _pick_map(rng, _ROLE_CLASSES[role])  # one redraw makes exact doubles rarer
        voices.append(_make_voice(rng, role, class_index, presence=presence))
    return voices


def _plan_activity(rng: np.random.Generator, voices: list[_Voice], sections: list[_Section]) -> None:
    """Decide in which sections each voice plays: every voice plays somewhere, every section has someone."""
    for voice in voices:
        table = _ACTIVITY[voice.role]
        voice.active = [rng.random() < min(1.0, voice.presence * table[_KINDS.index(s.kind)]) for s in sections]
        if not any(voice.active):
            probs = [table[_KINDS.index(s.kind)] for s in sections]
            voice.active[_pick(rng, range(len(sections)), probs)] = True
    melodies = [v for v in voices if v.role == "melody"]
    for voice in melodies[1:]:
        if not voice.doubles:  # an own tune mostly answers the lead: it plays where the lead rests
            lead = melodies[0].active
            voice.active = [rng.random() < (0.2 if lead[j] else 0.85) for j in range(len(sections))]
            if not any(voice.active):
                voice.active[_pick(rng, range(len(sections)))] = True
    for j, section in enumerate(sections):
        if voices and not any(v.active[j] for v in voices):
            probs = [_ACTIVITY[v.role][_KINDS.index(section.kind)] for v in voices]
            voices[_pick(rng, range(len(voices)), probs)].active[j] = True


# ---------------------------------------------------------------------------------------------------------------------
# Part generators. Each writes notes in seconds into a _Buffer, for the sections where its voice is active.
# ---------------------------------------------------------------------------------------------------------------------


class _Buffer:
    """Notes of one stem as plain lists (seconds, MIDI pitch, velocity before humanisation)."""

    def __init__(self) -> None:
        self.onset_s: list[float] = []
        self.offset_s: list[float] = []
        self.pitch: list[int] = []
        self.velocity: list[float] = []

    def add(self, onset_s: float, offset_s: float, pitch: int, velocity: float) -> None:
        self.onset_s.append(onset_s)
        self.offset_s.append(offset_s)
        self.pitch.append(pitch)
        self.velocity.append(velocity)

    def __len__(self) -> int:
        return len(self.onset_s)


@dataclass
class _LineNote:
    """A note of a melodic line in beats, kept so another part can harmonise it."""

    beat: float
    end_beat: float
    pitch: int
    velocity: float
    straight: bool


def _active_sections(plan: _Plan, voice: _Voice) -> list[tuple[_Section, float, float]]:
    out = []
    for section, on in zip(plan.sections, voice.active, strict=True):
        start, end = plan.span(section)
        if on and start < end:
            out.append((section, start, end))
    return out


def _level(voice: _Voice, section: _Section) -> float:
    """Velocity of an unaccented note of a voice in a section."""
    return voice.base_velocity * (0.78 + 0.28 * section.energy)


def _next_section(plan: _Plan, section: _Section) -> _Section | None:
    i = plan.sections.index(section)
    return plan.sections[i + 1] if i + 1 < len(plan.sections) else None


def _gen_drums(plan: _Plan, voice: _Voice, rng: np.random.Generator, buf: _Buffer) -> None:
    bpb = plan.beats_per_bar
    kit = dict(_KIT)
    kit["kick"] = 36 if rng.random() < 0.7 else 35
    kit["snare"] = 38 if rng.random() < 0.75 else 40
    kit["ride"] = 51 if rng.random() < 0.8 else 59
    kit["crash"] = 49 if rng.random() < 0.75 else 57
    toms = (_pick(rng, _TOMS_HIGH), _pick(rng, _TOMS_MID), _pick(rng, _TOMS_LOW))
    groove = _GROOVES[plan.groove] if plan.groove in _GROOVES else _GROOVES["rock" if bpb == 4 else "waltz"]
    clap = plan.groove in ("four_floor", "hiphop") and rng.random() < 0.5
    perc_voice = _pick(rng, ("tamb", "shaker", "cowbell", "cabasa")) if rng.random() < 0.35 else None
    perc_line = {
        "tamb": "....x.......x..." if rng.random() < 0.5 else "x.x.x.x.x.x.x.x.",
        "shaker": "xgxgxgxgxgxgxgxg", "cowbell": "x...x...x...x...", "cabasa": "xgxgxgxgxgxgxgxg",
    }.get(perc_voice or "", "")
    dur_s = min(_DRUM_NOTE_S, 0.22 * plan.beat_s)
    steps = 4 * bpb

    for section, start, end in _active_sections(plan, voice):
        level = 0.8 + 0.25 * section.energy
        lines = dict(groove)
        if section.energy < 0.45:  # sparse time keeping
            variant = _pick(rng, ("hats", "kick_hats", "stick"))
            time_voice = "ride" if "ride" in lines else "hat"
            thin = "".join("x" if i % 4 == 0 else "." for i in range(steps))
            lines = {time_voice: thin}
            if variant != "hats":
                lines["kick"] = "X" + "." * (steps - 1)
            if variant == "stick":
                lines["stick"] = "".join("x" if i % 4 == 0 and (i // 4) % 2 == 1 else "." for i in range(steps))
        elif section.kind in ("chorus", "outro") and "hat" in lines and rng.random() < 0.5:
            hat = lines.pop("hat")
            if rng.random() < 0.5:  # ride instead of hi-hat
                lines["ride"] = hat.replace("o", "x")
            else:  # open the hi-hat on the off-beat eighths
                lines["hat"] = "".join("o" if i % 4 == 2 and c != "." else c for i, c in enumerate(hat))
        if clap and "snare" in lines:
            lines["clap"] = lines["snare"].replace("g", ".")
        if perc_line and section.energy >= 0.65:
            lines[perc_voice or "tamb"] = perc_line[:steps] if len(perc_line) >= steps else perc_line
        if plan.swing >= 0.1:  # swung eighths: no straight sixteenths
            lines = {name: "".join(c if i % 2 == 0 or c == "g" else "." for i, c in enumerate(pat))
                     for name, pat in lines.items()}
        nxt = _next_section(plan, section)
        first_bar = int(round(start / bpb))
        last_bar = int(math.ceil(end / bpb - 1e-6)) - 1
        crash_start = section.energy >= 0.5 or section.kind == "chorus"
        for bar in range(first_bar, last_bar + 1):
            bar_beat = bar * bpb
            fill_from = float(bpb)
            if bar == last_bar and nxt is not None and section.energy >= 0.45 and rng.random() < 0.6:
                fill_from = bpb - (2.0 if section.energy > 0.6 and rng.random() < 0.5 else 1.0)
            crash = bar == first_bar and crash_start
            for name, pattern in lines.items():
                if len(pattern) != steps:
                    continue
                pitch = kit.get(name, 42)
                for i, ch in enumerate(pattern):
                    if ch == ".":
                        continue
                    beat = i / 4.0
                    if beat >= fill_from or (crash and i == 0 and name in ("hat", "ride", "open")):
                        continue
                    p = kit["open"] if ch == "o" else pitch
                    vel = _DRUM_VELOCITY[ch] * level
                    if name in ("hat", "ride", "shaker", "cabasa") and i % 4 != 0:
                        vel -= 8.0
                    onset = plan.time_s(bar_beat + beat)
                    buf.add(onset, onset + dur_s, p, vel)
            if rng.random() < 0.12 * section.energy:  # an extra kick now and then
                beat = _randint(rng, 0, 2 * bpb - 1) * 0.5
                if beat < fill_from:
                    onset = plan.time_s(bar_beat + beat)
                    buf.add(onset, onset + dur_s, kit["kick"], 80.0 * level)
            if crash:
                onset = plan.time_s(bar_beat)
                buf.add(onset, onset + dur_s, kit["crash"], 115.0 * level)
                if "kick" not in lines or lines["kick"][0] == ".":
                    buf.add(onset, onset + dur_s, kit["kick"], 105.0 * level)
            if fill_from < bpb:
                _drum_fill(plan, rng, buf, bar_beat + fill_from, bar_beat + bpb, toms, kit, level, dur_s)


def _drum_fill(
    plan: _Plan, rng: np.random.Generator, buf: _Buffer, start: float, end: float, toms: tuple[int, int, int],
    kit: dict[str, int], level: float, dur_s: float,
) -> None:
    """Sixteenths from ``start`` to ``end`` (beats): snare into descending toms, getting louder."""
    kind = _pick(rng, ("toms", "snare", "mixed"), (0.5, 0.25, 0.25))
    n = int(round((end - start) * 4))
    for i in range(n):
        if kind == "snare":
            pitch = kit["snare"]
        elif kind == "mixed":
            pitch = kit["snare"] if i % 2 == 0 else toms[min(i * 3 // n, 2)]
        else:
            pitch = kit["snare"] if i < n // 4 else toms[min((i - n // 4) * 3 // max(n - n // 4, 1), 2)]
        if kind != "snare" and n > 4 and rng.random() < 0.15:
            continue  # leave a gap in longer fills
        vel = (70.0 + 45.0 * i / max(n - 1, 1)) * level
        onset = plan.time_s(start + i / 4.0)
        buf.add(onset, onset + dur_s, pitch, vel)
    onset = plan.time_s(start)
    buf.add(onset, onset + dur_s, kit["kick"], 95.0 * level)


def _gen_bass(plan: _Plan, voice: _Voice, rng: np.random.Generator, buf: _Buffer) -> None:
    bpb = plan.beats_per_bar
    low, high = voice.low, voice.high
    patterns = _BASS_PATTERNS_4 if bpb == 4 else _BASS_PATTERNS_3
    table = _BASS_BY_GROOVE.get(plan.groove, _BASS_BY_GROOVE["none"])
    if voice.class_index in (14, 21, 26) and rng.random() < 0.5:  # upright, tuba, bassoon: walk or oom-pah
        table = {"walking": 0.5, "halves": 0.5} if bpb == 4 else {"walking": 0.5, "waltz": 0.5}
    home = low + 7
    prev = home

    def root_near(pc: int, ref: float) -> int:
        return _nearest_pc(int(round(0.7 * ref + 0.3 * home)), (pc,), low, high)

    for section, start, end in _active_sections(plan, voice):
        if section.energy < 0.42:
            name = _pick(rng, ("whole", "halves") if bpb == 4 else ("whole", "waltz"))
        else:
            name = _pick_map(rng, table)
        legato = _pick(rng, (0.92, 0.75, 0.55), (0.55, 0.3, 0.15))
        level = _level(voice, section)
        if name == "walking":
            prev = _walk(plan, rng, buf, start, end, low, high, prev, level)
            continue
        pattern = patterns.get(name, patterns["whole"])
        bar = int(round(start / bpb))
        while bar * bpb < end - 1e-6:
            for pos, dur, tone in pattern:
                beat = bar * bpb + pos
                if beat >= end - 1e-6:
                    break
                chord = plan.chord_at(beat)
                root = root_near(chord.root, prev)
                if tone == "R":
                    pitch = root
                elif tone == "5":
                    pitch = root + 7 if root + 7 <= high else root - 5
                elif tone == "L":
                    pitch = root - 5 if root - 5 >= low else root + 7
                elif tone == "8":
                    pitch = root + 12 if root + 12 <= high else root
                elif tone == "3":
                    pitch = _nearest_pc(root + 4, (chord.pcs[1],), low, high)
                elif tone == "A":
                    target = root_near(plan.chord_at(beat + dur + 1e-3).root, root)
                    pitch = target + (1 if rng.random() < 0.5 else -1) if target != root else root + 7
                else:
                    semis = int(tone)
                    if semis in (3, 4, 9, 10):  # follow the chord's third and seventh
                        third = (chord.pcs[1] - chord.root) % 12
                        semis = semis - 4 + third if semis in (3, 4) else semis
                    pitch = root + semis
                pitch = _fold(pitch, low, high)
                end_beat = min(beat + dur * legato, end)
                accent = 8.0 if pos == 0 else (-6.0 if pos % 1 else 0.0)
                buf.add(plan.time_s(beat), plan.time_s(end_beat), pitch, level + accent)
                prev = pitch
            bar += 1


def _walk(
    plan: _Plan, rng: np.random.Generator, buf: _Buffer, start: float, end: float, low: int, high: int, prev: int,
    level: float,
) -> int:
    """A walking line in quarters: root on each chord's first beat, chord and scale tones, then an approach."""
    beat = start
    direction = 1
    while beat < end - 1e-6:
        chord = plan.chord_at(beat)
        next_start = min(chord.end_beat, end)
        if abs(beat - chord.start_beat) < 1e-6 or abs(beat - start) < 1e-6:
            pitch = _nearest_pc(prev, (chord.root,), low, high)
        elif beat + 1 >= next_start - 1e-6 and next_start < end:
            target = _nearest_pc(prev, (plan.chord_at(next_start).root,), low, high)
            pitch = target - 1 if prev < target else target + 1
            if rng.random() < 0.3:
                pitch = _scale_move(target, -1 if prev < target else 1, plan.scale_mask)
        else:
            if prev >= high - 3:
                direction = -1
            elif prev <= low + 3:
                direction = 1
            elif rng.random() < 0.2:
                direction = -direction
            if rng.random() < 0.5:
                pitch = _scale_move(prev, direction, plan.scale_mask)
            else:
                pitch = _nearest_pc(prev + 3 * direction, chord.pcs, low, high)
        pitch = _fold(pitch, low, high)
        if pitch == prev and rng.random() < 0.7:
            pitch = _fold(_scale_move(prev, direction, plan.scale_mask), low, high)
        accent = 6.0 if abs(beat % plan.beats_per_bar) < 1e-6 else 0.0
        buf.add(plan.time_s(beat), plan.time_s(min(beat + 0.9, end)), pitch, level + accent + _uniform(rng, -4, 4))
        prev = pitch
        beat += 1.0
    return prev


def _close_voicings(pcs: Sequence[int], low: int, high: int) -> list[list[int]]:
    """Every close-position inversion of a chord inside ``[low, high]``."""
    out: list[list[int]] = []
    n = len(pcs)
    for r in range(n):
        order = list(pcs[r:]) + list(pcs[:r])
        base = low + (order[0] - low) % 12
        while base <= high:
            stack = [base]
            for pc in order[1:]:
                p = stack[-1] + 1
                stack.append(p + (pc - p) % 12)
            if stack[-1] <= high:
                out.append(stack)
            base += 12
    return out


def _voice_lead(
    rng: np.random.Generator, pcs: Sequence[int], low: int, high: int, prev: list[int] | None
) -> list[int]:
    """The close voicing nearest to ``prev`` (or to the middle of the register), with a little randomness."""
    candidates = _close_voicings(pcs, low, high)
    if not candidates:  # register too narrow for the whole chord: the root, third and fifth, folded
        return sorted(dict.fromkeys(_fold(low + (pc - low) % 12, low, high) for pc in pcs[:3]))
    if prev:
        ref = sorted(prev)

        def cost(v: list[int]) -> float:
            return sum(min(abs(p - q) for q in ref) for p in v) + sum(min(abs(p - q) for p in v) for q in ref)
    else:
        centre = (low + high) / 2.0

        def cost(v: list[int]) -> float:
            return abs(sum(v) / len(v) - centre) * 2.0

    scored = sorted(((cost(v) + 1.5 * rng.random(), i) for i, v in enumerate(candidates)))
    return candidates[scored[0][1]]


def _guitar_voicing(pcs: Sequence[int], low: int, high: int, *, power: bool) -> list[int]:
    """A guitar-like open voicing: low root, fifth, root, third, fifth... up to six strings."""
    bottom = low + (pcs[0] - low) % 12  # the lowest root in the register
    if power:
        return [p for p in (bottom, bottom + 7, bottom + 12) if p <= high] or [bottom]
    fifth = pcs[2] if len(pcs) > 2 else pcs[0]
    order = [fifth, pcs[0], pcs[1], fifth, pcs[3] if len(pcs) > 3 else pcs[0]]
    stack = [bottom]
    for pc in order:
        p = stack[-1] + 1
        p += (pc - p) % 12
        if p > high:
            break
        stack.append(p)
    return stack


def _gen_chords(plan: _Plan, voice: _Voice, rng: np.random.Generator, buf: _Buffer) -> None:
    bpb = plan.beats_per_bar
    low, high = voice.low, voice.high
    c_lo = PITCH_RANGES[voice.class_index][0]
    strummed = voice.class_index in _STRUMMED
    power = voice.class_index == 9 and voice.program in (29, 30)
    left_hand = voice.class_index in (0, 1) and rng.random() < 0.45
    extra_top = rng.random() < 0.35
    patterns = _COMP_PATTERNS_4 if bpb == 4 else _COMP_PATTERNS_3
    weights = dict(_COMP_WEIGHTS.get(voice.class_index, _COMP_DEFAULT))
    if bpb == 3:
        weights = {"sustain": 0.25, "waltz": 0.3, "quarters": 0.15, "dotted": 0.15, "strum": 0.4 if strummed else 0.1}
    elif plan.groove == "one_drop":
        weights["offbeat"] = weights.get("offbeat", 0.0) + 0.6
    elif plan.groove == "funk" and voice.class_index in (3, 9):
        weights["funk16"] = weights.get("funk16", 0.0) + 0.4
    prev: list[int] | None = None
    for section, start, end in _active_sections(plan, voice):
        name = _pick_map(rng, weights)
        if section.energy < 0.42 and rng.random() < 0.6:
            name = "sustain" if rng.random() < 0.6 or bpb == 3 else "halves"
        spread_s = _uniform(rng, 0.008, 0.022) if strummed else (0.012 if rng.random() < 0.2 else 0.0)
        level = _level(voice, section)
        hits: list[tuple[float, float, str]] = []
        if name == "sustain":
            hits = [(a, b - a, "D") for a, b, _ in plan.chords_in(start, end)]
        else:
            pattern = patterns.get(name, patterns["quarters"])
            bar = int(round(start / bpb))
            while bar * bpb < end - 1e-6:
                for pos, dur, stroke in pattern:
                    beat = bar * bpb + pos
                    if beat < end - 1e-6:
                        hits.append((beat, dur, stroke))
                bar += 1
        cur_index = -1
        voicing: list[int] = []
        for beat, dur, stroke in hits:
            index = plan.chord_index(beat)
            if dur > 0.5 and 0 < plan.chords[index].end_beat - beat <= 0.5 + 1e-6 and index + 1 < len(plan.chords):
                index += 1  # a push: an off-beat hit just before a change anticipates the next chord
            chord = plan.chords[index]
            if index != cur_index:
                cur_index = index
                if strummed:
                    voicing = _guitar_voicing(chord.pcs, low, high, power=power)
                else:
                    voicing = _voice_lead(rng, chord.pcs, low, high, prev)
                    if extra_top and voicing[0] + 12 - voicing[-1] >= 3 and voicing[0] + 12 <= high:
                        voicing = voicing + [voicing[0] + 12]  # double the bass note on top
                prev = voicing
            end_beat = min(beat + dur, end, chord.end_beat)
            if end_beat - beat < 0.1:
                continue
            accent = 8.0 if abs(beat % bpb) < 1e-6 else (-4.0 if beat % 1 else 0.0)
            notes = voicing
            if strummed and stroke == "U":
                notes = list(reversed(voicing))[: 3 + int(rng.random() < 0.5)]
                accent -= 8.0
            onset0 = plan.time_s(beat)
            offset = plan.time_s(end_beat)
            for k, pitch in enumerate(notes):
                buf.add(onset0 + k * spread_s, offset, pitch, level + accent - (2.0 * k if strummed else 0.0))
            chord_start = abs(beat - chord.start_beat) < 1e-6 or abs(beat - start) < 1e-6
            if left_hand and chord_start and voicing[0] - 1 >= max(c_lo, 28):
                bass = _nearest_pc(voicing[0] - 12, (chord.root,), max(c_lo, 28), voicing[0] - 1)
                buf.add(onset0, plan.time_s(min(chord.end_beat, end)), bass, level + 4.0)


def _gen_pad(plan: _Plan, voice: _Voice, rng: np.random.Generator, buf: _Buffer) -> None:
    low, high = voice.low, voice.high
    prev: list[int] | None = None
    overlap_s = _uniform(rng, 0.06, 0.25)
    four = rng.random() < 0.5
    for section, start, end in _active_sections(plan, voice):
        level = _level(voice, section)
        held: dict[int, int] = {}  # pitch -> index in buf of a note still sounding
        for a, b, chord in plan.chords_in(start, end):
            voicing = _voice_lead(rng, chord.pcs, low, high, prev)
            if four and len(voicing) == 3 and voicing[0] + 12 <= high:
                voicing = voicing + [voicing[0] + 12]
            prev = voicing
            off = plan.time_s(b) + overlap_s
            still: dict[int, int] = {}
            for pitch in voicing:
                if pitch in held:  # common tone: tie it over
                    buf.offset_s[held[pitch]] = off
                    still[pitch] = held[pitch]
                else:
                    buf.add(plan.time_s(a), off, pitch, level + _uniform(rng, -3, 3))
                    still[pitch] = len(buf) - 1
            held = still


def _gen_arpeggio(plan: _Plan, voice: _Voice, rng: np.random.Generator, buf: _Buffer) -> None:
    bpb = plan.beats_per_bar
    low, high = voice.low, voice.high
    ring = 1.8 if voice.class_index in (0, 16, 8, 35, 4) else 0.9
    fast_ok = plan.tempo_bpm <= 130 and plan.swing < 0.1
    for section, start, end in _active_sections(plan, voice):
        rate = _pick(rng, (2, 3, 4), (0.5, 0.2, 0.3 if fast_ok else 0.0))
        shape = _pick(rng, ("up", "down", "updown", "broken"), (0.4, 0.15, 0.3, 0.15))
        octaves = 2 if rng.random() < 0.5 else 1
        level = _level(voice, section)
        step = 1.0 / rate
        straight = rate == 3
        for a, b, chord in plan.chords_in(start, end):
            bottom = low + (chord.root - low) % 12
            tones = [bottom]
            while len(tones) < len(chord.pcs) * octaves + 1:
                pc = chord.pcs[len(tones) % len(chord.pcs)]
                p = tones[-1] + 1
                p += (pc - p) % 12
                if p > high:
                    break
                tones.append(p)
            n = len(tones)
            if shape == "up":
                order = list(range(n))
            elif shape == "down":
                order = list(range(n - 1, -1, -1))
            elif shape == "updown":
                order = list(range(n)) + list(range(n - 2, 0, -1))
            else:
                order = [i for j in range(n - 2) for i in (j, j + 2, j + 1)] or list(range(n))
            k = 0
            beat = a
            while beat < b - 1e-6:
                pitch = tones[order[k % len(order)]]
                accent = 7.0 if abs(beat % 1) < 1e-6 else 0.0
                accent += 4.0 if abs(beat % bpb) < 1e-6 else 0.0
                end_beat = min(beat + step * ring, end)
                buf.add(
                    plan.time_s(beat, straight=straight), plan.time_s(end_beat, straight=straight), pitch,
                    level + accent - 1.5 * (k % rate),
                )
                k += 1
                beat = a + k * step


@dataclass
class _Phrase:
    events: list[tuple[float, float, bool]]  # (beat from phrase start, duration in beats, straight timing)
    steps: list[int]  # scale steps from the previous note, one per event
    legato: float
    anchor: int  # first note: semitones from the register's centre (then snapped to the chord)


def _bar_rhythm(rng: np.random.Generator, bpb: int, *, fast: bool, density: float) -> list[tuple[float, float, bool]]:
    events: list[tuple[float, float, bool]] = []
    beat = 0
    while beat < bpb:
        if beat + 2 <= bpb and rng.random() < 0.28:
            cells, span = _CELLS_2, 2
        elif rng.random() < 0.05:
            events.extend((beat + o, d, True) for o, d in _TRIPLET)
            beat += 1
            continue
        else:
            cells, span = _CELLS_1, 1
        weights = [w * (0.2 if six and fast else 1.0) * ((1.6 - density) if not ev else 1.0) for ev, w, six in cells]
        chosen = _pick(rng, cells, weights)[0]
        events.extend((beat + o, d, False) for o, d in chosen)
        beat += span
    return events


def _melody_steps(rng: np.random.Generator, n: int) -> list[int]:
    """Scale steps of a melodic contour: mostly steps, some repeats, leaps recovered by contrary steps."""
    steps: list[int] = []
    direction = 1 if rng.random() < 0.5 else -1
    last = 0
    for _ in range(n):
        if abs(last) >= 3:
            step = -int(math.copysign(1, last)) * _pick(rng, (1, 2), (0.7, 0.3))
        else:
            r = rng.random()
            size = 0 if r < 0.14 else 1 if r < 0.7 else 2 if r < 0.88 else 3 if r < 0.96 else 4 if r < 0.985 else 7
            if rng.random() < 0.3:
                direction = -direction
            step = direction * size
        steps.append(step)
        last = step
    return steps


def _make_phrase(rng: np.random.Generator, plan: _Plan, *, bars: int, density: float) -> _Phrase:
    """A phrase: a motif (first half), its repetition or a variation, and a cadence on a long note."""
    bpb = plan.beats_per_bar
    fast = plan.tempo_bpm > 135
    half = max(1, bars // 2)
    rhythms: list[list[tuple[float, float, bool]]] = []
    steps: list[list[int]] = []
    for i in range(bars):
        if i < half:
            rhythm = _bar_rhythm(rng, bpb, fast=fast, density=density)
            if i == 0 and not rhythm:
                rhythm = [(0.0, 1.0, False)]
            rhythms.append(rhythm)
            steps.append(_melody_steps(rng, len(rhythm)))
        elif rng.random() < 0.65:  # repeat the motif bar (same rhythm, same contour or a new one)
            src = i % half
            rhythms.append(list(rhythms[src]))
            steps.append(list(steps[src]) if rng.random() < 0.7 else _melody_steps(rng, len(rhythms[src])))
        else:
            rhythm = _bar_rhythm(rng, bpb, fast=fast, density=density)
            rhythms.append(rhythm)
            steps.append(_melody_steps(rng, len(rhythm)))
    if bars >= 2:  # cadence: keep the start of the last bar, then a long note, maybe a rest
        land = 0.0 if rng.random() < 0.25 else (2.0 if bpb == 4 and rng.random() < 0.6 else 1.0)
        keep = [(o, min(d, land - o), s) for o, d, s in rhythms[-1] if o < land - 1e-6]
        finish = float(bpb) if rng.random() < 0.5 else bpb - 1.0
        rhythms[-1] = keep + [(land, max(finish - land, 1.0), False)]
        steps[-1] = steps[-1][: len(keep)] + [_pick(rng, (-1, 1, -2, 0))]
    events = [(b * bpb + o, d, s) for b, bar in enumerate(rhythms) for o, d, s in bar]
    flat_steps = [s for bar in steps for s in bar]
    legato = _pick(rng, (0.95, 0.82, 0.62), (0.55, 0.3, 0.15))
    return _Phrase(events, flat_steps, legato, _randint(rng, -5, 5))


def _gen_melody(
    plan: _Plan, voice: _Voice, rng: np.random.Generator, buf: _Buffer, *, double: list[_LineNote] | None = None
) -> list[_LineNote]:
    """A monophonic lead; phrases are cached per kind of section, so a chorus comes back as a chorus."""
    bpb = plan.beats_per_bar
    low, high = voice.low, voice.high
    centre = (low + high) // 2
    line: list[_LineNote] = []
    if double is not None:  # double another line an octave or two away, in this voice's sections
        shift = 12 * round((centre - np.mean([n.pitch for n in double])) / 12.0) if double else 0
        spans = [(a, b) for _, a, b in _active_sections(plan, voice)]
        for note in double:
            if any(a - 1e-6 <= note.beat < b for a, b in spans):
                pitch = _fold(note.pitch + int(shift), low, high)
                buf.add(plan.time_s(note.beat, straight=note.straight),
                        plan.time_s(note.end_beat, straight=note.straight), pitch, note.velocity - 6.0)
                line.append(_LineNote(note.beat, note.end_beat, pitch, note.velocity, note.straight))
        return line

    cache: dict[str, tuple[int, list[_Phrase]]] = {}
    for section, start, end in _active_sections(plan, voice):
        if section.kind not in cache:
            bars = 4 if section.n_bars >= 8 and rng.random() < 0.6 else 2
            density = 0.4 + 0.6 * section.energy
            cache[section.kind] = (bars, [_make_phrase(rng, plan, bars=bars, density=density) for _ in range(3)])
        bars, phrases = cache[section.kind]
        level = _level(voice, section)
        n_phrases = int(math.ceil(section.n_bars / bars))
        for j in range(n_phrases):
            phrase = phrases[2] if (n_phrases >= 4 and j == 2) else phrases[j % 2]
            p_start = start + j * bars * bpb
            if p_start >= end - 1e-6:
                break
            if j > 0 and rng.random() < (0.2 if section.kind != "chorus" else 0.05):
                continue  # a rest phrase
            length = bars * bpb
            # The first phrase of a section starts from its own anchor (so a repeated section repeats its tune);
            # later ones continue from where the line is.
            pitch = centre + phrase.anchor if j == 0 or not line else line[-1].pitch
            for k, ((off, dur, straight), step) in enumerate(zip(phrase.events, phrase.steps, strict=True)):
                beat = p_start + off
                if beat >= end - 1e-6:
                    break
                if k == 0 and j > 0 and line:
                    step = step or 1
                if k > 0 or (j > 0 and line):
                    if abs(pitch - centre) > 8 and (pitch - centre) * step > 0:
                        step = -step  # drift back towards the middle of the register
                    cand = _scale_move(pitch, step, plan.melody_mask) if step else pitch
                    if not low + 1 <= cand <= high - 1:
                        cand = _scale_move(pitch, -step, plan.melody_mask) if step else pitch
                else:
                    cand = pitch
                in_bar = off % bpb
                strong = k == 0 or dur >= 1.5 or in_bar < 1e-6 or (bpb == 4 and abs(in_bar - 2) < 1e-6)
                if strong:
                    cand = _nearest_pc(cand, plan.chord_at(beat).pcs, low, high)
                pitch = _fold(cand, low, high)
                end_beat = min(beat + dur * phrase.legato, end)
                vel = level + 9.0 * math.sin(math.pi * off / length) + (5.0 if strong else 0.0) - (4.0 if dur < 0.5 else 0)
                buf.add(plan.time_s(beat, straight=straight), plan.time_s(end_beat, straight=straight), pitch, vel)
                line.append(_LineNote(beat, end_beat, pitch, vel, straight))
    return line


def _gen_counter(
    plan: _Plan, voice: _Voice, rng: np.random.Generator, buf: _Buffer, *, melody: list[_LineNote]
) -> None:
    """A harmony line a third or sixth under the melody, or held guide tones (third / seventh) of the chords."""
    low, high = voice.low, voice.high
    prev = (low + high) // 2
    for section, start, end in _active_sections(plan, voice):
        level = _level(voice, section)
        under = [n for n in melody if start - 1e-6 <= n.beat < end]
        if len(under) >= 4 and rng.random() < 0.55:
            interval = _pick(rng, (-2, -5), (0.6, 0.4))
            for note in under:
                if note.end_beat - note.beat < 0.45 and rng.random() < 0.3:
                    continue
                pitch = _fold(_scale_move(note.pitch, interval, plan.scale_mask), low, high)
                buf.add(plan.time_s(note.beat, straight=note.straight),
                        plan.time_s(note.end_beat, straight=note.straight), pitch, level + note.velocity * 0.1 - 8)
            continue
        moving = rng.random() < 0.4
        for a, b, chord in plan.chords_in(start, end):
            guides = (chord.pcs[1], chord.pcs[3]) if len(chord.pcs) > 3 else (chord.pcs[1], chord.pcs[2])
            pitch = _nearest_pc(prev, guides, low, high)
            if moving and b - a >= 2:
                mid = a + (b - a) / 2.0
                second = _fold(_scale_move(pitch, _pick(rng, (-1, 1)), plan.scale_mask), low, high)
                buf.add(plan.time_s(a), plan.time_s(mid - 0.05), pitch, level)
                buf.add(plan.time_s(mid), plan.time_s(b - 0.05), second, level - 4.0)
                prev = second
            else:
                buf.add(plan.time_s(a), plan.time_s(b - 0.05), pitch, level)
                prev = pitch


def _gen_hits(plan: _Plan, voice: _Voice, rng: np.random.Generator, buf: _Buffer) -> None:
    """Sparse accents: timpani roots and rolls, percussive ostinati, effects and bells on section starts."""
    bpb = plan.beats_per_bar
    low, high = voice.low, voice.high
    cls = voice.class_index
    mid = (low + high) // 2
    for section, start, end in _active_sections(plan, voice):
        level = _level(voice, section)
        chords = plan.chords_in(start, end)
        if cls == 17:  # timpani
            for i, (a, _, chord) in enumerate(chords):
                if i == 0 or rng.random() < 0.35:
                    tone = chord.root if i == 0 or rng.random() < 0.7 else chord.pcs[2]
                    pitch = _nearest_pc(low + 4, (tone,), low, high)
                    buf.add(plan.time_s(a), plan.time_s(min(a + 1.5, end)), pitch, level + (10.0 if i == 0 else 0.0))
            if _next_section(plan, section) is not None and end - start >= bpb and rng.random() < 0.5:
                roll_beats = _pick(rng, (1.0, 2.0))
                step = 0.25 if plan.beat_s / 4 <= 0.12 else 0.125
                pitch = _nearest_pc(low + 4, (plan.chord_at(end - 0.5).root,), low, high)
                n = int(round(roll_beats / step))
                for k in range(n):
                    beat = end - roll_beats + k * step
                    buf.add(plan.time_s(beat, straight=True), plan.time_s(beat + step * 0.9, straight=True), pitch,
                            level - 25.0 + 35.0 * k / max(n - 1, 1))
        elif cls == 36 and voice.program == 119:  # reverse cymbal: swells into the next section
            length = min(float(bpb), end - start)
            buf.add(plan.time_s(end - length), plan.time_s(end), _fold(60, low, high), level)
        elif cls == 36:  # taiko, toms, woodblock, agogo, steel drums: a sparse ostinato
            rhythm = _pick(rng, ((0.0,), (0.0, 2.0), (0.0, 1.5, 3.0), (0.0, 0.75, 1.5, 2.5, 3.0)), (0.3, 0.3, 0.25, 0.15))
            bar = int(round(start / bpb))
            first = True
            while bar * bpb < end - 1e-6:
                if first or rng.random() < 0.45 + 0.5 * section.energy:
                    for k, pos in enumerate(p for p in rhythm if p < bpb):
                        beat = bar * bpb + pos
                        if beat >= end - 1e-6:
                            break
                        chord = plan.chord_at(beat)
                        tone = chord.root if k % 2 == 0 else chord.pcs[2]
                        buf.add(plan.time_s(beat), plan.time_s(min(beat + 0.5, end)),
                                _nearest_pc(mid - 4, (tone,), low, high), level + (8.0 if pos == 0 else 0.0))
                first = False
                bar += 1
        elif cls in (34, 37):  # effects: a swell on the section start and a few more
            a, b, chord = chords[0]
            length = min(_pick(rng, (2.0, 4.0, float(2 * bpb))), end - start)
            pitch = _nearest_pc(mid, chord.pcs, low, high) if cls == 34 else _randint(rng, mid - 6, mid + 6)
            buf.add(plan.time_s(start), plan.time_s(start + length), pitch, level)
            bar = int(round(start / bpb)) + 1
            while bar * bpb < end - 1e-6:
                if rng.random() < 0.1 + 0.3 * section.energy:
                    beat = bar * bpb + _randint(rng, 0, bpb - 1)
                    length = min(_pick(rng, (1.0, 2.0, 3.0)), end - beat)
                    chord = plan.chord_at(beat)
                    pitch = _nearest_pc(mid + _randint(rng, -5, 5), chord.pcs, low, high) if cls == 34 else _randint(
                        rng, low, high
                    )
                    if length > 0.2:
                        buf.add(plan.time_s(beat), plan.time_s(beat + length), pitch, level - 6.0)
                bar += 1
        else:  # bells, orchestra hits: on the section start and on some chord changes
            for i, (a, _, chord) in enumerate(chords):
                if i == 0 or rng.random() < 0.4:
                    if cls == 15:
                        for pitch in _voice_lead(rng, chord.pcs[:3], low, high, None):
                            buf.add(plan.time_s(a), plan.time_s(min(a + 0.5, end)), pitch, level + 6.0)
                    else:
                        pitch = _nearest_pc(mid + 5, (chord.root,), low, high)
                        buf.add(plan.time_s(a), plan.time_s(min(a + 2.0, end)), pitch, level)


# ---------------------------------------------------------------------------------------------------------------------
# Performance: humanise and clean a stem's notes
# ---------------------------------------------------------------------------------------------------------------------


def _finalize(
    buf: _Buffer, rng: np.random.Generator, *, low: int, high: int, duration_s: float, jitter_s: float,
    monophonic: bool, jitter_length: bool = True,
) -> NoteArray:
    """Jitter timing and velocity, fold pitches into ``[low, high]``, cut at ``duration_s``, and shorten notes so
    the same pitch never overlaps (nor, if ``monophonic``, any two notes). Lengths stay as written unless
    ``jitter_length``."""
    n = len(buf)
    if n == 0:
        return NoteArray.empty()
    shift = rng.normal(0.0, jitter_s, n)
    onset = np.asarray(buf.onset_s) + shift
    offset = np.asarray(buf.offset_s) + shift
    if jitter_length:
        offset = offset + rng.normal(0.0, jitter_s * 0.5, n)
    velocity = np.clip(np.rint(np.asarray(buf.velocity) + rng.normal(0.0, 3.0, n)), 1, 127).astype(np.int16)
    pitch = np.asarray(buf.pitch, dtype=np.int64)
    if high - low >= 11:
        pitch = np.where(pitch < low, pitch + 12 * ((low - pitch + 11) // 12), pitch)
        pitch = np.where(pitch > high, pitch - 12 * ((pitch - high + 11) // 12), pitch)
    pitch = np.clip(pitch, low, high)

    onset = np.maximum(onset, 0.0)
    keep = onset < duration_s - MIN_NOTE_S
    onset, offset, pitch, velocity = onset[keep], offset[keep], pitch[keep], velocity[keep]
    offset = np.clip(offset, onset + MIN_NOTE_S, duration_s)
    if monophonic and len(onset) > 1:
        order = np.lexsort((pitch, onset))
        nxt = onset[order][1:] - _SAME_PITCH_GAP_S
        offset[order[:-1]] = np.minimum(offset[order[:-1]], nxt)
    if len(onset) > 1:
        order = np.lexsort((onset, pitch))
        same = pitch[order][1:] == pitch[order][:-1]
        nxt = onset[order][1:] - _SAME_PITCH_GAP_S
        offset[order[:-1]] = np.where(same, np.minimum(offset[order[:-1]], nxt), offset[order[:-1]])
    keep = offset - onset >= MIN_NOTE_S - 1e-9
    return NoteArray.from_arrays(onset[keep], offset[keep], pitch[keep], velocity[keep])


def _fallback_note(plan: _Plan, voice: _Voice) -> NoteArray:
    """One note at the start, for a stem whose sections fell past the end of a very short song."""
    pitch = 36 if voice.is_drum else _nearest_pc((voice.low + voice.high) // 2, plan.chords[0].pcs, voice.low, voice.high)
    off = min(plan.beat_s, plan.duration_s) if not voice.is_drum else min(_DRUM_NOTE_S, plan.duration_s)
    return NoteArray.from_arrays([0.0], [max(off, min(MIN_NOTE_S, plan.duration_s))], [pitch], [int(voice.base_velocity)])


# ---------------------------------------------------------------------------------------------------------------------
# Public entry point
# ---------------------------------------------------------------------------------------------------------------------


def compose_song(
    rng: np.random.Generator,
    *,
    duration_s: float,
    guest_class: int | None = None,
    min_stems: int = 4,
    max_stems: int = 12,
    tempo_bpm_range: tuple[float, float] = (60.0, 180.0),
) -> Song:
    """Compose a random multitrack song.

    Args:
        rng: the only source of randomness; the same generator state gives the same song.
        duration_s: length of the song in seconds (> 0); notes are cut there.
        guest_class: a class index (0-38) the song must contain, played in a role that suits it.
        min_stems: fewest stems (>= 1).
        max_stems: most stems (>= ``min_stems``); the count is most often 7-9 when the bounds allow.
        tempo_bpm_range: (lowest, highest) tempo in beats per minute, drawn uniformly.

    Returns:
        A :class:`Song` whose stems hold notes in seconds with pitches inside each class's
        :data:`PITCH_RANGES` (drums 35..81) and velocities 1..127.
    """
    if not duration_s > 0:
        raise ValueError(f"duration_s must be positive, got {duration_s}")
    if not 1 <= min_stems <= max_stems:
        raise ValueError(f"need 1 <= min_stems <= max_stems, got {min_stems}, {max_stems}")
    lo_bpm, hi_bpm = (float(t) for t in tempo_bpm_range)
    if not 0 < lo_bpm <= hi_bpm:
        raise ValueError(f"tempo_bpm_range must be 0 < low <= high, got {tempo_bpm_range}")
    if guest_class is not None and not 0 <= int(guest_class) < NUM_CLASSES:
        raise ValueError(f"guest_class must be in 0..{NUM_CLASSES - 1} or None, got {guest_class}")

    # Frame: tempo, metre, key.
    tempo_bpm = min(max(round(_uniform(rng, lo_bpm, hi_bpm), 2), lo_bpm), hi_bpm)
    beats_per_bar = 3 if rng.random() < 0.15 else 4
    tonic = _randint(rng, 0, 11)
    mode = _pick_map(rng, _MODE_WEIGHTS)
    scale = tuple((tonic + iv) % 12 for iv in _MODES[mode])
    melody_pcs = scale
    if mode in _PENTATONIC and rng.random() < 0.3:
        melody_pcs = tuple((tonic + iv) % 12 for iv in _PENTATONIC[mode])
    plan = _Plan(
        duration_s=float(duration_s), tempo_bpm=tempo_bpm, beats_per_bar=beats_per_bar, swing=0.0, tonic=tonic,
        mode=mode, scale_mask=_pc_mask(scale), melody_mask=_pc_mask(melody_pcs), groove="none",
    )
    n_bars = max(1, int(math.ceil(plan.end_beat / beats_per_bar - 1e-9)))
    plan.sections = _plan_sections(rng, n_bars)
    blues = _plan_harmony(rng, plan, scale)
    plan.groove = _pick_groove(rng, tempo_bpm, beats_per_bar, blues)
    swing_lo, swing_hi = _SWING.get(plan.groove, (0.0, 0.0))
    plan.swing = _uniform(rng, swing_lo, swing_hi) if swing_hi else (_uniform(rng, 0.0, 0.04) if rng.random() < 0.2 else 0.0)

    # Band and arrangement.
    voices = _choose_voices(rng, guest_class=guest_class, min_stems=min_stems, max_stems=max_stems)
    if not any(v.is_drum for v in voices):
        plan.groove = "none" if beats_per_bar == 4 else plan.groove
    for voice in [v for v in voices if v.role == "melody"][1:]:
        voice.doubles = rng.random() < 0.35
    _plan_activity(rng, voices, plan.sections)

    # Parts: melodies first (the counter lines and doublings follow the first one).
    buffers: list[_Buffer] = [_Buffer() for _ in voices]
    lead: list[_LineNote] | None = None
    for voice, buf in zip(voices, buffers, strict=True):
        if voice.role == "melody":
            line = _gen_melody(plan, voice, rng, buf, double=lead if voice.doubles else None)
            lead = line if lead is None else lead
    for voice, buf in zip(voices, buffers, strict=True):
        if voice.role == "drums":
            _gen_drums(plan, voice, rng, buf)
        elif voice.role == "bass":
            _gen_bass(plan, voice, rng, buf)
        elif voice.role == "chords":
            _gen_chords(plan, voice, rng, buf)
        elif voice.role == "pad":
            _gen_pad(plan, voice, rng, buf)
        elif voice.role == "arpeggio":
            _gen_arpeggio(plan, voice, rng, buf)
        elif voice.role == "counter":
            _gen_counter(plan, voice, rng, buf, melody=lead or [])
        elif voice.role == "hits":
            _gen_hits(plan, voice, rng, buf)

    # Performance.
    stems: list[tuple[int, Stem]] = []
    for i, (voice, buf) in enumerate(zip(voices, buffers, strict=True)):
        low, high = PITCH_RANGES[voice.class_index]
        jitter_s = 0.002 + (0.002 if voice.is_drum else 0.006) * rng.random()
        notes = _finalize(
            buf, rng, low=low, high=high, duration_s=plan.duration_s, jitter_s=jitter_s,
            monophonic=voice.role in ("melody", "bass", "counter"), jitter_length=not voice.is_drum,
        )
        if len(notes) == 0:
            notes = _fallback_note(plan, voice)
        program = 0 if voice.is_drum else voice.program
        stems.append((i, Stem(program=program, is_drum=voice.is_drum, role=voice.role, notes=notes)))
    stems.sort(key=lambda item: (ROLES.index(item[1].role), item[0]))
    key_name = f"{(_MINOR_NAMES if mode in ('minor', 'dorian') else _NOTE_NAMES)[tonic]} {mode}"
    log.debug(
        "composed %.1f s at %.1f bpm in %d/4, %s, groove %s, %d stems", duration_s, tempo_bpm, beats_per_bar,
        key_name, plan.groove, len(stems),
    )
    return Song(
        tempo_bpm=tempo_bpm, beats_per_bar=beats_per_bar, key_name=key_name, duration_s=float(duration_s),
        stems=tuple(stem for _, stem in stems),
    )

