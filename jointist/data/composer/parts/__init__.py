"""One generator per musical role, and the table that maps each role to its generator.

A generator writes idiomatic notes for one voice (see :data:`~jointist.data.composer.parts.common.PartGenerator`):
grooves with ghost notes, crashes and tom fills (:mod:`.drums`); roots, octaves and walking lines
(:mod:`.bass`); voice-led or strummed comping (:mod:`.chords`); sustained pads (:mod:`.pad`); arpeggios
(:mod:`.arpeggio`); motif-based melodies, doublings and counter lines (:mod:`.melody`); timpani rolls,
ostinati, effects and bells (:mod:`.hits`).
"""

from __future__ import annotations

from jointist.data.composer.parts.arpeggio import play_arpeggio
from jointist.data.composer.parts.bass import play_bass
from jointist.data.composer.parts.chords import play_chords
from jointist.data.composer.parts.common import LeadLine, LineNote, PartGenerator
from jointist.data.composer.parts.drums import play_drums
from jointist.data.composer.parts.hits import play_hits
from jointist.data.composer.parts.melody import play_counter, play_melody
from jointist.data.composer.parts.pad import play_pad

__all__ = ["GENERATORS", "LEAD_ROLES", "LeadLine", "LineNote", "PartGenerator"]

GENERATORS: dict[str, PartGenerator] = {
    "drums": play_drums,
    "bass": play_bass,
    "chords": play_chords,
    "pad": play_pad,
    "arpeggio": play_arpeggio,
    "melody": play_melody,
    "counter": play_counter,
    "hits": play_hits,
}
"""The generator of each role in :data:`~jointist.data.composer.tables.ROLES`."""

LEAD_ROLES = frozenset({"melody"})
"""Roles whose parts are written before all others (in band order), so the lead line exists when the others
follow it."""
