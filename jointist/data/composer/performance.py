"""Performance: the note buffer the parts write into, and how a stem's notes are humanised and cleaned.

A part writes notes in seconds into a :class:`NoteBuffer`; :func:`perform` then gives each stem timing
jitter and velocity humanisation, folds pitches into the class's range, cuts notes at the song's end,
and shortens a note before the next onset of its pitch (MIDI cannot overlap them on one channel).
"""

from __future__ import annotations

import numpy as np

from jointist.data.composer.plan import Plan, Voice
from jointist.data.composer.tables import (
    DRUM_NOTE_S,
    KIT,
    MIN_NOTE_S,
    MONOPHONIC_ROLES,
    PITCH_RANGES,
    SAME_PITCH_GAP_S,
)
from jointist.data.composer.theory import nearest_pc
from jointist.notes import NoteArray

__all__ = ["NoteBuffer", "perform"]


class NoteBuffer:
    """Notes of one stem as plain lists (seconds, MIDI pitch, velocity before humanisation)."""

    def __init__(self) -> None:
        self.onset_s: list[float] = []
        self.offset_s: list[float] = []
        self.pitch: list[int] = []
        self.velocity: list[float] = []

    def add(self, onset_s: float, offset_s: float, pitch: int, velocity: float) -> None:
        self.onset_s.append(onset_s)
        self.offset_s.append(offset_s)
        self.pitch.append(pitch)
        self.velocity.append(velocity)

    def __len__(self) -> int:
        return len(self.onset_s)


def perform(plan: Plan, voice: Voice, buf: NoteBuffer, rng: np.random.Generator) -> NoteArray:
    """The finished notes of a stem: humanised and cleaned, or one fallback note if none is left."""
    low, high = PITCH_RANGES[voice.class_index]
    jitter_s = 0.002 + (0.002 if voice.is_drum else 0.006) * rng.random()
    notes = _finalize(
        buf, rng, low=low, high=high, duration_s=plan.duration_s, jitter_s=jitter_s,
        monophonic=voice.role in MONOPHONIC_ROLES, jitter_length=not voice.is_drum,
    )
    return notes if len(notes) else _fallback_note(plan, voice)


def _finalize(
    buf: NoteBuffer, rng: np.random.Generator, *, low: int, high: int, duration_s: float, jitter_s: float,
    monophonic: bool, jitter_length: bool = True,
) -> NoteArray:
    """Jitter timing and velocity, fold pitches into ``[low, high]``, cut at ``duration_s``, and shorten notes so
    the same pitch never overlaps (nor, if ``monophonic``, any two notes). Lengths stay as written unless
    ``jitter_length``."""
    n = len(buf)
    if n == 0:
        return NoteArray.empty()
    shift = rng.normal(0.0, jitter_s, n)
    onset = np.asarray(buf.onset_s) + shift
    offset = np.asarray(buf.offset_s) + shift
    if jitter_length:
        offset = offset + rng.normal(0.0, jitter_s * 0.5, n)
    velocity = np.clip(np.rint(np.asarray(buf.velocity) + rng.normal(0.0, 3.0, n)), 1, 127).astype(np.int16)
    pitch = np.asarray(buf.pitch, dtype=np.int64)
    if high - low >= 11:
        pitch = np.where(pitch < low, pitch + 12 * ((low - pitch + 11) // 12), pitch)
        pitch = np.where(pitch > high, pitch - 12 * ((pitch - high + 11) // 12), pitch)
    pitch = np.clip(pitch, low, high)

    onset = np.maximum(onset, 0.0)
    keep = onset < duration_s - MIN_NOTE_S
    onset, offset, pitch, velocity = onset[keep], offset[keep], pitch[keep], velocity[keep]
    offset = np.clip(offset, onset + MIN_NOTE_S, duration_s)
    if monophonic and len(onset) > 1:
        order = np.lexsort((pitch, onset))
        nxt = onset[order][1:] - SAME_PITCH_GAP_S
        offset[order[:-1]] = np.minimum(offset[order[:-1]], nxt)
    if len(onset) > 1:
        order = np.lexsort((onset, pitch))
        same = pitch[order][1:] == pitch[order][:-1]
        nxt = onset[order][1:] - SAME_PITCH_GAP_S
        offset[order[:-1]] = np.where(same, np.minimum(offset[order[:-1]], nxt), offset[order[:-1]])
    keep = offset - onset >= MIN_NOTE_S - 1e-9
    return NoteArray.from_arrays(onset[keep], offset[keep], pitch[keep], velocity[keep])


def _fallback_note(plan: Plan, voice: Voice) -> NoteArray:
    """One note at the start, for a stem whose sections fell past the end of a very short song."""
    if voice.is_drum:
        pitch = KIT["kick"]
        off = min(DRUM_NOTE_S, plan.duration_s)
    else:
        pitch = nearest_pc((voice.low + voice.high) // 2, plan.chords[0].pcs, voice.low, voice.high)
        off = min(plan.beat_s, plan.duration_s)
    return NoteArray.from_arrays([0.0], [max(off, min(MIN_NOTE_S, plan.duration_s))], [pitch], [int(voice.base_velocity)])
