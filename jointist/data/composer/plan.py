"""The song plan: frame (tempo, metre, key), form (sections), harmony (chords), groove, and the band.

:func:`plan_song` makes the song-level decisions every part shares (a :class:`Plan`);
:func:`plan_band` chooses the stems (a :class:`Voice` each: role, class, program, register, loudness)
and the sections each one plays in. Times are in beats unless named ``*_s``.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from jointist.data.composer.classes import DRUM_KIT
from jointist.data.composer.draws import pick, pick_map, randint, uniform
from jointist.data.composer.tables import (
    ACTIVITY,
    BASE_VELOCITY,
    CLASS_WINDOWS,
    ENERGY,
    FILL_ROLES,
    GROOVE_TEMPI,
    GROOVES_34,
    KINDS,
    MAX_PER_ROLE,
    MINOR_NAMES,
    MODE_WEIGHTS,
    MODES,
    NOTE_NAMES,
    PENTATONIC,
    PITCH_RANGES,
    PROGRESSIONS,
    ROLE_CLASSES,
    ROLE_PROGRAMS,
    ROLE_WINDOWS,
    SWING,
)
from jointist.data.composer.theory import diatonic_chord, pc_mask
from jointist.instruments import by_index

__all__ = ["Chord", "Plan", "Section", "Voice", "plan_band", "plan_song", "roles_for_class"]


@dataclass
class Chord:
    """A chord of the song's harmony, from ``start_beat`` to ``end_beat``."""

    start_beat: float
    end_beat: float
    pcs: tuple[int, ...]  # absolute pitch classes: root, third, fifth[, seventh]

    @property
    def root(self) -> int:
        return self.pcs[0]


@dataclass
class Section:
    """A section of the form: its kind (one of :data:`~jointist.data.composer.tables.KINDS`), bars and energy 0-1."""

    kind: str
    start_bar: int
    n_bars: int
    energy: float


@dataclass
class Voice:
    """One stem of the band, as the part generators see it."""

    role: str
    class_index: int
    program: int
    low: int  # preferred register of the part
    high: int
    base_velocity: float
    presence: float
    doubles: bool = False  # a second melody that doubles the lead rather than playing its own tune
    active: list[bool] = field(default_factory=list)  # plays in section j of the plan

    @property
    def is_drum(self) -> bool:
        return self.class_index == DRUM_KIT

    def level(self, section: Section) -> float:
        """Velocity of an unaccented note of this voice in a section."""
        return self.base_velocity * (0.78 + 0.28 * section.energy)


@dataclass
class Plan:
    """Song-level decisions shared by every part generator. Times are in beats unless named ``*_s``."""

    duration_s: float
    tempo_bpm: float
    beats_per_bar: int
    swing: float
    tonic: int
    mode: str
    scale_mask: tuple[bool, ...]
    melody_mask: tuple[bool, ...]
    groove: str  # drum groove name, or "none"
    sections: list[Section] = field(default_factory=list)
    chords: list[Chord] = field(default_factory=list)
    chord_starts: list[float] = field(default_factory=list)
    # (beats, seconds): a tempo map for rubato and tempo changes (None: constant ``tempo_bpm``);
    # both increasing, from (0, 0), piecewise linear between the points and at ``tempo_bpm`` beyond
    tempo_map: tuple[np.ndarray, np.ndarray] | None = None
    ride_share: float = 0.0  # share of drum parts keeping time on the ride with the hi-hat pedal (pop)

    @property
    def beat_s(self) -> float:
        """Seconds of a beat at the nominal tempo."""
        return 60.0 / self.tempo_bpm

    @property
    def end_beat(self) -> float:
        """The song's duration in beats."""
        if self.tempo_map is None:
            return self.duration_s / self.beat_s
        beats, secs = self.tempo_map
        if self.duration_s >= secs[-1]:
            return float(beats[-1] + (self.duration_s - secs[-1]) / self.beat_s)
        return float(np.interp(self.duration_s, secs, beats))

    @property
    def key_name(self) -> str:
        """Tonic and mode, e.g. "E minor" (minor and dorian keys spell their tonics with sharps)."""
        names = MINOR_NAMES if self.mode in ("minor", "dorian") else NOTE_NAMES
        return f"{names[self.tonic]} {self.mode}"

    def time_s(self, beat: float, *, straight: bool = False) -> float:
        """Seconds of a beat position; off-beat eighths are delayed by the swing unless ``straight``."""
        if self.swing and not straight:
            whole = math.floor(beat + 1e-9)
            frac = beat - whole
            if frac < 0.5:
                frac *= 1.0 + 2.0 * self.swing
            else:
                frac = 0.5 + self.swing + (frac - 0.5) * (1.0 - 2.0 * self.swing)
            beat = whole + frac
        if self.tempo_map is None:
            return beat * self.beat_s
        beats, secs = self.tempo_map
        if beat >= beats[-1]:
            return float(secs[-1] + (beat - beats[-1]) * self.beat_s)
        return float(np.interp(beat, beats, secs))

    def span(self, section: Section) -> tuple[float, float]:
        """(start, end) beats of a section, the end cut at the song's end."""
        bpb = self.beats_per_bar
        return section.start_bar * bpb, min((section.start_bar + section.n_bars) * bpb, self.end_beat)

    def bars(self, start: float, end: float) -> range:
        """Indices of the bars from the one at ``start`` up to the last that starts before ``end`` (beats)."""
        bpb = self.beats_per_bar
        first = stop = int(round(start / bpb))
        while stop * bpb < end - 1e-6:
            stop += 1
        return range(first, stop)

    def next_section(self, section: Section) -> Section | None:
        """The section after ``section``, or None for the last one."""
        i = self.sections.index(section)
        return self.sections[i + 1] if i + 1 < len(self.sections) else None

    def active_sections(self, voice: Voice) -> list[tuple[Section, float, float]]:
        """(section, start beat, end beat) of every section where ``voice`` plays and that starts before the end."""
        out = []
        for section, on in zip(self.sections, voice.active, strict=True):
            start, end = self.span(section)
            if on and start < end:
                out.append((section, start, end))
        return out

    def chord_index(self, beat: float) -> int:
        return max(bisect.bisect_right(self.chord_starts, beat + 1e-6) - 1, 0)

    def chord_at(self, beat: float) -> Chord:
        return self.chords[self.chord_index(beat)]

    def chords_in(self, start: float, end: float) -> list[tuple[float, float, Chord]]:
        """The chords sounding in ``[start, end)`` as (start, end, chord), clipped to the interval."""
        out = []
        i = self.chord_index(start)
        while i < len(self.chords) and self.chords[i].start_beat < end - 1e-6:
            chord = self.chords[i]
            out.append((max(chord.start_beat, start), min(chord.end_beat, end), chord))
            i += 1
        return out


# ----- the song --------------------------------------------------------------------------------------------------------


def plan_song(rng: np.random.Generator, *, duration_s: float, tempo_bpm_range: tuple[float, float]) -> Plan:
    """Frame (tempo, metre, key), form, harmony, groove and swing of a song of ``duration_s`` seconds."""
    lo_bpm, hi_bpm = tempo_bpm_range
    tempo_bpm = min(max(round(uniform(rng, lo_bpm, hi_bpm), 2), lo_bpm), hi_bpm)
    beats_per_bar = 3 if rng.random() < 0.15 else 4
    tonic = randint(rng, 0, 11)
    mode = pick_map(rng, MODE_WEIGHTS)
    scale = tuple((tonic + iv) % 12 for iv in MODES[mode])
    melody_pcs = scale
    if mode in PENTATONIC and rng.random() < 0.3:
        melody_pcs = tuple((tonic + iv) % 12 for iv in PENTATONIC[mode])
    plan = Plan(
        duration_s=float(duration_s), tempo_bpm=tempo_bpm, beats_per_bar=beats_per_bar, swing=0.0, tonic=tonic,
        mode=mode, scale_mask=pc_mask(scale), melody_mask=pc_mask(melody_pcs), groove="none",
    )
    n_bars = max(1, int(math.ceil(plan.end_beat / beats_per_bar - 1e-9)))
    plan.sections = _plan_sections(rng, n_bars)
    blues = _plan_harmony(rng, plan, scale)
    plan.groove = _pick_groove(rng, tempo_bpm, beats_per_bar, blues)
    swing_lo, swing_hi = SWING.get(plan.groove, (0.0, 0.0))
    plan.swing = uniform(rng, swing_lo, swing_hi) if swing_hi else (uniform(rng, 0.0, 0.04) if rng.random() < 0.2 else 0.0)
    return plan


def _plan_sections(rng: np.random.Generator, n_bars: int) -> list[Section]:
    """Sections of 4 or 8 bars covering at least ``n_bars`` bars."""
    order = ["verse", "chorus", "verse", "chorus", "bridge", "chorus", "chorus", "outro"]
    if rng.random() < 0.3:
        order = ["verse", "prechorus", "chorus", "verse", "prechorus", "chorus", "breakdown", "chorus", "outro"]
    elif rng.random() < 0.2:
        order = ["verse", "verse", "chorus", "breakdown", "chorus", "bridge", "chorus", "outro"]
    if n_bars > 8 and rng.random() < 0.7:
        order.insert(0, "intro")
    sections: list[Section] = []
    bar = 0
    i = 0
    while bar < n_bars:
        kind = order[i] if i < len(order) else ("chorus" if i % 2 else "verse")
        remaining = n_bars - bar
        if kind in ("intro", "prechorus", "breakdown", "outro"):
            length = 4
        else:
            length = 8 if remaining > 4 and rng.random() < 0.6 else 4
        lo, hi = ENERGY[kind]
        sections.append(Section(kind, bar, length, uniform(rng, lo, hi)))
        bar += length
        i += 1
    return sections


def _plan_harmony(rng: np.random.Generator, plan: Plan, scale: Sequence[int]) -> bool:
    """Fill ``plan.chords``: a progression per kind of section, realised with a harmonic rhythm per section.

    Returns whether the song is a blues (one explicit progression running through the whole song).
    """
    options = [p for p in PROGRESSIONS if plan.mode in p.modes]
    weights = [p.weight for p in options]
    verse = pick(rng, options, weights)
    if verse.explicit:  # a blues is the whole song
        by_kind = dict.fromkeys(KINDS, verse)
    else:
        plain = [p for p in options if not p.explicit]
        plain_w = [p.weight for p in plain]
        chorus = verse if rng.random() < 0.35 else pick(rng, plain, plain_w)
        bridge = pick(rng, plain, plain_w)
        by_kind = {
            "intro": chorus if rng.random() < 0.5 else verse, "verse": verse, "prechorus": bridge, "chorus": chorus,
            "bridge": bridge, "breakdown": verse if rng.random() < 0.5 else bridge, "outro": chorus,
        }
    jazz = uniform(rng, 0.5, 1.5)
    realised: dict[str, list[tuple[int, ...]]] = {}
    for prog in dict.fromkeys(by_kind.values()):
        seventh_p = min(prog.seventh_p * jazz, 0.95)
        if prog.explicit:
            use_sevenths = rng.random() < seventh_p
            realised[prog.name] = [
                tuple((plan.tonic + root + iv) % 12 for iv in (ivs if use_sevenths else ivs[:3]))
                for root, ivs in prog.explicit
            ]
        else:
            realised[prog.name] = [
                diatonic_chord(
                    scale, d, seventh=rng.random() < seventh_p,
                    raise_third=prog.harmonic_v and plan.mode == "minor" and d == 4,
                )
                for d in prog.degrees
            ]
    bpb = plan.beats_per_bar
    rhythm: dict[tuple[str, int], float] = {}  # beats per chord, kept for every repeat of a kind of section
    for section in plan.sections:
        prog = by_kind[section.kind]
        chords = realised[prog.name]
        start = float(section.start_bar * bpb)
        end = start + section.n_bars * bpb
        if prog.explicit:
            for bar in range(section.start_bar, section.start_bar + section.n_bars):
                plan.chords.append(Chord(bar * bpb, (bar + 1) * bpb, chords[bar % len(chords)]))
            continue
        length = len(chords)
        choices = [float(bpb)]
        choice_w = [0.55]
        if 2 * length <= section.n_bars:
            choices.append(2.0 * bpb)
            choice_w.append(0.3)
        if bpb == 4 and length >= 4:
            choices.append(2.0)
            choice_w.append(0.15)
        key = (section.kind, section.n_bars)
        if key not in rhythm:
            rhythm[key] = pick(rng, choices, choice_w)
        chord_beats = rhythm[key]
        beat = start
        i = 0
        while beat < end - 1e-6:
            plan.chords.append(Chord(beat, min(beat + chord_beats, end), chords[i % length]))
            beat += chord_beats
            i += 1
    plan.chord_starts = [c.start_beat for c in plan.chords]
    return bool(verse.explicit)


def _pick_groove(rng: np.random.Generator, tempo_bpm: float, beats_per_bar: int, blues: bool) -> str:
    if beats_per_bar == 3:
        return pick_map(rng, GROOVES_34)
    if blues and rng.random() < 0.7:
        return "shuffle"
    fits = {name: w for name, (lo, hi, w) in GROOVE_TEMPI.items() if lo <= tempo_bpm <= hi}
    return pick_map(rng, fits) if fits else "rock"


# ----- the band --------------------------------------------------------------------------------------------------------


def plan_band(
    rng: np.random.Generator, plan: Plan, *, guest_class: int | None, min_stems: int, max_stems: int
) -> list[Voice]:
    """The stems of the song and the sections each plays in; a band without drums drops the 4/4 groove."""
    voices = _choose_voices(rng, guest_class=guest_class, min_stems=min_stems, max_stems=max_stems)
    if not any(v.is_drum for v in voices):
        plan.groove = "none" if plan.beats_per_bar == 4 else plan.groove
    for voice in [v for v in voices if v.role == "melody"][1:]:
        voice.doubles = rng.random() < 0.35
    _plan_activity(rng, voices, plan.sections)
    return voices


def roles_for_class(class_index: int) -> dict[str, float]:
    """The roles a class can play, with its weight in each."""
    return {role: table[class_index] for role, table in ROLE_CLASSES.items() if table.get(class_index, 0.0) > 0}


def _register(rng: np.random.Generator, role: str, class_index: int) -> tuple[int, int]:
    """A register for a part: the role's window (shifted a little at random) narrowed to the class range."""
    c_lo, c_hi = PITCH_RANGES[class_index]
    if role == "drums":
        return c_lo, c_hi
    r_lo, r_hi = CLASS_WINDOWS.get((role, class_index), ROLE_WINDOWS[role])
    shift = randint(rng, -4, 4)
    r_lo, r_hi = r_lo + shift, r_hi + shift
    low, high = max(c_lo, r_lo), min(c_hi, r_hi)
    want = min(17, c_hi - c_lo)
    if high - low < want:
        centre = (r_lo + r_hi) / 2.0
        low = int(round(min(max(centre - want / 2.0, c_lo), c_hi - want)))
        high = low + want
    return low, high


def _make_voice(rng: np.random.Generator, role: str, class_index: int, *, presence: float = 1.0) -> Voice:
    programs = ROLE_PROGRAMS.get((role, class_index), by_index(class_index).programs) or (0,)
    program = pick(rng, programs)
    low, high = _register(rng, role, class_index)
    v_lo, v_hi = BASE_VELOCITY[role]
    return Voice(role, class_index, program, low, high, uniform(rng, v_lo, v_hi), presence * uniform(rng, 0.8, 1.15))


def _choose_voices(
    rng: np.random.Generator, *, guest_class: int | None, min_stems: int, max_stems: int
) -> list[Voice]:
    sizes = list(range(min_stems, max_stems + 1))
    n_stems = pick(rng, sizes, [math.exp(-((k - 8.0) ** 2) / (2 * 2.3**2)) + 1e-3 for k in sizes])
    band: list[tuple[str, int | None, float]] = []  # (role, class or None to draw, presence)
    if guest_class is not None:
        band.append((pick_map(rng, roles_for_class(guest_class)), guest_class, 1.25))
    guest_role = band[0][0] if band else None
    if guest_role != "drums" and rng.random() < 0.85:
        band.append(("drums", DRUM_KIT, 1.0))
    if not (guest_role == "bass" and rng.random() < 0.7) and rng.random() < 0.9:
        band.append(("bass", None, 1.0))
    if rng.random() < 0.95:
        band.append(("chords", None, 1.0))
    if guest_role != "melody" and rng.random() < 0.85:
        band.append(("melody", None, 1.0))
    counts: dict[str, int] = {}
    for role, _, _ in band:
        counts[role] = counts.get(role, 0) + 1
    while len(band) < n_stems:
        fill = {r: w for r, w in FILL_ROLES.items() if counts.get(r, 0) < MAX_PER_ROLE[r]}
        if "melody" in fill and not counts.get("melody"):
            fill["melody"] = 0.3  # a band of many stems rarely lacks a tune
        if not fill:
            fill = dict(FILL_ROLES)
        role = pick_map(rng, fill)
        counts[role] = counts.get(role, 0) + 1
        band.append((role, None, 1.0))
    band = band[:n_stems]

    voices: list[Voice] = []
    for role, class_index, presence in band:
        if class_index is None:
            class_index = pick_map(rng, ROLE_CLASSES[role])
            if any(v.role == role and v.class_index == class_index for v in voices):
                class_index = pick_map(rng, ROLE_CLASSES[role])  # one redraw makes exact doubles rarer
        voices.append(_make_voice(rng, role, class_index, presence=presence))
    return voices


def _plan_activity(rng: np.random.Generator, voices: list[Voice], sections: list[Section]) -> None:
    """Decide in which sections each voice plays: every voice plays somewhere, every section has someone."""
    for voice in voices:
        table = ACTIVITY[voice.role]
        voice.active = [rng.random() < min(1.0, voice.presence * table[KINDS.index(s.kind)]) for s in sections]
        if not any(voice.active):
            probs = [table[KINDS.index(s.kind)] for s in sections]
            voice.active[pick(rng, range(len(sections)), probs)] = True
    melodies = [v for v in voices if v.role == "melody"]
    for voice in melodies[1:]:
        if not voice.doubles:  # an own tune mostly answers the lead: it plays where the lead rests
            lead = melodies[0].active
            voice.active = [rng.random() < (0.2 if lead[j] else 0.85) for j in range(len(sections))]
            if not any(voice.active):
                voice.active[pick(rng, range(len(sections)))] = True
    for j, section in enumerate(sections):
        if voices and not any(v.active[j] for v in voices):
            probs = [ACTIVITY[v.role][KINDS.index(section.kind)] for v in voices]
            voices[pick(rng, range(len(voices)), probs)].active[j] = True
