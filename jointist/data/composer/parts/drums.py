"""The drum part: the song's groove with ghost notes, sparse time keeping in quiet sections, crashes on
section starts, an extra kick now and then, and snare / tom fills into the next section."""

from __future__ import annotations

import math

import numpy as np

from jointist.data.composer.draws import pick, randint
from jointist.data.composer.parts.common import LeadLine
from jointist.data.composer.performance import NoteBuffer
from jointist.data.composer.plan import Plan, Voice
from jointist.data.composer.tables import DRUM_NOTE_S, DRUM_VELOCITY, GROOVES, KIT, TOMS_HIGH, TOMS_LOW, TOMS_MID

__all__ = ["play_drums"]


def play_drums(plan: Plan, voice: Voice, rng: np.random.Generator, buf: NoteBuffer, lead: LeadLine) -> None:
    """Drums in the sections where ``voice`` plays (``lead`` is not used)."""
    bpb = plan.beats_per_bar
    kit = dict(KIT)
    kit["kick"] = 36 if rng.random() < 0.7 else 35
    kit["snare"] = 38 if rng.random() < 0.75 else 40
    kit["ride"] = 51 if rng.random() < 0.8 else 59
    kit["crash"] = 49 if rng.random() < 0.75 else 57
    toms = (pick(rng, TOMS_HIGH), pick(rng, TOMS_MID), pick(rng, TOMS_LOW))
    groove = GROOVES[plan.groove] if plan.groove in GROOVES else GROOVES["rock" if bpb == 4 else "waltz"]
    clap = plan.groove in ("four_floor", "hiphop") and rng.random() < 0.5
    perc_voice = pick(rng, ("tamb", "shaker", "cowbell", "cabasa")) if rng.random() < 0.35 else None
    perc_line = {
        "tamb": "....x.......x..." if rng.random() < 0.5 else "x.x.x.x.x.x.x.x.",
        "shaker": "xgxgxgxgxgxgxgxg", "cowbell": "x...x...x...x...", "cabasa": "xgxgxgxgxgxgxgxg",
    }.get(perc_voice or "", "")
    dur_s = min(DRUM_NOTE_S, 0.22 * plan.beat_s)
    steps = 4 * bpb
    # time kept on the ride, the hi-hat pedal on the backbeats (drawn only when asked for, so that
    # songs composed without it stay the same)
    on_ride = plan.ride_share > 0 and rng.random() < plan.ride_share
    pedal = "".join("x" if i % 4 == 0 and (i // 4) % 2 == 1 else "." for i in range(steps))

    for section, start, end in plan.active_sections(voice):
        level = 0.8 + 0.25 * section.energy
        lines = dict(groove)
        if section.energy < 0.45:  # sparse time keeping
            variant = pick(rng, ("hats", "kick_hats", "stick"))
            time_voice = "ride" if "ride" in lines or on_ride else "hat"
            thin = "".join("x" if i % 4 == 0 else "." for i in range(steps))
            lines = {time_voice: thin}
            if variant != "hats":
                lines["kick"] = "X" + "." * (steps - 1)
            if variant == "stick":
                lines["stick"] = "".join("x" if i % 4 == 0 and (i // 4) % 2 == 1 else "." for i in range(steps))
        elif section.kind in ("chorus", "outro") and "hat" in lines and rng.random() < 0.5:
            hat = lines.pop("hat")
            if rng.random() < 0.5:  # ride instead of hi-hat
                lines["ride"] = hat.replace("o", "x")
            else:  # open the hi-hat on the off-beat eighths
                lines["hat"] = "".join("o" if i % 4 == 2 and c != "." else c for i, c in enumerate(hat))
        if on_ride and section.energy >= 0.45:
            for time_voice in ("hat", "shaker"):
                if time_voice in lines and "ride" not in lines:
                    lines["ride"] = lines.pop(time_voice).replace("o", "x").replace("g", ".")
            if "ride" in lines and "pedal" not in lines:
                lines["pedal"] = pedal
        if clap and "snare" in lines:
            lines["clap"] = lines["snare"].replace("g", ".")
        if perc_line and section.energy >= 0.65:
            lines[perc_voice or "tamb"] = perc_line[:steps] if len(perc_line) >= steps else perc_line
        if plan.swing >= 0.1:  # swung eighths: no straight sixteenths
            lines = {name: "".join(c if i % 2 == 0 or c == "g" else "." for i, c in enumerate(pat))
                     for name, pat in lines.items()}
        nxt = plan.next_section(section)
        first_bar = int(round(start / bpb))
        last_bar = int(math.ceil(end / bpb - 1e-6)) - 1
        crash_start = section.energy >= 0.5 or section.kind == "chorus"
        for bar in range(first_bar, last_bar + 1):
            bar_beat = bar * bpb
            fill_from = float(bpb)
            if bar == last_bar and nxt is not None and section.energy >= 0.45 and rng.random() < 0.6:
                fill_from = bpb - (2.0 if section.energy > 0.6 and rng.random() < 0.5 else 1.0)
            crash = bar == first_bar and crash_start
            for name, pattern in lines.items():
                if len(pattern) != steps:
                    continue
                pitch = kit.get(name, KIT["hat"])
                for i, ch in enumerate(pattern):
                    if ch == ".":
                        continue
                    beat = i / 4.0
                    if beat >= fill_from or (crash and i == 0 and name in ("hat", "ride", "open")):
                        continue
                    p = kit["open"] if ch == "o" else pitch
                    vel = DRUM_VELOCITY[ch] * level
                    if name in ("hat", "ride", "shaker", "cabasa") and i % 4 != 0:
                        vel -= 8.0
                    onset = plan.time_s(bar_beat + beat)
                    buf.add(onset, onset + dur_s, p, vel)
            if rng.random() < 0.12 * section.energy:  # an extra kick now and then
                beat = randint(rng, 0, 2 * bpb - 1) * 0.5
                if beat < fill_from:
                    onset = plan.time_s(bar_beat + beat)
                    buf.add(onset, onset + dur_s, kit["kick"], 80.0 * level)
            if crash:
                onset = plan.time_s(bar_beat)
                buf.add(onset, onset + dur_s, kit["crash"], 115.0 * level)
                if "kick" not in lines or lines["kick"][0] == ".":
                    buf.add(onset, onset + dur_s, kit["kick"], 105.0 * level)
            if fill_from < bpb:
                _fill(plan, rng, buf, bar_beat + fill_from, bar_beat + bpb, toms, kit, level, dur_s)


def _fill(
    plan: Plan, rng: np.random.Generator, buf: NoteBuffer, start: float, end: float, toms: tuple[int, int, int],
    kit: dict[str, int], level: float, dur_s: float,
) -> None:
    """Sixteenths from ``start`` to ``end`` (beats): snare into descending toms, getting louder."""
    kind = pick(rng, ("toms", "snare", "mixed"), (0.5, 0.25, 0.25))
    n = int(round((end - start) * 4))
    for i in range(n):
        if kind == "snare":
            pitch = kit["snare"]
        elif kind == "mixed":
            pitch = kit["snare"] if i % 2 == 0 else toms[min(i * 3 // n, 2)]
        else:
            pitch = kit["snare"] if i < n // 4 else toms[min((i - n // 4) * 3 // max(n - n // 4, 1), 2)]
        if kind != "snare" and n > 4 and rng.random() < 0.15:
            continue  # leave a gap in longer fills
        vel = (70.0 + 45.0 * i / max(n - 1, 1)) * level
        onset = plan.time_s(start + i / 4.0)
        buf.add(onset, onset + dur_s, pitch, vel)
    onset = plan.time_s(start)
    buf.add(onset, onset + dur_s, kit["kick"], 95.0 * level)
