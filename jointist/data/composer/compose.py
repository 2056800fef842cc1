"""The composer's entry point, :func:`compose_song`, and the types it returns (:class:`Song`, :class:`Stem`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from jointist.data.composer.parts import GENERATORS, LEAD_ROLES, LeadLine
from jointist.data.composer.performance import NoteBuffer, perform
from jointist.data.composer.plan import plan_band, plan_song
from jointist.data.composer.styles import STYLE_CLASSES, STYLES, compose_style
from jointist.data.composer.tables import ROLES
from jointist.instruments import NUM_CLASSES, Instrument, by_program
from jointist.notes import NoteArray

__all__ = ["Song", "Stem", "compose_song"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stem:
    """One instrument track of a song.

    Attributes:
        program: 0-based General MIDI program (0 for drums).
        is_drum: True for the drum kit (GM channel 10).
        role: musical role, one of :data:`~jointist.data.composer.tables.ROLES`.
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
        stems: the stems, ordered by role as in :data:`~jointist.data.composer.tables.ROLES`.
        style: one of :data:`~jointist.data.composer.styles.STYLES`.
        tonic: pitch class (0-11) of the key's tonic.
        rubato: the tempo changes within the song (``tempo_bpm`` is then its initial tempo).
    """

    tempo_bpm: float
    beats_per_bar: int
    key_name: str
    duration_s: float
    stems: tuple[Stem, ...]
    style: str = "pop"
    tonic: int = 0
    rubato: bool = False

    @property
    def mode(self) -> str:
        """major, minor, dorian or mixolydian."""
        return self.key_name.split()[-1]


def compose_song(
    rng: np.random.Generator,
    *,
    duration_s: float,
    guest_class: int | None = None,
    min_stems: int = 4,
    max_stems: int = 12,
    tempo_bpm_range: tuple[float, float] = (60.0, 180.0),
    style: str = "pop",
    ride_share: float = 0.0,
) -> Song:
    """Compose a random multitrack song.

    Args:
        rng: the only source of randomness; the same generator state gives the same song.
        duration_s: length of the song in seconds (> 0); notes are cut there.
        guest_class: a class index (0-38) the song must contain, played in a role that suits it.
        min_stems: fewest stems (>= 1).
        max_stems: most stems (>= ``min_stems``); the count is most often 7-9 when the bounds allow.
        tempo_bpm_range: (lowest, highest) tempo in beats per minute, drawn uniformly (other styles
            intersect it with their own range).
        style: one of :data:`~jointist.data.composer.styles.STYLES`. Styles other than pop write
            their own ensembles (1 to ``max_stems`` stems; ``min_stems`` is pop's) and leave out a
            guest class they cannot host (drums in a chorale): see
            :data:`~jointist.data.composer.styles.STYLE_CLASSES`.
        ride_share: share of pop drum parts that keep time on the ride cymbal with the hi-hat pedal
            (0: the grooves as they are, and the same songs as before the option existed).

    Returns:
        A :class:`Song` whose stems hold notes in seconds with pitches inside each class's
        :data:`~jointist.data.composer.tables.PITCH_RANGES` (drums 35..81) and velocities 1..127.
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
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; the composer writes {', '.join(STYLES)}")
    if style != "pop":
        hosted = guest_class if guest_class in STYLE_CLASSES[style] else None
        plan, written = compose_style(rng, style, duration_s=float(duration_s), guest_class=hosted,
                                      max_stems=max_stems, tempo_bpm_range=(lo_bpm, hi_bpm))
        styled = [
            Stem(program=0 if voice.is_drum else voice.program, is_drum=voice.is_drum, role=voice.role,
                 notes=perform(plan, voice, buf, rng))
            for voice, buf in written
        ]
        return Song(
            tempo_bpm=plan.tempo_bpm, beats_per_bar=plan.beats_per_bar, key_name=plan.key_name,
            duration_s=float(duration_s), stems=tuple(styled), style=style, tonic=plan.tonic,
            rubato=plan.tempo_map is not None,
        )

    plan = plan_song(rng, duration_s=float(duration_s), tempo_bpm_range=(lo_bpm, hi_bpm))
    plan.ride_share = float(ride_share)
    voices = plan_band(rng, plan, guest_class=guest_class, min_stems=min_stems, max_stems=max_stems)

    # Parts: the lead roles first (the counter lines and doublings follow the first melody), then the rest.
    buffers = [NoteBuffer() for _ in voices]
    lead = LeadLine()
    for leading in (True, False):
        for voice, buf in zip(voices, buffers, strict=True):
            if (voice.role in LEAD_ROLES) == leading:
                GENERATORS[voice.role](plan, voice, rng, buf, lead)

    stems = [
        Stem(program=0 if voice.is_drum else voice.program, is_drum=voice.is_drum, role=voice.role,
             notes=perform(plan, voice, buf, rng))
        for voice, buf in zip(voices, buffers, strict=True)
    ]
    order = sorted(range(len(stems)), key=lambda i: (ROLES.index(stems[i].role), i))
    log.debug(
        "composed %.1f s at %.1f bpm in %d/4, %s, groove %s, %d stems", duration_s, plan.tempo_bpm,
        plan.beats_per_bar, plan.key_name, plan.groove, len(stems),
    )
    return Song(
        tempo_bpm=plan.tempo_bpm, beats_per_bar=plan.beats_per_bar, key_name=plan.key_name,
        duration_s=float(duration_s), stems=tuple(stems[i] for i in order), tonic=plan.tonic,
    )
