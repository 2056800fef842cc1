"""Load-time augmentation of training windows: stem gains, stem dropout, pitch shift and remixing.

Each augmentation transforms the audio and the notes of a window together, so the targets (piano
rolls, computed later from the notes) stay exact. Only the random training windows of
:class:`~jointist.data.slakh.SlakhDataset` are augmented; validation and test windows never are.
Every random choice depends only on ``(seed, example index)``, like the windows themselves.

The four augmentations, each with its own probability (per example) in :class:`AugmentConfig`:

- **pitch shift** (``pitch_p``, ``pitch_semitones``): a span of ``segment_s * r`` seconds is read,
  with ``r = 2 ** (semitones / 12)``, and resampled to ``segment_s`` seconds. Played back at the same
  sample rate, every frequency rises by ``semitones`` and every time shrinks by ``r``: note times are
  divided by ``r``, pitched notes move by ``semitones`` (a note pushed out of the piano range 21..108
  is dropped), drum notes keep their numbers (they name drum sounds; the drums sound a little higher
  or lower). The tempo changes with the pitch (by up to 12% for two semitones): the known trade-off
  of resampling ("speed" augmentation, as other transcription work uses it), and what makes the shift
  cheap and exact. ``r`` is a ratio of small integers (within 0.1 cent of the tempered semitone) so that the
  resampler (soxr) and the note times use exactly the same factor.
- **remixing** (``remix_p``, ``remix_class_p``, ``remix_tempo_tolerance``, ``remix_max_semitones``):
  the stems of some classes of another training track are added to the window. The partner must be
  in the same mode (major, minor, dorian, ...: equal names) with a tonic at most
  ``remix_max_semitones`` away from the window's (after its pitch shift); it is transposed onto that
  tonic by resampling as above, and its tempo, after the transposition, must lie within
  ``remix_tempo_tolerance`` (relative) of the window's. Tempo and key come from the optional
  ``tempo_bpm``, ``key_tonic`` and ``key_mode`` fields of ``metadata.yaml`` (written by
  jointist-synth); tracks without them (the real Slakh2100) find no partner and are never remixed.
  When both tracks have a class, its notes merge and its audio sums.
- **stem dropout** (``drop_p``, ``drop_class_p``): whole classes are removed, with their notes and
  presence; at least one class stays (one that sounds in the window when there is one).
- **stem gains** (``gain_p``, ``gain_db``): each class is scaled by a gain drawn uniformly in dB.

When gains, dropout or remixing apply to a window, its stems are decoded (also when the task asked
only for the mixture) and the mixture is their sum (``mix_from_stems``); the stems are then dropped
from the example unless the task asked for them. A pitch shift alone decodes only what the task
asked for. The defaults (below and in ``conf/data/slakh2100.yaml``) are what ``enabled: true``
turns on; ``enabled: false`` (the default) turns everything off, and a probability of 0 turns off
one augmentation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from typing import Protocol

import numpy as np

from jointist.constants import FRAMES_PER_SECOND, MAX_MIDI, MIN_MIDI
from jointist.notes import NoteArray

__all__ = [
    "MAX_SEMITONES",
    "AugmentConfig",
    "AugmentPlan",
    "CatalogTrack",
    "Remix",
    "TrackCatalog",
    "apply_gains",
    "draw_plan",
    "fit_start_s",
    "merge_classes",
    "resample_span",
    "shift_notes",
    "shift_ratio",
    "span_samples",
]

MAX_SEMITONES = 2
"""Largest pitch shift (either way): two semitones already change the tempo by 12%."""

_RATIO_DENOMINATOR = 100
"""Largest denominator of the resampling ratio: within 0.1 cent of 2 ** (semitones / 12)."""


def _probability(name: str, value: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"augment.{name} must be a probability in [0, 1], got {value!r}") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"augment.{name} must be a probability in [0, 1], got {value}")
    return value


@dataclass(frozen=True)
class AugmentConfig:
    """What to augment and how often (probabilities are per example); see the module docstring.

    Args:
        enabled: the on-switch; False (the default) augments nothing, whatever the other values.
        gain_p: probability of random gains on a window's classes.
        gain_db: (low, high) range of each class's gain in dB, drawn uniformly.
        drop_p: probability of dropping classes from a window.
        drop_class_p: once dropping applies, the probability that each class goes.
        pitch_p: probability of a pitch shift.
        pitch_semitones: the shifts drawn from (uniformly), each within +-2 semitones and not 0.
        remix_p: probability of looking for a partner track to mix in.
        remix_class_p: probability that each of the partner's classes is added (at least one is).
        remix_tempo_tolerance: largest relative tempo difference of a partner (0.04: 4%).
        remix_max_semitones: largest transposition of a partner onto the window's tonic (0-2).
    """

    enabled: bool = False
    gain_p: float = 0.5
    gain_db: tuple[float, float] = (-6.0, 6.0)
    drop_p: float = 0.2
    drop_class_p: float = 0.3
    pitch_p: float = 0.3
    pitch_semitones: tuple[int, ...] = (-2, -1, 1, 2)
    remix_p: float = 0.2
    remix_class_p: float = 0.5
    remix_tempo_tolerance: float = 0.04
    remix_max_semitones: int = 2

    def __post_init__(self) -> None:
        for name in ("gain_p", "drop_p", "drop_class_p", "pitch_p", "remix_p", "remix_class_p"):
            object.__setattr__(self, name, _probability(name, getattr(self, name)))
        try:
            low, high = (float(v) for v in self.gain_db)
        except (TypeError, ValueError) as err:
            raise ValueError(f"augment.gain_db must be two numbers [low, high] in dB, got {self.gain_db!r}") from err
        if not (math.isfinite(low) and math.isfinite(high) and low <= high):
            raise ValueError(
                f"augment.gain_db must be a finite range [low, high] with low <= high, got {self.gain_db!r}"
            )
        object.__setattr__(self, "gain_db", (low, high))
        shifts = tuple(self.pitch_semitones)
        for s in shifts:
            if isinstance(s, bool) or not isinstance(s, (int, float)) or int(s) != s:
                raise ValueError(f"augment.pitch_semitones must be whole semitones, got {s!r}")
            if s == 0 or abs(s) > MAX_SEMITONES:
                raise ValueError(
                    f"augment.pitch_semitones: {s} is not a shift of 1 to {MAX_SEMITONES} semitones either way "
                    f"(larger shifts change the tempo and the timbre too much)"
                )
        if self.pitch_p > 0 and not shifts:
            raise ValueError("augment.pitch_semitones is empty but augment.pitch_p > 0")
        object.__setattr__(self, "pitch_semitones", tuple(int(s) for s in shifts))
        if not 0.0 <= float(self.remix_tempo_tolerance) < 1.0:
            raise ValueError(f"augment.remix_tempo_tolerance must be in [0, 1), got {self.remix_tempo_tolerance}")
        object.__setattr__(self, "remix_tempo_tolerance", float(self.remix_tempo_tolerance))
        most = self.remix_max_semitones
        if isinstance(most, bool) or not isinstance(most, int) or not 0 <= most <= MAX_SEMITONES:
            raise ValueError(f"augment.remix_max_semitones must be an integer in 0..{MAX_SEMITONES}, got {most!r}")
        object.__setattr__(self, "remix_max_semitones", int(self.remix_max_semitones))
        object.__setattr__(self, "enabled", bool(self.enabled))


@dataclass(frozen=True)
class Remix:
    """A partner track mixed into a window: its window start (in its own time), transposition and classes."""

    track_index: int
    start_s: float
    semitones: int
    classes: tuple[int, ...]


@dataclass(frozen=True)
class AugmentPlan:
    """Every random choice of one augmented example (kept on the example, for inspection).

    Attributes:
        start_s: the window start in the track (moved earlier when a pitch shift lengthens the span).
        semitones: the pitch shift of the window (0: none).
        remix: the partner mixed in, if any.
        dropped: classes removed.
        gains_db: (class, gain in dB) of each class that is scaled.
    """

    start_s: float
    semitones: int = 0
    remix: Remix | None = None
    dropped: tuple[int, ...] = ()
    gains_db: tuple[tuple[int, float], ...] = ()

    @property
    def mixes_stems(self) -> bool:
        """Whether the mixture must be rebuilt from the stems (gains, dropout or a partner)."""
        return bool(self.remix is not None or self.dropped or self.gains_db)


# -- pitch shift by resampling -------------------------------------------------------------------

@cache
def shift_ratio(semitones: int) -> Fraction:
    """Time/frequency factor ``r`` of a shift: ``2 ** (semitones / 12)`` as a ratio of small integers.

    A span of ``r`` times the window length, resampled to the window length, sounds ``semitones``
    higher and plays ``r`` times faster.
    """
    if semitones == 0:
        return Fraction(1)
    return Fraction(2 ** (semitones / 12)).limit_denominator(_RATIO_DENOMINATOR)


def span_samples(num_samples: int, semitones: int) -> int:
    """Samples to read for a window of ``num_samples`` samples shifted by ``semitones``."""
    return math.ceil(num_samples * shift_ratio(semitones))


def resample_span(audio: np.ndarray, *, semitones: int, num_samples: int) -> np.ndarray:
    """Resample a span read for a shift of ``semitones`` to ``num_samples`` samples (float32).

    Output sample ``k`` is input sample ``k * r`` (the resampler is aligned, without delay).
    """
    if semitones == 0:
        out = audio
    else:
        import soxr

        ratio = shift_ratio(semitones)
        out = soxr.resample(np.ascontiguousarray(audio, np.float32), ratio.numerator, ratio.denominator, quality="HQ")
    out = np.asarray(out, np.float32)
    if len(out) >= num_samples:
        return out[:num_samples]
    return np.pad(out, (0, num_samples - len(out)))


def shift_notes(notes: NoteArray, semitones: int, *, is_drum: bool) -> NoteArray:
    """Notes of a span (times relative to its start) as heard after :func:`resample_span`.

    Times are divided by ``r``; pitched notes move by ``semitones`` and a note that leaves the piano
    range 21..108 (or MIDI's 0..127) is dropped; drum notes keep their numbers.
    """
    if semitones == 0:
        return notes
    ratio = float(shift_ratio(semitones))
    pitch = notes.pitch
    keep = np.ones(len(notes), bool)
    if not is_drum:
        old = notes.pitch.astype(np.int64)
        new = old + semitones
        left = (old >= MIN_MIDI) & (old <= MAX_MIDI) & ((new < MIN_MIDI) | (new > MAX_MIDI))
        keep = ~left & (new >= 0) & (new <= 127)
        pitch = new.astype(np.int16)
    return NoteArray(notes.onset_s[keep] / ratio, notes.offset_s[keep] / ratio, pitch[keep], notes.velocity[keep])


def fit_start_s(start_s: float, *, duration_s: float, span_s: float, fps: int = FRAMES_PER_SECOND) -> float:
    """Move a window start earlier (on the frame grid) so a span of ``span_s`` fits in the track."""
    latest = math.floor(max(duration_s - span_s, 0.0) * fps + 1e-6) / fps
    return min(start_s, latest)


# -- mixing classes --------------------------------------------------------------------------------

def merge_classes(
    stems: dict[int, np.ndarray], notes: dict[int, NoteArray], other_stems: dict[int, np.ndarray],
    other_notes: dict[int, NoteArray],
) -> tuple[dict[int, np.ndarray], dict[int, NoteArray]]:
    """Stems and notes of two windows together: a class both have sums its audio and merges its notes."""
    merged_stems = dict(stems)
    for c, wave in other_stems.items():
        merged_stems[c] = merged_stems[c] + wave if c in merged_stems else wave
    merged_notes = dict(notes)
    for c, arr in other_notes.items():
        merged_notes[c] = NoteArray.concatenate([merged_notes[c], arr]) if c in merged_notes else arr
    return merged_stems, merged_notes


def apply_gains(stems: dict[int, np.ndarray], gains_db: Sequence[tuple[int, float]]) -> dict[int, np.ndarray]:
    """The stems with the classes of ``gains_db`` scaled by their gain (the others unchanged)."""
    out = dict(stems)
    for c, db in gains_db:
        if c in out:
            out[c] = (out[c] * np.float32(10.0 ** (db / 20.0))).astype(np.float32, copy=False)
    return out


# -- drawing the plan -------------------------------------------------------------------------------

class CatalogTrack(Protocol):
    """What :class:`TrackCatalog` reads of a track (``jointist.data.slakh.TrackInfo`` has it)."""

    @property
    def duration_s(self) -> float: ...
    @property
    def instruments(self) -> list[int]: ...
    @property
    def tempo_bpm(self) -> float | None: ...
    @property
    def key_tonic(self) -> int | None: ...
    @property
    def key_mode(self) -> str | None: ...


@dataclass(frozen=True)
class TrackCatalog:
    """Duration, classes, tempo and key of every track of a split, as arrays to search for partners.

    Attributes:
        duration_s: (tracks,) float64.
        classes: the sorted classes of each track.
        tempo_bpm: (tracks,) float64, NaN when unknown.
        key_tonic: (tracks,) int64 pitch class 0-11, -1 when unknown.
        key_mode: (tracks,) int64 code of the mode name (equal codes, equal names), -1 when unknown.
    """

    duration_s: np.ndarray
    classes: tuple[tuple[int, ...], ...]
    tempo_bpm: np.ndarray
    key_tonic: np.ndarray
    key_mode: np.ndarray

    @classmethod
    def from_tracks(cls, tracks: Sequence[CatalogTrack]) -> TrackCatalog:
        codes: dict[str, int] = {}
        for t in tracks:
            if t.key_mode is not None:
                codes.setdefault(t.key_mode, len(codes))
        return cls(
            duration_s=np.asarray([t.duration_s for t in tracks], np.float64),
            classes=tuple(tuple(t.instruments) for t in tracks),
            tempo_bpm=np.asarray([np.nan if t.tempo_bpm is None else t.tempo_bpm for t in tracks], np.float64),
            key_tonic=np.asarray([-1 if t.key_tonic is None else t.key_tonic for t in tracks], np.int64),
            key_mode=np.asarray([-1 if t.key_mode is None else codes[t.key_mode] for t in tracks], np.int64),
        )

    def partners(
        self, track: int, *, semitones: int, tolerance: float, max_semitones: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Tracks that can be mixed into ``track`` shifted by ``semitones``, and each one's transposition.

        A partner has the same mode, a tonic at most ``max_semitones`` from the shifted tonic, and,
        transposed onto it, a tempo within ``tolerance`` (relative) of the shifted track's.

        Returns:
            (indices, semitones): two int64 arrays of equal length, possibly empty.
        """
        if self.key_tonic[track] < 0 or self.key_mode[track] < 0 or not np.isfinite(self.tempo_bpm[track]):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        target = (self.key_tonic[track] + semitones) % 12
        shift = (target - self.key_tonic + 6) % 12 - 6  # the nearest transposition, -6..5
        known = (self.key_tonic >= 0) & np.isfinite(self.tempo_bpm)
        close = known & (self.key_mode == self.key_mode[track]) & (np.abs(shift) <= max_semitones)
        close[track] = False
        candidates = np.flatnonzero(close)
        shift = shift[candidates]
        ratios = np.asarray([float(shift_ratio(int(s))) for s in shift], np.float64)
        tempo = self.tempo_bpm[candidates] * ratios
        own = self.tempo_bpm[track] * float(shift_ratio(semitones))
        ok = np.abs(tempo / own - 1.0) <= tolerance + 1e-12
        return candidates[ok], shift[ok].astype(np.int64)


def _draw_start_s(rng: np.random.Generator, *, duration_s: float, span_s: float, fps: int = FRAMES_PER_SECOND) -> float:
    last_frame = int(max(duration_s - span_s, 0.0) * fps)
    return int(rng.integers(last_frame + 1)) / fps


def draw_plan(
    config: AugmentConfig,
    rng: np.random.Generator,
    *,
    track: int,
    start_s: float,
    catalog: TrackCatalog,
    segment_s: float,
    sounding: Callable[[int, float, float], Collection[int]] | None = None,
) -> AugmentPlan:
    """Draw every augmentation of one window (in this order: pitch shift, partner, dropout, gains).

    Args:
        track, start_s: the window (its start as drawn for an unshifted window).
        sounding: ``(track, start_s, span_s) -> classes with notes in that span``; used to keep a
            sounding class when dropping. None: any class may be the one that stays.
    """
    semitones = 0
    if rng.random() < config.pitch_p:
        semitones = int(config.pitch_semitones[int(rng.integers(len(config.pitch_semitones)))])
    span_s = segment_s * float(shift_ratio(semitones))
    start_s = fit_start_s(start_s, duration_s=float(catalog.duration_s[track]), span_s=span_s)
    remix = None
    if rng.random() < config.remix_p:
        found, shifts = catalog.partners(
            track, semitones=semitones, tolerance=config.remix_tempo_tolerance, max_semitones=config.remix_max_semitones
        )
        if len(found):
            j = int(rng.integers(len(found)))
            partner, shift = int(found[j]), int(shifts[j])
            partner_start = _draw_start_s(rng, duration_s=float(catalog.duration_s[partner]),
                                          span_s=segment_s * float(shift_ratio(shift)))
            offered = catalog.classes[partner]
            take = rng.random(len(offered)) < config.remix_class_p
            if offered:
                if not take.any():
                    take[int(rng.integers(len(offered)))] = True
                remix = Remix(partner, partner_start, shift, tuple(c for c, t in zip(offered, take) if t))
    classes = sorted(set(catalog.classes[track]) | set(remix.classes if remix else ()))
    dropped: tuple[int, ...] = ()
    if rng.random() < config.drop_p and len(classes) > 1:
        drop = rng.random(len(classes)) < config.drop_class_p
        heard: set[int] = set()
        if sounding is not None:
            heard = set(sounding(track, start_s, span_s))
            if remix is not None:
                partner_span_s = segment_s * float(shift_ratio(remix.semitones))
                heard |= set(sounding(remix.track_index, remix.start_s, partner_span_s)) & set(remix.classes)
        if not any(c in heard for c, d in zip(classes, drop) if not d) and (heard or drop.all()):
            # nothing that sounds stays: keep one class, a sounding one when there is one
            pool = [i for i, c in enumerate(classes) if c in heard] or list(range(len(classes)))
            drop[pool[int(rng.integers(len(pool)))]] = False
        dropped = tuple(c for c, d in zip(classes, drop) if d)
    gains: tuple[tuple[int, float], ...] = ()
    if rng.random() < config.gain_p:
        kept = [c for c in classes if c not in dropped]
        low, high = config.gain_db
        gains = tuple((c, float(g)) for c, g in zip(kept, rng.uniform(low, high, len(kept))))
    return AugmentPlan(start_s=start_s, semitones=semitones, remix=remix, dropped=dropped, gains_db=gains)
