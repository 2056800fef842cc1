"""Writing results to disk: multitrack MIDI, a JSON of notes, piano-roll PNGs and WAV stems.

Every file is written atomically (a temporary file in the same folder, then a rename), so a killed
run never leaves a truncated output behind.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from jointist.atomic import atomic_write_text
from jointist.audio.io import write_audio
from jointist.instruments import by_index
from jointist.notes import NoteArray
from jointist.plots import plot_pianoroll
from jointist.results import Transcription

__all__ = ["notes_to_json", "transcription_json", "write_outputs"]


def notes_to_json(tracks: Mapping[int, NoteArray], *, extra: Mapping[str, object] | None = None) -> str:
    """A JSON document: ``{"instruments": [{"index", "name", "program", "is_drum", "notes": [...]}]}``."""
    doc = {
        **(dict(extra) if extra else {}),
        "instruments": [
            {
                "index": c, "name": by_index(c).name, "program": by_index(c).program, "is_drum": by_index(c).is_drum,
                "notes": [
                    {"onset_s": round(e.onset_s, 4), "offset_s": round(e.offset_s, 4), "pitch": e.pitch, "velocity": e.velocity}
                    for e in notes.to_events()
                ],
            }
            for c, notes in sorted(tracks.items())
        ],
    }
    return json.dumps(doc, indent=1)


def transcription_json(result: Transcription) -> str:
    """The notes of every instrument, the source, the duration and, with ``instruments=auto``, the
    recognizer's detections with their probabilities."""
    extra: dict[str, object] = {"source": result.source, "duration_s": round(result.duration_s, 3)}
    if result.detected:
        extra["detected"] = {name: round(p, 4) for name, p in result.detected.items()}
    return notes_to_json(result.notes(), extra=extra)


def write_outputs(
    result: Transcription, out_dir: str | os.PathLike[str], *, name: str, plots: bool = True, stems: bool = True
) -> dict[str, Path]:
    """Write ``<name>.mid``, ``<name>.json``, with ``plots`` ``pianoroll/<instrument>.png``, and with
    ``stems`` ``stems/<instrument>.wav`` for every instrument that was separated.

    Returns:
        what was written, by kind (``midi``, ``json``, ``pianoroll/<slug>``, ``stems/<slug>``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {"midi": result.write_midi(out / f"{name}.mid")}
    written["json"] = atomic_write_text(out / f"{name}.json", transcription_json(result))
    for track in result.tracks:
        slug = track.instrument.slug
        if plots:
            written[f"pianoroll/{slug}"] = plot_pianoroll(
                track.frame.codes, track.notes, out / "pianoroll" / f"{slug}.png", title=track.instrument.name,
                fps=track.frame.fps,
            )
        if stems and track.stem is not None:
            written[f"stems/{slug}"] = write_audio(out / "stems" / f"{slug}.wav", track.stem, sample_rate=track.sample_rate)
    return written
