"""One chunker for long audio, shared by every module.

Audio is cut into windows of ``window_s`` seconds whose starts are ``hop_s`` apart (the default
10 s windows overlap by 1 s). Frame outputs are stitched by keeping, from each window, the frames
closest to its centre: the overlap is split in the middle, so every output frame comes from the
window in which it has the most context. Audio outputs (separated stems) are cross-faded linearly
over the overlap and streamed out (:class:`CrossfadeStitcher`). Window starts fall on the frame grid, so window frame ``k`` is song frame
``start_frame + k`` exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from jointist.constants import HOP_LENGTH, HOP_S, SAMPLE_RATE, SEGMENT_S

if TYPE_CHECKING:
    from jointist.audio.io import Samples

__all__ = ["Chunker", "CrossfadeStitcher", "Window"]


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
        if self.hop_frames < 1:  # a hop under one frame would never advance
            frame_s = hop_length / sample_rate
            raise ValueError(f"hop_s={hop_s} is shorter than one frame ({frame_s:g} s); need hop_s >= {frame_s:g}")

    def num_frames(self, num_samples: int) -> int:
        """Frames of the stitched output: ``num_samples // hop + 1`` (as the centred spectrogram)."""
        return num_samples // self.hop_length + 1

    def windows(self, num_samples: int) -> list[Window]:
        total = self.num_frames(num_samples)
        starts = [0]
        # until the last window reaches the last frame and the last sample (when the song's length is
        # not a multiple of the hop length, the last samples lie after the last frame's centre)
        while (starts[-1] + self.window_frames < total - 1
               or starts[-1] * self.hop_length + self.window_samples < num_samples):
            starts.append(starts[-1] + self.hop_frames)
        out = []
        overlap = self.window_frames - self.hop_frames
        for i, start in enumerate(starts):
            keep_from = 0 if i == 0 else overlap - overlap // 2
            keep_to = self.window_frames + 1 if i == len(starts) - 1 else self.window_frames - overlap // 2
            keep_to = min(keep_to, total - start)
            out.append(Window(i, start * self.hop_length, start, keep_from, keep_to))
        return out

    def segment(self, audio: Samples, window: Window) -> np.ndarray:
        """The samples of one window: ``window_samples`` long, zero-padded at the end of the song
        (an array, or an :class:`~jointist.audio.io.AudioFile` decoded there)."""
        segment = audio[window.start_sample: window.start_sample + self.window_samples]
        if len(segment) < self.window_samples:
            segment = np.pad(segment, (0, self.window_samples - len(segment)))
        return segment

    def segments(self, audio: Samples) -> Iterator[tuple[Window, np.ndarray]]:
        """(window, samples) pairs, lazily; each segment has ``window_samples`` samples."""
        for w in self.windows(len(audio)):
            yield w, self.segment(audio, w)

    def place(self, out: np.ndarray, window: Window, frames: np.ndarray) -> None:
        """Write a window's frame output (time first) into the stitched array ``out`` (time first)."""
        a, b = window.start_frame + window.keep_from, window.start_frame + window.keep_to
        out[a:b] = frames[window.keep_from: window.keep_to]

    def crossfade(self, num_samples: int, pieces: Iterable[tuple[Window, np.ndarray]]) -> np.ndarray:
        """Overlap-add audio outputs (``window_samples`` each, in window order) with linear
        cross-fades into one array: :class:`CrossfadeStitcher` writing into memory."""
        blocks: list[np.ndarray] = []
        stitcher = CrossfadeStitcher(self, num_samples, sink=lambda block: blocks.append(block[0]))
        for window, piece in pieces:
            stitcher.add(window, np.asarray(piece, np.float32)[None])
        stitcher.close()
        return np.concatenate(blocks) if blocks else np.zeros(0, np.float32)


class CrossfadeStitcher:
    """Streams overlapping audio windows into one signal with linear cross-fades, in bounded memory.

    Windows must arrive in order. Where two windows overlap, the earlier one fades out and the later
    one fades in linearly (the two ramps sum to one); elsewhere a window is copied as it is. Samples
    are handed to ``sink`` as ``(channels, n)`` float32 blocks as soon as no later window can change
    them, so only one window of audio per channel is held at a time.

    Args:
        chunker: the chunker whose windows the pieces belong to.
        num_samples: length of the stitched signal.
        sink: receives consecutive blocks; together they are exactly ``num_samples`` long.
    """

    def __init__(self, chunker: Chunker, num_samples: int, *, sink: Callable[[np.ndarray], None]) -> None:
        self.chunker = chunker
        self.num_samples = num_samples
        self.sink = sink
        self.windows = chunker.windows(num_samples)
        self.fade = (chunker.window_frames - chunker.hop_frames) * chunker.hop_length
        self.ramp = np.linspace(0.0, 1.0, self.fade + 2, dtype=np.float32)[1:-1]
        self.pending: np.ndarray | None = None  # (channels, samples) from self.emitted on
        self.emitted = 0
        self.next_index = 0

    def add(self, window: Window, piece: np.ndarray) -> None:
        """Add one window's output, ``(channels, window_samples)``."""
        if window.index != self.next_index:
            raise ValueError(f"windows must arrive in order: expected {self.next_index}, got {window.index}")
        piece = np.array(piece, dtype=np.float32, copy=True)
        first, last = window.index == 0, window.index == len(self.windows) - 1
        if self.fade > 0 and not first:
            piece[:, : self.fade] *= self.ramp
        if self.fade > 0 and not last:
            piece[:, -self.fade:] *= self.ramp[::-1]
        end = min(window.start_sample + piece.shape[1], self.num_samples)
        if self.pending is None:
            self.pending = np.zeros((piece.shape[0], 0), np.float32)
        need = end - self.emitted
        if need > self.pending.shape[1]:
            self.pending = np.pad(self.pending, ((0, 0), (0, need - self.pending.shape[1])))
        offset = window.start_sample - self.emitted
        self.pending[:, offset: offset + (end - window.start_sample)] += piece[:, : end - window.start_sample]
        self.next_index += 1
        final = self.windows[self.next_index].start_sample if not last else end
        if final > self.emitted:
            self.sink(self.pending[:, : final - self.emitted])
            self.pending = self.pending[:, final - self.emitted:].copy()
            self.emitted = final

    def close(self) -> None:
        """Check that every window arrived and every sample went to the sink."""
        if self.next_index != len(self.windows) or self.emitted != self.num_samples:
            raise ValueError(f"stitched {self.emitted} of {self.num_samples} samples from {self.next_index} of "
                             f"{len(self.windows)} windows")
