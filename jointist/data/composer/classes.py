"""Named indices of the 39 instrument classes, for the composer's tables and parts.

The values come from :data:`jointist.instruments.INSTRUMENTS` by exact class name, so a renamed class
fails at import instead of silently pointing a table at another instrument (and ``pretty_midi``, which
:func:`jointist.instruments.by_name` loads for its aliases, stays unneeded). The drum kit is
``DRUM_KIT`` so it is not mistaken for the :data:`jointist.instruments.DRUMS` instrument.
"""

from __future__ import annotations

from typing import Final

from jointist.instruments import DRUMS, INSTRUMENTS

_INDEX_BY_NAME: Final[dict[str, int]] = {inst.name: inst.index for inst in INSTRUMENTS}

PIANO: Final = _INDEX_BY_NAME["Piano"]
ELECTRIC_PIANO: Final = _INDEX_BY_NAME["Electric Piano"]
HARPSICHORD: Final = _INDEX_BY_NAME["Harpsichord"]
CLAVINET: Final = _INDEX_BY_NAME["Clavinet"]
CHROMATIC_PERCUSSION: Final = _INDEX_BY_NAME["Chromatic Percussion"]
ORGAN: Final = _INDEX_BY_NAME["Organ"]
ACCORDION: Final = _INDEX_BY_NAME["Accordion"]
HARMONICA: Final = _INDEX_BY_NAME["Harmonica"]
ACOUSTIC_GUITAR: Final = _INDEX_BY_NAME["Acoustic Guitar"]
ELECTRIC_GUITAR: Final = _INDEX_BY_NAME["Electric Guitar"]
BASS: Final = _INDEX_BY_NAME["Bass"]
VIOLIN: Final = _INDEX_BY_NAME["Violin"]
VIOLA: Final = _INDEX_BY_NAME["Viola"]
CELLO: Final = _INDEX_BY_NAME["Cello"]
CONTRABASS: Final = _INDEX_BY_NAME["Contrabass"]
STRINGS: Final = _INDEX_BY_NAME["Strings"]
HARP: Final = _INDEX_BY_NAME["Harp"]
TIMPANI: Final = _INDEX_BY_NAME["Timpani"]
VOICE: Final = _INDEX_BY_NAME["Voice"]
TRUMPET: Final = _INDEX_BY_NAME["Trumpet"]
TROMBONE: Final = _INDEX_BY_NAME["Trombone"]
TUBA: Final = _INDEX_BY_NAME["Tuba"]
HORN: Final = _INDEX_BY_NAME["Horn"]
BRASS: Final = _INDEX_BY_NAME["Brass"]
SAXOPHONE: Final = _INDEX_BY_NAME["Saxophone"]
OBOE: Final = _INDEX_BY_NAME["Oboe"]
BASSOON: Final = _INDEX_BY_NAME["Bassoon"]
CLARINET: Final = _INDEX_BY_NAME["Clarinet"]
PICCOLO: Final = _INDEX_BY_NAME["Piccolo"]
FLUTE: Final = _INDEX_BY_NAME["Flute"]
RECORDER: Final = _INDEX_BY_NAME["Recorder"]
PIPE: Final = _INDEX_BY_NAME["Pipe"]
SYNTH_LEAD: Final = _INDEX_BY_NAME["Synth Lead"]
SYNTH_PAD: Final = _INDEX_BY_NAME["Synth Pad"]
SYNTH_EFFECTS: Final = _INDEX_BY_NAME["Synth Effects"]
ETHNIC: Final = _INDEX_BY_NAME["Ethnic"]
PERCUSSIVE: Final = _INDEX_BY_NAME["Percussive"]
SOUND_EFFECTS: Final = _INDEX_BY_NAME["Sound Effects"]
DRUM_KIT: Final = DRUMS.index

# General MIDI programs (0-based) a part treats specially.
DISTORTED_GUITAR_PROGRAMS: Final = (29, 30)
"""Overdriven and distortion guitar: comping plays power chords."""
REVERSE_CYMBAL_PROGRAM: Final = 119
"""A swell into the next section rather than a struck hit."""
