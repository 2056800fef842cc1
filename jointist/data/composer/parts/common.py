"""What the part generators share: their signature, and the lead line a melody leaves for the parts that follow it.

Every generator has the signature :data:`PartGenerator`: it writes the notes of one voice, in seconds,
into a :class:`~jointist.data.composer.performance.NoteBuffer`, for the sections where the voice plays.
Melodies run first; the first one's line is kept in a :class:`LeadLine` so later melodies can double it
and counter lines can harmonise it. Other parts ignore the lead line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from jointist.data.composer.performance import NoteBuffer
from jointist.data.composer.plan import Plan, Voice

__all__ = ["LeadLine", "LineNote", "PartGenerator"]


@dataclass
class LineNote:
    """A note of a melodic line in beats, kept so another part can harmonise it."""

    beat: float
    end_beat: float
    pitch: int
    velocity: float
    straight: bool  # timing ignores the swing


@dataclass
class LeadLine:
    """The song's lead melody, once a melody part has written it (None before, or in a song without one)."""

    notes: list[LineNote] | None = None


PartGenerator = Callable[[Plan, Voice, np.random.Generator, NoteBuffer, LeadLine], None]
"""``(plan, voice, rng, buf, lead) -> None``: write one voice's notes into ``buf``."""
