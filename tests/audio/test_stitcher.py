"""``CrossfadeStitcher``: separated stems are stitched from overlapping windows and streamed out in
order, block by block, with fades that sum to one where two windows overlap."""

from __future__ import annotations

import numpy as np
import pytest

from jointist.audio.chunker import Chunker, CrossfadeStitcher

CHUNKER = Chunker(window_s=1.0, hop_s=0.75)  # 16,000-sample windows, 12,000 apart: 4,000 samples of fade


class Recorder:
    """A sink that keeps every block and how many windows had been handed to the stitcher when it arrived."""

    def __init__(self) -> None:
        self.blocks: list[np.ndarray] = []
        self.after_windows: list[int] = []
        self.added = 0

    def __call__(self, block: np.ndarray) -> None:
        self.blocks.append(block.copy())
        self.after_windows.append(self.added)

    def signal(self) -> np.ndarray:
        return np.concatenate(self.blocks, axis=1)


def stitch(audio: np.ndarray, piece=None, chunker: Chunker = CHUNKER) -> Recorder:
    """Stitch ``piece(window, segment)`` (default: the segment itself) of every window of ``audio``
    (channels, samples)."""
    sink = Recorder()
    stitcher = CrossfadeStitcher(chunker, audio.shape[1], sink=sink)
    for window in chunker.windows(audio.shape[1]):
        segment = np.stack([chunker.segment(channel, window) for channel in audio])
        sink.added += 1
        stitcher.add(window, segment if piece is None else piece(window, segment))
    stitcher.close()
    return sink


# 40,000: three whole windows; 31,234: not a multiple of the hop (the last window is cut short);
# 5,000: shorter than one window; 16,000: exactly one window
@pytest.mark.parametrize("samples", [40_000, 31_234, 5_000, 16_000])
def test_identity_pieces_stitch_back_to_the_input(samples):
    audio = np.random.default_rng(samples).standard_normal((2, samples)).astype(np.float32)
    sink = stitch(audio)
    out = sink.signal()
    assert out.shape == audio.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, audio, atol=1e-5)
    assert all(block.shape[0] == 2 for block in sink.blocks)


def test_blocks_are_streamed_as_soon_as_no_later_window_changes_them():
    samples = 40_000
    starts = [w.start_sample for w in CHUNKER.windows(samples)]
    assert starts == [0, 12_000, 24_000]
    sink = stitch(np.ones((1, samples), np.float32))
    # one block per window, handed over right after that window: up to the next window's start
    assert sink.after_windows == [1, 2, 3]
    assert [b.shape[1] for b in sink.blocks] == [12_000, 12_000, 16_000]


def test_one_window_is_one_block():
    sink = stitch(np.ones((1, 5_000), np.float32))
    assert [b.shape for b in sink.blocks] == [(1, 5_000)] and sink.after_windows == [1]


def test_the_fades_are_linear_and_sum_to_one_in_the_overlap():
    samples = 28_000  # two windows: [0, 16000) and [12000, 28000), overlapping on [12000, 16000)
    fade = slice(12_000, 16_000)
    only = {i: stitch(np.ones((1, samples), np.float32), lambda w, s, i=i: s * (w.index == i)).signal()[0] for i in (0, 1)}
    both = stitch(np.ones((1, samples), np.float32)).signal()[0]
    np.testing.assert_allclose(both, 1.0, atol=1e-6)  # constant ones in, constant ones out
    np.testing.assert_allclose(only[0][fade] + only[1][fade], 1.0, atol=1e-6)
    fade_out, fade_in = only[0][fade], only[1][fade]
    assert np.all(np.diff(fade_out) < 0) and np.all(np.diff(fade_in) > 0)
    np.testing.assert_allclose(np.diff(fade_in), 1 / 4_001, rtol=1e-3)  # a straight ramp across 4,000 samples
    assert 0 < fade_in[0] < 1e-3 and 0 < fade_out[-1] < 1e-3
    assert np.all(only[0][:12_000] == 1) and np.all(only[0][16_000:] == 0)  # untouched outside the overlap
    assert np.all(only[1][:12_000] == 0) and np.all(only[1][16_000:] == 1)


def test_windows_out_of_order_are_refused():
    windows = CHUNKER.windows(40_000)
    piece = np.zeros((1, CHUNKER.window_samples), np.float32)
    stitcher = CrossfadeStitcher(CHUNKER, 40_000, sink=lambda block: None)
    with pytest.raises(ValueError, match="in order: expected 0, got 1"):
        stitcher.add(windows[1], piece)
    stitcher.add(windows[0], piece)
    with pytest.raises(ValueError, match="in order: expected 1, got 0"):
        stitcher.add(windows[0], piece)  # the same window twice


def test_closing_before_every_window_arrived_is_an_error():
    windows = CHUNKER.windows(40_000)
    stitcher = CrossfadeStitcher(CHUNKER, 40_000, sink=lambda block: None)
    stitcher.add(windows[0], np.zeros((1, CHUNKER.window_samples), np.float32))
    with pytest.raises(ValueError, match="stitched 12000 of 40000 samples from 1 of 3 windows"):
        stitcher.close()


@pytest.mark.parametrize("samples", [16_100, 28_050])
def test_the_last_samples_of_a_song_come_from_a_window(samples):
    audio = np.random.default_rng(0).standard_normal((1, samples)).astype(np.float32)
    np.testing.assert_allclose(stitch(audio).signal(), audio, atol=1e-5)
