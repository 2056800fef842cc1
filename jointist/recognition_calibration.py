"""Song-level instrument decisions: from a song's window probabilities to its set of instruments.

The recognizer gives one probability per class and 10 s window. Users get a *set* of instruments
per song, so the rule that turns the windows into that set is fitted on whole validation songs and
scored the way users feel it, by the mean over songs of the set F1 (true classes vs named classes).
A :class:`SongDecision` is that rule:

1. **aggregate** the windows per class (:func:`aggregate_windows`): ``max`` (one confident window
   is enough), ``mean`` (the whole song), or ``top<k>``, the mean of the ``k`` most probable windows
   (the class must be heard in about ``k`` windows: one spurious window does not name it);
2. compare the song probabilities with **per-class thresholds**;
3. apply a **prior on the number of instruments**: at most ``max_instruments`` (the most probable
   of the classes above threshold are kept) and at least ``min_instruments`` (a song with nothing
   above threshold still gets its most probable class).

:func:`calibrate` fits it on validation songs (never test songs). Per class, the threshold with the
best F1 over the songs is shrunk, in logit space, toward one global threshold (the one with the
best mean set F1) with the weight of ``shrinkage`` pseudo-songs, so a class with one positive
validation song keeps a threshold close to the global one. The aggregation, the shrinkage strength
and the count prior are chosen by k-fold cross-validation over the validation songs (thresholds
refitted on each fold's training part), so the choice is not flattered by thresholds fitted on the
songs it is scored on; the chosen rule is then refitted on all validation songs.

Pure NumPy: no torch, no model, unit-testable on synthetic probabilities.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "AGGREGATES",
    "Calibration",
    "SetScores",
    "SongDecision",
    "THRESHOLD_GRID",
    "aggregate_windows",
    "calibrate",
    "fit_thresholds",
    "set_scores",
]

log = logging.getLogger(__name__)

AGGREGATES = ("max", "top2", "top3", "mean")
"""Aggregations :func:`calibrate` chooses from, simplest first."""
THRESHOLD_GRID = np.round(1.0 / (1.0 + np.exp(-np.linspace(-4.5, 4.5, 37))), 4)
"""Candidate thresholds, uniform in logit (0.011 ... 0.989): the recognizer's probabilities are
sigmoids of logits, and max-aggregated song probabilities crowd near 1, where a linear grid is coarse."""
SHRINKAGE_GRID = (0.0, 2.0, 8.0, 32.0, float("inf"))
"""Pseudo-songs at the global threshold added to each class's own (0: per-class thresholds as fitted;
inf: one threshold for every class)."""
MIN_INSTRUMENTS_GRID = (0, 1)
MAX_INSTRUMENTS_GRID: tuple[int | None, ...] = (None, 3, 4, 5, 6, 8, 10)
_TOP = re.compile(r"top([1-9][0-9]*)")


def aggregate_windows(probs: np.ndarray, method: str = "max") -> np.ndarray:
    """Song-level class probabilities (classes,) from window probabilities (windows, classes).

    Args:
        method: ``max``, ``mean``, or ``top<k>``: the mean of each class's ``k`` most probable
            windows (all of them when the song has fewer; ``top1`` is ``max``).
    """
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or len(probs) == 0:
        raise ValueError(f"expected (windows, classes) probabilities, got shape {probs.shape}")
    if method == "max":
        return probs.max(axis=0)
    if method == "mean":
        return probs.mean(axis=0)
    top = _TOP.fullmatch(method)
    if top:
        k = min(int(top.group(1)), len(probs))
        return np.sort(probs, axis=0)[-k:].mean(axis=0)
    raise ValueError(f"aggregate must be 'max' or 'mean' or 'top<k>' (the mean of the k most probable windows), got {method!r}")


def _check_aggregate(method: str) -> None:
    aggregate_windows(np.zeros((1, 1)), method)


def _logit(p: np.ndarray | float) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))  # type: ignore[no-any-return]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))  # type: ignore[no-any-return]


@dataclass(frozen=True)
class SongDecision:
    """How a song's window probabilities become its set of instruments (see the module docstring).

    Attributes:
        thresholds: per class (classes,), compared with the aggregated song probabilities.
        aggregate: ``max``, ``mean`` or ``top<k>`` (:func:`aggregate_windows`).
        min_instruments: at least this many classes per song (the most probable ones).
        max_instruments: at most this many (the most probable above threshold); None: no cap.
    """

    thresholds: tuple[float, ...]
    aggregate: str = "max"
    min_instruments: int = 0
    max_instruments: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "thresholds", tuple(float(t) for t in np.asarray(self.thresholds, np.float64).ravel()))
        _check_aggregate(self.aggregate)
        if self.min_instruments < 0:
            raise ValueError(f"min_instruments must be >= 0, got {self.min_instruments}")
        if self.max_instruments is not None and self.max_instruments < max(self.min_instruments, 1):
            raise ValueError(f"max_instruments must be >= max(1, min_instruments), got {self.max_instruments} "
                             f"with min_instruments {self.min_instruments}")

    @classmethod
    def uniform(cls, threshold: float, num_classes: int, **kwargs: Any) -> SongDecision:
        return cls(thresholds=(float(threshold),) * num_classes, **kwargs)

    def song_probabilities(self, window_probs: np.ndarray) -> np.ndarray:
        """(classes,) song probabilities of one song's (windows, classes) window probabilities."""
        return aggregate_windows(window_probs, self.aggregate)

    def select(self, song_probs: np.ndarray) -> np.ndarray:
        """Boolean (songs, classes) (or (classes,) for one song): the classes each song is said to have."""
        probs = np.asarray(song_probs, dtype=np.float64)
        one = probs.ndim == 1
        probs = np.atleast_2d(probs)
        thresholds = np.asarray(self.thresholds, dtype=np.float64)
        if probs.shape[1] != len(thresholds):
            raise ValueError(f"{probs.shape[1]} classes but {len(thresholds)} thresholds")
        order = np.argsort(-probs, axis=1, kind="stable")  # most probable first
        chosen = np.take_along_axis(probs >= thresholds, order, axis=1)
        if self.max_instruments is not None:
            chosen &= np.cumsum(chosen, axis=1) <= self.max_instruments
        missing = self.min_instruments - chosen.sum(axis=1, keepdims=True)
        chosen |= ~chosen & (np.cumsum(~chosen, axis=1) <= missing)
        out = np.zeros_like(chosen)
        np.put_along_axis(out, order, chosen, axis=1)
        return out[0] if one else out

    def decide(self, window_probs: np.ndarray) -> dict[int, float]:
        """Class -> song probability of the classes named for one song, most probable first."""
        song = self.song_probabilities(window_probs)
        found = {int(c): float(song[c]) for c in np.flatnonzero(self.select(song))}
        return dict(sorted(found.items(), key=lambda kv: -kv[1]))

    def card_fields(self) -> dict[str, Any]:
        """The :class:`~jointist.models.base.ModelCard` fields that store this rule."""
        return {"thresholds": list(self.thresholds), "aggregate": self.aggregate,
                "min_instruments": self.min_instruments, "max_instruments": self.max_instruments}

    def describe(self) -> str:
        t = np.asarray(self.thresholds)
        thresholds = (f"threshold {t[0]:.3f} for every class" if np.all(t == t[0]) else
                      f"thresholds {t.min():.3f}-{t.max():.3f} (median {np.median(t):.3f})")
        bounds = [f"at least {self.min_instruments}"] if self.min_instruments else []
        bounds += [f"at most {self.max_instruments}"] if self.max_instruments is not None else []
        count = f"{' and '.join(bounds)} instruments per song" if bounds else "no bound on the number of instruments"
        return f"aggregate {self.aggregate}; {thresholds}; {count}"


@dataclass(frozen=True)
class SetScores:
    """Song-level set scores of named vs true classes.

    Attributes:
        songs: how many songs.
        precision, recall, f1: micro, over every (song, class) pair.
        set_f1: the mean over songs of each song's set F1 (1 for a song with no true and no named class).
        set_precision, set_recall: the means over songs of each song's precision and recall (a song
            naming nothing has precision 1 when it has no true class, else 0; likewise recall).
        named, true: mean number of classes named and present per song.
    """

    songs: int
    precision: float
    recall: float
    f1: float
    set_f1: float
    set_precision: float
    set_recall: float
    named: float
    true: float

    def to_dict(self) -> dict[str, float]:
        return dict(self.__dict__)

    def summary(self) -> str:
        return (f"set F1 {self.set_f1:.3f} (precision {self.set_precision:.3f}, recall {self.set_recall:.3f}); "
                f"micro P {self.precision:.3f} R {self.recall:.3f} F1 {self.f1:.3f}; "
                f"{self.named:.1f} named vs {self.true:.1f} true per song ({self.songs} songs)")


def _song_f1(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """(songs,) set F1 of (songs, classes) boolean truth and predictions."""
    tp = (labels & predicted).sum(axis=-1)
    total = labels.sum(axis=-1) + predicted.sum(axis=-1)
    return np.where(total > 0, 2 * tp / np.maximum(total, 1), 1.0)


def set_scores(labels: np.ndarray, predicted: np.ndarray) -> SetScores:
    """:class:`SetScores` of (songs, classes) multi-hot truth and boolean predictions."""
    labels, predicted = np.asarray(labels) > 0.5, np.asarray(predicted, dtype=bool)
    if labels.shape != predicted.shape or labels.ndim != 2:
        raise ValueError(f"labels and predictions must both be (songs, classes), got {labels.shape} and {predicted.shape}")
    tp, n_true, n_named = (labels & predicted).sum(1), labels.sum(1), predicted.sum(1)
    precision = float(tp.sum() / n_named.sum()) if n_named.sum() else 0.0
    recall = float(tp.sum() / n_true.sum()) if n_true.sum() else 0.0
    song_p = np.where(n_named > 0, tp / np.maximum(n_named, 1), (n_true == 0).astype(float))
    song_r = np.where(n_true > 0, tp / np.maximum(n_true, 1), (n_named == 0).astype(float))
    return SetScores(
        songs=len(labels), precision=precision, recall=recall,
        f1=2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        set_f1=float(_song_f1(labels, predicted).mean()) if len(labels) else float("nan"),
        set_precision=float(song_p.mean()) if len(labels) else float("nan"),
        set_recall=float(song_r.mean()) if len(labels) else float("nan"),
        named=float(n_named.mean()) if len(labels) else float("nan"),
        true=float(n_true.mean()) if len(labels) else float("nan"),
    )


def _best(scores: np.ndarray, grid: np.ndarray) -> float:
    """The grid value with the best score; among ties, the middle one (the centre of a plateau)."""
    best = np.flatnonzero(scores >= scores.max() - 1e-12)
    return float(grid[best[len(best) // 2]])


def _class_thresholds(labels: np.ndarray, probs: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per class, the grid threshold with the best F1 over the songs (NaN without positives), and the
    number of positive songs."""
    above = probs[None] >= grid[:, None, None]  # (grid, songs, classes)
    tp = (above & labels[None]).sum(axis=1)  # (grid, classes)
    n_pos = labels.sum(axis=0)
    class_f1 = 2 * tp / np.maximum(n_pos[None] + above.sum(axis=1), 1)
    own = np.full(labels.shape[1], np.nan)
    for c in np.flatnonzero(n_pos):
        own[c] = _best(class_f1[:, c], grid)
    return own, n_pos


def _global_threshold(labels: np.ndarray, probs: np.ndarray, grid: np.ndarray, *, min_instruments: int,
                      max_instruments: int | None) -> float:
    """The one threshold for every class with the best mean set F1 under the count bounds."""
    scores = [_song_f1(labels, SongDecision.uniform(t, labels.shape[1], min_instruments=min_instruments,
                                                    max_instruments=max_instruments).select(probs)).mean()
              for t in grid]
    return _best(np.asarray(scores), grid)


def _shrink(own: np.ndarray, n_pos: np.ndarray, global_t: float, shrinkage: float) -> np.ndarray:
    """``sigmoid((n * logit(own) + shrinkage * logit(global)) / (n + shrinkage))`` per class; the
    global threshold for classes without positives or with infinite shrinkage."""
    out = np.full(len(own), global_t)
    if np.isfinite(shrinkage):
        has = n_pos > 0
        mixed = (n_pos[has] * _logit(own[has]) + shrinkage * _logit(global_t)) / (n_pos[has] + shrinkage)
        out[has] = _sigmoid(mixed)
    return np.round(out, 4)


def fit_thresholds(
    labels: np.ndarray, song_probs: np.ndarray, *, shrinkage: float, min_instruments: int = 0,
    max_instruments: int | None = None, grid: np.ndarray = THRESHOLD_GRID,
) -> tuple[np.ndarray, float]:
    """Per-class song-level thresholds shrunk toward a global one.

    The global threshold maximises the mean set F1 of the songs with one threshold for every class
    (and the count bounds applied). A class with ``n`` positive songs gets
    ``sigmoid((n * logit(t_c) + shrinkage * logit(t_g)) / (n + shrinkage))``, where ``t_c`` is the
    grid threshold with its best F1 over the songs; a class without positives, or every class with
    ``shrinkage=inf``, gets the global threshold.

    Args:
        labels, song_probs: (songs, classes) multi-hot truth and aggregated probabilities.

    Returns:
        ((classes,) thresholds, the global threshold).
    """
    labels = np.asarray(labels) > 0.5
    probs = np.asarray(song_probs, dtype=np.float64)
    grid = np.asarray(grid, dtype=np.float64)
    global_t = _global_threshold(labels, probs, grid, min_instruments=min_instruments, max_instruments=max_instruments)
    own, n_pos = _class_thresholds(labels, probs, grid)
    return _shrink(own, n_pos, global_t, shrinkage), global_t


@dataclass(frozen=True)
class Calibration:
    """What :func:`calibrate` chose and why.

    Attributes:
        decision: the rule, fitted on all the validation songs.
        validation: its scores on those songs (in-sample: optimistic).
        cross_validated_set_f1: the mean set F1 of the chosen settings on held-out folds (honest).
        global_threshold, shrinkage: the shrinkage target and strength of the chosen thresholds.
        candidates: (aggregate, shrinkage, min, max) -> cross-validated mean set F1 of every setting tried.
    """

    decision: SongDecision
    validation: SetScores
    cross_validated_set_f1: float
    global_threshold: float
    shrinkage: float
    candidates: Mapping[tuple[str, float, int, int | None], float] = field(default_factory=dict)

    def describe(self) -> str:
        shrunk = "" if np.isinf(self.shrinkage) else (
            f" (shrunk toward {self.global_threshold:.3f} with {self.shrinkage:g} pseudo-songs)")
        return f"{self.decision.describe()}{shrunk}; cross-validated set F1 {self.cross_validated_set_f1:.3f}"


def _stack_songs(window_probs: Sequence[np.ndarray], aggregate: str) -> np.ndarray:
    return np.stack([aggregate_windows(p, aggregate) for p in window_probs])


def calibrate(
    window_probs: Sequence[np.ndarray],
    labels: np.ndarray,
    *,
    aggregates: Sequence[str] = AGGREGATES,
    shrinkages: Sequence[float] = SHRINKAGE_GRID,
    min_instruments: Sequence[int] = MIN_INSTRUMENTS_GRID,
    max_instruments: Sequence[int | None] = MAX_INSTRUMENTS_GRID,
    grid: np.ndarray = THRESHOLD_GRID,
    folds: int = 5,
    seed: int = 0,
) -> Calibration:
    """The :class:`SongDecision` with the best cross-validated mean set F1 on validation songs.

    Args:
        window_probs: per song, its (windows, classes) window probabilities.
        labels: (songs, classes) multi-hot: the classes each song really has.
        aggregates, shrinkages, min_instruments, max_instruments: the settings tried (every
            combination; on ties the one listed first wins, so list the simplest first).
        grid: candidate thresholds.
        folds: cross-validation folds over the songs (songs assigned at random with ``seed``);
            1: no cross-validation, settings chosen on the songs the thresholds are fitted on.
    """
    labels = np.asarray(labels) > 0.5
    if len(window_probs) != len(labels) or labels.ndim != 2:
        raise ValueError(f"{len(window_probs)} songs of window probabilities but labels of shape {labels.shape}")
    if not 1 <= folds <= len(labels):
        raise ValueError(f"folds must be between 1 and the number of songs ({len(labels)}), got {folds}")
    for aggregate in aggregates:
        _check_aggregate(aggregate)
    settings = [(a, float(s), int(lo), hi) for a, s, lo, hi in
                itertools.product(aggregates, shrinkages, min_instruments, max_instruments)
                if hi is None or hi >= max(lo, 1)]
    grid = np.asarray(grid, dtype=np.float64)
    fold_of = np.random.default_rng(seed).permutation(len(labels)) % folds
    f1_sum = dict.fromkeys(settings, 0.0)
    for aggregate in aggregates:
        song_probs = _stack_songs(window_probs, aggregate)
        for k in range(folds):
            train, held = (fold_of != k, fold_of == k) if folds > 1 else (fold_of == k, fold_of == k)
            own, n_pos = _class_thresholds(labels[train], song_probs[train], grid)
            for lo, hi in {(lo, hi) for a, _, lo, hi in settings if a == aggregate}:
                global_t = _global_threshold(labels[train], song_probs[train], grid, min_instruments=lo, max_instruments=hi)
                for setting in settings:
                    if setting[0] == aggregate and setting[2:] == (lo, hi):
                        rule = SongDecision(tuple(_shrink(own, n_pos, global_t, setting[1])), aggregate, lo, hi)
                        f1_sum[setting] += float(_song_f1(labels[held], rule.select(song_probs[held])).sum())
    cv = {setting: total / len(labels) for setting, total in f1_sum.items()}
    aggregate, shrinkage, lo, hi = max(settings, key=lambda setting: cv[setting])  # the first of ties
    song_probs = _stack_songs(window_probs, aggregate)
    thresholds, global_t = fit_thresholds(labels, song_probs, shrinkage=shrinkage, min_instruments=lo,
                                          max_instruments=hi, grid=grid)
    decision = SongDecision(thresholds=tuple(thresholds), aggregate=aggregate, min_instruments=lo, max_instruments=hi)
    calibration = Calibration(
        decision=decision, validation=set_scores(labels, decision.select(song_probs)),
        cross_validated_set_f1=cv[(aggregate, shrinkage, lo, hi)], global_threshold=global_t, shrinkage=shrinkage,
        candidates=cv,
    )
    log.info("song decision: %s", calibration.describe())
    return calibration
