"""Writing results to disk: multitrack MIDI, a JSON of notes, piano-roll PNGs and WAV stems.

Every file is written atomically (a temporary file in the same folder, then a rename), so a killed
run never leaves a truncated output behind.

Several recordings can share one output folder: each writes under its own *output name*
(:func:`output_names`): ``<name>.mid``, ``<name>.json``, ``<name>.pianoroll/<instrument>.png`` and
``<name>.stems/<instrument>.wav`` (:class:`OutputPaths`). The name is the file's stem (``song`` for
``song.wav``), or its whole file name (``song.flac``) when another input of the same run has that stem.
The JSON records the source recording, so results written for another input are recognised
(:meth:`OutputPaths.conflict`) and not overwritten unless asked.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from jointist.atomic import atomic_write_text
from jointist.audio.io import write_audio
from jointist.constants import SAMPLE_RATE
from jointist.instruments import by_index
from jointist.notes import NoteArray
from jointist.plots import plot_pianoroll
from jointist.results import Transcription

__all__ = ["OutputPaths", "StemWriter", "notes_to_json", "output_names", "transcription_json", "write_outputs"]


def output_names(inputs: Sequence[str | os.PathLike[str]]) -> list[str]:
    """The output name of each input, in order: its stem (``song`` for ``dir/song.wav``), or its file
    name (``song.flac``) when another input has the same stem.

    Raises:
        ValueError: two inputs have the same file name (in different folders), so their outputs
            would collide; the message names them.
    """
    paths = [Path(p) for p in inputs]
    stems = [p.stem for p in paths]
    names = [p.name if stems.count(p.stem) > 1 else p.stem for p in paths]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ValueError(f"{paths[names.index(name)]} and {paths[i]} would both write {name}.*: "
                             "transcribe them into different out= folders")
    return names


@dataclass(frozen=True)
class OutputPaths:
    """Where the results of one recording go in an output folder, under its output name."""

    folder: Path
    name: str

    @property
    def midi(self) -> Path:
        return self.folder / f"{self.name}.mid"

    @property
    def json(self) -> Path:
        return self.folder / f"{self.name}.json"

    @property
    def pianoroll_dir(self) -> Path:
        return self.folder / f"{self.name}.pianoroll"

    @property
    def stems_dir(self) -> Path:
        return self.folder / f"{self.name}.stems"

    def conflict(self, source: str | os.PathLike[str]) -> str | None:
        """Why writing results for ``source`` here would overwrite another recording's, or None.

        Results are another recording's when the JSON names another source, or cannot be read, or is
        missing while the MIDI file, the piano rolls or the stems are there.
        """
        if self.json.exists():
            try:
                recorded = json.loads(self.json.read_text()).get("source")
            except (OSError, ValueError, AttributeError):
                recorded = None
            if recorded is None:
                return f"{self.json} exists and does not say which recording it was written for"
            if Path(recorded).resolve() != Path(source).resolve():
                return f"{self.json} holds the results for {recorded}, not {source}"
            return None
        there = [p for p in (self.midi, self.pianoroll_dir, self.stems_dir) if p.exists()]
        if there:
            return f"{there[0]} exists and there is no {self.json.name} saying which recording it was written for"
        return None


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
    result: Transcription, out_dir: str | os.PathLike[str], *, name: str, plots: bool = True, stems: bool = True,
    folders_per_name: bool = False, progress: bool = False,
) -> dict[str, Path]:
    """Write ``<name>.mid``, ``<name>.json``, with ``plots`` a piano roll per instrument, and with
    ``stems`` a WAV per instrument that was separated.

    With ``folders_per_name`` the piano rolls go to ``<name>.pianoroll/<instrument>.png`` and the
    stems to ``<name>.stems/<instrument>.wav`` (:class:`OutputPaths`), so recordings sharing the
    folder keep their own; without, to ``pianoroll/`` and ``stems/`` (a folder that holds one
    recording, as ``jointist-demo`` writes).

    With ``progress``, a bar counts the instruments written (their piano rolls take the time).

    Returns:
        what was written, by kind (``midi``, ``json``, ``pianoroll/<slug>``, ``stems/<slug>``).
    """
    from tqdm import tqdm

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = OutputPaths(out, name)
    pianoroll_dir = paths.pianoroll_dir if folders_per_name else out / "pianoroll"
    stems_dir = paths.stems_dir if folders_per_name else out / "stems"
    # the JSON first: it names the recording, so a run killed before the rest is recognised as its own
    written = {"json": atomic_write_text(paths.json, transcription_json(result))}
    written["midi"] = result.write_midi(paths.midi)
    for track in tqdm(result.tracks, desc="writing", unit="instrument", disable=not progress):
        slug = track.instrument.slug
        if plots:
            written[f"pianoroll/{slug}"] = plot_pianoroll(
                track.frame.codes, track.notes, pianoroll_dir / f"{slug}.png", title=track.instrument.name,
                fps=track.frame.fps,
            )
        if stems and track.stem_path is not None:
            written[f"stems/{slug}"] = track.stem_path  # streamed there while separating
        elif stems and track.stem is not None:
            written[f"stems/{slug}"] = write_audio(stems_dir / f"{slug}.wav", track.stem, sample_rate=track.sample_rate)
    return written


class StemWriter:
    """Streams separated stems to ``<folder>/<slug>.wav``, one file per instrument, as blocks arrive.

    Blocks are ``(instruments, samples)`` float32 at 16 kHz; with ``sample_rate`` other than 16 kHz
    they are resampled on the fly (soxr, streaming). Files are written under a temporary name and
    renamed by :meth:`close`, so a killed run leaves no truncated stem behind; memory holds one block.
    """

    def __init__(self, folder: str | os.PathLike[str], slugs: Sequence[str], *, sample_rate: int = SAMPLE_RATE) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.paths = [self.folder / f"{slug}.wav" for slug in slugs]
        self.sample_rate = sample_rate
        self._tmp: list[Path] = []
        self._files: list[sf.SoundFile] = []
        try:
            for path in self.paths:  # unique temporary names: two runs into one folder do not collide
                fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=self.folder)
                os.close(fd)
                self._tmp.append(Path(name))
                self._files.append(sf.SoundFile(name, "w", samplerate=sample_rate, channels=1, subtype="FLOAT",
                                                format="WAV"))
        except BaseException:
            self.abort()
            raise
        self._resamplers = None
        if sample_rate != SAMPLE_RATE:
            import soxr

            self._resamplers = [soxr.ResampleStream(SAMPLE_RATE, sample_rate, 1, dtype="float32", quality="HQ")
                                for _ in slugs]

    def __call__(self, block: np.ndarray) -> None:
        for j, f in enumerate(self._files):
            data = np.ascontiguousarray(block[j], dtype=np.float32)
            if self._resamplers is not None:
                data = self._resamplers[j].resample_chunk(data, last=False)
            f.write(data)

    def abort(self) -> None:
        """Close every file and delete the temporary ones (after a failure): nothing is left behind."""
        for f in self._files:
            if not f.closed:
                f.close()
        for tmp in self._tmp:
            tmp.unlink(missing_ok=True)

    def close(self) -> list[Path]:
        """Flush, close and move every stem into place; returns their paths."""
        for j, f in enumerate(self._files):
            if self._resamplers is not None:
                f.write(self._resamplers[j].resample_chunk(np.zeros(0, np.float32), last=True))
            f.close()
        for tmp, path in zip(self._tmp, self.paths):
            os.replace(tmp, path)
        return list(self.paths)
