import numpy as np
import pytest
import soundfile as sf
import torch

from jointist.audio import (
    CQT,
    STFT,
    AudioError,
    AudioFile,
    EmptyAudioError,
    LogMel,
    SilentAudioError,
    build_frontend,
    load_audio,
    num_frames,
    read_segment,
    write_audio,
)
from jointist.constants import FRAMES_PER_SECOND, SAMPLE_RATE


def tone(freq_hz: float, seconds: float, sr: int = SAMPLE_RATE) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg", "mp3"])
def test_load_downmixes_and_resamples(tmp_path, ext):
    stereo = np.stack([tone(440, 2.0, 44100), tone(440, 2.0, 44100)], axis=1)
    path = tmp_path / f"a.{ext}"
    sf.write(path, stereo, 44100)
    audio = load_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) - 2 * SAMPLE_RATE) <= 0.01 * SAMPLE_RATE  # mp3 adds codec padding
    spectrum = np.abs(np.fft.rfft(audio[: SAMPLE_RATE]))
    assert abs(int(np.argmax(spectrum)) - 440) <= 2  # 1 Hz bins over 1 s


def test_read_segment_reads_the_window_and_pads(tmp_path):
    ramp = (np.arange(3 * SAMPLE_RATE) / (3 * SAMPLE_RATE)).astype(np.float32)
    write_audio(tmp_path / "r.flac", ramp)
    seg = read_segment(tmp_path / "r.flac", start_s=1.0, duration_s=0.5)
    assert len(seg) == SAMPLE_RATE // 2
    assert seg[0] == pytest.approx(ramp[SAMPLE_RATE], abs=1e-4)
    tail = read_segment(tmp_path / "r.flac", start_s=2.5, duration_s=1.0)
    assert len(tail) == SAMPLE_RATE and np.all(tail[SAMPLE_RATE // 2 + 1:] == 0)


READERS = pytest.mark.parametrize("load_audio", [load_audio, AudioFile], ids=["load_audio", "AudioFile"])
"""Both ways of reading a file: whole (load_audio) and window by window (AudioFile, what the pipeline
uses), with the same errors and warnings."""


@READERS
def test_clear_errors_for_bad_audio(tmp_path, load_audio):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_audio(tmp_path / "missing.wav")
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"this is not audio" * 100)
    with pytest.raises(AudioError, match="cannot read"):
        load_audio(garbage)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), SAMPLE_RATE)
    with pytest.raises(EmptyAudioError):
        load_audio(empty)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(SAMPLE_RATE, np.float32), SAMPLE_RATE)
    assert len(load_audio(silent)) == SAMPLE_RATE
    with pytest.raises(SilentAudioError, match="silent"):
        load_audio(silent, allow_silence=False)
    nan = tmp_path / "nan.wav"
    sf.write(nan, np.full(100, np.nan, np.float32), SAMPLE_RATE, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN"):
        load_audio(nan)
    with pytest.raises(AudioError, match="directory"):
        load_audio(tmp_path)


def test_write_audio_is_atomic_and_leaves_no_temporary_files(tmp_path):
    import os

    write_audio(tmp_path / "x.wav", tone(220, 0.1))
    assert [p.name for p in tmp_path.iterdir()] == ["x.wav"]
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "x.wav").stat().st_mode & 0o777 == 0o666 & ~mask  # not the 0600 of a temporary file


def test_mel_frame_count_and_rate():
    mel = LogMel()
    for seconds in (1.0, 10.0, 2.345):
        samples = int(seconds * SAMPLE_RATE)
        out = mel(torch.zeros(3, samples))
        assert out.shape == (3, samples // 160 + 1, 229) == (3, num_frames(samples), mel.n_bins)
    assert num_frames(10 * SAMPLE_RATE) == 10 * FRAMES_PER_SECOND + 1


def test_mel_frames_are_centred_at_k_over_100_seconds():
    audio = np.zeros(2 * SAMPLE_RATE, np.float32)
    audio[int(0.73 * SAMPLE_RATE)] = 1.0  # a click at 0.73 s
    energy = LogMel()(torch.from_numpy(audio)).exp().sum(-1)[0]
    assert int(energy.argmax()) == 73


def test_frontends_are_batched_and_consistent():
    audio = torch.from_numpy(np.stack([tone(440, 1.0), tone(110, 1.0)]))
    batched = LogMel()(audio)
    assert torch.allclose(batched[1], LogMel()(audio[1])[0], atol=1e-5)
    cqt = build_frontend("cqt")
    out = cqt(audio)
    assert out.shape == (2, 101, 88)
    assert int(out[0, 50].argmax()) == 69 - 21  # A4 lands on its key
    assert int(out[1, 50].argmax()) == 45 - 21  # A2
    with pytest.raises(ValueError, match="front-end"):
        build_frontend("mfcc")
    assert isinstance(cqt, CQT)


def test_stft_round_trip():
    stft = STFT()
    audio = torch.randn(2, 16_000)
    spec = stft(audio)
    assert spec.shape == (2, 101, 513) and spec.is_complex()
    assert torch.allclose(stft.inverse(spec, length=16_000), audio, atol=1e-5)


# -- partly readable files: what decodes is transcribed, with a warning that says how much --------

def ten_second_tone(path, **kwargs):
    t = np.arange(10 * SAMPLE_RATE) / SAMPLE_RATE
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), SAMPLE_RATE, **kwargs)
    return path


@READERS
def test_a_wav_cut_in_half_gives_its_first_half_and_says_so(tmp_path, caplog, load_audio):
    data = ten_second_tone(tmp_path / "full.wav").read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: len(data) // 2])  # the header still promises 10 s
    with caplog.at_level("WARNING", logger="jointist.audio.io"):
        audio = load_audio(cut)
    assert len(audio) / SAMPLE_RATE == pytest.approx(5.0, abs=0.01)
    assert "cut.wav is partly unreadable" in caplog.text and "5.0 s of 10.0 s" in caplog.text


@READERS
def test_a_flac_damaged_at_ninety_percent_gives_what_decodes_before_the_damage(tmp_path, caplog, load_audio):
    data = bytearray(ten_second_tone(tmp_path / "full.flac").read_bytes())
    at = int(len(data) * 0.9)
    data[at: at + 2000] = np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8).tobytes()
    damaged = tmp_path / "damaged.flac"
    damaged.write_bytes(bytes(data))
    with caplog.at_level("WARNING", logger="jointist.audio.io"):
        audio = load_audio(damaged)
    assert 7.0 <= len(audio) / SAMPLE_RATE < 9.5  # up to the damaged frame (read in 1 s blocks)
    assert "damaged.flac is partly unreadable" in caplog.text and "of 10.0 s decoded" in caplog.text
    assert np.abs(audio[: 7 * SAMPLE_RATE]).max() == pytest.approx(0.3, abs=0.01)  # the tone, intact
    assert len(audio[len(audio) - SAMPLE_RATE: len(audio)]) == SAMPLE_RATE  # the last second reads, short of the damage


@READERS
def test_complete_files_load_without_a_warning_and_damage_at_the_start_is_an_error(tmp_path, caplog, load_audio):
    with caplog.at_level("WARNING", logger="jointist.audio.io"):
        for name, subtype in (("f.wav", "FLOAT"), ("p.wav", "PCM_24"), ("f.flac", None)):
            assert len(load_audio(ten_second_tone(tmp_path / name, subtype=subtype))) == 10 * SAMPLE_RATE
    assert "partly unreadable" not in caplog.text
    data = bytearray((tmp_path / "f.flac").read_bytes())
    data[200:4000] = bytes(3800)  # the first frames overwritten: nothing decodes
    (tmp_path / "dead.flac").write_bytes(bytes(data))
    with pytest.raises(AudioError):
        load_audio(tmp_path / "dead.flac")


@pytest.mark.parametrize("rate,channels", [(16000, 1), (44100, 2), (22050, 1)])
def test_an_audio_file_read_window_by_window_gives_the_samples_of_the_whole_file(tmp_path, rate, channels):
    """The pipeline reads recordings through AudioFile: any slice equals the same samples of the whole
    file loaded at once (exactly at 16 kHz; resampled from a margin on the rates' common grid, to
    float precision), and slices past the end are cut there."""
    path = tmp_path / f"noise{rate}.flac"
    sf.write(path, (0.3 * np.random.default_rng(rate).standard_normal((rate * 25, channels))).astype(np.float32), rate)
    whole, audio = load_audio(path), AudioFile(path)
    assert len(audio) == len(whole) == 25 * SAMPLE_RATE and audio.duration_s == pytest.approx(25.0)
    for a, b in ((0, 160_000), (144_000, 304_000), (len(whole) - 1000, len(whole)), (7, 8)):
        piece = audio[a:b]
        assert piece.dtype == np.float32 and len(piece) == b - a
        assert np.abs(piece - whole[a:b]).max() <= (0.0 if rate == SAMPLE_RATE else 1e-5)
    assert len(audio[len(whole) - 10: len(whole) + 500]) == 10
    with pytest.raises(TypeError, match="contiguous slices"):
        audio[::2]
