"""Evaluate a transcriber on a Slakh2100-format split with the same pipeline users run."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from jointist.data.slakh import load_index
from jointist.instruments import INSTRUMENTS, parse_instruments
from jointist.metrics import PieceScores, TranscriptionReport, evaluate_piece, summarise
from jointist.pipeline import Transcriber

__all__ = ["evaluate_split", "write_report"]

log = logging.getLogger(__name__)


def evaluate_split(
    transcriber: Transcriber,
    root: str | os.PathLike[str],
    split: str = "test",
    *,
    instruments: str | list[str] = "gt",
    max_tracks: int | None = None,
    progress: bool = True,
) -> tuple[TranscriptionReport, list[PieceScores]]:
    """Transcribe every track's ``mix.flac`` and score it against the track's MIDI.

    Args:
        instruments: ``gt`` transcribes each track's true instruments; ``all`` transcribes all 39
            classes (predictions for absent classes then count in the ``*_penalised`` numbers); or
            a fixed list of names.
    """
    from tqdm import tqdm

    tracks = load_index(root, split)[:max_tracks]
    fixed = None if instruments in ("gt", "all") else parse_instruments(instruments)
    pieces: list[PieceScores] = []
    for track in tqdm(tracks, desc=f"evaluating {split}", unit="track", disable=not progress):
        ref = track.notes_by_class()
        if instruments == "gt":
            wanted: list = [INSTRUMENTS[c] for c in sorted(ref)]
        elif instruments == "all":
            wanted = list(INSTRUMENTS)
        else:
            wanted = fixed  # type: ignore[assignment]
        result = transcriber.transcribe_file(track.mix_path, instruments=[i.index for i in wanted])
        pieces.append(evaluate_piece(track.track_id, ref, result.notes()))
    return summarise(pieces), pieces


def write_report(report: TranscriptionReport, out_dir: str | os.PathLike[str], *, meta: dict | None = None) -> dict[str, Path]:
    """``report.json``, ``report.md`` and ``f1_per_instrument.png`` in ``out_dir``."""
    from jointist.plots import plot_f1_bars

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "markdown": out / "report.md"}
    for key, text in (("json", json.dumps({**(meta or {}), **report.to_dict()}, indent=1)), ("markdown", report.to_markdown())):
        tmp = paths[key].with_name(f".{paths[key].name}.tmp")
        tmp.write_text(text + "\n")
        os.replace(tmp, paths[key])
    paths["chart"] = plot_f1_bars(report.per_instrument, out / "f1_per_instrument.png")
    return paths
