"""Typed results of inference: leaf types that import no engine, no exporter and no plotting.

- :class:`Posteriorgram`: song-long probabilities over 88 keys in a compact uint8 encoding
  (probability x 255, rounded; 88 bytes per frame, 8.8 kB per second at 100 frames/s); a long song's
  are max-pooled in time (:class:`PosteriorgramPool`), so a result's size does not grow past a bound.
- :class:`InstrumentResult`: one instrument's notes, posteriorgrams and, when separated, its stem.
- :class:`Transcription`: the result of one recording: every instrument, plus what the recognizer
  detected.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from jointist.constants import FRAMES_PER_SECOND, SAMPLE_RATE
from jointist.instruments import Instrument
from jointist.midi import write_midi
from jointist.notes import NoteArray

__all__ = ["DEFAULT_MAX_FRAMES", "InstrumentResult", "Posteriorgram", "PosteriorgramPool", "Transcription"]


@dataclass
class Posteriorgram:
    """Probabilities (frames, ...) stored as uint8 (probability x 255, rounded half up).

    The encoding is owned here: :meth:`encode` turns probabilities into codes, :meth:`probabilities`
    gives them back as float32 (within 1/510 of the originals).

    Attributes:
        fps: frames per second: 100, or 100 / n for a posteriorgram max-pooled over n frames (a song
            longer than the pipeline's ``max_posteriorgram_frames``).
    """

    codes: np.ndarray
    fps: float = FRAMES_PER_SECOND

    SCALE = 255

    def __post_init__(self) -> None:
        if self.codes.dtype != np.uint8:
            raise TypeError(f"posteriorgram codes must be uint8, got {self.codes.dtype}")

    @classmethod
    def encode(cls, probabilities: torch.Tensor) -> torch.Tensor:
        """Probabilities in [0, 1] (any shape, any float dtype) -> uint8 codes, same shape."""
        return (probabilities * cls.SCALE + 0.5).to(torch.uint8)

    @classmethod
    def from_probabilities(cls, probabilities: np.ndarray | torch.Tensor, *, fps: int = FRAMES_PER_SECOND) -> Posteriorgram:
        return cls(cls.encode(torch.as_tensor(probabilities)).cpu().numpy(), fps=fps)

    def probabilities(self) -> np.ndarray:
        """float32 probabilities, same shape as :attr:`codes`."""
        return self.codes.astype(np.float32) / self.SCALE

    @property
    def num_frames(self) -> int:
        return int(self.codes.shape[0])

    @property
    def duration_s(self) -> float:
        return self.num_frames / self.fps


DEFAULT_MAX_FRAMES = 30_000
"""Frames a result keeps per posteriorgram at most: 5 minutes at full rate (2.6 MB per instrument
for onsets and frames); a longer song's are max-pooled in time by the smallest integer factor that fits."""


class PosteriorgramPool:
    """Consecutive blocks of song frames (n, K, ...) in uint8 codes -> K posteriorgrams of at most
    ``max_frames`` frames each: max-pooled in time over ``factor`` frames, the smallest integer that
    fits ``total_frames`` (1, full rate, for songs that fit). Memory is fixed when it is made.

    Args:
        total_frames: frames the blocks will add up to.
        shape: the shape of one frame of the blocks, (K, ...).
        max_frames: None: keep every frame.
    """

    def __init__(self, total_frames: int, shape: tuple[int, ...], *, max_frames: int | None = DEFAULT_MAX_FRAMES,
                 fps: float = FRAMES_PER_SECOND) -> None:
        if max_frames is not None and max_frames < 1:
            raise ValueError(f"max_frames must be >= 1 or None, got {max_frames}")
        self.factor = 1 if max_frames is None else max(1, -(-total_frames // max_frames))
        self.fps = fps
        self.total_frames = total_frames
        self.rows = -(-total_frames // self.factor)
        self.codes = np.zeros((shape[0], self.rows, *shape[1:]), np.uint8)  # channel first: each a contiguous view
        self.filled = 0

    def push(self, block: np.ndarray) -> None:
        """The next frames, (n, K, ...) uint8."""
        n = len(block)
        if n == 0:
            return
        positions = np.arange(self.filled, self.filled + n)
        rows = positions // self.factor
        if self.filled + n > self.total_frames:
            raise ValueError(f"more frames than announced: {self.filled + n} > {self.total_frames}")
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])  # first frame of each pooled row in the block
        pooled = np.moveaxis(np.maximum.reduceat(np.asarray(block, np.uint8), starts, axis=0), 0, 1)
        span = slice(int(rows[0]), int(rows[-1]) + 1)  # consecutive rows; only the first may hold earlier frames
        np.maximum(self.codes[:, span], pooled, out=self.codes[:, span])
        self.filled += n

    def posteriorgram(self, j: int) -> Posteriorgram:
        """The j-th channel's posteriorgram (frames, ...)."""
        return Posteriorgram(self.codes[j], fps=self.fps / self.factor)


@dataclass
class InstrumentResult:
    """One instrument of a recording: its notes, onset and frame posteriorgrams (frames, 88), and,
    when a separator ran, its stem: in memory (``stem``, (samples,) at ``sample_rate``) or streamed
    to a file (``stem_path``)."""

    instrument: Instrument
    notes: NoteArray
    onset: Posteriorgram
    frame: Posteriorgram
    stem: np.ndarray | None = None
    sample_rate: int = SAMPLE_RATE
    stem_path: Path | None = None


@dataclass
class Transcription:
    """The result of transcribing one recording.

    Attributes:
        duration_s: length of the audio.
        tracks: one result per instrument, in the order they were requested.
        source: the file it came from (None for arrays).
        detected: instrument name -> song-level probability, when the recognizer chose the instruments.
    """

    duration_s: float
    tracks: list[InstrumentResult]
    source: str | None = None
    detected: dict[str, float] = field(default_factory=dict)

    def notes(self) -> dict[int, NoteArray]:
        """Notes per class index."""
        return {t.instrument.index: t.notes for t in self.tracks}

    def write_midi(self, path: str | os.PathLike[str]) -> Path:
        """One MIDI track per instrument (General MIDI program, drums on channel 10), written atomically."""
        return write_midi({t.instrument: t.notes for t in self.tracks}, path)

    def stems(self) -> dict[str, np.ndarray]:
        """Instrument name -> separated stem, for the instruments that have one."""
        return {t.instrument.name: t.stem for t in self.tracks if t.stem is not None}
