"""The hits part: sparse accents whose style follows the class. Timpani play roots and roll into the next
section, a reverse cymbal swells into it, other percussive classes keep a sparse ostinato, effects swell on
section starts, and bells and orchestra hits mark the section start and some chord changes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from jointist.data.composer.classes import (
    PERCUSSIVE,
    REVERSE_CYMBAL_PROGRAM,
    SOUND_EFFECTS,
    STRINGS,
    SYNTH_EFFECTS,
    TIMPANI,
)
from jointist.data.composer.draws import pick, randint
from jointist.data.composer.parts.common import LeadLine
from jointist.data.composer.performance import NoteBuffer
from jointist.data.composer.plan import Plan, Section, Voice
from jointist.data.composer.theory import fold, nearest_pc, voice_lead

__all__ = ["play_hits"]

_SectionHits = Callable[[Plan, Voice, np.random.Generator, NoteBuffer, Section, float, float], None]
"""``(plan, voice, rng, buf, section, start beat, end beat) -> None``: the hits of one section."""


def play_hits(plan: Plan, voice: Voice, rng: np.random.Generator, buf: NoteBuffer, lead: LeadLine) -> None:
    """Accents in the sections where ``voice`` plays (``lead`` is not used)."""
    play_section = _style(voice)
    for section, start, end in plan.active_sections(voice):
        play_section(plan, voice, rng, buf, section, start, end)


def _style(voice: Voice) -> _SectionHits:
    """How a voice plays its hits, by class (and program, for the reverse cymbal)."""
    if voice.class_index == TIMPANI:
        return _timpani
    if voice.class_index == PERCUSSIVE:
        return _swell if voice.program == REVERSE_CYMBAL_PROGRAM else _ostinato
    if voice.class_index in (SYNTH_EFFECTS, SOUND_EFFECTS):
        return _effects
    return _accents


def _timpani(
    plan: Plan, voice: Voice, rng: np.random.Generator, buf: NoteBuffer, section: Section, start: float, end: float
) -> None:
    """Roots (now and then fifths) on the first chord and some changes, and a crescendo roll into the next section."""
    low, high = voice.low, voice.high
    level = voice.level(section)
    for i, (a, _, chord) in enumerate(plan.chords_in(start, end)):
        if i == 0 or rng.random() < 0.35:
            tone = chord.root if i == 0 or rng.random() < 0.7 else chord.pcs[2]
            pitch = nearest_pc(low + 4, (tone,), low, high)
            buf.add(plan.time_s(a), plan.time_s(min(a + 1.5, end)), pitch, level + (10.0 if i == 0 else 0.0))
    if plan.next_section(section) is not None and end - start >= plan.beats_per_bar and rng.random() < 0.5:
        roll_beats = pick(rng, (1.0, 2.0))
        step = 0.25 if plan.beat_s / 4 <= 0.12 else 0.125
        pitch = nearest_pc(low + 4, (plan.chord_at(end - 0.5).root,), low, high)
        n = int(round(roll_beats / step))
        for k in range(n):
            beat = end - roll_beats + k * step
            buf.add(plan.time_s(beat, straight=True), plan.time_s(beat + step * 0.9, straight=True), pitch,
                    level - 25.0 + 35.0 * k / max(n - 1, 1))


def _swell(
    plan: Plan, voice: Voice, rng: np.random.Generator, buf: NoteBuffer, section: Section, start: float, end: float
) -> None:
    """A reverse cymbal: one swell over the section's last bar into the next section."""
    length = min(float(plan.beats_per_bar), end - start)
    buf.add(plan.time_s(end - length), plan.time_s(end), fold(60, voice.low, voice.high), voice.level(section))


def _ostinato(
    plan: Plan, voice: Voice, rng: np.random.Generator, buf: NoteBuffer, section: Section, start: float, end: float
) -> None:
    """Taiko, toms, woodblock, agogo, steel drums: a sparse rhythm on roots and fifths, in most bars."""
    bpb = plan.beats_per_bar
    low, high = voice.low, voice.high
    mid = (low + high) // 2
    level = voice.level(section)
    rhythm = pick(rng, ((0.0,), (0.0, 2.0), (0.0, 1.5, 3.0), (0.0, 0.75, 1.5, 2.5, 3.0)), (0.3, 0.3, 0.25, 0.15))
    for i, bar in enumerate(plan.bars(start, end)):
        if i == 0 or rng.random() < 0.45 + 0.5 * section.energy:
            for k, pos in enumerate(p for p in rhythm if p < bpb):
                beat = bar * bpb + pos
                if beat >= end - 1e-6:
                    break
                chord = plan.chord_at(beat)
                tone = chord.root if k % 2 == 0 else chord.pcs[2]
                buf.add(plan.time_s(beat), plan.time_s(min(beat + 0.5, end)),
                        nearest_pc(mid - 4, (tone,), low, high), level + (8.0 if pos == 0 else 0.0))


def _effects(
    plan: Plan, voice: Voice, rng: np.random.Generator, buf: NoteBuffer, section: Section, start: float, end: float
) -> None:
    """A swell on the section start and a few more in later bars; synth effects on chord tones, sound effects
    anywhere in the register."""
    bpb = plan.beats_per_bar
    low, high = voice.low, voice.high
    mid = (low + high) // 2
    level = voice.level(section)
    tonal = voice.class_index == SYNTH_EFFECTS
    chord = plan.chords_in(start, end)[0][2]
    length = min(pick(rng, (2.0, 4.0, float(2 * bpb))), end - start)
    pitch = nearest_pc(mid, chord.pcs, low, high) if tonal else randint(rng, mid - 6, mid + 6)
    buf.add(plan.time_s(start), plan.time_s(start + length), pitch, level)
    for bar in plan.bars(start, end)[1:]:
        if rng.random() < 0.1 + 0.3 * section.energy:
            beat = bar * bpb + randint(rng, 0, bpb - 1)
            length = min(pick(rng, (1.0, 2.0, 3.0)), end - beat)
            chord = plan.chord_at(beat)
            pitch = nearest_pc(mid + randint(rng, -5, 5), chord.pcs, low, high) if tonal else randint(rng, low, high)
            if length > 0.2:
                buf.add(plan.time_s(beat), plan.time_s(beat + length), pitch, level - 6.0)


def _accents(
    plan: Plan, voice: Voice, rng: np.random.Generator, buf: NoteBuffer, section: Section, start: float, end: float
) -> None:
    """Bells and orchestra hits (strings play the chord): on the section start and on some chord changes."""
    low, high = voice.low, voice.high
    mid = (low + high) // 2
    level = voice.level(section)
    for i, (a, _, chord) in enumerate(plan.chords_in(start, end)):
        if i == 0 or rng.random() < 0.4:
            if voice.class_index == STRINGS:
                for pitch in voice_lead(rng, chord.pcs[:3], low, high, None):
                    buf.add(plan.time_s(a), plan.time_s(min(a + 0.5, end)), pitch, level + 6.0)
            else:
                pitch = nearest_pc(mid + 5, (chord.root,), low, high)
                buf.add(plan.time_s(a), plan.time_s(min(a + 2.0, end)), pitch, level)
