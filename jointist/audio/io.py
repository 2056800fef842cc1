"""Reading and writing audio: any soundfile format (wav, flac, ogg, mp3), mono, 16 kHz.

Reading a segment seeks in the file and decodes only that segment, so a data loader never decodes a
whole track to get ten seconds of it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

from jointist.atomic import atomic_path
from jointist.constants import SAMPLE_RATE

__all__ = [
    "AudioError",
    "AudioFile",
    "Samples",
    "EmptyAudioError",
    "SilentAudioError",
    "audio_duration_s",
    "check_audio",
    "clipped_fraction",
    "load_audio",
    "peak_amplitude",
    "read_segment",
    "resample",
    "write_audio",
]


log = logging.getLogger(__name__)

CLIP_LEVEL = 0.9999
"""A sample at or above this magnitude (within 1e-4 of full scale) counts as clipped."""

CLIP_WARN_FRACTION = 0.001
""":func:`load_audio` warns when more than this share (0.1%) of a file's samples are clipped."""


class AudioError(ValueError):
    """Audio that cannot be used: unreadable, empty, non-finite, or at an unusable sample rate."""


class EmptyAudioError(AudioError):
    """The file decodes to zero samples."""


class SilentAudioError(AudioError):
    """Every sample is (nearly) zero, so there is nothing to transcribe."""


def _open(path: str | os.PathLike[str]) -> sf.SoundFile:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"audio file not found: {path}")
    if path.is_dir():
        raise AudioError(f"{path} is a directory, not an audio file")
    try:
        return sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise AudioError(
            f"cannot read {path} as audio ({err}); supported formats are wav, flac, ogg and mp3"
        ) from err


def audio_duration_s(path: str | os.PathLike[str]) -> float:
    """Duration of an audio file in seconds, read from its header."""
    with _open(path) as f:
        if f.samplerate <= 0:
            raise AudioError(f"{path} has an invalid sample rate {f.samplerate}")
        return f.frames / f.samplerate


def audio_sample_rate(path: str | os.PathLike[str]) -> int:
    """Native sample rate of an audio file, read from its header."""
    with _open(path) as f:
        if f.samplerate <= 0:
            raise AudioError(f"{path} has an invalid sample rate {f.samplerate}")
        return int(f.samplerate)


def resample(audio: np.ndarray, *, orig_sr: int, target_sr: int = SAMPLE_RATE) -> np.ndarray:
    """Resample the last axis with soxr (high quality); a no-op when the rates match."""
    if orig_sr <= 0 or target_sr <= 0:
        raise AudioError(f"sample rates must be positive, got {orig_sr} -> {target_sr}")
    if orig_sr == target_sr:
        return audio
    import soxr

    if audio.ndim == 1:
        return soxr.resample(audio, orig_sr, target_sr, quality="HQ").astype(np.float32, copy=False)
    return np.stack([resample(a, orig_sr=orig_sr, target_sr=target_sr) for a in audio])


def check_audio(audio: np.ndarray, *, source: str = "audio", allow_silence: bool = True) -> np.ndarray:
    """Raise a specific :class:`AudioError` for empty, non-finite or (optionally) silent audio."""
    check = _SampleCheck(source)
    flat = audio.reshape(-1)
    for first in range(0, flat.size, _CHECK_BLOCK):  # in blocks: no song-long temporary arrays
        check.update(flat[first: first + _CHECK_BLOCK])
    check.finish(allow_silence=allow_silence)
    return audio


_CHECK_BLOCK = 1 << 20


class _SampleCheck:
    """The checks of :func:`check_audio` over blocks of samples that arrive one after the other."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.samples = 0
        self.peak = 0.0

    def update(self, block: np.ndarray) -> None:
        if block.size == 0:
            return
        if not np.all(np.isfinite(block)):
            raise AudioError(f"{self.source} contains NaN or infinite samples")
        self.peak = max(self.peak, float(np.max(np.abs(block))))
        self.samples += block.size

    def finish(self, *, allow_silence: bool) -> None:
        if self.samples == 0:
            raise EmptyAudioError(f"{self.source} contains no samples")
        if not allow_silence and self.peak < 1e-6:
            raise SilentAudioError(f"{self.source} is silent (peak below 1e-6); there is nothing to transcribe")


_BLOCK_S = 30.0
_PARTIAL_BLOCK_S = 1.0
PARTIAL_TOLERANCE_S = 0.05
"""A whole-file read this much shorter than its header's length is reported as partly unreadable."""
"""Block length of a whole-file read (:func:`load_audio`), which keeps what decoded before a damaged frame."""


def clipped_fraction(audio: np.ndarray) -> float:
    """The share of samples (every channel counted) at or within 1e-4 of full scale (``|x| >= 0.9999``);
    0 for no samples."""
    audio = np.asarray(audio)
    return float(np.count_nonzero(np.abs(audio) >= CLIP_LEVEL)) / audio.size if audio.size else 0.0


def _count_clipped(data: np.ndarray, counts: list[int] | None) -> None:
    if counts is not None:
        counts[0] += int(np.count_nonzero(np.abs(data) >= CLIP_LEVEL))
        counts[1] += data.size


def _mono_blocks(f: sf.SoundFile, n_native: int, *, sample_rate: int, clip_counts: list[int] | None = None,
                 partial: bool = False) -> Iterator[np.ndarray]:
    """Read ``n_native`` frames from the current position as consecutive mono float32 blocks at
    ``sample_rate``, through a streaming resampler (a file never exists in memory at its native rate).

    With ``clip_counts`` ([clipped, total]), the clipped samples of the file as stored (every channel,
    before resampling, which would smear a clipped flat top) are added to it. With ``partial``, a
    decoding error after the first block ends the read there (what decoded has been yielded); without
    it, or in the first block, the error is raised.
    """
    import soxr

    sr = f.samplerate
    block = int((_PARTIAL_BLOCK_S if partial else _BLOCK_S) * sr)
    stream = soxr.ResampleStream(sr, sample_rate, 1, dtype="float32", quality="HQ") if sr != sample_rate else None
    remaining, decoded = n_native, 0
    while remaining > 0:
        try:
            data = f.read(min(block, remaining), dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError):
            if not partial or decoded == 0:
                raise
            break  # a damaged frame: keep what decoded before it (load_audio says how much)
        if len(data) == 0:
            break
        remaining -= len(data)
        decoded += len(data)
        _count_clipped(data, clip_counts)
        mono = np.ascontiguousarray(data.mean(axis=1) if data.shape[1] > 1 else data[:, 0])
        yield stream.resample_chunk(mono, last=remaining <= 0) if stream is not None else mono
    if stream is not None and remaining > 0:  # the file ended early: flush the resampler
        yield stream.resample_chunk(np.zeros(0, np.float32), last=True)


def _read_mono(f: sf.SoundFile, n_native: int, *, sample_rate: int, clip_counts: list[int] | None = None,
               partial: bool = False) -> np.ndarray:
    """Read ``n_native`` frames from the current position as mono float32 at ``sample_rate``
    (:func:`_mono_blocks` into one array: peak memory is the output plus one block)."""
    sr = f.samplerate
    if n_native <= int((_PARTIAL_BLOCK_S if partial else _BLOCK_S) * sr):
        data = f.read(n_native, dtype="float32", always_2d=True)
        _count_clipped(data, clip_counts)
        mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
        return resample(np.ascontiguousarray(mono, dtype=np.float32), orig_sr=sr, target_sr=sample_rate)
    out = np.zeros(int(np.ceil(n_native * sample_rate / sr)) + 64, np.float32)
    filled = 0
    for piece in _mono_blocks(f, n_native, sample_rate=sample_rate, clip_counts=clip_counts, partial=partial):
        out[filled: filled + len(piece)] = piece[: len(out) - filled]
        filled += len(piece)
    return out[: min(filled, len(out))]


def read_segment(
    path: str | os.PathLike[str],
    *,
    start_s: float = 0.0,
    duration_s: float | None = None,
    sample_rate: int = SAMPLE_RATE,
) -> np.ndarray:
    """Decode ``duration_s`` seconds from ``start_s`` as mono float32 at ``sample_rate``.

    Only the requested frames are decoded (the file is seeked). Past the end of the file the segment
    is zero-padded, so it always has ``round(duration_s * sample_rate)`` samples.

    Returns:
        (samples,) float32 array.
    """
    return _read_segment(path, start_s=start_s, duration_s=duration_s, sample_rate=sample_rate)


def _read_segment(
    path: str | os.PathLike[str], *, start_s: float, duration_s: float | None, sample_rate: int,
    clip_counts: list[int] | None = None, partial: bool = False,
) -> np.ndarray:
    with _open(path) as f:
        sr = f.samplerate
        if sr <= 0:
            raise AudioError(f"{path} has an invalid sample rate {sr}")
        start = max(0, int(round(start_s * sr)))
        n_native = f.frames - start if duration_s is None else int(round(duration_s * sr))
        n_native = max(0, min(n_native, f.frames - start))
        try:
            f.seek(min(start, f.frames))
            mono = _read_mono(f, n_native, sample_rate=sample_rate, clip_counts=clip_counts, partial=partial)
        except (sf.LibsndfileError, RuntimeError) as err:
            raise AudioError(f"cannot decode {path} ({err})") from err
    if duration_s is None:
        return mono
    n_out = int(round(duration_s * sample_rate))
    if len(mono) >= n_out:
        return mono[:n_out]
    return np.pad(mono, (0, n_out - len(mono)))


def _wav_promised_frames(path: str | os.PathLike[str], channels: int) -> int:
    """The frames a WAV file's ``data`` chunk header promises (libsndfile counts only what is there,
    so a WAV cut short reads as a shorter, complete file); 0 when the header cannot tell."""
    import struct

    with open(path, "rb") as raw:
        head = raw.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return 0
        bits = 0
        while True:
            chunk = raw.read(8)
            if len(chunk) < 8:
                return 0
            name, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if name == b"fmt ":
                fmt = raw.read(size)
                bits = struct.unpack("<H", fmt[14:16])[0] if len(fmt) >= 16 else 0
                raw.seek(size % 2, 1)
            elif name == b"data":
                frame_bytes = channels * bits // 8
                return size // frame_bytes if frame_bytes and size < 0xFFFFFFFF else 0
            else:
                raw.seek(size + size % 2, 1)


def load_audio(
    path: str | os.PathLike[str], *, sample_rate: int = SAMPLE_RATE, allow_silence: bool = True
) -> np.ndarray:
    """Load a whole file as mono float32 at ``sample_rate``, with clear errors for bad input.

    Logs a warning when more than 0.1% of the file's samples are clipped (``|x| >= 0.9999`` as stored,
    before downmixing and resampling): transcription of a clipped recording is less reliable.

    A partly readable file (cut short, so its header promises more than it holds, or damaged after its
    first second) gives what decodes, with a warning that says how much of its length that is; a
    file of which nothing decodes is an error.

    Raises:
        FileNotFoundError: no such file.
        AudioError: unreadable, empty (:class:`EmptyAudioError`), non-finite or, with
            ``allow_silence=False``, silent (:class:`SilentAudioError`) audio.
    """
    promised_s = _promised_s(path)
    counts = [0, 0]
    audio = _read_segment(path, start_s=0.0, duration_s=None, sample_rate=sample_rate, clip_counts=counts, partial=True)
    audio = check_audio(audio, source=str(path), allow_silence=allow_silence)
    _warn_damage(path, len(audio) / sample_rate, promised_s, counts)
    return audio


def _promised_s(path: str | os.PathLike[str]) -> float:
    """The length the file's header announces (seconds); an error for a file of no samples."""
    with _open(path) as f:
        if f.frames == 0:
            raise EmptyAudioError(f"{path} contains no samples")
        frames = max(f.frames, _wav_promised_frames(path, f.channels) if f.format == "WAV" else 0)
        return frames / f.samplerate if f.samplerate > 0 else 0.0


def _warn_damage(path: str | os.PathLike[str], decoded_s: float, promised_s: float, counts: list[int]) -> None:
    """Warn about a partly readable file (``decoded_s`` short of ``promised_s``) and a clipped one
    (``counts``: [clipped, total] samples as stored)."""
    if decoded_s < promised_s - PARTIAL_TOLERANCE_S:
        log.warning("%s is partly unreadable (cut short or damaged): only its first %.1f s of %.1f s decoded "
                    "(%.0f%%); transcribing those", path, decoded_s, promised_s, 100 * decoded_s / promised_s)
    if counts[1] and counts[0] > CLIP_WARN_FRACTION * counts[1]:
        log.warning("%s is clipped: %.2f%% of its samples are at full scale (|x| >= %g); notes may be missed "
                    "or doubled, re-export it at a lower level if you can", path, 100 * counts[0] / counts[1], CLIP_LEVEL)


class AudioFile:
    """A file's audio as mono float32 at ``sample_rate``, decoded where it is sliced: how the
    pipeline reads a recording, so its length does not set the memory transcription needs.

    Opening one decodes the file once, block by block, keeping nothing: it makes the checks of
    :func:`load_audio` (the same errors and warnings) and learns the decodable length. ``len()``
    is that length in samples; ``audio[a:b]`` decodes those samples, seeking in the file. A file at
    another sample rate is resampled from a frame on the common grid of both rates ``margin_s``
    before ``a`` to as far after ``b``, so the slice equals the same samples of :func:`load_audio`
    to within the resampler's precision (about 1e-6).

    >>> audio = AudioFile("album.flac"); len(audio) / 16000, audio[16000:32000].shape   # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike[str], *, sample_rate: int = SAMPLE_RATE, allow_silence: bool = True,
                 margin_s: float = 0.1) -> None:
        import math

        self.path = Path(path)
        self.sample_rate = sample_rate
        promised_s = _promised_s(path)
        counts = [0, 0]
        check = _SampleCheck(str(path))
        with _open(path) as f:
            self.native_rate = f.samplerate
            channels = f.channels
            if self.native_rate <= 0:
                raise AudioError(f"{path} has an invalid sample rate {self.native_rate}")
            try:
                for piece in _mono_blocks(f, f.frames, sample_rate=sample_rate, clip_counts=counts, partial=True):
                    check.update(piece)
            except (sf.LibsndfileError, RuntimeError) as err:
                raise AudioError(f"cannot decode {path} ({err})") from err
        check.finish(allow_silence=allow_silence)
        self.num_samples = check.samples
        self.peak = check.peak  # largest |sample| of the mono 16 kHz audio, learnt while checking
        self._native_frames = counts[1] // channels  # what decoded: a damaged end is never read again
        _warn_damage(path, self.num_samples / sample_rate, promised_s, counts)
        common = math.gcd(self.native_rate, sample_rate)
        self._grid = (sample_rate // common, self.native_rate // common)  # (output, native) samples of one grid step
        self._margin = int(round(margin_s * sample_rate))

    def __len__(self) -> int:
        return self.num_samples

    @property
    def duration_s(self) -> float:
        return self.num_samples / self.sample_rate

    def __getitem__(self, index: slice) -> np.ndarray:
        if not isinstance(index, slice) or index.step not in (None, 1):
            raise TypeError("an AudioFile is read in contiguous slices, audio[a:b]")
        a, b, _ = index.indices(self.num_samples)
        if b <= a:
            return np.zeros(0, np.float32)
        out_step, native_step = self._grid
        first = 0 if self.native_rate == self.sample_rate else max(0, a - self._margin) // out_step * out_step
        last = b if self.native_rate == self.sample_rate else b + self._margin
        with _open(self.path) as f:
            start = first // out_step * native_step
            frames = min(-(-(last - first) // out_step) * native_step, max(0, self._native_frames - start))
            try:
                f.seek(start)
                data = f.read(frames, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError) as err:
                raise AudioError(f"cannot decode {self.path} ({err})") from err
        mono = np.ascontiguousarray(data.mean(axis=1) if data.shape[1] > 1 else data[:, 0])
        if self.native_rate != self.sample_rate:
            mono = resample(mono, orig_sr=self.native_rate, target_sr=self.sample_rate)
        piece = mono[a - first: b - first]
        return piece if len(piece) == b - a else np.pad(piece, (0, b - a - len(piece)))


def peak_amplitude(audio: Samples) -> float:
    """The largest ``|sample|`` of mono audio: an :class:`AudioFile`'s is known from opening it; an
    array is scanned in blocks (no song-long temporary)."""
    if isinstance(audio, AudioFile):
        return float(audio.peak)
    check = _SampleCheck("audio")
    flat = np.asarray(audio).reshape(-1)
    for first in range(0, flat.size, _CHECK_BLOCK):
        check.update(flat[first: first + _CHECK_BLOCK])
    return check.peak


def write_audio(
    path: str | os.PathLike[str], audio: np.ndarray, *, sample_rate: int = SAMPLE_RATE, subtype: str | None = None
) -> Path:
    """Write audio atomically (temporary file + rename); the format follows the extension.

    Args:
        audio: (samples,) or (channels, samples); float in [-1, 1] or int16.
    """
    path = Path(path)
    data = np.asarray(audio)
    data = data.T if data.ndim == 2 else data
    if subtype is None and data.dtype == np.int16:
        subtype = "PCM_16"
    with atomic_path(path) as tmp:
        sf.write(tmp, data, sample_rate, subtype=subtype)
    return path


Samples = np.ndarray | AudioFile
"""Mono 16 kHz audio the pipeline reads: an array, or a file decoded where it is sliced."""
