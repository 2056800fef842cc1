"""End-to-end inference: audio -> per-instrument posteriorgrams -> notes -> MIDI, piano rolls, JSON.

A walk through :meth:`Transcriber.transcribe_audio`:
1. the song (mono, 16 kHz) is cut by the shared :class:`~jointist.audio.chunker.Chunker` into 10 s
   windows overlapping by 1 s;
2. windows go through the model ``batch_size`` at a time; for each window the model computes the
   log-mel and the shared trunk once and then the conditioned heads of all requested instruments
   in one batched pass;
3. the central part of each window's onset and frame probabilities is written into song-long
   arrays, stored as uint8 (1/255 steps; 7 kB per second and instrument), so memory grows slowly
   with the song length whatever the window count;
4. notes are decoded per instrument (:func:`~jointist.postprocess.decode_tracks`), then written as
   one MIDI track per instrument, a piano-roll PNG per instrument and a JSON of notes.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from jointist.atomic import atomic_write_text
from jointist.audio.chunker import Chunker
from jointist.audio.io import check_audio, load_audio
from jointist.constants import FRAMES_PER_SECOND, SAMPLE_RATE, SEGMENT_S
from jointist.instruments import INSTRUMENTS, Instrument, parse_instruments
from jointist.notes import NoteArray
from jointist.postprocess import DecodeConfig, decode_tracks, notes_to_json, write_midi

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_RECOGNIZER",
    "InstrumentTranscript",
    "Recognizer",
    "Transcriber",
    "Transcription",
    "aggregate_windows",
    "transcribe",
]

log = logging.getLogger(__name__)

DEFAULT_MODEL = "transcriber.pt"
"""File name of the shipped transcriber inside the package's ``weights`` folder."""
DEFAULT_RECOGNIZER = "recognizer.pt"
"""File name of the shipped instrument recognizer inside the package's ``weights`` folder."""


def default_model_path(name: str = DEFAULT_MODEL) -> Path:
    return Path(str(resources.files("jointist") / "weights" / name))


def _load(model: str | os.PathLike[str] | None, *, default: str, what: str, device: str):  # type: ignore[no-untyped-def]
    from jointist.models.serialize import CheckpointError, load_model

    path = Path(model) if model is not None else default_model_path(default)
    if model is None and not path.is_file():
        raise CheckpointError(
            f"the shipped {what} {path} is missing from this installation; pass a model file "
            "(a model.pt exported by jointist-train or a jointist checkpoint)"
        )
    loaded, extra = load_model(path, map_location=device)
    return loaded.to(device), extra, path


def aggregate_windows(probs: np.ndarray, method: str = "max") -> np.ndarray:
    """Song-level class probabilities from window probabilities (windows, classes): max or mean."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or len(probs) == 0:
        raise ValueError(f"expected (windows, classes) probabilities, got shape {probs.shape}")
    if method == "max":
        return probs.max(axis=0)
    if method == "mean":
        return probs.mean(axis=0)
    raise ValueError(f"aggregate must be 'max' or 'mean', got {method!r}")


class Recognizer:
    """A loaded instrument recognizer: which classes play in a recording.

    Args:
        model: model file (None: the shipped recognizer).
        thresholds: per-class (39,) or one threshold (default: the ones stored with the model, else 0.5).
        aggregate: ``max`` or ``mean`` over windows (default: stored with the model, else ``max``).
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        device: str = "cpu",
        batch_size: int = 4,
        thresholds: np.ndarray | float | None = None,
        aggregate: str | None = None,
        window_s: float = SEGMENT_S,
        hop_s: float = 9.0,
    ) -> None:
        self.model, extra, self.model_path = _load(model, default=DEFAULT_RECOGNIZER, what="instrument recognizer", device=device)
        stored = np.asarray(extra.get("thresholds", [0.5] * 39), dtype=np.float64)
        self.thresholds = np.broadcast_to(np.asarray(thresholds if thresholds is not None else stored, np.float64), (39,))
        self.aggregate = aggregate or extra.get("aggregate", "max")
        self.device = device
        self.batch_size = batch_size
        self.chunker = Chunker(window_s=window_s, hop_s=hop_s)

    def window_probabilities(self, audio: np.ndarray) -> np.ndarray:
        """(windows, 39) class probabilities of each window of a song (the shared chunker's windows)."""
        return self.window_probabilities_of(np.stack([seg for _, seg in self.chunker.segments(audio)]))

    @torch.inference_mode()
    def window_probabilities_of(self, windows: np.ndarray) -> np.ndarray:
        """(windows, samples) clips -> (windows, 39) class probabilities."""
        out = []
        for first in range(0, len(windows), self.batch_size):
            x = torch.from_numpy(np.ascontiguousarray(windows[first: first + self.batch_size])).to(self.device)
            out.append(torch.sigmoid(self.model(x)).float().cpu().numpy())
        return np.concatenate(out)

    def recognize(self, audio: np.ndarray) -> dict[int, float]:
        """Detected classes (probability >= threshold) with their song-level probabilities, most likely first."""
        song = aggregate_windows(self.window_probabilities(audio), self.aggregate)
        found = {c: float(song[c]) for c in np.flatnonzero(song >= self.thresholds)}
        return dict(sorted(found.items(), key=lambda kv: -kv[1]))


@dataclass
class InstrumentTranscript:
    """One instrument's result: notes and the song-long posteriorgrams (uint8, probability x 255)."""

    instrument: Instrument
    notes: NoteArray
    onset: np.ndarray  # (frames, 88) uint8
    frame: np.ndarray  # (frames, 88) uint8


@dataclass
class Transcription:
    """The result of transcribing one recording."""

    duration_s: float
    tracks: list[InstrumentTranscript]
    source: str | None = None
    detected: dict[str, float] = field(default_factory=dict)  # instrument -> probability (recognizer)

    def notes(self) -> dict[int, NoteArray]:
        """Notes per class index."""
        return {t.instrument.index: t.notes for t in self.tracks}

    def write_midi(self, path: str | os.PathLike[str]) -> Path:
        return write_midi({t.instrument: t.notes for t in self.tracks}, path)

    def to_json(self) -> str:
        extra: dict[str, object] = {"source": self.source, "duration_s": round(self.duration_s, 3)}
        if self.detected:
            extra["detected"] = {name: round(p, 4) for name, p in self.detected.items()}
        return notes_to_json(self.notes(), extra=extra)


class Transcriber:
    """A loaded transcription model with its inference settings (load once, transcribe many).

    Args:
        model: path of a model file or jointist checkpoint (None: the shipped model).
        device: ``cpu``, ``cuda``, ...
        batch_size: windows per forward pass.
        instruments_per_pass: instruments transcribed together from one window's shared features;
            more are done in groups of this size, which bounds memory for ``instruments="all"``.
            The defaults (1 window, 2 instruments) keep every activation small enough for glibc to
            reuse its heap: bigger passes are up to 4x slower on a CPU (page faults of fresh mmaps),
            so raise them only on a GPU.
        decode: note decoding thresholds (default: the ones stored with the model).
        window_s, hop_s: chunking of long audio.
        progress: show a progress bar over windows.
        recognizer: a :class:`Recognizer` or its model file for ``instruments="auto"`` (None: the
            shipped recognizer, loaded when first needed).
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        device: str = "cpu",
        batch_size: int = 1,
        instruments_per_pass: int = 2,
        decode: DecodeConfig | None = None,
        window_s: float = SEGMENT_S,
        hop_s: float = 9.0,
        progress: bool = True,
        recognizer: Recognizer | str | os.PathLike[str] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if instruments_per_pass < 1:
            raise ValueError(f"instruments_per_pass must be >= 1, got {instruments_per_pass}")
        self.model, extra, path = _load(model, default=DEFAULT_MODEL, what="transcriber", device=device)
        self.device = device
        self.batch_size = batch_size
        self.instruments_per_pass = instruments_per_pass
        self.decode = decode or DecodeConfig(**extra.get("decode", {}))
        self.chunker = Chunker(window_s=window_s, hop_s=hop_s)
        self.progress = progress
        self.model_path = path
        self._recognizer = recognizer

    @property
    def recognizer(self) -> Recognizer:
        if not isinstance(self._recognizer, Recognizer):
            self._recognizer = Recognizer(self._recognizer, device=self.device, batch_size=self.batch_size,
                                          window_s=self.chunker.window_frames / FRAMES_PER_SECOND,
                                          hop_s=self.chunker.hop_frames / FRAMES_PER_SECOND)
        return self._recognizer

    @torch.inference_mode()
    def posteriorgrams(self, audio: np.ndarray, instruments: list[Instrument]) -> tuple[np.ndarray, np.ndarray]:
        """Song-long onset and frame probabilities, (frames, K, 88) uint8 each."""
        from tqdm import tqdm

        total = self.chunker.num_frames(len(audio))
        k = len(instruments)
        onset = np.zeros((total, k, 88), np.uint8)
        frame = np.zeros((total, k, 88), np.uint8)
        classes = torch.tensor([[i.index for i in instruments]], dtype=torch.long, device=self.device)
        windows = list(self.chunker.segments(audio))
        bar = tqdm(total=len(windows), desc="transcribing", unit="window", disable=not self.progress)
        for first in range(0, len(windows), self.batch_size):
            batch = windows[first: first + self.batch_size]
            x = torch.from_numpy(np.stack([seg for _, seg in batch])).to(self.device)
            features = self.model.features(x)  # once per window, whatever the number of instruments
            on_parts, fr_parts = [], []
            for group in range(0, k, self.instruments_per_pass):
                cls = classes[:, group: group + self.instruments_per_pass]
                out = self.model.heads(features, cls.expand(len(batch), cls.shape[1]))
                on_parts.append((torch.sigmoid(out.onset) * 255 + 0.5).to(torch.uint8).cpu())
                fr_parts.append((torch.sigmoid(out.frame) * 255 + 0.5).to(torch.uint8).cpu())
            on = torch.cat(on_parts, dim=1).permute(0, 2, 1, 3).numpy()
            fr = torch.cat(fr_parts, dim=1).permute(0, 2, 1, 3).numpy()
            for (w, _), on_w, fr_w in zip(batch, on, fr):
                self.chunker.place(onset, w, on_w)
                self.chunker.place(frame, w, fr_w)
            bar.update(len(batch))
        bar.close()
        return onset, frame

    def transcribe_audio(
        self, audio: np.ndarray, *, instruments: str | list[str | int] | None = "all", source: str | None = None
    ) -> Transcription:
        """Transcribe mono 16 kHz audio for the requested instruments: names, indices, ``"all"``, or
        ``"auto"`` (the recognizer decides; its detections and probabilities are in ``detected``)."""
        audio = check_audio(np.asarray(audio, dtype=np.float32), source=source or "audio", allow_silence=False)
        if audio.ndim != 1:
            raise ValueError(f"audio must be mono (samples,), got shape {audio.shape}; use load_audio() for files")
        detected: dict[str, float] = {}
        if isinstance(instruments, str) and instruments.strip().lower() == "auto":
            found = self.recognizer.recognize(audio)
            detected = {INSTRUMENTS[c].name: p for c, p in found.items()}
            log.info("recognized: %s", ", ".join(f"{n} ({p:.2f})" for n, p in detected.items()) or "nothing")
            chosen = [INSTRUMENTS[c] for c in sorted(found)]
            if not chosen:
                return Transcription(len(audio) / SAMPLE_RATE, [], source=source, detected=detected)
        else:
            chosen = parse_instruments(instruments)
        onset, frame = self.posteriorgrams(audio, chosen)
        notes = decode_tracks(onset.astype(np.float32) / 255.0, frame.astype(np.float32) / 255.0,
                              [i.index for i in chosen], config=self.decode)
        tracks = [InstrumentTranscript(inst, notes[inst.index], onset[:, j], frame[:, j]) for j, inst in enumerate(chosen)]
        return Transcription(len(audio) / SAMPLE_RATE, tracks, source=source, detected=detected)

    def transcribe_file(self, path: str | os.PathLike[str], *, instruments: str | list[str | int] | None = "all") -> Transcription:
        """Load (any soundfile format, resampled to 16 kHz) and transcribe a file."""
        audio = load_audio(path, allow_silence=False)
        return self.transcribe_audio(audio, instruments=instruments, source=str(path))


def save_outputs(result: Transcription, out_dir: str | os.PathLike[str], *, name: str, plots: bool = True) -> dict[str, Path]:
    """Write ``<name>.mid``, ``<name>.json`` and, with plots, ``pianoroll/<instrument>.png``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {"midi": result.write_midi(out / f"{name}.mid")}
    written["json"] = atomic_write_text(out / f"{name}.json", result.to_json())
    if plots:
        from jointist.plots import plot_pianoroll

        for track in result.tracks:
            written[f"pianoroll/{track.instrument.slug}"] = plot_pianoroll(
                track, out / "pianoroll" / f"{track.instrument.slug}.png", fps=FRAMES_PER_SECOND
            )
    return written


def transcribe(
    audio: str | os.PathLike[str] | np.ndarray,
    *,
    instruments: str | list[str | int] | None = "all",
    model: str | os.PathLike[str] | None = None,
    recognizer: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    batch_size: int = 4,
    progress: bool = False,
) -> Transcription:
    """Transcribe a file path or a mono 16 kHz array: one note list per requested instrument
    (names, indices, ``"all"``, or ``"auto"`` to let the instrument recognizer decide).

    >>> result = transcribe("song.mp3", instruments=["piano", "bass"])   # doctest: +SKIP
    >>> result.write_midi("song.mid")                                     # doctest: +SKIP
    """
    transcriber = Transcriber(model, device=device, batch_size=batch_size, progress=progress, recognizer=recognizer)
    if isinstance(audio, np.ndarray):
        return transcriber.transcribe_audio(audio, instruments=instruments)
    return transcriber.transcribe_file(audio, instruments=instruments)
