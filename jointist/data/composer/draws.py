"""Random draws from the caller's generator, each a fixed number of ``rng.random()`` calls.

Every choice the composer makes goes through these helpers (or a direct ``rng.random()`` /
``rng.normal``), so the sequence of draws, and with it the song a seed gives, depends only on the code
path; nothing uses global random state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

import numpy as np

__all__ = ["pick", "pick_map", "randint", "uniform"]

_T = TypeVar("_T")


def pick(rng: np.random.Generator, options: Sequence[_T], weights: Sequence[float] | None = None) -> _T:
    """One of ``options`` (uniform, or proportional to ``weights``), with a single draw from ``rng``."""
    if weights is None:
        return options[min(int(rng.random() * len(options)), len(options) - 1)]
    total = float(sum(weights))
    r = rng.random() * total
    acc = 0.0
    last = 0
    for i, w in enumerate(weights):
        if w <= 0:
            continue
        acc += w
        last = i
        if r < acc:
            return options[i]
    return options[last]


def pick_map(rng: np.random.Generator, table: Mapping[_T, float]) -> _T:
    """A key of ``table`` drawn with its value as weight (keys in insertion order; one draw)."""
    keys = list(table)
    return pick(rng, keys, [table[k] for k in keys])


def randint(rng: np.random.Generator, low: int, high: int) -> int:
    """Integer in ``[low, high]`` (one draw)."""
    return low + min(int(rng.random() * (high - low + 1)), high - low)


def uniform(rng: np.random.Generator, low: float, high: float) -> float:
    """Float in ``[low, high)`` (one draw)."""
    return low + (high - low) * rng.random()
