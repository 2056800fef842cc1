"""The arpeggio part: the chord's tones over one or two octaves, up, down, up-and-down or broken, in eighths,
triplets or sixteenths, each note left ringing a little."""

from __future__ import annotations

import numpy as np

from jointist.data.composer.classes import ACOUSTIC_GUITAR, CHROMATIC_PERCUSSION, ETHNIC, HARP, PIANO
from jointist.data.composer.draws import pick
from jointist.data.composer.parts.common import LeadLine
from jointist.data.composer.performance import NoteBuffer
from jointist.data.composer.plan import Plan, Voice
from jointist.data.composer.theory import pc_at_or_above

__all__ = ["play_arpeggio"]

_RINGING = (PIANO, HARP, ACOUSTIC_GUITAR, ETHNIC, CHROMATIC_PERCUSSION)
"""Classes whose arpeggio notes ring on for about two steps (others for about one)."""


def play_arpeggio(plan: Plan, voice: Voice, rng: np.random.Generator, buf: NoteBuffer, lead: LeadLine) -> None:
    """Arpeggios in the sections where ``voice`` plays (``lead`` is not used)."""
    bpb = plan.beats_per_bar
    low, high = voice.low, voice.high
    ring = 1.8 if voice.class_index in _RINGING else 0.9
    fast_ok = plan.tempo_bpm <= 130 and plan.swing < 0.1
    for section, start, end in plan.active_sections(voice):
        rate = pick(rng, (2, 3, 4), (0.5, 0.2, 0.3 if fast_ok else 0.0))  # notes per beat
        shape = pick(rng, ("up", "down", "updown", "broken"), (0.4, 0.15, 0.3, 0.15))
        octaves = 2 if rng.random() < 0.5 else 1
        level = voice.level(section)
        step = 1.0 / rate
        straight = rate == 3
        for a, b, chord in plan.chords_in(start, end):
            tones = [pc_at_or_above(low, chord.root)]
            while len(tones) < len(chord.pcs) * octaves + 1:
                p = pc_at_or_above(tones[-1] + 1, chord.pcs[len(tones) % len(chord.pcs)])
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
