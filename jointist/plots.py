"""Figures: piano rolls of transcriptions and bar charts of per-instrument scores.

Drawn on matplotlib ``Figure`` objects with their own Agg canvas, never through pyplot: writing a
figure neither needs nor changes the process's backend (a notebook keeps its inline figures)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from jointist.atomic import atomic_path
from jointist.constants import FRAMES_PER_SECOND, MIN_MIDI
from jointist.notes import NoteArray

__all__ = ["plot_f1_bars", "plot_pianoroll"]

MAX_COLUMNS = 4000


def _figure(size: tuple[float, float]):  # type: ignore[no-untyped-def]
    """A figure and its axes, outside pyplot's figure manager (nothing to close, no backend switch)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    return fig, fig.subplots()


def _save(fig, path: str | os.PathLike[str]) -> Path:  # type: ignore[no-untyped-def]
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, bbox_inches="tight")
    return Path(path)


def plot_pianoroll(
    frame: np.ndarray, notes: NoteArray, path: str | os.PathLike[str], *, title: str = "", fps: float = FRAMES_PER_SECOND
) -> Path:
    """Frame activations (frames, 88) in grey with the notes outlined in red, for one instrument.

    ``frame`` is uint8 codes (0..255, see :class:`~jointist.results.Posteriorgram`) or probabilities
    in [0, 1] as floats, at ``fps`` frames per second. Longer than 4000 frames, it is max-pooled to
    at most 4000 columns.
    """
    from matplotlib.collections import PolyCollection

    vmax = 255 if frame.dtype == np.uint8 else 1.0
    full_frames = len(frame)
    step = max(1, int(np.ceil(len(frame) / MAX_COLUMNS)))
    if step > 1:  # max-pool long songs down to at most MAX_COLUMNS columns
        pad = (-len(frame)) % step
        frame = np.pad(frame, ((0, pad), (0, 0))).reshape(-1, step, frame.shape[1]).max(axis=1)
    duration_s = full_frames / fps
    fig, ax = _figure((min(20, 4 + duration_s / 6), 4))
    ax.imshow(frame.T, origin="lower", aspect="auto", cmap="Greys", vmin=0, vmax=vmax,
              extent=(0, duration_s, MIN_MIDI - 0.5, MIN_MIDI + 87.5))
    # one collection for every note outline: a 20-minute piano part has tens of thousands of notes
    on, off, key = notes.onset_s, np.maximum(notes.offset_s, notes.onset_s + 0.01), notes.pitch.astype(np.float64)
    outlines = np.stack([np.stack([on, key - 0.5], 1), np.stack([off, key - 0.5], 1),
                         np.stack([off, key + 0.5], 1), np.stack([on, key + 0.5], 1)], axis=1)
    ax.add_collection(PolyCollection(list(outlines), facecolors="none", edgecolors="red", linewidths=0.6))
    ax.set_title(f"{title}: {len(notes)} notes" if title else f"{len(notes)} notes")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("MIDI pitch")
    return _save(fig, path)


def plot_f1_bars(per_instrument: Mapping[str, Mapping[str, float]], path: str | os.PathLike[str], *,
                 title: str = "Note F1 per instrument", labels: tuple[str, str] = ("onset", "onset+offset"),
                 keys: tuple[str, str] = ("onset", "offset"), ylabel: str = "score",
                 ylim: tuple[float, float] | None = (0.0, 1.0)) -> Path:
    """Grouped bars of two scores per instrument (``keys`` of each row; ``labels`` name them).

    F1 and AP use the default 0..1 axis; SDR in dB passes ``ylim=None``."""
    names = list(per_instrument)
    first = [per_instrument[n].get(keys[0], np.nan) for n in names]
    second = [per_instrument[n].get(keys[1], np.nan) for n in names]
    x = np.arange(len(names))
    fig, ax = _figure((max(6, 0.45 * len(names) + 2), 4))
    ax.bar(x - 0.2, np.nan_to_num(first), 0.4, label=labels[0])
    ax.bar(x + 0.2, np.nan_to_num(second), 0.4, label=labels[1])
    ax.set_xticks(x, names, rotation=60, ha="right")
    if ylim is not None:
        ax.set_ylim(*ylim)
    else:
        ax.axhline(0.0, color="black", linewidth=0.5)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    return _save(fig, path)
