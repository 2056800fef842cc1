"""One chunker for long audio, shared by every module.

Audio is cut into windows of ``window_s`` seconds whose starts are ``hop_s`` apart (the default
10 s windows overlap by 1 s). Frame outputs are stitched by keeping, from each window, the frames
closest to its centre: the overlap is split in the middle, so every output frame comes from the
window in which it has the most context. Audio outputs (separated stems) are cross-faded linearly
over the overlap. Window starts fall on the frame grid, so window frame ``k`` is song frame
``start_frame + k`` exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from jointist.constants import HOP_LENGTH, HOP_S, SAMPLE_RATE, SEGMENT_S

__all__ = ["Chunker", "Window"]


@dataclass(frozen=True)
class Window:
    index: int
    start_sample: int
    start_frame: int
    keep_from: int  # first frame of this window's output that is kept
    keep_to: int  # one past the last kept frame (window-relative)


class Chunker:
    """Overlapping windows over ``num_samples`` samples and the stitching of their outputs.

    Args:
        window_s: window length in seconds.
        hop_s: distance between window starts; must be <= window_s.
    """

    def __init__(self, *, window_s: float = SEGMENT_S, hop_s: float = HOP_S, sample_rate: int = SAMPLE_RATE,
                 hop_length: int = HOP_LENGTH) -> None:
        if not 0 < hop_s <= window_s:
            raise ValueError(f"need 0 < hop_s <= window_s, got hop_s={hop_s}, window_s={window_s}")
        self.sample_rate = sample_rate
        self.hop_length = hop_length
        self.window_frames = int(round(window_s * sample_rate / hop_length))
        self.hop_frames = int(round(hop_s * sample_rate / hop_length))
        self.window_samples = self.window_frames * hop_length

    def num_frames(self, num_samples: int) -> int:
        """Frames of the stitched output: ``num_samples // hop + 1`` (as the centred spectrogram)."""
        return num_samples // self.hop_length + 1

    def windows(self, num_samples: int) -> list[Window]:
        total = self.num_frames(num_samples)
        starts = [0]
        while starts[-1] + self.window_frames < total - 1:
            starts.append(starts[-1] + self.hop_frames)
        out = []
        overlap = self.window_frames - self.hop_frames
        for i, start in enumerate(starts):
            keep_from = 0 if i == 0 else overlap - overlap // 2
            keep_to = self.window_frames + 1 if i == len(starts) - 1 else self.window_frames - overlap // 2
            keep_to = min(keep_to, total - start)
            out.append(Window(i, start * self.hop_length, start, keep_from, keep_to))
        return out

    def segment(self, audio: np.ndarray, window: Window) -> np.ndarray:
        """The samples of one window: ``window_samples`` long, zero-padded at the end of the song."""
        segment = audio[window.start_sample: window.start_sample + self.window_samples]
        if len(segment) < self.window_samples:
            segment = np.pad(segment, (0, self.window_samples - len(segment)))
        return segment

    def segments(self, audio: np.ndarray) -> Iterator[tuple[Window, np.ndarray]]:
        """(window, samples) pairs, lazily; each segment has ``window_samples`` samples."""
        for w in self.windows(len(audio)):
            yield w, self.segment(audio, w)

    def place(self, out: np.ndarray, window: Window, frames: np.ndarray) -> None:
        """Write a window's frame output (time first) into the stitched array ``out`` (time first)."""
        a, b = window.start_frame + window.keep_from, window.start_frame + window.keep_to
        out[a:b] = frames[window.keep_from: window.keep_to]

    def crossfade(self, num_samples: int, pieces: Iterator[tuple[Window, np.ndarray]]) -> np.ndarray:
        """Overlap-add audio outputs (``window_samples`` each) with linear cross-fades.

        Scaffolding for the separator stage (the next module): no stage produces audio yet, so
        only the tests call it today."""
        out = np.zeros(num_samples, np.float32)
        weight = np.zeros(num_samples, np.float32)
        fade = (self.window_frames - self.hop_frames) * self.hop_length
        for w, piece in pieces:
            n = min(self.window_samples, num_samples - w.start_sample)
            ramp = np.ones(self.window_samples, np.float32)
            if fade > 0:
                ramp[:fade] = np.linspace(0.0, 1.0, fade + 2, dtype=np.float32)[1:-1]
                ramp[-fade:] = ramp[:fade][::-1]
            out[w.start_sample: w.start_sample + n] += piece[:n] * ramp[:n]
            weight[w.start_sample: w.start_sample + n] += ramp[:n]
        return out / np.maximum(weight, 1e-8)
