import numpy as np
import pytest

from jointist.audio.chunker import Chunker


@pytest.mark.parametrize("seconds", [3.0, 10.0, 10.005, 27.3, 95.0])
def test_stitched_frames_reconstruct_the_song(seconds):
    chunker = Chunker(window_s=10.0, hop_s=9.0)
    n = int(seconds * 16_000)
    total = chunker.num_frames(n)
    truth = np.arange(total, dtype=np.float64)  # frame k of the song has value k
    out = np.full(total, -1.0)
    for w, segment in chunker.segments(np.zeros(n, np.float32)):
        assert len(segment) == 160_000
        window_frames = truth[w.start_frame: w.start_frame + 1001]
        window_frames = np.pad(window_frames, (0, 1001 - len(window_frames)), constant_values=-7)
        chunker.place(out, w, window_frames)
    assert np.array_equal(out, truth)


def test_windows_overlap_and_keep_central_frames():
    windows = Chunker(window_s=10.0, hop_s=8.0).windows(30 * 16_000)
    assert [w.start_sample for w in windows] == [0, 128_000, 256_000, 384_000]
    assert [(w.keep_from, w.keep_to) for w in windows] == [(0, 900), (100, 900), (100, 900), (100, 601)]  # 3001 frames in all
    with pytest.raises(ValueError):
        Chunker(window_s=10.0, hop_s=11.0)


def test_crossfade_reconstructs_audio():
    chunker = Chunker(window_s=1.0, hop_s=0.75)
    audio = np.sin(np.arange(40_000) / 50.0).astype(np.float32)
    pieces = ((w, seg) for w, seg in chunker.segments(audio))
    assert np.allclose(chunker.crossfade(len(audio), pieces), audio, atol=1e-5)
