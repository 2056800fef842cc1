"""The pad part: voice-led sustained chords that overlap a little at each change and tie common tones over."""

from __future__ import annotations

import numpy as np

from jointist.data.composer.draws import uniform
from jointist.data.composer.parts.common import LeadLine
from jointist.data.composer.performance import NoteBuffer
from jointist.data.composer.plan import Plan, Voice
from jointist.data.composer.theory import voice_lead

__all__ = ["play_pad"]


def play_pad(plan: Plan, voice: Voice, rng: np.random.Generator, buf: NoteBuffer, lead: LeadLine) -> None:
    """Held chords in the sections where ``voice`` plays (``lead`` is not used)."""
    low, high = voice.low, voice.high
    prev: list[int] | None = None
    overlap_s = uniform(rng, 0.06, 0.25)
    four = rng.random() < 0.5
    for section, start, end in plan.active_sections(voice):
        level = voice.level(section)
        held: dict[int, int] = {}  # pitch -> index in buf of a note still sounding
        for a, b, chord in plan.chords_in(start, end):
            voicing = voice_lead(rng, chord.pcs, low, high, prev)
            if four and len(voicing) == 3 and voicing[0] + 12 <= high:
                voicing = voicing + [voicing[0] + 12]
            prev = voicing
            off_s = plan.time_s(b) + overlap_s
            still: dict[int, int] = {}
            for pitch in voicing:
                if pitch in held:  # common tone: tie it over
                    buf.offset_s[held[pitch]] = off_s
                    still[pitch] = held[pitch]
                else:
                    buf.add(plan.time_s(a), off_s, pitch, level + uniform(rng, -3, 3))
                    still[pitch] = len(buf) - 1
            held = still
