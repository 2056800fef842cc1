"""The melodic parts: the lead melody (motif-based phrases, cached per kind of section so a chorus comes back as
a chorus), a second melody that doubles it an octave away, and the counter line that harmonises it or holds
the chords' guide tones."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from jointist.data.composer.draws import pick, randint
from jointist.data.composer.parts.common import LeadLine, LineNote
from jointist.data.composer.performance import NoteBuffer
from jointist.data.composer.plan import Plan, Voice
from jointist.data.composer.tables import CELLS_1, CELLS_2, TRIPLET
from jointist.data.composer.theory import fold, nearest_pc, scale_move

__all__ = ["play_counter", "play_melody"]

Rhythm = list[tuple[float, float, bool]]
"""(onset, duration) in beats and whether the timing is straight (ignores the swing), one per note."""


@dataclass
class _Phrase:
    events: Rhythm  # onsets from the phrase start
    steps: list[int]  # scale steps from the previous note, one per event
    legato: float
    anchor: int  # first note: semitones from the register's centre (then snapped to the chord)


def play_melody(plan: Plan, voice: Voice, rng: np.random.Generator, buf: NoteBuffer, lead: LeadLine) -> None:
    """A melody in the sections where ``voice`` plays; the first one becomes ``lead``, a doubling one copies it."""
    line = _melody(plan, voice, rng, buf, double=lead.notes if voice.doubles else None)
    if lead.notes is None:
        lead.notes = line


def play_counter(plan: Plan, voice: Voice, rng: np.random.Generator, buf: NoteBuffer, lead: LeadLine) -> None:
    """A harmony line a third or sixth under the lead, or held guide tones (third / seventh) of the chords."""
    melody = lead.notes or []
    low, high = voice.low, voice.high
    prev = (low + high) // 2
    for section, start, end in plan.active_sections(voice):
        level = voice.level(section)
        under = [n for n in melody if start - 1e-6 <= n.beat < end]
        if len(under) >= 4 and rng.random() < 0.55:
            interval = pick(rng, (-2, -5), (0.6, 0.4))
            for note in under:
                if note.end_beat - note.beat < 0.45 and rng.random() < 0.3:
                    continue
                pitch = fold(scale_move(note.pitch, interval, plan.scale_mask), low, high)
                buf.add(plan.time_s(note.beat, straight=note.straight),
                        plan.time_s(note.end_beat, straight=note.straight), pitch, level + note.velocity * 0.1 - 8)
            continue
        moving = rng.random() < 0.4
        for a, b, chord in plan.chords_in(start, end):
            guides = (chord.pcs[1], chord.pcs[3]) if len(chord.pcs) > 3 else (chord.pcs[1], chord.pcs[2])
            pitch = nearest_pc(prev, guides, low, high)
            if moving and b - a >= 2:
                mid = a + (b - a) / 2.0
                second = fold(scale_move(pitch, pick(rng, (-1, 1)), plan.scale_mask), low, high)
                buf.add(plan.time_s(a), plan.time_s(mid - 0.05), pitch, level)
                buf.add(plan.time_s(mid), plan.time_s(b - 0.05), second, level - 4.0)
                prev = second
            else:
                buf.add(plan.time_s(a), plan.time_s(b - 0.05), pitch, level)
                prev = pitch


def _melody(
    plan: Plan, voice: Voice, rng: np.random.Generator, buf: NoteBuffer, *, double: list[LineNote] | None = None
) -> list[LineNote]:
    """A monophonic lead; phrases are cached per kind of section, so a chorus comes back as a chorus.

    With ``double``, copy that line an octave or two away instead, in this voice's sections.
    """
    bpb = plan.beats_per_bar
    low, high = voice.low, voice.high
    centre = (low + high) // 2
    line: list[LineNote] = []
    if double is not None:
        shift = 12 * round((centre - np.mean([n.pitch for n in double])) / 12.0) if double else 0
        spans = [(a, b) for _, a, b in plan.active_sections(voice)]
        for note in double:
            if any(a - 1e-6 <= note.beat < b for a, b in spans):
                pitch = fold(note.pitch + int(shift), low, high)
                buf.add(plan.time_s(note.beat, straight=note.straight),
                        plan.time_s(note.end_beat, straight=note.straight), pitch, note.velocity - 6.0)
                line.append(LineNote(note.beat, note.end_beat, pitch, note.velocity, note.straight))
        return line

    cache: dict[str, tuple[int, list[_Phrase]]] = {}
    for section, start, end in plan.active_sections(voice):
        if section.kind not in cache:
            bars = 4 if section.n_bars >= 8 and rng.random() < 0.6 else 2
            density = 0.4 + 0.6 * section.energy
            cache[section.kind] = (bars, [_make_phrase(rng, plan, bars=bars, density=density) for _ in range(3)])
        bars, phrases = cache[section.kind]
        level = voice.level(section)
        n_phrases = int(math.ceil(section.n_bars / bars))
        for j in range(n_phrases):
            phrase = phrases[2] if (n_phrases >= 4 and j == 2) else phrases[j % 2]
            p_start = start + j * bars * bpb
            if p_start >= end - 1e-6:
                break
            if j > 0 and rng.random() < (0.2 if section.kind != "chorus" else 0.05):
                continue  # a rest phrase
            length = bars * bpb
            # The first phrase of a section starts from its own anchor (so a repeated section repeats its tune);
            # later ones continue from where the line is.
            pitch = centre + phrase.anchor if j == 0 or not line else line[-1].pitch
            for k, ((off, dur, straight), step) in enumerate(zip(phrase.events, phrase.steps, strict=True)):
                beat = p_start + off
                if beat >= end - 1e-6:
                    break
                if k == 0 and j > 0 and line:
                    step = step or 1
                if k > 0 or (j > 0 and line):
                    if abs(pitch - centre) > 8 and (pitch - centre) * step > 0:
                        step = -step  # drift back towards the middle of the register
                    cand = scale_move(pitch, step, plan.melody_mask) if step else pitch
                    if not low + 1 <= cand <= high - 1:
                        cand = scale_move(pitch, -step, plan.melody_mask) if step else pitch
                else:
                    cand = pitch
                in_bar = off % bpb
                strong = k == 0 or dur >= 1.5 or in_bar < 1e-6 or (bpb == 4 and abs(in_bar - 2) < 1e-6)
                if strong:
                    cand = nearest_pc(cand, plan.chord_at(beat).pcs, low, high)
                pitch = fold(cand, low, high)
                end_beat = min(beat + dur * phrase.legato, end)
                vel = level + 9.0 * math.sin(math.pi * off / length) + (5.0 if strong else 0.0) - (4.0 if dur < 0.5 else 0)
                buf.add(plan.time_s(beat, straight=straight), plan.time_s(end_beat, straight=straight), pitch, vel)
                line.append(LineNote(beat, end_beat, pitch, vel, straight))
    return line


def _bar_rhythm(rng: np.random.Generator, bpb: int, *, fast: bool, density: float) -> Rhythm:
    """The rhythm of one bar from one- and two-beat cells, now and then a triplet; sparser at low ``density``."""
    events: Rhythm = []
    beat = 0
    while beat < bpb:
        if beat + 2 <= bpb and rng.random() < 0.28:
            cells, span = CELLS_2, 2
        elif rng.random() < 0.05:
            events.extend((beat + o, d, True) for o, d in TRIPLET)
            beat += 1
            continue
        else:
            cells, span = CELLS_1, 1
        weights = [w * (0.2 if six and fast else 1.0) * ((1.6 - density) if not ev else 1.0) for ev, w, six in cells]
        chosen = pick(rng, cells, weights)[0]
        events.extend((beat + o, d, False) for o, d in chosen)
        beat += span
    return events


def _melody_steps(rng: np.random.Generator, n: int) -> list[int]:
    """Scale steps of a melodic contour: mostly steps, some repeats, leaps recovered by contrary steps."""
    steps: list[int] = []
    direction = 1 if rng.random() < 0.5 else -1
    last = 0
    for _ in range(n):
        if abs(last) >= 3:
            step = -int(math.copysign(1, last)) * pick(rng, (1, 2), (0.7, 0.3))
        else:
            r = rng.random()
            size = 0 if r < 0.14 else 1 if r < 0.7 else 2 if r < 0.88 else 3 if r < 0.96 else 4 if r < 0.985 else 7
            if rng.random() < 0.3:
                direction = -direction
            step = direction * size
        steps.append(step)
        last = step
    return steps


def _make_phrase(rng: np.random.Generator, plan: Plan, *, bars: int, density: float) -> _Phrase:
    """A phrase: a motif (first half), its repetition or a variation, and a cadence on a long note."""
    bpb = plan.beats_per_bar
    fast = plan.tempo_bpm > 135
    half = max(1, bars // 2)
    rhythms: list[Rhythm] = []
    steps: list[list[int]] = []
    for i in range(bars):
        if i < half:
            rhythm = _bar_rhythm(rng, bpb, fast=fast, density=density)
            if i == 0 and not rhythm:
                rhythm = [(0.0, 1.0, False)]
            rhythms.append(rhythm)
            steps.append(_melody_steps(rng, len(rhythm)))
        elif rng.random() < 0.65:  # repeat the motif bar (same rhythm, same contour or a new one)
            src = i % half
            rhythms.append(list(rhythms[src]))
            steps.append(list(steps[src]) if rng.random() < 0.7 else _melody_steps(rng, len(rhythms[src])))
        else:
            rhythm = _bar_rhythm(rng, bpb, fast=fast, density=density)
            rhythms.append(rhythm)
            steps.append(_melody_steps(rng, len(rhythm)))
    if bars >= 2:  # cadence: keep the start of the last bar, then a long note, maybe a rest
        land = 0.0 if rng.random() < 0.25 else (2.0 if bpb == 4 and rng.random() < 0.6 else 1.0)
        keep = [(o, min(d, land - o), s) for o, d, s in rhythms[-1] if o < land - 1e-6]
        finish = float(bpb) if rng.random() < 0.5 else bpb - 1.0
        rhythms[-1] = keep + [(land, max(finish - land, 1.0), False)]
        steps[-1] = steps[-1][: len(keep)] + [pick(rng, (-1, 1, -2, 0))]
    events = [(b * bpb + o, d, s) for b, bar in enumerate(rhythms) for o, d, s in bar]
    flat_steps = [s for bar in steps for s in bar]
    legato = pick(rng, (0.95, 0.82, 0.62), (0.55, 0.3, 0.15))
    return _Phrase(events, flat_steps, legato, randint(rng, -5, 5))
