"""The comping part: voice-led block chords or strummed guitar voicings in a rhythm pattern per section, pushes
that anticipate the next chord, and for pianos sometimes a left-hand bass note."""

from __future__ import annotations

import numpy as np

from jointist.data.composer.classes import (
    CLAVINET,
    DISTORTED_GUITAR_PROGRAMS,
    ELECTRIC_GUITAR,
    ELECTRIC_PIANO,
    PIANO,
)
from jointist.data.composer.draws import pick_map, uniform
from jointist.data.composer.parts.common import LeadLine
from jointist.data.composer.performance import NoteBuffer
from jointist.data.composer.plan import Plan, Voice
from jointist.data.composer.tables import (
    COMP_DEFAULT,
    COMP_PATTERNS_3,
    COMP_PATTERNS_4,
    COMP_WEIGHTS,
    PITCH_RANGES,
    STRUMMED,
)
from jointist.data.composer.theory import guitar_voicing, nearest_pc, voice_lead

__all__ = ["play_chords"]

_LEFT_HANDS = (PIANO, ELECTRIC_PIANO)
"""Classes that may add a bass note under each new chord."""
_FUNK_COMPERS = (CLAVINET, ELECTRIC_GUITAR)
"""Classes that favour sixteenth-note stabs over a funk groove."""


def play_chords(plan: Plan, voice: Voice, rng: np.random.Generator, buf: NoteBuffer, lead: LeadLine) -> None:
    """Chords in the sections where ``voice`` plays (``lead`` is not used)."""
    bpb = plan.beats_per_bar
    low, high = voice.low, voice.high
    c_lo = PITCH_RANGES[voice.class_index][0]
    strummed = voice.class_index in STRUMMED
    power = voice.class_index == ELECTRIC_GUITAR and voice.program in DISTORTED_GUITAR_PROGRAMS
    left_hand = voice.class_index in _LEFT_HANDS and rng.random() < 0.45
    extra_top = rng.random() < 0.35
    patterns = COMP_PATTERNS_4 if bpb == 4 else COMP_PATTERNS_3
    weights = dict(COMP_WEIGHTS.get(voice.class_index, COMP_DEFAULT))
    if bpb == 3:
        weights = {"sustain": 0.25, "waltz": 0.3, "quarters": 0.15, "dotted": 0.15, "strum": 0.4 if strummed else 0.1}
    elif plan.groove == "one_drop":
        weights["offbeat"] = weights.get("offbeat", 0.0) + 0.6
    elif plan.groove == "funk" and voice.class_index in _FUNK_COMPERS:
        weights["funk16"] = weights.get("funk16", 0.0) + 0.4
    prev: list[int] | None = None
    for section, start, end in plan.active_sections(voice):
        name = pick_map(rng, weights)
        if section.energy < 0.42 and rng.random() < 0.6:
            name = "sustain" if rng.random() < 0.6 or bpb == 3 else "halves"
        spread_s = uniform(rng, 0.008, 0.022) if strummed else (0.012 if rng.random() < 0.2 else 0.0)
        level = voice.level(section)
        hits: list[tuple[float, float, str]] = []  # (beat, duration in beats, stroke)
        if name == "sustain":
            hits = [(a, b - a, "D") for a, b, _ in plan.chords_in(start, end)]
        else:
            pattern = patterns.get(name, patterns["quarters"])
            for bar in plan.bars(start, end):
                for pos, dur, stroke in pattern:
                    beat = bar * bpb + pos
                    if beat < end - 1e-6:
                        hits.append((beat, dur, stroke))
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
                    voicing = guitar_voicing(chord.pcs, low, high, power=power)
                else:
                    voicing = voice_lead(rng, chord.pcs, low, high, prev)
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
                bass = nearest_pc(voicing[0] - 12, (chord.root,), max(c_lo, 28), voicing[0] - 1)
                buf.add(onset0, plan.time_s(min(chord.end_beat, end)), bass, level + 4.0)
