"""The composer's constant tables: roles, registers, keys and progressions, band weights, grooves and patterns.

Everything here is data; the code that draws from it lives in :mod:`~jointist.data.composer.plan` (song
plan and band) and :mod:`~jointist.data.composer.parts` (one generator per role). Times are in beats,
pitches are MIDI note numbers, class indices are the named constants of
:mod:`~jointist.data.composer.classes`. The order of every weighted table matters: a draw walks its keys
in order, so reordering one changes the songs a seed gives.
"""

from __future__ import annotations

from dataclasses import dataclass

from jointist.data.composer.classes import (
    ACCORDION,
    ACOUSTIC_GUITAR,
    BASS,
    BASSOON,
    BRASS,
    CELLO,
    CHROMATIC_PERCUSSION,
    CLARINET,
    CLAVINET,
    CONTRABASS,
    DRUM_KIT,
    ELECTRIC_GUITAR,
    ELECTRIC_PIANO,
    ETHNIC,
    FLUTE,
    HARMONICA,
    HARP,
    HARPSICHORD,
    HORN,
    OBOE,
    ORGAN,
    PERCUSSIVE,
    PIANO,
    PICCOLO,
    PIPE,
    RECORDER,
    SAXOPHONE,
    SOUND_EFFECTS,
    STRINGS,
    SYNTH_EFFECTS,
    SYNTH_LEAD,
    SYNTH_PAD,
    TIMPANI,
    TROMBONE,
    TRUMPET,
    TUBA,
    VIOLA,
    VIOLIN,
    VOICE,
)

# ----- roles and registers ---------------------------------------------------------------------------------------------

ROLES = ("drums", "bass", "chords", "pad", "arpeggio", "melody", "counter", "hits")
"""Musical roles a stem can play, in the order stems are listed in a :class:`~jointist.data.composer.Song`."""

MONOPHONIC_ROLES = frozenset({"melody", "bass", "counter"})
"""Roles whose notes are shortened so that no two overlap."""

PITCH_RANGES: dict[int, tuple[int, int]] = {
    PIANO: (21, 108),
    ELECTRIC_PIANO: (28, 103),
    HARPSICHORD: (29, 89),
    CLAVINET: (29, 88),
    CHROMATIC_PERCUSSION: (48, 100),  # vibraphone, marimba, glockenspiel, bells
    ORGAN: (36, 96),
    ACCORDION: (41, 89),
    HARMONICA: (60, 96),
    ACOUSTIC_GUITAR: (40, 84),
    ELECTRIC_GUITAR: (40, 88),
    BASS: (28, 60),
    VIOLIN: (55, 100),
    VIOLA: (48, 88),
    CELLO: (36, 76),
    CONTRABASS: (28, 67),
    STRINGS: (36, 96),
    HARP: (24, 103),
    TIMPANI: (40, 55),
    VOICE: (48, 79),
    TRUMPET: (54, 84),
    TROMBONE: (40, 72),
    TUBA: (28, 58),
    HORN: (41, 77),
    BRASS: (41, 84),
    SAXOPHONE: (44, 81),
    OBOE: (58, 91),
    BASSOON: (34, 72),
    CLARINET: (50, 91),
    PICCOLO: (74, 108),
    FLUTE: (60, 96),
    RECORDER: (65, 96),
    PIPE: (55, 96),
    SYNTH_LEAD: (36, 96),
    SYNTH_PAD: (36, 96),
    SYNTH_EFFECTS: (36, 96),
    ETHNIC: (40, 88),
    PERCUSSIVE: (36, 84),
    SOUND_EFFECTS: (36, 84),
    DRUM_KIT: (35, 81),  # the GM percussion key map
}
"""(lowest, highest) MIDI pitch each class plays, by class index; all within the 88 keys 21..108."""

ROLE_WINDOWS: dict[str, tuple[int, int]] = {
    "bass": (28, 52), "chords": (48, 79), "pad": (48, 79), "arpeggio": (52, 88), "melody": (60, 86),
    "counter": (50, 76), "hits": (36, 72), "drums": (35, 81),
}
"""Preferred register (lowest, highest MIDI pitch) of each role, narrowed to the class's range."""

CLASS_WINDOWS: dict[tuple[str, int], tuple[int, int]] = {
    ("chords", ACOUSTIC_GUITAR): (40, 76), ("chords", ELECTRIC_GUITAR): (40, 76),
    ("hits", CHROMATIC_PERCUSSION): (60, 88), ("arpeggio", HARP): (43, 91),
}
"""Registers of (role, class) pairs that differ from the role's window."""

BASE_VELOCITY: dict[str, tuple[int, int]] = {
    "drums": (88, 108), "bass": (80, 104), "chords": (62, 92), "pad": (50, 78), "arpeggio": (56, 84),
    "melody": (78, 108), "counter": (58, 86), "hits": (72, 108),
}
"""(lowest, highest) velocity an unaccented note of a role is drawn around, before the section's energy."""

# ----- notes -----------------------------------------------------------------------------------------------------------

MIN_NOTE_S = 0.03
"""Shortest note written (seconds)."""
SAME_PITCH_GAP_S = 0.01
"""Silence left before the next onset of the same pitch (seconds)."""
DRUM_NOTE_S = 0.1
"""Length of a drum hit (seconds)."""

# ----- keys and harmony ------------------------------------------------------------------------------------------------

NOTE_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")  # tonic spellings of major keys
MINOR_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")  # ... and of minor / dorian keys
MODES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
}
MODE_WEIGHTS = {"major": 0.5, "minor": 0.38, "dorian": 0.06, "mixolydian": 0.06}
PENTATONIC = {"major": (0, 2, 4, 7, 9), "minor": (0, 3, 5, 7, 10)}

DOM7 = (0, 4, 7, 10)
MIN7 = (0, 3, 7, 10)


@dataclass(frozen=True)
class Progression:
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


PROGRESSIONS: tuple[Progression, ...] = (
    Progression("I-V-vi-IV", ("major",), (0, 4, 5, 3), weight=2.0),
    Progression("I-vi-IV-V", ("major",), (0, 5, 3, 4), weight=1.5),
    Progression("vi-IV-I-V", ("major",), (5, 3, 0, 4), weight=1.5),
    Progression("I-IV-V-IV", ("major", "mixolydian"), (0, 3, 4, 3)),
    Progression("I-IV-vi-V", ("major",), (0, 3, 5, 4)),
    Progression("I-iii-IV-V", ("major",), (0, 2, 3, 4), weight=0.6),
    Progression("IV-I-V-vi", ("major",), (3, 0, 4, 5)),
    Progression("ii-V-I-I", ("major",), (1, 4, 0, 0), seventh_p=0.85),
    Progression("I-vi-ii-V", ("major",), (0, 5, 1, 4), seventh_p=0.6),
    Progression("iii-vi-ii-V", ("major",), (2, 5, 1, 4), seventh_p=0.7, weight=0.5),
    Progression("I-IV", ("major", "mixolydian"), (0, 3), weight=0.7),
    Progression("canon", ("major",), (0, 4, 5, 2, 3, 0, 3, 4), weight=0.6),
    Progression("I-bVII-IV-I", ("mixolydian",), (0, 6, 3, 0)),
    Progression("I-bVII", ("mixolydian",), (0, 6)),
    Progression("i-VI-III-VII", ("minor",), (0, 5, 2, 6), weight=2.0),
    Progression("i-iv-v-i", ("minor",), (0, 3, 4, 0)),
    Progression("i-iv-V-i", ("minor",), (0, 3, 4, 0), harmonic_v=True),
    Progression("i-VII-VI-VII", ("minor",), (0, 6, 5, 6)),
    Progression("i-iv-VII-III", ("minor",), (0, 3, 6, 2)),
    Progression("i-VI-VII-i", ("minor",), (0, 5, 6, 0)),
    Progression("i-VII-VI-V", ("minor",), (0, 6, 5, 4), harmonic_v=True),
    Progression("ii-V-i", ("minor",), (1, 4, 0, 0), seventh_p=0.8, harmonic_v=True, weight=0.6),
    Progression("i-IV", ("dorian",), (0, 3)),
    Progression("i-IV-i-VII", ("dorian",), (0, 3, 0, 6)),
    Progression("i-ii-III-ii", ("dorian",), (0, 1, 2, 1), weight=0.5),
    Progression(
        "12-bar blues", ("major", "mixolydian"), seventh_p=0.85, weight=0.6,
        explicit=tuple((root, DOM7) for root in (0, 0, 0, 0, 5, 5, 0, 0, 7, 5, 0, 7)),
    ),
    Progression(
        "minor blues", ("minor", "dorian"), seventh_p=0.8, weight=0.4,
        explicit=((0, MIN7),) * 4 + ((5, MIN7),) * 2 + ((0, MIN7),) * 2 + ((8, DOM7), (7, DOM7), (0, MIN7), (7, DOM7)),
    ),
)

# ----- form ------------------------------------------------------------------------------------------------------------

KINDS = ("intro", "verse", "prechorus", "chorus", "bridge", "breakdown", "outro")
"""Kinds of section."""
ENERGY: dict[str, tuple[float, float]] = {
    "intro": (0.3, 0.5), "verse": (0.5, 0.7), "prechorus": (0.62, 0.8), "chorus": (0.8, 1.0),
    "bridge": (0.45, 0.7), "breakdown": (0.25, 0.45), "outro": (0.35, 0.55),
}
"""(lowest, highest) energy of each kind of section, drawn uniformly."""
ACTIVITY: dict[str, tuple[float, ...]] = {
    "drums": (0.45, 0.9, 0.95, 1.0, 0.7, 0.25, 0.6),
    "bass": (0.4, 0.9, 0.95, 1.0, 0.8, 0.35, 0.7),
    "chords": (0.7, 0.8, 0.85, 0.9, 0.75, 0.6, 0.7),
    "pad": (0.6, 0.45, 0.6, 0.8, 0.7, 0.75, 0.6),
    "arpeggio": (0.6, 0.5, 0.6, 0.65, 0.6, 0.6, 0.5),
    "melody": (0.2, 0.85, 0.85, 0.95, 0.6, 0.4, 0.3),
    "counter": (0.1, 0.35, 0.5, 0.8, 0.5, 0.3, 0.2),
    "hits": (0.5, 0.3, 0.5, 0.7, 0.4, 0.4, 0.5),
}
"""Probability that a stem of a role plays in a section of a kind (in the order of :data:`KINDS`)."""

# ----- band ------------------------------------------------------------------------------------------------------------

ROLE_CLASSES: dict[str, dict[int, float]] = {
    "drums": {DRUM_KIT: 1.0},
    "bass": {BASS: 0.82, CONTRABASS: 0.07, CELLO: 0.03, TUBA: 0.03, BASSOON: 0.02, TROMBONE: 0.02, PIANO: 0.01},
    "chords": {
        PIANO: 0.22, ELECTRIC_GUITAR: 0.2, ACOUSTIC_GUITAR: 0.14, ELECTRIC_PIANO: 0.12, ORGAN: 0.1, STRINGS: 0.04,
        BRASS: 0.03, CLAVINET: 0.03, HARPSICHORD: 0.02, ACCORDION: 0.02, CHROMATIC_PERCUSSION: 0.02, HORN: 0.01,
        ETHNIC: 0.01, SYNTH_PAD: 0.02,
    },
    "pad": {
        STRINGS: 0.34, SYNTH_PAD: 0.3, ORGAN: 0.1, VOICE: 0.08, HORN: 0.04, BRASS: 0.03, SYNTH_EFFECTS: 0.04,
        ACCORDION: 0.02, CELLO: 0.02, VIOLA: 0.02, ELECTRIC_PIANO: 0.02,
    },
    "arpeggio": {
        PIANO: 0.2, CHROMATIC_PERCUSSION: 0.18, ACOUSTIC_GUITAR: 0.13, HARP: 0.12, ELECTRIC_GUITAR: 0.11,
        SYNTH_LEAD: 0.08, ELECTRIC_PIANO: 0.06, HARPSICHORD: 0.05, STRINGS: 0.02, ETHNIC: 0.03, SYNTH_EFFECTS: 0.02,
    },
    "melody": {
        SYNTH_LEAD: 0.15, SAXOPHONE: 0.1, VOICE: 0.1, ELECTRIC_GUITAR: 0.1, VIOLIN: 0.08, PIANO: 0.06,
        TRUMPET: 0.06, FLUTE: 0.06, CLARINET: 0.04, ELECTRIC_PIANO: 0.03, CHROMATIC_PERCUSSION: 0.03, PIPE: 0.03,
        ETHNIC: 0.03, OBOE: 0.02, RECORDER: 0.02, HARMONICA: 0.02, HORN: 0.02, TROMBONE: 0.02, PICCOLO: 0.01,
        VIOLA: 0.01, ACCORDION: 0.01, ORGAN: 0.01, ACOUSTIC_GUITAR: 0.02,
    },
    "counter": {
        STRINGS: 0.15, CELLO: 0.1, VIOLIN: 0.08, VIOLA: 0.06, HORN: 0.07, FLUTE: 0.06, SAXOPHONE: 0.06, VOICE: 0.06,
        SYNTH_LEAD: 0.06, TROMBONE: 0.05, CLARINET: 0.05, ELECTRIC_GUITAR: 0.05, BRASS: 0.04, TRUMPET: 0.03,
        OBOE: 0.03, BASSOON: 0.03, PIPE: 0.02, HARMONICA: 0.01, SYNTH_PAD: 0.01,
    },
    "hits": {
        TIMPANI: 0.3, PERCUSSIVE: 0.27, SYNTH_EFFECTS: 0.17, SOUND_EFFECTS: 0.16, CHROMATIC_PERCUSSION: 0.05,
        STRINGS: 0.05,
    },
}
"""Classes suitable for each role, with how often they are drawn for it."""

ROLE_PROGRAMS: dict[tuple[str, int], tuple[int, ...]] = {
    ("chords", STRINGS): (48, 49, 50, 51, 45),
    ("pad", STRINGS): (48, 49, 50, 51, 44),
    ("counter", STRINGS): (48, 49, 50, 51),
    ("arpeggio", STRINGS): (45,),
    ("hits", STRINGS): (55,),
    ("hits", CHROMATIC_PERCUSSION): (14, 9, 8),
    ("chords", ETHNIC): (105,),
    ("arpeggio", ETHNIC): (105, 107, 108),
    ("chords", ELECTRIC_GUITAR): (26, 27, 28, 29, 30),
    ("chords", SYNTH_PAD): (88, 89, 90, 94, 95),
    ("arpeggio", SYNTH_EFFECTS): (96, 98, 99, 103),
    ("pad", SYNTH_EFFECTS): (96, 97, 99, 100, 101, 102),
}
"""GM programs of a class that suit a role, where not every program of the class does."""

FILL_ROLES = {"chords": 0.27, "pad": 0.17, "arpeggio": 0.15, "counter": 0.15, "melody": 0.1, "hits": 0.09, "bass": 0.03}
"""Roles that fill a band up to its number of stems, with their weights."""
MAX_PER_ROLE = {"drums": 1, "bass": 2, "chords": 4, "pad": 3, "arpeggio": 3, "melody": 3, "counter": 3, "hits": 2}
"""Most stems of a role a band gets while filling."""

# ----- drums -----------------------------------------------------------------------------------------------------------

KIT: dict[str, int] = {
    "kick": 36, "stick": 37, "snare": 38, "clap": 39, "hat": 42, "pedal": 44, "open": 46, "ride": 51, "bell": 53,
    "crash": 49, "tamb": 54, "cowbell": 56, "conga_hi": 62, "conga_open": 63, "conga_lo": 64, "cabasa": 69,
    "shaker": 70, "claves": 75,
}
"""GM percussion keys of the kit pieces."""
TOMS_HIGH = (50, 48)
TOMS_MID = (47, 45)
TOMS_LOW = (43, 41)
GROOVES: dict[str, dict[str, str]] = {
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
"""Grooves on a 16th grid (4 steps a beat). X accent, x normal, g ghost, o open hi-hat, . rest."""
GROOVE_TEMPI: dict[str, tuple[float, float, float]] = {
    "rock": (80, 185, 1.2), "pop": (68, 140, 1.3), "four_floor": (100, 140, 0.8), "funk": (80, 125, 0.8),
    "halftime": (125, 185, 0.6), "shuffle": (58, 150, 0.6), "hiphop": (65, 105, 0.6), "bossa": (90, 150, 0.5),
    "latin": (95, 150, 0.4), "ballad": (50, 90, 0.9), "one_drop": (58, 95, 0.4),
}
"""Tempo range (bpm) and weight of each 4/4 groove; 3/4 grooves are drawn from :data:`GROOVES_34`."""
GROOVES_34 = {"waltz": 1.0, "rock34": 0.8, "jazz_waltz": 0.5}
SWING = {"shuffle": (1 / 6, 1 / 6), "jazz_waltz": (1 / 6, 1 / 6), "hiphop": (0.04, 0.1), "one_drop": (0.03, 0.1)}
"""(lowest, highest) swing of the grooves that swing: the delay of an off-beat eighth, in beats."""
DRUM_VELOCITY = {"X": 112.0, "x": 90.0, "o": 92.0, "g": 40.0}
"""Velocity of each groove symbol before the section's level."""

# ----- bass ------------------------------------------------------------------------------------------------------------

BassPattern = tuple[tuple[float, float, str], ...]
"""(beat in bar, duration in beats, tone): R root, 5 fifth, 8 octave, 3 third, L fifth below, A approach to the
next root, or a number of semitones above the root ("10" a flat seventh, "9" a sixth)."""
BASS_PATTERNS_4: dict[str, BassPattern] = {
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
BASS_PATTERNS_3: dict[str, BassPattern] = {
    "whole": ((0, 3, "R"),),
    "waltz": ((0, 2, "R"), (2, 1, "5")),
    "quarters": ((0, 1, "R"), (1, 1, "5"), (2, 1, "8")),
    "eighths": tuple((i * 0.5, 0.5, "R") for i in range(6)),
}
BASS_BY_GROOVE: dict[str, dict[str, float]] = {
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
"""Bass patterns that suit each groove ("walking" is a generated line, not a pattern)."""

# ----- comping ---------------------------------------------------------------------------------------------------------

CompPattern = tuple[tuple[float, float, str], ...]
"""(beat in bar, duration in beats, stroke) with stroke "D" down, "U" up (guitars) or "" (block chord)."""
COMP_PATTERNS_4: dict[str, CompPattern] = {
    "halves": ((0, 2, ""), (2, 2, "")),
    "quarters": ((0, 0.6, ""), (1, 0.6, ""), (2, 0.6, ""), (3, 0.6, "")),
    "offbeat": ((0.5, 0.35, "U"), (1.5, 0.35, "U"), (2.5, 0.35, "U"), (3.5, 0.35, "U")),
    "charleston": ((0, 1.2, ""), (1.5, 1.5, "")),
    "pop_sync": ((0, 1.45, "D"), (1.5, 1.45, "D"), (3, 0.95, "D")),
    "eighths": tuple((i * 0.5, 0.42, "D") for i in range(8)),
    "strum": ((0, 1, "D"), (1, 0.5, "D"), (1.5, 0.5, "U"), (2.5, 0.5, "U"), (3, 0.5, "D"), (3.5, 0.5, "U")),
    "funk16": ((0, 0.2, ""), (0.75, 0.2, ""), (1.5, 0.2, ""), (2.25, 0.2, ""), (2.75, 0.2, ""), (3.5, 0.2, "")),
}
COMP_PATTERNS_3: dict[str, CompPattern] = {
    "waltz": ((1, 0.7, ""), (2, 0.7, "")),
    "quarters": ((0, 0.7, ""), (1, 0.7, ""), (2, 0.7, "")),
    "strum": ((0, 1, "D"), (1, 0.5, "D"), (1.5, 0.5, "U"), (2, 0.5, "D"), (2.5, 0.5, "U")),
    "dotted": ((0, 1.45, ""), (1.5, 1.45, "")),
}
COMP_WEIGHTS: dict[int, dict[str, float]] = {
    PIANO: {"sustain": 0.25, "halves": 0.15, "quarters": 0.1, "pop_sync": 0.2, "charleston": 0.1, "eighths": 0.12,
            "offbeat": 0.05},
    ELECTRIC_PIANO: {"sustain": 0.25, "charleston": 0.2, "pop_sync": 0.2, "halves": 0.15, "offbeat": 0.1,
                     "quarters": 0.1},
    HARPSICHORD: {"eighths": 0.3, "quarters": 0.3, "halves": 0.2, "sustain": 0.2},
    CLAVINET: {"funk16": 0.5, "offbeat": 0.2, "quarters": 0.2, "pop_sync": 0.1},
    ORGAN: {"sustain": 0.45, "halves": 0.2, "offbeat": 0.15, "pop_sync": 0.2},
    ACCORDION: {"quarters": 0.3, "offbeat": 0.3, "sustain": 0.2, "halves": 0.2},
    ACOUSTIC_GUITAR: {"strum": 0.4, "eighths": 0.15, "offbeat": 0.1, "pop_sync": 0.2, "sustain": 0.15},
    ELECTRIC_GUITAR: {"strum": 0.3, "eighths": 0.25, "offbeat": 0.15, "pop_sync": 0.15, "sustain": 0.1,
                      "funk16": 0.05},
    STRINGS: {"sustain": 0.5, "halves": 0.2, "eighths": 0.15, "quarters": 0.15},
    BRASS: {"quarters": 0.3, "pop_sync": 0.3, "sustain": 0.2, "charleston": 0.2},
    CHROMATIC_PERCUSSION: {"halves": 0.3, "quarters": 0.3, "sustain": 0.2, "charleston": 0.2},
}
"""Comping patterns of a class in 4/4 ("sustain" holds each chord); other classes use :data:`COMP_DEFAULT`."""
COMP_DEFAULT = {"sustain": 0.3, "halves": 0.2, "quarters": 0.2, "pop_sync": 0.15, "eighths": 0.15}
STRUMMED = frozenset({ACOUSTIC_GUITAR, ELECTRIC_GUITAR, ETHNIC})
"""Classes that strum their chords (guitar voicings, spread onsets, up-strokes)."""

# ----- melody ----------------------------------------------------------------------------------------------------------

Cell = tuple[tuple[tuple[float, float], ...], float, bool]
"""A melody rhythm cell: (onset, duration) pairs in beats, its weight, and whether it uses sixteenths."""
CELLS_1: tuple[Cell, ...] = (
    (((0.0, 1.0),), 3.0, False),
    (((0.0, 0.5), (0.5, 0.5)), 3.0, False),
    (((0.0, 0.5),), 0.8, False),
    (((0.5, 0.5),), 0.7, False),
    (((0.0, 0.75), (0.75, 0.25)), 0.9, True),
    (((0.0, 0.5), (0.5, 0.25), (0.75, 0.25)), 0.5, True),
    (((0.0, 0.25), (0.25, 0.25), (0.5, 0.5)), 0.5, True),
    ((), 0.9, False),
)
"""One-beat cells."""
CELLS_2: tuple[Cell, ...] = (
    (((0.0, 2.0),), 1.0, False),
    (((0.0, 0.5), (0.5, 1.0), (1.5, 0.5)), 1.0, False),
    (((0.0, 1.5), (1.5, 0.5)), 1.2, False),
)
"""Two-beat cells."""
TRIPLET = ((0.0, 1 / 3), (1 / 3, 1 / 3), (2 / 3, 1 / 3))
"""An eighth-note triplet on one beat."""
