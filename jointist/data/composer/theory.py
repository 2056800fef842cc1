"""Pitch, scale and chord helpers: octave folding, nearest chord tones, scale steps, diatonic chords and voicings.

Pitches are MIDI note numbers, pitch classes (``pc``) 0-11 with 0 = C; a ``mask`` is a 12-tuple marking the
pitch classes of a scale. Only :func:`voice_lead` draws from the generator.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "close_voicings",
    "diatonic_chord",
    "fold",
    "guitar_voicing",
    "nearest_pc",
    "pc_at_or_above",
    "pc_mask",
    "scale_move",
    "voice_lead",
]


def fold(pitch: int, low: int, high: int) -> int:
    """Move ``pitch`` by octaves into ``[low, high]`` (clamped when the range is narrower than an octave)."""
    while pitch < low:
        pitch += 12
    while pitch > high:
        pitch -= 12
    return min(max(pitch, low), high)


def pc_at_or_above(pitch: int, pc: int) -> int:
    """The lowest pitch >= ``pitch`` whose pitch class is ``pc``."""
    return pitch + (pc - pitch) % 12


def nearest_pc(target: int, pcs: Sequence[int], low: int, high: int) -> int:
    """The pitch in ``[low, high]`` nearest to ``target`` whose pitch class is in ``pcs`` (ties go down)."""
    target = min(max(target, low), high)
    for d in range(12):
        for p in (target - d, target + d):
            if low <= p <= high and p % 12 in pcs:
                return p
    return fold(target, low, high)


def scale_move(pitch: int, steps: int, mask: Sequence[bool]) -> int:
    """Move ``steps`` scale steps (``mask[pc]`` marks scale pitch classes) up (> 0) or down (< 0)."""
    direction = 1 if steps > 0 else -1
    for _ in range(abs(steps)):
        pitch += direction
        while not mask[pitch % 12]:
            pitch += direction
    return pitch


def pc_mask(pcs: Sequence[int]) -> tuple[bool, ...]:
    """The 12-tuple marking ``pcs``."""
    return tuple(pc in pcs for pc in range(12))


def diatonic_chord(scale: Sequence[int], degree: int, *, seventh: bool, raise_third: bool) -> tuple[int, ...]:
    """Pitch classes (root, third, fifth[, seventh]) of the chord on a degree (0-6) of a 7-note scale."""
    tones = [scale[(degree + 2 * k) % 7] for k in range(4 if seventh else 3)]
    if raise_third:
        tones[1] = (tones[1] + 1) % 12
    return tuple(tones)


def close_voicings(pcs: Sequence[int], low: int, high: int) -> list[list[int]]:
    """Every close-position inversion of a chord inside ``[low, high]``."""
    out: list[list[int]] = []
    n = len(pcs)
    for r in range(n):
        order = list(pcs[r:]) + list(pcs[:r])
        base = pc_at_or_above(low, order[0])
        while base <= high:
            stack = [base]
            for pc in order[1:]:
                stack.append(pc_at_or_above(stack[-1] + 1, pc))
            if stack[-1] <= high:
                out.append(stack)
            base += 12
    return out


def voice_lead(rng: np.random.Generator, pcs: Sequence[int], low: int, high: int, prev: list[int] | None) -> list[int]:
    """The close voicing nearest to ``prev`` (or to the middle of the register), with a little randomness."""
    candidates = close_voicings(pcs, low, high)
    if not candidates:  # register too narrow for the whole chord: the root, third and fifth, folded
        return sorted(dict.fromkeys(fold(pc_at_or_above(low, pc), low, high) for pc in pcs[:3]))
    if prev:
        ref = sorted(prev)

        def cost(v: list[int]) -> float:
            return sum(min(abs(p - q) for q in ref) for p in v) + sum(min(abs(p - q) for p in v) for q in ref)
    else:
        centre = (low + high) / 2.0

        def cost(v: list[int]) -> float:
            return abs(sum(v) / len(v) - centre) * 2.0

    scored = sorted(((cost(v) + 1.5 * rng.random(), i) for i, v in enumerate(candidates)))
    return candidates[scored[0][1]]


def guitar_voicing(pcs: Sequence[int], low: int, high: int, *, power: bool) -> list[int]:
    """A guitar-like open voicing: low root, fifth, root, third, fifth... up to six strings."""
    bottom = pc_at_or_above(low, pcs[0])  # the lowest root in the register
    if power:
        return [p for p in (bottom, bottom + 7, bottom + 12) if p <= high] or [bottom]
    fifth = pcs[2] if len(pcs) > 2 else pcs[0]
    order = [fifth, pcs[0], pcs[1], fifth, pcs[3] if len(pcs) > 3 else pcs[0]]
    stack = [bottom]
    for pc in order:
        p = pc_at_or_above(stack[-1] + 1, pc)
        if p > high:
            break
        stack.append(p)
    return stack
