"""Timbre variation at render time: each stem of a training song sounds a little unlike its preset.

Two General MIDI SoundFonts give every instrument class only two sounds; a model trained on them
learns those sounds, and a recording (or another SoundFont) sounds different. So each stem of a
split listed in :attr:`TimbreSpec.splits` is varied when it is rendered:

- **FluidSynth generators** (``controllers_p`` of the stems): offsets added to the preset's own
  SoundFont generators on the stem's channel, the way a player turns a synthesizer's knobs: filter
  cutoff (darker) and resonance, volume-envelope attack (softer onsets) and release (shorter or
  longer tails), reverb and chorus sends;
- **EQ** (``eq_p``): a low shelf, a high shelf and one peak, each within ``eq_db``;
- **mild saturation** (``saturation_p``): a tanh curve driven up to ``saturation_drive_db`` into
  the stem's peak, its peak kept;
- **gain** within ``gain_db``;

and each song (``room_p`` of them) is put in a room: an impulse response synthesised from
exponentially decaying noise (highs decaying faster, a few early reflections), the same for every
stem, so the mixture stays exactly the sum of its stems. The notes are the score's: effects change
how a note sounds, not when it is played.

Every draw depends only on ``(corpus seed, track number)`` through a stream of its own, so the
same corpus settings give the same audio, and the composition is the same with or without it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

__all__ = ["GENERATORS", "Room", "StemTimbre", "TimbreSpec", "apply_room", "apply_stem_timbre", "draw_timbre",
           "room_impulse_response"]

GENERATORS: dict[str, int] = {
    "filter_cutoff": 8,  # initialFilterFc, absolute cents
    "filter_q": 9,  # initialFilterQ, centibels
    "chorus_send": 15,  # chorusEffectsSend, 0.1 %
    "reverb_send": 16,  # reverbEffectsSend, 0.1 %
    "attack": 34,  # attackVolEnv, timecents
    "release": 38,  # releaseVolEnv, timecents
}
"""The SoundFont 2.01 generator numbers varied per stem, by name."""


def _range(value: Sequence[float], name: str) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"timbre.{name} must be two numbers [low, high], got {value!r}") from err
    if not (math.isfinite(low) and math.isfinite(high) and low <= high):
        raise ValueError(f"timbre.{name} must be a finite range [low, high] with low <= high, got {value!r}")
    return low, high


@dataclass(frozen=True)
class TimbreSpec:
    """How much the stems of the listed splits are varied (see the module docstring). Ranges are
    ``(low, high)``, drawn uniformly; ``*_p`` are the share of stems (songs for ``room_p``) varied."""

    splits: tuple[str, ...] = ("train",)
    controllers_p: float = 0.7
    filter_cutoff: tuple[float, float] = (-2400.0, 0.0)  # cents: an open filter (20 kHz) goes down to 5 kHz
    filter_q: tuple[float, float] = (0.0, 100.0)  # centibels of resonance
    attack: tuple[float, float] = (-1200.0, 2400.0)  # timecents: attack time x0.5 .. x4
    release: tuple[float, float] = (-2400.0, 1200.0)  # timecents: release time x0.25 .. x2
    reverb_send: tuple[float, float] = (0.0, 300.0)  # 0.1 %
    chorus_send: tuple[float, float] = (0.0, 300.0)
    eq_p: float = 0.7
    eq_db: float = 6.0
    saturation_p: float = 0.25
    saturation_drive_db: tuple[float, float] = (3.0, 12.0)
    gain_db: float = 6.0
    room_p: float = 0.5
    room_rt60_s: tuple[float, float] = (0.2, 1.2)
    room_wet: tuple[float, float] = (0.1, 0.5)  # the room's share of the dry sound's energy

    def __post_init__(self) -> None:
        splits = (self.splits,) if isinstance(self.splits, str) else self.splits
        object.__setattr__(self, "splits", tuple(str(s) for s in splits))
        for name in ("controllers_p", "eq_p", "saturation_p", "room_p"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ValueError(f"timbre.{name} must be a probability in [0, 1], got {value!r}")
        for name in ("eq_db", "gain_db"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 24.0:
                raise ValueError(f"timbre.{name} must be a number of dB in [0, 24], got {value!r}")
        for name in (*GENERATORS, "saturation_drive_db", "room_rt60_s", "room_wet"):
            object.__setattr__(self, name, _range(getattr(self, name), name))
        if self.room_rt60_s[0] <= 0.0 or self.room_rt60_s[1] > 5.0:
            raise ValueError(f"timbre.room_rt60_s must lie in (0, 5] seconds, got {self.room_rt60_s}")
        if self.room_wet[0] < 0.0 or self.saturation_drive_db[0] < 0.0:
            raise ValueError("timbre.room_wet and timbre.saturation_drive_db must not be negative")

    def to_dict(self) -> dict[str, object]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class StemTimbre:
    """What one stem got: generator offsets by name, EQ (shelves at 250 Hz and 3 kHz, a peak at
    ``peak_hz`` of quality ``peak_q``; gains in dB, 0 = off), the saturation drive in dB (None: none)
    and the gain in dB."""

    generators: dict[str, float] = field(default_factory=dict)
    low_shelf_db: float = 0.0
    high_shelf_db: float = 0.0
    peak_hz: float = 1000.0
    peak_db: float = 0.0
    peak_q: float = 1.0
    drive_db: float | None = None
    gain_db: float = 0.0

    def record(self) -> dict[str, object]:
        """Plain values, rounded, for the track's metadata."""
        out: dict[str, object] = {k: round(v, 1) for k, v in self.generators.items()}
        if self.low_shelf_db or self.high_shelf_db or self.peak_db:
            out["eq_db"] = [round(self.low_shelf_db, 2), round(self.high_shelf_db, 2), round(self.peak_db, 2)]
            out["eq_peak_hz"] = round(self.peak_hz, 1)
        if self.drive_db is not None:
            out["saturation_drive_db"] = round(self.drive_db, 2)
        out["gain_db"] = round(self.gain_db, 2)
        return out


@dataclass(frozen=True)
class Room:
    """A song's room: reverberation time, the wet share, and the seed of its impulse response."""

    rt60_s: float
    wet: float
    seed: int

    def record(self) -> dict[str, object]:
        return {"rt60_s": round(self.rt60_s, 3), "wet": round(self.wet, 3)}


def draw_timbre(spec: TimbreSpec, seed: int, track_number: int, num_stems: int) -> tuple[list[StemTimbre], Room | None]:
    """Each stem's variation and the song's room, from a stream of their own (``[seed, track, 5]``)."""
    rng = np.random.default_rng([seed, track_number, 5])
    stems = []
    for _ in range(num_stems):
        generators = {}
        if rng.random() < spec.controllers_p:
            generators = {name: float(rng.uniform(*getattr(spec, name))) for name in GENERATORS}
        eq = rng.random() < spec.eq_p
        low, high, peak = (rng.uniform(-spec.eq_db, spec.eq_db, 3) if eq else np.zeros(3)).tolist()
        peak_hz = float(np.exp(rng.uniform(np.log(200.0), np.log(5000.0))))
        peak_q = float(rng.uniform(0.7, 2.0))
        drive = float(rng.uniform(*spec.saturation_drive_db)) if rng.random() < spec.saturation_p else None
        gain = float(rng.uniform(-spec.gain_db, spec.gain_db))
        stems.append(StemTimbre(generators, low, high, peak_hz, peak, peak_q, drive, gain))
    room = None
    if rng.random() < spec.room_p:
        room = Room(float(rng.uniform(*spec.room_rt60_s)), float(rng.uniform(*spec.room_wet)), int(rng.integers(2**31)))
    return stems, room


def _biquad(kind: str, f0: float, gain_db: float, q: float, sample_rate: int) -> np.ndarray:
    """One second-order section (b0, b1, b2, 1, a1, a2) of a shelf or peaking EQ (the
    Audio EQ Cookbook's formulas)."""
    a = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * np.pi * f0 / sample_rate
    cos, alpha = np.cos(w0), np.sin(w0) / (2.0 * q)
    if kind == "peak":
        b = [1 + alpha * a, -2 * cos, 1 - alpha * a]
        den = [1 + alpha / a, -2 * cos, 1 - alpha / a]
    else:
        s = 2.0 * np.sqrt(a) * alpha
        if kind == "low":
            b = [a * ((a + 1) - (a - 1) * cos + s), 2 * a * ((a - 1) - (a + 1) * cos), a * ((a + 1) - (a - 1) * cos - s)]
            den = [(a + 1) + (a - 1) * cos + s, -2 * ((a - 1) + (a + 1) * cos), (a + 1) + (a - 1) * cos - s]
        else:
            b = [a * ((a + 1) + (a - 1) * cos + s), -2 * a * ((a - 1) + (a + 1) * cos), a * ((a + 1) + (a - 1) * cos - s)]
            den = [(a + 1) - (a - 1) * cos + s, 2 * ((a - 1) - (a + 1) * cos), (a + 1) - (a - 1) * cos - s]
    return np.array([*b, *den], np.float64) / den[0]


def apply_stem_timbre(audio: np.ndarray, timbre: StemTimbre, sample_rate: int) -> np.ndarray:
    """The stem's EQ, saturation and gain (its generators were applied when it was rendered)."""
    from scipy.signal import sosfilt

    out = np.asarray(audio, np.float64)
    sections = []
    nyquist = sample_rate / 2.0
    if timbre.low_shelf_db:
        sections.append(_biquad("low", 250.0, timbre.low_shelf_db, 0.707, sample_rate))
    if timbre.high_shelf_db and 3000.0 < 0.9 * nyquist:
        sections.append(_biquad("high", 3000.0, timbre.high_shelf_db, 0.707, sample_rate))
    if timbre.peak_db and timbre.peak_hz < 0.9 * nyquist:
        sections.append(_biquad("peak", timbre.peak_hz, timbre.peak_db, timbre.peak_q, sample_rate))
    if sections:
        out = sosfilt(np.stack(sections), out)
    if timbre.drive_db is not None:
        peak = float(np.max(np.abs(out), initial=0.0))
        if peak > 0.0:
            drive = 10.0 ** (timbre.drive_db / 20.0)
            out = np.tanh(drive * out / peak) / np.tanh(drive) * peak
    return (out * 10.0 ** (timbre.gain_db / 20.0)).astype(np.float32)


def room_impulse_response(room: Room, sample_rate: int) -> np.ndarray:
    """A synthetic room: noise decaying by 60 dB in ``rt60_s`` (highs twice as fast), after a few
    early reflections in the first 40 ms; unit energy, no direct sound (the dry stem is kept)."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(room.seed)
    n = int(round(room.rt60_s * 1.2 * sample_rate))
    t = np.arange(n) / sample_rate
    noise = rng.standard_normal(n)
    smooth = 0.6  # a one-pole low-pass splits the noise into lows and highs
    low = lfilter([1.0 - smooth], [1.0, -smooth], noise)
    high = noise - low
    decay = np.log(1000.0) / room.rt60_s  # amplitude falls by 60 dB over rt60
    tail = low * np.exp(-decay * t) + high * np.exp(-2.0 * decay * t)
    onset = int(0.02 * sample_rate)  # the diffuse tail builds up after the early reflections
    tail[:onset] *= np.linspace(0.0, 1.0, onset, endpoint=False)
    loudest = float(np.max(np.abs(tail)))
    for delay_s, gain, sign in zip(rng.uniform(0.003, 0.04, 6), rng.uniform(0.2, 0.7, 6), rng.choice([-1.0, 1.0], 6)):
        tail[int(delay_s * sample_rate)] += gain * sign * loudest
    return tail / np.sqrt(np.sum(tail ** 2))


def apply_room(stems: Mapping[int, np.ndarray], room: Room, sample_rate: int) -> dict[int, np.ndarray]:
    """Every stem plus the same room reverberation (``wet`` of its energy), the length kept: the
    sum of the reverberant stems is the reverberant sum of the dry ones."""
    from scipy.signal import fftconvolve

    ir = room_impulse_response(room, sample_rate) * np.sqrt(room.wet)
    out = {}
    for key, audio in stems.items():
        dry = np.asarray(audio, np.float64)
        out[key] = (dry + fftconvolve(dry, ir)[: len(dry)]).astype(np.float32)
    return out
