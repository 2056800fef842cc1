"""The bass part: a pattern per section chosen for the groove (roots, fifths, octaves, approach notes, boogie and
reggae figures), whole or half notes in quiet sections, or a walking line in quarters."""

from __future__ import annotations

import numpy as np

from jointist.data.composer.classes import BASSOON, CONTRABASS, TUBA
from jointist.data.composer.draws import pick, pick_map, uniform
from jointist.data.composer.parts.common import LeadLine
from jointist.data.composer.performance import NoteBuffer
from jointist.data.composer.plan import Plan, Voice
from jointist.data.composer.tables import BASS_BY_GROOVE, BASS_PATTERNS_3, BASS_PATTERNS_4
from jointist.data.composer.theory import fold, nearest_pc, scale_move

__all__ = ["play_bass"]

_WALKERS = (CONTRABASS, TUBA, BASSOON)
"""Classes that half the time walk or play oom-pah whatever the groove."""


def play_bass(plan: Plan, voice: Voice, rng: np.random.Generator, buf: NoteBuffer, lead: LeadLine) -> None:
    """The bass line in the sections where ``voice`` plays (``lead`` is not used)."""
    bpb = plan.beats_per_bar
    low, high = voice.low, voice.high
    patterns = BASS_PATTERNS_4 if bpb == 4 else BASS_PATTERNS_3
    table = BASS_BY_GROOVE.get(plan.groove, BASS_BY_GROOVE["none"])
    if voice.class_index in _WALKERS and rng.random() < 0.5:
        table = {"walking": 0.5, "halves": 0.5} if bpb == 4 else {"walking": 0.5, "waltz": 0.5}
    home = low + 7
    prev = home

    def root_near(pc: int, ref: float) -> int:
        return nearest_pc(int(round(0.7 * ref + 0.3 * home)), (pc,), low, high)

    for section, start, end in plan.active_sections(voice):
        if section.energy < 0.42:
            name = pick(rng, ("whole", "halves") if bpb == 4 else ("whole", "waltz"))
        else:
            name = pick_map(rng, table)
        legato = pick(rng, (0.92, 0.75, 0.55), (0.55, 0.3, 0.15))
        level = voice.level(section)
        if name == "walking":
            prev = _walk(plan, rng, buf, start, end, low, high, prev, level)
            continue
        pattern = patterns.get(name, patterns["whole"])
        for bar in plan.bars(start, end):
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
                    pitch = nearest_pc(root + 4, (chord.pcs[1],), low, high)
                elif tone == "A":
                    target = root_near(plan.chord_at(beat + dur + 1e-3).root, root)
                    pitch = target + (1 if rng.random() < 0.5 else -1) if target != root else root + 7
                else:
                    semis = int(tone)
                    if semis in (3, 4, 9, 10):  # follow the chord's third and seventh
                        third = (chord.pcs[1] - chord.root) % 12
                        semis = semis - 4 + third if semis in (3, 4) else semis
                    pitch = root + semis
                pitch = fold(pitch, low, high)
                end_beat = min(beat + dur * legato, end)
                accent = 8.0 if pos == 0 else (-6.0 if pos % 1 else 0.0)
                buf.add(plan.time_s(beat), plan.time_s(end_beat), pitch, level + accent)
                prev = pitch


def _walk(
    plan: Plan, rng: np.random.Generator, buf: NoteBuffer, start: float, end: float, low: int, high: int, prev: int,
    level: float,
) -> int:
    """A walking line in quarters: root on each chord's first beat, chord and scale tones, then an approach.

    Returns the last pitch written.
    """
    beat = start
    direction = 1
    while beat < end - 1e-6:
        chord = plan.chord_at(beat)
        next_start = min(chord.end_beat, end)
        if abs(beat - chord.start_beat) < 1e-6 or abs(beat - start) < 1e-6:
            pitch = nearest_pc(prev, (chord.root,), low, high)
        elif beat + 1 >= next_start - 1e-6 and next_start < end:
            target = nearest_pc(prev, (plan.chord_at(next_start).root,), low, high)
            pitch = target - 1 if prev < target else target + 1
            if rng.random() < 0.3:
                pitch = scale_move(target, -1 if prev < target else 1, plan.scale_mask)
        else:
            if prev >= high - 3:
                direction = -1
            elif prev <= low + 3:
                direction = 1
            elif rng.random() < 0.2:
                direction = -direction
            if rng.random() < 0.5:
                pitch = scale_move(prev, direction, plan.scale_mask)
            else:
                pitch = nearest_pc(prev + 3 * direction, chord.pcs, low, high)
        pitch = fold(pitch, low, high)
        if pitch == prev and rng.random() < 0.7:
            pitch = fold(scale_move(prev, direction, plan.scale_mask), low, high)
        accent = 6.0 if abs(beat % plan.beats_per_bar) < 1e-6 else 0.0
        buf.add(plan.time_s(beat), plan.time_s(min(beat + 0.9, end)), pitch, level + accent + uniform(rng, -4, 4))
        prev = pitch
        beat += 1.0
    return prev
