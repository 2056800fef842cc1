"""Statistics of a Slakh2100-format corpus: what a model will learn from, in numbers."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from jointist.constants import FRAMES_PER_SECOND
from jointist.data.slakh import TrackInfo, load_index
from jointist.data.targets import time_to_frame
from jointist.instruments import INSTRUMENTS, NUM_CLASSES

__all__ = ["CorpusStats", "corpus_stats", "format_stats"]


@dataclass
class CorpusStats:
    """Per split: tracks, hours, stems per song, notes per second, polyphony, class histogram."""

    split: str
    tracks: int
    hours: float
    stems_per_song: tuple[float, float, float]  # min, mean, max (rendered stems)
    notes_per_second: float  # all notes of all stems per second of audio
    polyphony: float  # mean number of pitched notes sounding, over frames where one sounds
    max_polyphony: int
    stems_per_class: list[int] = field(default_factory=lambda: [0] * NUM_CLASSES)
    tracks_per_class: list[int] = field(default_factory=lambda: [0] * NUM_CLASSES)

    @property
    def classes_present(self) -> int:
        return sum(1 for n in self.stems_per_class if n > 0)


def _polyphony(track: TrackInfo) -> tuple[np.ndarray, int]:
    """Histogram support: sounding pitched-note counts per frame of a track.

    Notes fall on frames by :func:`~jointist.data.targets.time_to_frame`, the rule of the training targets.
    """
    n_frames = int(np.ceil(track.duration_s * FRAMES_PER_SECOND)) + 1
    diff = np.zeros(n_frames + 1, np.int32)
    for stem in track.stems:
        if stem.is_drum or not len(stem.notes):
            continue
        a = np.clip(time_to_frame(stem.notes.onset_s), 0, n_frames)
        b = np.clip(time_to_frame(stem.notes.offset_s), 0, n_frames)
        b = np.maximum(b, np.minimum(a + 1, n_frames))
        np.add.at(diff, a, 1)
        np.add.at(diff, b, -1)
    counts = np.cumsum(diff[:-1])
    return counts[counts > 0], int(counts.max(initial=0))


def corpus_stats(
    root: str | os.PathLike[str], *, splits: Sequence[str] = ("train", "validation", "test", "test_style"),
    by_style: bool = False,
) -> list[CorpusStats]:
    """Statistics of each split folder found under ``root`` (missing splits are left out); with ``by_style``,
    one row per split and style instead (named ``split/style``; tracks without a style are ``unknown``)."""
    out: list[CorpusStats] = []
    for split in splits:
        if not (os.path.isdir(os.path.join(root, split))):
            continue
        tracks = load_index(root, split)
        if not by_style:
            out.append(_stats(split, tracks))
            continue
        groups: dict[str, list[TrackInfo]] = {}
        for track in tracks:
            groups.setdefault(getattr(track, "style", None) or "unknown", []).append(track)
        out += [_stats(f"{split}/{style}", group) for style, group in sorted(groups.items())]
    return out


def _stats(split: str, tracks: Sequence[TrackInfo]) -> CorpusStats:
    """The statistics of a group of tracks (a split, or a split's songs of one style)."""
    stems_per_song = [len(t.stems) for t in tracks]
    total_s = sum(t.duration_s for t in tracks)
    notes = sum(len(s.notes) for t in tracks for s in t.stems)
    sounding, max_poly = [], 0
    stems_per_class: Counter[int] = Counter()
    tracks_per_class: Counter[int] = Counter()
    for track in tracks:
        counts, peak = _polyphony(track)
        sounding.append(counts)
        max_poly = max(max_poly, peak)
        stems_per_class.update(s.instrument for s in track.stems)
        tracks_per_class.update(set(s.instrument for s in track.stems))
    all_counts = np.concatenate(sounding) if sounding else np.zeros(0)
    return CorpusStats(
        split=split,
        tracks=len(tracks),
        hours=total_s / 3600,
        stems_per_song=(min(stems_per_song), float(np.mean(stems_per_song)), max(stems_per_song)),
        notes_per_second=notes / max(total_s, 1e-9),
        polyphony=float(all_counts.mean()) if all_counts.size else 0.0,
        max_polyphony=max_poly,
        stems_per_class=[stems_per_class[i] for i in range(NUM_CLASSES)],
        tracks_per_class=[tracks_per_class[i] for i in range(NUM_CLASSES)],
    )


def format_stats(stats: Sequence[CorpusStats], styles: Sequence[CorpusStats] = ()) -> str:
    """A markdown report: one summary table (and one per split and style, when given), then the class
    histogram with one column per split."""
    lines = [
        "| split | tracks | hours | stems/song (min/mean/max) | notes/s | polyphony (mean/max) | classes |",
        "|---|---:|---:|---|---:|---|---:|",
    ]
    for s in stats:
        lo, mean, hi = s.stems_per_song
        lines.append(
            f"| {s.split} | {s.tracks} | {s.hours:.2f} | {lo}/{mean:.1f}/{hi} | {s.notes_per_second:.1f} | "
            f"{s.polyphony:.2f}/{s.max_polyphony} | {s.classes_present}/{NUM_CLASSES} |"
        )
    if styles:
        lines += ["", "| split/style | tracks | hours | stems/song (min/mean/max) | notes/s | polyphony (mean/max) | classes |",
                  "|---|---:|---:|---|---:|---|---:|"]
        for s in styles:
            lo, mean, hi = s.stems_per_song
            lines.append(
                f"| {s.split} | {s.tracks} | {s.hours:.2f} | {lo}/{mean:.1f}/{hi} | {s.notes_per_second:.1f} | "
                f"{s.polyphony:.2f}/{s.max_polyphony} | {s.classes_present}/{NUM_CLASSES} |"
            )
    lines += ["", "| class | " + " | ".join(f"{s.split} stems (tracks)" for s in stats) + " |",
              "|---|" + "---:|" * len(stats)]
    for inst in INSTRUMENTS:
        cells = " | ".join(f"{s.stems_per_class[inst.index]} ({s.tracks_per_class[inst.index]})" for s in stats)
        lines.append(f"| {inst.index:2d} {inst.name} | {cells} |")
    return "\n".join(lines)
