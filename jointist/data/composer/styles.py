"""Styles besides pop: classical chamber and orchestral textures, solo and accompanied piano, and jazz.

Users transcribe chorales, fugues, string quartets, wind ensembles, piano pieces, orchestral music
and jazz, so the corpus holds them too. A non-pop song shares the pop composer's machinery (the
:class:`~jointist.data.composer.plan.Plan`, :class:`~jointist.data.composer.plan.Voice` and
:func:`~jointist.data.composer.performance.perform`) but is planned and written here:

- **Frame and form.** A tempo from the style's own range, 4/4 or 3/4, a major or minor key (minor with
  the raised leading tone in its dominant), and phrases of 2, 4 or 8 bars, each with a dynamic level.
- **Harmony.** Functional progressions (tonic -> predominant -> dominant -> tonic, with deceptive turns)
  and a cadence at the end of each phrase: half cadences inside a period, authentic ones at its end.
  Chorales change chord every beat; jazz uses ii-V-I turnarounds in seventh chords.
- **Time.** A tempo map (:attr:`Plan.tempo_map`): slow rubato drift, ritardandos into cadences,
  fermatas on chorale cadences, and now and then a new tempo at a phrase boundary. Jazz keeps a
  steady swing.
- **Dynamics.** Every phrase swells to its middle and falls back (a hairpin around its level).
- **Textures.**
  ``chorale``: four voices (strings, brass, winds, voices, organ or piano) voice-led chord by chord,
  with passing tones; ``counterpoint``: a subject answered at the fifth by 2-4 voices entering one
  after another, then free counterpoint and later entries; ``chamber``: string quartet, wind quintet
  or piano trio, a legato tune passed between instruments over repeated, sustained or Alberti
  accompaniment and a bass line; ``piano``: solo piano (tune over Alberti, broken, block or waltz left
  hand) or a solo instrument accompanied by the piano; ``orchestral``: sustained strings, a tune and a
  countermelody, bass, brass chords in loud phrases, harp arpeggios and timpani at cadences;
  ``jazz``: ride-cymbal swing, walking bass, shell-voiced comping and a bebop-like lead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from jointist.data.composer.classes import (
    ACOUSTIC_GUITAR,
    BASS,
    BASSOON,
    BRASS,
    CELLO,
    CHROMATIC_PERCUSSION,
    CLARINET,
    CONTRABASS,
    DRUM_KIT,
    ELECTRIC_GUITAR,
    ELECTRIC_PIANO,
    FLUTE,
    HARP,
    HARPSICHORD,
    HORN,
    OBOE,
    ORGAN,
    PIANO,
    PICCOLO,
    RECORDER,
    SAXOPHONE,
    STRINGS,
    TIMPANI,
    TROMBONE,
    TRUMPET,
    TUBA,
    VIOLA,
    VIOLIN,
    VOICE,
)
from jointist.data.composer.draws import pick, pick_map, randint, uniform
from jointist.data.composer.performance import NoteBuffer
from jointist.data.composer.plan import Chord, Plan, Section, Voice
from jointist.data.composer.tables import KIT, MODES, PITCH_RANGES
from jointist.data.composer.theory import diatonic_chord, nearest_pc, pc_mask, scale_move
from jointist.instruments import by_index

__all__ = ["STYLES", "STYLE_CLASSES", "compose_style"]

STYLES = ("pop", "chorale", "counterpoint", "chamber", "piano", "orchestral", "jazz")
"""Every style the composer writes; ``pop`` is :func:`~jointist.data.composer.compose.compose_song`'s own."""

STYLE_TEMPI: dict[str, tuple[float, float]] = {
    "chorale": (56, 96),
    "counterpoint": (64, 120),
    "chamber": (56, 150),
    "piano": (56, 160),
    "orchestral": (56, 140),
    "jazz": (96, 220),
}
"""Tempo range (bpm) of each style, intersected with the caller's range."""

_CLASSICAL = (
    PIANO,
    HARPSICHORD,
    ORGAN,
    VIOLIN,
    VIOLA,
    CELLO,
    CONTRABASS,
    STRINGS,
    HARP,
    TIMPANI,
    VOICE,
    TRUMPET,
    TROMBONE,
    TUBA,
    HORN,
    BRASS,
    OBOE,
    BASSOON,
    CLARINET,
    PICCOLO,
    FLUTE,
    RECORDER,
)
STYLE_CLASSES: dict[str, frozenset[int]] = {
    "chorale": frozenset(_CLASSICAL) - {HARPSICHORD, HARP, TIMPANI, PICCOLO},
    "counterpoint": frozenset(
        {
            PIANO,
            HARPSICHORD,
            ORGAN,
            VIOLIN,
            VIOLA,
            CELLO,
            CONTRABASS,
            FLUTE,
            OBOE,
            CLARINET,
            BASSOON,
            RECORDER,
            HORN,
            TRUMPET,
            TROMBONE,
        }
    ),
    "chamber": frozenset({PIANO, VIOLIN, VIOLA, CELLO, CONTRABASS, FLUTE, OBOE, CLARINET, HORN, BASSOON, HARP}),
    "piano": frozenset({PIANO, VIOLIN, CELLO, FLUTE, CLARINET, OBOE, VOICE, TRUMPET, SAXOPHONE, HORN}),
    "orchestral": frozenset(_CLASSICAL),
    "jazz": frozenset(
        {
            PIANO,
            ELECTRIC_PIANO,
            ORGAN,
            ACOUSTIC_GUITAR,
            ELECTRIC_GUITAR,
            BASS,
            CONTRABASS,
            SAXOPHONE,
            TRUMPET,
            TROMBONE,
            CLARINET,
            FLUTE,
            CHROMATIC_PERCUSSION,
            DRUM_KIT,
            VOICE,
        }
    ),
}
"""The classes a style's ensembles use; a song of a style can host a guest class only from its set."""

PROGRAMS: dict[int, tuple[int, ...]] = {
    PIANO: (0, 0, 1),
    STRINGS: (48, 49, 48),
    ORGAN: (19, 16, 20),
    VOICE: (52, 53),
    CHROMATIC_PERCUSSION: (11, 12),
    BASS: (32, 33),
    ELECTRIC_GUITAR: (26,),
    ACOUSTIC_GUITAR: (24,),
    ELECTRIC_PIANO: (4, 5),
    BRASS: (61,),
    SAXOPHONE: (65, 66, 64),
    TRUMPET: (56,),
    HORN: (60,),
}
"""GM programs these styles prefer (classical organ = church organ, strings = ensembles, vibraphone, ...)."""

# transitions between scale degrees (0 = tonic) of functional harmony
_NEXT: dict[int, dict[int, float]] = {
    0: {3: 0.3, 4: 0.22, 5: 0.2, 1: 0.18, 0: 0.1},
    1: {4: 0.75, 6: 0.1, 3: 0.15},
    2: {5: 0.6, 3: 0.4},
    3: {4: 0.45, 1: 0.2, 0: 0.25, 6: 0.1},
    4: {0: 0.7, 5: 0.2, 3: 0.1},
    5: {1: 0.4, 3: 0.4, 4: 0.2},
    6: {0: 0.9, 2: 0.1},
}

# ----- frame, harmony, time ---------------------------------------------------------------------------------------------


def plan_style(
    rng: np.random.Generator, style: str, *, duration_s: float, tempo_bpm_range: tuple[float, float]
) -> Plan:
    """Frame, phrases, functional harmony and tempo map of a song of ``style`` (not ``pop``)."""
    lo, hi = STYLE_TEMPI[style]
    lo, hi = max(lo, tempo_bpm_range[0]), min(hi, tempo_bpm_range[1])
    if lo > hi:  # the caller's range misses the style's: its nearest end
        lo = hi = min(max(STYLE_TEMPI[style][0], tempo_bpm_range[0]), tempo_bpm_range[1])
    tempo = round(uniform(rng, lo, hi), 2)
    beats_per_bar = 4 if style == "jazz" or rng.random() < 0.72 else 3
    tonic = randint(rng, 0, 11)
    mode = "major" if rng.random() < (0.55 if style != "jazz" else 0.75) else "minor"
    scale = tuple((tonic + iv) % 12 for iv in MODES[mode])
    plan = Plan(
        duration_s=float(duration_s),
        tempo_bpm=tempo,
        beats_per_bar=beats_per_bar,
        swing=0.0,
        tonic=tonic,
        mode=mode,
        scale_mask=pc_mask(scale),
        melody_mask=pc_mask(scale),
        groove="none",
    )
    # rubato and ritardandos only slow the music by so much: plan enough bars at the nominal tempo
    n_bars = max(2, int(math.ceil(plan.end_beat * 1.45 / beats_per_bar)))
    phrase = 2 if style == "chorale" and rng.random() < 0.3 else pick(rng, (4, 8), (0.8, 0.2))
    level = uniform(rng, 0.3, 0.8)
    bar = 0
    while bar < n_bars:
        level = min(max(level + uniform(rng, -0.3, 0.3), 0.1), 1.0)
        plan.sections.append(Section("verse", bar, phrase, level))
        bar += phrase
    if style == "chorale":
        unit = 1.0
    elif style == "jazz":
        unit = pick(rng, (float(beats_per_bar), 2.0), (0.5, 0.5))
    else:
        unit = float(beats_per_bar) if beats_per_bar == 3 or rng.random() < 0.6 else 2.0
    _harmony(rng, plan, scale, unit, jazz=style == "jazz")
    if style == "jazz":
        plan.swing = uniform(rng, 0.1, 0.19) if tempo < 200 else 0.0
    else:
        plan.tempo_map = _tempo_map(rng, plan, style)
    return plan


def _chord(scale: Sequence[int], degree: int, mode: str, *, seventh: bool) -> tuple[int, ...]:
    """A diatonic chord; in minor the dominant takes the raised leading tone (harmonic minor)."""
    if mode == "minor" and degree == 6:
        degree = 4  # the subtonic triad is not functional: the dominant instead
    return diatonic_chord(scale, degree, seventh=seventh, raise_third=mode == "minor" and degree == 4)


def _harmony(rng: np.random.Generator, plan: Plan, scale: Sequence[int], unit: float, *, jazz: bool) -> None:
    """One chord every ``unit`` beats, a progression per phrase that ends in a cadence."""
    bpb = plan.beats_per_bar
    for p, section in enumerate(plan.sections):
        n = max(2, int(round(section.n_bars * bpb / unit)))
        final = p == len(plan.sections) - 1 or p % 2 == 1
        if jazz:
            turn = pick(rng, ((1, 4, 0, 0), (0, 5, 1, 4), (2, 5, 1, 4), (1, 4, 0, 5), (3, 6, 2, 5)))
            degrees = [turn[i % 4] for i in range(n - 2)] + ([1, 4] if not final else [4, 0])
        else:
            degrees = [0] if p == 0 or rng.random() < 0.5 else [pick_map(rng, _NEXT[0])]
            while len(degrees) < n - 2:
                degrees.append(pick_map(rng, _NEXT[degrees[-1]]))
            degrees = degrees[: n - 2] + ([4, 0] if final else [pick(rng, (1, 3)), 4])
            degrees = degrees[-n:]
        start = float(section.start_bar * bpb)
        for i, degree in enumerate(degrees):
            seventh = jazz or (degree == 4 and rng.random() < 0.35) or (degree == 1 and rng.random() < 0.2)
            b = start + i * unit
            end = start + section.n_bars * bpb if i == len(degrees) - 1 else b + unit
            plan.chords.append(Chord(b, end, _chord(scale, degree, plan.mode, seventh=seventh)))
    plan.chord_starts = [c.start_beat for c in plan.chords]


def _tempo_map(rng: np.random.Generator, plan: Plan, style: str) -> tuple[np.ndarray, np.ndarray]:
    """(beats, seconds) on a grid of quarter beats: drift, phrase-end ritardandos, fermatas, new tempi."""
    bpb = plan.beats_per_bar
    total = (plan.sections[-1].start_bar + plan.sections[-1].n_bars) * bpb
    grid = np.arange(0.0, total + 0.25, 0.25)
    depth = {"chorale": 0.02, "counterpoint": 0.02, "chamber": 0.06, "piano": 0.08, "orchestral": 0.05}[style]
    drift = np.zeros_like(grid)
    for _ in range(3):
        period = uniform(rng, 2.0, 8.0) * bpb
        drift += uniform(rng, 0.0, depth) * np.sin(2 * np.pi * grid / period + uniform(rng, 0, 2 * np.pi))
    tempo = np.full_like(grid, plan.tempo_bpm)
    current = plan.tempo_bpm
    for p, section in enumerate(plan.sections):
        a = section.start_bar * bpb
        b = a + section.n_bars * bpb
        if p and rng.random() < 0.15:  # a new tempo for the next phrase, reached over a beat
            current = min(max(current * uniform(rng, 0.8, 1.25), 40.0), 220.0)
        tempo[(grid >= a) & (grid < b)] = current
        last = p == len(plan.sections) - 1
        rit_beats = uniform(rng, 1.0, 2.5) if rng.random() < (0.9 if last else 0.6) else 0.0
        rit = uniform(rng, 0.3, 0.5) if last else uniform(rng, 0.08, 0.25)
        if rit_beats:
            into = (grid >= b - rit_beats) & (grid < b)
            tempo[into] /= 1.0 + rit * (grid[into] - (b - rit_beats)) / rit_beats
        if style == "chorale" and rng.random() < 0.8:  # the fermata: the cadence chord held longer
            hold = (grid >= b - 1.0) & (grid < b)
            tempo[hold] /= uniform(rng, 1.5, 2.2)
    tempo = tempo * (1.0 + drift)
    secs = np.concatenate([[0.0], np.cumsum(0.25 * 60.0 / tempo[:-1])])
    return grid, secs


# ----- voices and dynamics ---------------------------------------------------------------------------------------------


def _voice(
    rng: np.random.Generator, role: str, class_index: int, register: tuple[int, int], velocity: float = 80.0
) -> Voice:
    lo, hi = PITCH_RANGES[class_index]
    low, high = max(lo, register[0]), min(hi, register[1])
    if high - low < 10:  # the instrument's own range where the register barely fits it
        centre = (register[0] + register[1]) // 2
        low = min(max(centre - 7, lo), hi - 14)
        high = low + 14
    programs = PROGRAMS.get(class_index) or by_index(class_index).programs or (0,)
    return Voice(role, class_index, pick(rng, programs), low, high, velocity, 1.0)


def _level(plan: Plan, voice: Voice, beat: float, accent: float = 0.0) -> float:
    """Velocity at ``beat``: the phrase's level with a hairpin (swelling to its middle), plus ``accent``."""
    bpb = plan.beats_per_bar
    section = plan.sections[min(int(beat // (plan.sections[0].n_bars * bpb)), len(plan.sections) - 1)]
    a = section.start_bar * bpb
    pos = min(max((beat - a) / (section.n_bars * bpb), 0.0), 1.0)
    downbeat = 5.0 if abs(beat / bpb - round(beat / bpb)) < 1e-6 else 0.0
    base = voice.base_velocity * (0.65 + 0.55 * section.energy)
    return base + 14.0 * math.sin(math.pi * pos) - 6.0 + downbeat + accent


def _add(
    plan: Plan,
    voice: Voice,
    buf: NoteBuffer,
    beat: float,
    end: float,
    pitch: int,
    accent: float = 0.0,
    legato: float = 0.95,
) -> None:
    if end - beat <= 1e-6:
        return
    on = plan.time_s(beat)
    off = on + (plan.time_s(end) - on) * legato
    buf.add(on, off, int(pitch), _level(plan, voice, beat, accent))


# ----- the textures ----------------------------------------------------------------------------------------------------

_SATB = ((60, 79), (55, 72), (48, 67), (38, 60))


def _chorale_voicing(
    rng: np.random.Generator, chord: Chord, voices: Sequence[Voice], prev: list[int] | None, bass_third: bool
) -> list[int]:
    """Soprano, alto, tenor and bass of a chord: all tones present, no crossing, close to ``prev``."""
    bass_pc = chord.pcs[1] if bass_third else chord.pcs[0]
    b_lo, b_hi = voices[3].low, voices[3].high
    target = prev[3] if prev else (b_lo + b_hi) // 2
    bass = nearest_pc(target, (bass_pc,), b_lo, b_hi)
    cands = [[p for p in range(v.low, v.high + 1) if p % 12 in chord.pcs] for v in voices[:3]]
    best, best_cost = None, math.inf
    for s in cands[0]:
        for a in cands[1]:
            if not a < s or s - a > 12:
                continue
            for t in cands[2]:
                if not bass < t < a or a - t > 12:
                    continue
                pcs = {s % 12, a % 12, t % 12, bass % 12}
                cost = 4.0 * (chord.pcs[1] not in pcs) + 2.0 * (chord.pcs[0] not in pcs)
                cost += 1.0 * (len(chord.pcs) > 3 and chord.pcs[3] not in pcs)
                if prev:
                    cost += abs(s - prev[0]) * 1.2 + abs(a - prev[1]) + abs(t - prev[2])
                else:
                    cost += abs(s - 72) * 0.3
                cost += 0.8 * rng.random()
                if cost < best_cost:
                    best, best_cost = [s, a, t, bass], cost
    if best is None:  # ranges too narrow for a full voicing: chord tones nearest each voice's middle
        best = [nearest_pc((v.low + v.high) // 2, chord.pcs, v.low, v.high) for v in voices[:3]] + [bass]
    return best


def _write_chorale(rng: np.random.Generator, plan: Plan, voices: Sequence[Voice], bufs: Sequence[NoteBuffer]) -> None:
    """Four voices chord by chord; a third between two chords is filled with a passing tone now and then."""
    prev: list[int] | None = None
    chords = [c for c in plan.chords if c.start_beat < plan.end_beat]
    pitches = []
    for i, chord in enumerate(chords):
        cadence = i + 1 == len(chords) or chords[i + 1].start_beat % (plan.sections[0].n_bars * plan.beats_per_bar) == 0
        prev = _chorale_voicing(rng, chord, voices, prev, bass_third=not cadence and rng.random() < 0.25)
        pitches.append(prev)
    for k, (voice, buf) in enumerate(zip(voices, bufs, strict=True)):
        held_until = -1.0
        for i, chord in enumerate(chords):
            a, b = chord.start_beat, chord.end_beat
            if a < held_until - 1e-6:
                continue  # tied over from the previous chord
            p = pitches[i][k]
            nxt = pitches[i + 1][k] if i + 1 < len(chords) else None
            if nxt is not None and 3 <= abs(nxt - p) <= 4 and b - a <= 1.0 + 1e-6 and rng.random() < 0.4:
                mid = a + (b - a) / 2
                _add(plan, voice, buf, a, mid, p)
                _add(plan, voice, buf, mid, b, scale_move(p, 1 if nxt > p else -1, plan.scale_mask), -4.0)
                continue
            end = b
            j = i + 1
            while k < 3 and j < len(chords) and pitches[j][k] == p and rng.random() < 0.5:
                end = chords[j].end_beat  # an inner voice holds a common tone
                j += 1
            held_until = end
            _add(plan, voice, buf, a, end, p)


_CELLS_4 = (
    (1, 1, 1, 1),
    (2, 1, 1),
    (1, 1, 2),
    (1.5, 0.5, 1, 1),
    (0.5, 0.5, 1, 2),
    (2, 2),
    (1, 0.5, 0.5, 2),
    (0.5, 0.5, 0.5, 0.5, 1, 1),
    (3, 1),
    (4,),
)
_CELLS_3 = ((1, 1, 1), (2, 1), (1.5, 0.5, 1), (0.5, 0.5, 1, 1), (3,), (1, 0.5, 0.5, 1))


def _cell(rng: np.random.Generator, bpb: int, *, legato: bool) -> tuple[float, ...]:
    cells = _CELLS_4 if bpb == 4 else _CELLS_3
    weights = [1.0 + (2.0 if legato and sum(c) / len(c) >= 1.5 else 0.0) for c in cells]
    return tuple(float(d) for d in pick(rng, cells, weights))


def _write_melody(
    rng: np.random.Generator,
    plan: Plan,
    voice: Voice,
    buf: NoteBuffer,
    spans: Sequence[tuple[float, float]],
    *,
    legato: bool,
) -> None:
    """A phrase-shaped tune: it arches from the middle of its register to a peak and back down to the
    cadence, with chord tones on the strong beats and scale steps (now and then a leap) between."""
    bpb = plan.beats_per_bar
    centre = voice.low + 0.4 * (voice.high - voice.low)
    reach = min(9.0, 0.45 * (voice.high - voice.low))
    pitch = nearest_pc(int(centre), plan.chords[0].pcs, voice.low, voice.high)
    for a, b in spans:
        bar = a
        peak = uniform(rng, 0.4, 0.75)
        home = centre + uniform(rng, -3.0, 3.0)
        motif = _cell(rng, bpb, legato=legato)
        while bar < b - 1e-6:
            cell = motif if rng.random() < 0.45 else _cell(rng, bpb, legato=legato)
            last_bar = bar + bpb >= b - 1e-6
            if last_bar:
                cell = (float(bpb),) if rng.random() < 0.6 else (1.0, float(bpb - 1))
            beat = bar
            for dur in cell:
                chord = plan.chord_at(beat)
                pos = (beat - a) / max(b - a, 1e-6)
                arch = (
                    math.sin(0.5 * math.pi * pos / peak)
                    if pos < peak
                    else math.cos(0.5 * math.pi * (pos - peak) / (1 - peak))
                )
                target = home + reach * arch
                if abs(beat - round(beat)) < 1e-6 and (beat - bar) % 2 == 0:
                    pitch = nearest_pc(int(round(target + uniform(rng, -2.0, 2.0))), chord.pcs, voice.low, voice.high)
                elif rng.random() < 0.15:  # a leap to another chord tone
                    pitch = nearest_pc(pitch + pick(rng, (-5, 5)), chord.pcs, voice.low, voice.high)
                else:
                    toward = 1 if target > pitch else -1
                    pitch = scale_move(pitch, toward if rng.random() < 0.75 else -toward, plan.scale_mask)
                if last_bar and dur == cell[-1]:
                    pitch = nearest_pc(
                        pitch, (chord.pcs[0],) if rng.random() < 0.7 else chord.pcs[:3], voice.low, voice.high
                    )
                pitch = min(max(pitch, voice.low), voice.high)
                _add(plan, voice, buf, beat, min(beat + dur, b), pitch, legato=0.98 if legato else 0.85)
                beat += dur
            bar += bpb


def _write_accompaniment(
    rng: np.random.Generator,
    plan: Plan,
    voice: Voice,
    buf: NoteBuffer,
    spans: Sequence[tuple[float, float]],
    pattern: str,
) -> None:
    """Chords under a tune: sustain, repeated eighths, Alberti, broken chords, block chords or a waltz."""
    prev: list[int] | None = None
    bpb = plan.beats_per_bar
    for a, b in spans:
        for ca, cb, chord in plan.chords_in(a, b):
            pcs = chord.pcs[:3] if len(chord.pcs) > 3 and rng.random() < 0.5 else chord.pcs
            mid = (voice.low + voice.high) // 2
            target = (prev[0] + mid - 4) // 2 if prev else mid - 4  # near the last root, pulled to the register
            root = nearest_pc(target, (pcs[0],), voice.low, voice.high - 7)
            stack = [root]
            for pc in list(pcs[1:]) + [pcs[0]]:
                nxt = stack[-1] + 1
                while nxt % 12 != pc:
                    nxt += 1
                stack.append(nxt)
            stack = [p for p in stack if p <= voice.high] or [root]
            prev = stack
            if pattern == "sustain":
                for p in stack[: pick(rng, (1, 2, 3))]:
                    _add(plan, voice, buf, ca, cb, p, -6.0)
            elif pattern == "repeated":
                p = stack[min(1, len(stack) - 1)]
                beat = ca
                while beat < cb - 1e-6:
                    _add(plan, voice, buf, beat, min(beat + 0.5, cb), p, -10.0, legato=0.7)
                    beat += 0.5
            elif pattern in ("alberti", "broken"):
                order = [0, 2, 1, 2] if pattern == "alberti" and len(stack) >= 3 else list(range(len(stack)))
                step = 0.5 if plan.tempo_bpm < 120 or pattern == "alberti" else 1.0
                if pattern == "broken" and plan.tempo_bpm < 80 and rng.random() < 0.5:
                    step = 0.25
                beat, i = ca, 0
                while beat < cb - 1e-6:
                    _add(plan, voice, buf, beat, min(beat + step, cb), stack[order[i % len(order)]], -10.0, legato=0.9)
                    beat += step
                    i += 1
            elif pattern == "waltz" and bpb == 3:
                beat = ca
                while beat < cb - 1e-6:
                    if (beat % bpb) < 1e-6:
                        _add(
                            plan,
                            voice,
                            buf,
                            beat,
                            beat + 1,
                            stack[0] - 12 if stack[0] - 12 >= voice.low else stack[0],
                            -2.0,
                        )
                    else:
                        for p in stack[1:3]:
                            _add(plan, voice, buf, beat, beat + 1, p, -12.0, legato=0.6)
                    beat += 1.0
            else:  # block chords on the beats (or once per chord, in slow music)
                step = 1.0 if plan.tempo_bpm < 110 else 2.0
                beat = ca
                while beat < cb - 1e-6:
                    for p in stack:
                        _add(plan, voice, buf, beat, min(beat + step, cb), p, -8.0, legato=0.85)
                    beat += step


def _write_bass(
    rng: np.random.Generator,
    plan: Plan,
    voice: Voice,
    buf: NoteBuffer,
    spans: Sequence[tuple[float, float]],
    pattern: str,
) -> None:
    """Roots held per chord, quarters stepping to the next root, short pizzicato quarters, or a jazz walk."""
    prev = (voice.low + voice.high) // 2
    for a, b in spans:
        chords = plan.chords_in(a, b)
        for i, (ca, cb, chord) in enumerate(chords):
            root = nearest_pc(prev, (chord.pcs[0],), voice.low, voice.high)
            if pattern == "roots":
                _add(plan, voice, buf, ca, cb, root)
                prev = root
                continue
            nxt_root = (
                nearest_pc(root, (chords[i + 1][2].pcs[0],), voice.low, voice.high) if i + 1 < len(chords) else root
            )
            beat, p = ca, root
            while beat < cb - 1e-6:
                remaining = cb - beat
                if beat > ca + 1e-6:
                    if pattern == "walking" and remaining <= 1.0 + 1e-6:  # a chromatic or scale approach
                        p = nxt_root + (pick(rng, (-1, 1)) if rng.random() < 0.6 else 0)
                        if p == nxt_root:
                            p = scale_move(nxt_root, pick(rng, (-1, 1)), plan.scale_mask)
                    elif rng.random() < 0.6:
                        p = nearest_pc(p + pick(rng, (-4, 4)), chord.pcs, voice.low, voice.high)
                    else:
                        p = scale_move(p, 1 if nxt_root > p else -1, plan.scale_mask)
                p = min(max(p, voice.low), voice.high)
                _add(plan, voice, buf, beat, min(beat + 1.0, cb), p, 0.0, legato=0.45 if pattern == "pizz" else 0.9)
                beat += 1.0
            prev = p


def _write_counterpoint(
    rng: np.random.Generator, plan: Plan, voices: Sequence[Voice], bufs: Sequence[NoteBuffer]
) -> None:
    """Imitative counterpoint: a subject entering in each voice in turn (tonic, then dominant), free lines after."""
    bpb = plan.beats_per_bar
    length = float(bpb * (1 if plan.tempo_bpm > 100 or rng.random() < 0.4 else 2))
    rhythm: list[float] = []
    while sum(rhythm) < length - 1e-6:
        rhythm.extend(_cell(rng, bpb, legato=False))
    rhythm = rhythm[: next(i for i in range(1, len(rhythm) + 1) if sum(rhythm[:i]) >= length - 1e-6)]
    rhythm[-1] -= sum(rhythm) - length
    steps = [0]
    for _ in rhythm[1:]:
        steps.append(
            steps[-1] + pick(rng, (-1, 1, -2, 2, 0, 3, -3, 4, -4), (0.26, 0.26, 0.1, 0.1, 0.06, 0.07, 0.07, 0.04, 0.04))
        )
    end = plan.end_beat
    order = list(range(len(voices)))
    if rng.random() < 0.5:
        order.reverse()
    entries: dict[int, list[tuple[float, int]]] = {k: [] for k in order}
    for n, k in enumerate(order):
        entries[k].append((n * length, 4 * (n % 2)))  # (beat, scale steps of transposition): tonic, dominant
    beat: float = len(order) * length + bpb * randint(rng, 1, 2)
    while beat + length < end:
        entries[pick(rng, order)].append((beat, pick(rng, (0, 4, 5, 3))))
        beat += length + bpb * randint(rng, 1, 3)
    tonic_pc = plan.tonic
    for k, (voice, buf) in enumerate(zip(voices, bufs, strict=True)):
        mine = sorted(entries[k])
        if not mine:
            continue
        home = nearest_pc((voice.low + voice.high) // 2, (tonic_pc,), voice.low, voice.high)
        prev = home
        beat = mine[0][0]
        i = 0
        while beat < end - 1e-6:
            if i < len(mine) and abs(beat - mine[i][0]) < 1e-6:  # the subject
                start = scale_move(home, mine[i][1], plan.scale_mask)
                t = beat
                for dur, step in zip(rhythm, steps, strict=True):
                    p = min(max(scale_move(start, step, plan.scale_mask), voice.low), voice.high)
                    _add(plan, voice, buf, t, t + dur, p, 4.0)
                    prev, t = p, t + dur
                beat = t
                i += 1
                continue
            stop = mine[i][0] if i < len(mine) else end
            cell = _cell(rng, bpb, legato=k == len(voices) - 1)
            for dur in cell:
                if beat >= stop - 1e-6:
                    break
                chord = plan.chord_at(beat)
                if abs(beat - round(beat)) < 1e-6:
                    p = nearest_pc(prev + pick(rng, (-2, 2, 0)), chord.pcs, voice.low, voice.high)
                else:
                    p = scale_move(prev, pick(rng, (-1, 1)), plan.scale_mask)
                p = min(max(p, voice.low), voice.high)
                _add(plan, voice, buf, beat, min(beat + dur, stop, end), p)
                prev, beat = p, beat + dur


_RIDE = (0.0, 1.0, 1.5, 2.0, 3.0, 3.5)


def _write_swing_drums(rng: np.random.Generator, plan: Plan, voice: Voice, buf: NoteBuffer) -> None:
    """Ride on 1, 2, 2-and, 3, 4, 4-and (swung), hi-hat pedal on 2 and 4, soft kick, snare comping."""
    bar = 0.0
    end = plan.end_beat
    while bar < end - 1e-6:
        for off in _RIDE:
            b = bar + off
            if b < end:
                buf.add(
                    plan.time_s(b), plan.time_s(b) + 0.1, KIT["ride"], _level(plan, voice, b, -10.0 if off % 1 else 0.0)
                )
        for off in (1.0, 3.0):
            b = bar + off
            if b < end:
                buf.add(plan.time_s(b), plan.time_s(b) + 0.08, KIT["pedal"], _level(plan, voice, b, -18.0))
        for off in (0.0, 2.0):
            if bar + off < end and rng.random() < 0.7:
                buf.add(
                    plan.time_s(bar + off), plan.time_s(bar + off) + 0.1, KIT["kick"], _level(plan, voice, bar, -30.0)
                )
        for off in np.arange(0.0, 4.0, 0.5):
            b = bar + float(off)
            if b < end and rng.random() < 0.12:
                buf.add(plan.time_s(b), plan.time_s(b) + 0.08, KIT["snare"], _level(plan, voice, b, -22.0))
        bar += 4.0


def _write_comping(rng: np.random.Generator, plan: Plan, voice: Voice, buf: NoteBuffer) -> None:
    """Shell voicings (root or third and seventh, sometimes a ninth) on syncopated, swung hits."""
    for ca, cb, chord in plan.chords_in(0.0, plan.end_beat):
        third, seventh = chord.pcs[1], chord.pcs[3] if len(chord.pcs) > 3 else chord.pcs[2]
        low = nearest_pc((voice.low + voice.high) // 2 - 5, (third, seventh), voice.low, voice.high - 6)
        shell = sorted({low, nearest_pc(low + 4, (third, seventh), voice.low, voice.high)})
        if rng.random() < 0.4:
            shell.append(min(nearest_pc(shell[-1] + 3, ((chord.pcs[0] + 2) % 12,), voice.low, voice.high), voice.high))
        hits = pick(rng, ((0.0,), (0.0, 1.5), (0.5, 2.5), (1.5,), (0.0, 2.0), (-0.5, 1.5)))
        for h in hits:
            b = ca + h
            if ca - 1e-6 - 0.5 <= b < cb and b >= 0:
                dur = pick(rng, (0.5, 1.0, 1.5))
                for p in shell:
                    buf.add(plan.time_s(b), plan.time_s(min(b + dur, cb + 0.5)), p, _level(plan, voice, b, -8.0))


def _write_bebop(
    rng: np.random.Generator, plan: Plan, voice: Voice, buf: NoteBuffer, spans: Sequence[tuple[float, float]]
) -> None:
    """A lead of swung eighth-note runs (chord tones on the beats, chromatic approaches) and held notes."""
    pitch = (voice.low + voice.high) // 2
    for a, b in spans:
        beat = a
        while beat < b - 1e-6:
            if rng.random() < 0.3:  # a held note or a rest
                dur = pick(rng, (1.0, 1.5, 2.0))
                chord = plan.chord_at(beat)
                if rng.random() < 0.6:
                    pitch = nearest_pc(pitch, chord.pcs, voice.low, voice.high)
                    _add(plan, voice, buf, beat, min(beat + dur, b), pitch)
                beat += dur
                continue
            direction = pick(rng, (-1, 1))
            for _ in range(2 * randint(rng, 1, 4)):
                if beat >= b - 1e-6:
                    break
                chord = plan.chord_at(beat)
                if abs(beat - round(beat)) < 1e-6:
                    pitch = nearest_pc(pitch + 2 * direction, chord.pcs, voice.low, voice.high)
                else:
                    nxt = nearest_pc(pitch + 2 * direction, plan.chord_at(beat + 0.5).pcs, voice.low, voice.high)
                    pitch = nxt - direction if rng.random() < 0.35 else scale_move(pitch, direction, plan.scale_mask)
                pitch = min(max(pitch, voice.low), voice.high)
                if pitch in (voice.low, voice.high):
                    direction = -direction
                _add(plan, voice, buf, beat, beat + 0.5, pitch, 2.0 if beat % 1 else 0.0, legato=0.9)
                beat += 0.5


# ----- the ensembles ---------------------------------------------------------------------------------------------------

Ensemble = list[tuple[Voice, Callable[[NoteBuffer], None]]]


def _part(
    fn: Callable[..., None], rng: np.random.Generator, plan: Plan, voice: Voice, *args: object, **kwargs: object
) -> Callable[[NoteBuffer], None]:
    """The writer of one voice's part: ``fn(rng, plan, voice, buf, *args, **kwargs)`` for the buffer it gets."""

    def write(buf: NoteBuffer) -> None:
        fn(rng, plan, voice, buf, *args, **kwargs)

    return write


def _phrase_spans(plan: Plan, rng: np.random.Generator, rest_p: float) -> list[tuple[float, float]]:
    """(start, end) beats of the phrases a part plays; it rests in each with probability ``rest_p`` (never all)."""
    spans = []
    for section in plan.sections:
        a, b = plan.span(section)
        if a < b and rng.random() >= rest_p:
            spans.append((a, b))
    return spans or [plan.span(plan.sections[0])]


def _swap_tune(rng: np.random.Generator, plan: Plan, n: int) -> list[list[tuple[float, float]]]:
    """Phrases of a tune shared by ``n`` instruments: each phrase goes to one of them (mostly the first)."""
    out: list[list[tuple[float, float]]] = [[] for _ in range(n)]
    for section in plan.sections:
        a, b = plan.span(section)
        if a < b:
            out[0 if rng.random() < 0.6 else randint(rng, 0, n - 1)].append((a, b))
    return out


def _others(spans: Sequence[tuple[float, float]], plan: Plan) -> list[tuple[float, float]]:
    mine = set(spans)
    return [s for s in (plan.span(x) for x in plan.sections) if s[0] < s[1] and s not in mine]


def _consort(rng: np.random.Generator, plan: Plan, style: str, guest: int | None, max_stems: int) -> Ensemble:
    """Four voices (strings, brass, winds, voices, recorders, a mixed consort or one keyboard): a chorale or a fugue."""
    out: Ensemble = []
    n = 4 if style == "chorale" else randint(rng, 2, 4)
    families = {
        "strings": (VIOLIN, VIOLIN, VIOLA, CELLO),
        "brass": (TRUMPET, HORN, TROMBONE, TUBA),
        "winds": (FLUTE, OBOE, CLARINET, BASSOON),
        "voices": (VOICE, VOICE, VOICE, VOICE),
        "recorders": (RECORDER, RECORDER, RECORDER, BASSOON),
        "mixed": (OBOE, VIOLIN, HORN, CELLO),
    }
    family = list(
        families[
            pick_map(
                rng, {"strings": 0.3, "brass": 0.17, "winds": 0.2, "voices": 0.13, "recorders": 0.05, "mixed": 0.15}
            )
        ]
    )
    for i in range(4):
        if rng.random() < 0.25:  # a mixed consort: any class of this style that suits the voice's register
            fits = [
                c
                for c in sorted(STYLE_CLASSES[style])
                if c not in (PIANO, ORGAN, HARPSICHORD)
                and PITCH_RANGES[c][0] <= _SATB[i][0] + 4
                and PITCH_RANGES[c][1] >= _SATB[i][1] - 4
            ]
            family[i] = pick(rng, fits) if fits else family[i]
    if guest is not None and guest in STYLE_CLASSES[style] and guest not in family:
        fits = [
            i
            for i in range(4)
            if PITCH_RANGES[guest][0] <= _SATB[i][1] - 6 and PITCH_RANGES[guest][1] >= _SATB[i][0] + 6
        ]
        if fits:
            family[pick(rng, fits)] = guest
    ranges = _SATB if style == "chorale" else ((62, 84), (55, 76), (48, 67), (36, 57))
    keyboard = rng.random() < 0.25 and guest in (None, PIANO, ORGAN, HARPSICHORD)
    if keyboard:  # every voice on one keyboard: one stem per hand's voices
        kb = (
            guest if guest in (PIANO, ORGAN, HARPSICHORD) else pick(rng, (PIANO, ORGAN, HARPSICHORD), (0.4, 0.35, 0.25))
        )
        family = [kb] * 4
    voices = [
        _voice(rng, "melody" if i == 0 else ("bass" if i == 3 else "counter"), family[i], ranges[i]) for i in range(4)
    ]
    keep = sorted(int(i) for i in rng.permutation(4)[:n])
    if guest in family and not any(family[i] == guest for i in keep):  # the guest always plays
        keep = sorted([*keep[1:], family.index(guest)])
    voices = voices[:n] if style == "chorale" else [voices[i] for i in keep]
    bufs = [NoteBuffer() for _ in voices]
    if style == "chorale":
        _write_chorale(rng, plan, voices, bufs)
    else:
        _write_counterpoint(rng, plan, voices, bufs)
    for voice, buf in zip(voices, bufs, strict=True):
        out.append((voice, _copy(buf)))
    if style == "chorale" and rng.random() < 0.3 and len(out) < max_stems:  # the bass doubled an octave down
        dbl = _voice(rng, "bass", CONTRABASS if family[0] != VOICE else ORGAN, (28, 52))
        src = bufs[-1]
        out.append((dbl, _copy(src, transpose=-12)))
    return _merge_keyboard(out) if keyboard else out


def _jazz(rng: np.random.Generator, plan: Plan, guest: int | None, max_stems: int) -> Ensemble:
    """Drums (mostly), a walking bass, comping and one or two horns."""
    out: Ensemble = []
    melody_cls = (
        guest
        if guest in (SAXOPHONE, TRUMPET, TROMBONE, CLARINET, FLUTE, CHROMATIC_PERCUSSION, VOICE, ELECTRIC_GUITAR)
        else pick_map(
            rng,
            {SAXOPHONE: 0.4, TRUMPET: 0.25, TROMBONE: 0.1, CLARINET: 0.08, CHROMATIC_PERCUSSION: 0.1, FLUTE: 0.07},
        )
    )
    comp_cls = (
        guest
        if guest in (PIANO, ELECTRIC_PIANO, ORGAN, ACOUSTIC_GUITAR)
        else pick_map(rng, {PIANO: 0.5, ELECTRIC_PIANO: 0.15, ELECTRIC_GUITAR: 0.2, ORGAN: 0.15})
    )
    bass_cls = guest if guest in (BASS, CONTRABASS) else pick_map(rng, {BASS: 0.6, CONTRABASS: 0.4})
    if guest == DRUM_KIT or rng.random() < 0.85:
        drums = _voice(rng, "drums", DRUM_KIT, (35, 81), 85.0)
        out.append((drums, _part(_write_swing_drums, rng, plan, drums)))
    bass = _voice(rng, "bass", bass_cls, (28, 55))
    out.append((bass, _part(_write_bass, rng, plan, bass, _phrase_spans(plan, rng, 0.0), "walking")))
    comp = _voice(rng, "chords", comp_cls, (50, 74), 70.0)
    out.append((comp, _part(_write_comping, rng, plan, comp)))
    lead = _voice(rng, "melody", melody_cls, (58, 84), 88.0)
    lead_spans = _phrase_spans(plan, rng, 0.2)
    out.append((lead, _part(_write_bebop, rng, plan, lead, lead_spans)))
    if len(out) < max_stems and rng.random() < 0.45:
        second = pick(rng, [c for c in (SAXOPHONE, TRUMPET, TROMBONE, CLARINET) if c != melody_cls])
        horn = _voice(rng, "melody", second, (52, 78), 84.0)
        answers = _others(lead_spans, plan) or lead_spans[-1:]
        out.append((horn, _part(_write_bebop, rng, plan, horn, answers)))
    return out


def _piano(rng: np.random.Generator, plan: Plan, guest: int | None, max_stems: int) -> Ensemble:
    """Solo piano (a tune over a left-hand pattern), or a solo instrument accompanied by the piano."""
    out: Ensemble = []
    solo = guest not in (None, PIANO) or rng.random() < 0.45
    piano = _voice(rng, "chords", PIANO, (33, 88), 72.0)
    lh_pattern = pick(
        rng, ("alberti", "broken", "block", "waltz") if plan.beats_per_bar == 3 else ("alberti", "broken", "block")
    )
    all_spans = _phrase_spans(plan, rng, 0.0)

    def write_piano(buf: NoteBuffer) -> None:
        lh = Voice("chords", PIANO, piano.program, piano.low, 64, piano.base_velocity - 6, 1.0)
        _write_accompaniment(rng, plan, lh, buf, all_spans, lh_pattern)
        if not solo:
            rh = Voice("melody", PIANO, piano.program, 62, 88, piano.base_velocity + 6, 1.0)
            _write_melody(rng, plan, rh, buf, all_spans, legato=rng.random() < 0.6)
        else:
            mid = Voice("chords", PIANO, piano.program, 55, 76, piano.base_velocity - 8, 1.0)
            _write_accompaniment(rng, plan, mid, buf, all_spans, pick(rng, ("block", "sustain", "broken")))

    out.append((piano, write_piano))
    if solo:
        cls = (
            guest
            if guest is not None and guest != PIANO and guest in STYLE_CLASSES["piano"]
            else pick(rng, (VIOLIN, CELLO, FLUTE, CLARINET, OBOE, VOICE, TRUMPET, SAXOPHONE, HORN))
        )
        lo, hi = PITCH_RANGES[cls]
        tune = _voice(rng, "melody", cls, (max(lo, 48), min(hi, 88)), 84.0)
        out.append((tune, _part(_write_melody, rng, plan, tune, _phrase_spans(plan, rng, 0.1), legato=True)))
    return out


def _chamber(rng: np.random.Generator, plan: Plan, guest: int | None, max_stems: int) -> Ensemble:
    """String quartet, wind quintet or piano trio: a shared tune, inner parts and a bass line."""
    out: Ensemble = []
    kind = pick_map(rng, {"quartet": 0.45, "quintet": 0.3, "trio": 0.25})
    if guest in (FLUTE, OBOE, CLARINET, HORN, BASSOON):
        kind = "quintet"
    elif guest in (PIANO, HARP):
        kind = "trio"
    elif guest in (VIOLIN, VIOLA, CELLO, CONTRABASS):
        kind = pick(rng, ("quartet", "trio")) if guest in (VIOLIN, CELLO) else "quartet"
    if kind == "quartet":
        tune_cls = [VIOLIN, VIOLA if rng.random() < 0.3 else VIOLIN]
        inner_cls = [VIOLIN, VIOLA]
        bass_cls = CONTRABASS if guest == CONTRABASS else CELLO
        keyboard = None
    elif kind == "quintet":
        tune_cls = [FLUTE, OBOE]
        inner_cls = [CLARINET, HORN]
        bass_cls = BASSOON
        keyboard = None
    else:
        tune_cls = [VIOLIN, CELLO]
        inner_cls = []
        bass_cls = CELLO
        keyboard = HARP if guest == HARP else PIANO
    tunes = [_voice(rng, "melody", c, (55, 88) if c != CELLO else (45, 72), 84.0) for c in tune_cls]
    shares = _swap_tune(rng, plan, len(tunes))
    for j, tune in enumerate(tunes):  # a guest with the tune plays at least one phrase of it
        if tune.class_index == guest and not shares[j]:
            donor = max(range(len(shares)), key=lambda i: len(shares[i]))
            shares[j].append(shares[donor].pop())
    legato = rng.random() < 0.6
    for voice, spans in zip(tunes, shares, strict=True):
        if spans:
            out.append((voice, _part(_write_melody, rng, plan, voice, spans, legato=legato)))
    pattern = pick(rng, ("sustain", "repeated", "broken"))
    for c in inner_cls:
        inner = _voice(rng, "chords", c, (50, 74), 70.0)
        out.append((inner, _part(_write_accompaniment, rng, plan, inner, _phrase_spans(plan, rng, 0.1), pattern)))
    if keyboard is not None:
        kb = _voice(rng, "chords", keyboard, (36, 79), 70.0)
        kpat = pick(rng, ("broken", "alberti", "block"))
        out.append((kb, _part(_write_accompaniment, rng, plan, kb, _phrase_spans(plan, rng, 0.0), kpat)))
    if not any(x.class_index == bass_cls and x.role == "melody" for x, _ in out) or kind != "trio":
        bass = _voice(rng, "bass", bass_cls, (36, 57), 76.0)
        bpat = pick(rng, ("roots", "stepping", "pizz"))
        out.append((bass, _part(_write_bass, rng, plan, bass, _phrase_spans(plan, rng, 0.05), bpat)))
    return out


def _orchestral(rng: np.random.Generator, plan: Plan, guest: int | None, max_stems: int) -> Ensemble:
    """Sustained strings, a tune, a bass, and a drawn number of countermelody, brass, harp, timpani and winds."""
    out: Ensemble = []
    strings = _voice(rng, "pad", STRINGS, (48, 79), 70.0)
    out.append((strings, _part(_write_accompaniment, rng, plan, strings, _phrase_spans(plan, rng, 0.05), "sustain")))
    tune_cls = (
        guest
        if guest in (VIOLIN, FLUTE, OBOE, CLARINET, HORN, TRUMPET, PICCOLO, RECORDER, VOICE)
        else pick_map(rng, {VIOLIN: 0.3, FLUTE: 0.2, OBOE: 0.15, CLARINET: 0.1, HORN: 0.12, TRUMPET: 0.08, VOICE: 0.05})
    )
    tune = _voice(rng, "melody", tune_cls, (58, 88), 86.0)
    tune_spans = _phrase_spans(plan, rng, 0.1)
    out.append((tune, _part(_write_melody, rng, plan, tune, tune_spans, legato=True)))
    bass_cls = (
        guest
        if guest in (CONTRABASS, CELLO, TUBA, BASSOON)
        else pick_map(rng, {CONTRABASS: 0.4, CELLO: 0.3, TUBA: 0.1, BASSOON: 0.2})
    )
    bass = _voice(rng, "bass", bass_cls, (30, 55), 78.0)
    bpat = pick(rng, ("roots", "stepping", "pizz"))
    out.append((bass, _part(_write_bass, rng, plan, bass, _phrase_spans(plan, rng, 0.05), bpat)))
    extras: list[tuple[str, int]] = [
        ("counter", pick(rng, (CELLO, HORN, BASSOON, CLARINET, VIOLA))),
        ("chords", pick(rng, (HORN, TROMBONE, BRASS, TRUMPET))),
        ("arpeggio", HARP),
        ("hits", TIMPANI),
        ("melody", pick(rng, (FLUTE, PICCOLO, OBOE, CLARINET))),
        ("chords", pick(rng, (VIOLIN, VIOLA))),
        ("bass", TUBA if bass_cls != TUBA else CONTRABASS),
    ]
    if guest is not None and guest in STYLE_CLASSES["orchestral"] and all(x.class_index != guest for x, _ in out):
        role = (
            "hits"
            if guest == TIMPANI
            else ("arpeggio" if guest == HARP else ("bass" if guest in (TUBA, CONTRABASS) else "chords"))
        )
        extras.insert(0, (role, guest))
    order = [extras[0]] + [extras[i] for i in rng.permutation(np.arange(1, len(extras)))]
    n_more = randint(rng, 2, len(order))
    for role, cls in order[:n_more]:
        if len(out) >= max_stems:
            break
        if role == "counter":
            x = _voice(rng, "counter", cls, (45, 72), 76.0)
            out.append(
                (x, _part(_write_melody, rng, plan, x, _others(tune_spans, plan) or tune_spans[:1], legato=True))
            )
        elif role == "chords":
            x = _voice(rng, "chords", cls, (46, 76), 74.0)
            loud = [plan.span(s) for s in plan.sections if s.energy > 0.5 and plan.span(s)[0] < plan.span(s)[1]]
            pat = "block" if cls in (HORN, TROMBONE, BRASS, TRUMPET) else pick(rng, ("repeated", "sustain"))
            spans = loud or _phrase_spans(plan, rng, 0.5)
            out.append((x, _part(_write_accompaniment, rng, plan, x, spans, pat)))
        elif role == "arpeggio":
            x = _voice(rng, "arpeggio", cls, (40, 84), 70.0)
            out.append((x, _part(_write_accompaniment, rng, plan, x, _phrase_spans(plan, rng, 0.3), "broken")))
        elif role == "hits":
            x = _voice(rng, "hits", cls, PITCH_RANGES[TIMPANI] if cls == TIMPANI else (36, 60), 84.0)
            out.append((x, _part(_write_timpani, rng, plan, x)))
        elif role == "melody":
            x = _voice(rng, "melody", cls, (60, 96), 80.0)
            out.append((x, _part(_write_melody, rng, plan, x, tune_spans, legato=True)))
        else:
            x = _voice(rng, "bass", cls, (28, 55), 76.0)
            out.append((x, _part(_write_bass, rng, plan, x, _phrase_spans(plan, rng, 0.3), "roots")))
    return out


def _ensemble(rng: np.random.Generator, plan: Plan, style: str, guest: int | None, max_stems: int) -> Ensemble:
    """The voices of a song of ``style`` and, for each, the writer of its part."""
    if style in ("chorale", "counterpoint"):
        return _consort(rng, plan, style, guest, max_stems)
    writers = {"jazz": _jazz, "piano": _piano, "chamber": _chamber, "orchestral": _orchestral}
    return writers[style](rng, plan, guest, max_stems)


def _write_timpani(rng: np.random.Generator, plan: Plan, voice: Voice, buf: NoteBuffer) -> None:
    """Tonic and dominant strokes on the downbeats of loud phrases and a roll into each cadence."""
    tonic = nearest_pc((voice.low + voice.high) // 2, (plan.tonic,), voice.low, voice.high)
    dominant = nearest_pc(tonic - 5, ((plan.tonic + 7) % 12,), voice.low, voice.high)
    bpb = plan.beats_per_bar
    for section in plan.sections:
        a, b = plan.span(section)
        if a >= b:
            continue
        if section.energy > 0.55:
            for bar in np.arange(a, b - bpb + 1e-6, bpb):
                chord = plan.chord_at(float(bar))
                p = tonic if chord.pcs[0] == plan.tonic else dominant
                _add(plan, voice, buf, float(bar), float(bar) + 1.0, p, 0.0, legato=0.5)
        if rng.random() < 0.5:  # a roll over the last beat before the cadence chord
            roll_at = b - bpb - 1.0 if b - bpb - 1.0 >= a else a
            t = roll_at
            while t < roll_at + 1.0 - 1e-6:
                _add(plan, voice, buf, t, t + 0.125, dominant, -12.0 + 12.0 * (t - roll_at), legato=0.9)
                t += 0.125
            _add(plan, voice, buf, roll_at + 1.0, roll_at + 2.0, tonic, 6.0, legato=0.6)


def _copy(src: NoteBuffer, transpose: int = 0) -> Callable[[NoteBuffer], None]:
    def write(buf: NoteBuffer) -> None:
        for on, off, p, vel in zip(src.onset_s, src.offset_s, src.pitch, src.velocity, strict=True):
            buf.add(on, off, p + transpose, vel)

    return write


def _merge_keyboard(parts: Ensemble) -> Ensemble:
    """All voices of a keyboard chorale or fugue in one stem (one player, one instrument)."""
    voice = parts[0][0]
    writers = [w for _, w in parts]

    def write(buf: NoteBuffer) -> None:
        for w in writers:
            w(buf)

    low = min(v.low for v, _ in parts)
    high = max(v.high for v, _ in parts)
    return [(Voice("chords", voice.class_index, voice.program, low, high, voice.base_velocity, 1.0), write)]


def compose_style(
    rng: np.random.Generator,
    style: str,
    *,
    duration_s: float,
    guest_class: int | None,
    max_stems: int,
    tempo_bpm_range: tuple[float, float],
) -> tuple[Plan, list[tuple[Voice, NoteBuffer]]]:
    """Plan and write a song of ``style`` (any of :data:`STYLES` but ``pop``): its plan and each voice's notes."""
    if style not in STYLE_TEMPI:
        raise ValueError(f"unknown style {style!r}; the composer writes {', '.join(STYLES)}")
    plan = plan_style(rng, style, duration_s=duration_s, tempo_bpm_range=tempo_bpm_range)
    out = []
    for voice, write in _ensemble(rng, plan, style, guest_class, max_stems)[:max_stems]:
        voice.active = [True] * len(plan.sections)
        buf = NoteBuffer()
        write(buf)
        out.append((voice, buf))
    return plan, out
