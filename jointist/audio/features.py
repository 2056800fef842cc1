"""Spectrogram front-ends as torch modules: they run batched on the model's device.

The front-ends share one interface (except :class:`HarmonicSpectrogram`, which adds a harmonic
axis): ``forward(audio)`` with audio ``(batch, samples)`` returns ``(batch, frames, bins)`` with
``frames = samples // hop_length + 1`` (centred frames: frame ``k`` is centred on sample
``k * hop_length``, i.e. at ``k / 100`` s), and ``n_bins`` tells the width.
torchaudio is not used: its PyPI build needs CUDA torch libraries; filters come from librosa.
"""

from __future__ import annotations

import math

import librosa
import numpy as np
import torch
from torch import nn

from jointist.constants import (
    HOP_LENGTH,
    LOG_EPS,
    MEL_F_MAX,
    MEL_F_MIN,
    MEL_N_BINS,
    MEL_N_FFT,
    MIN_MIDI,
    N_PITCHES,
    SAMPLE_RATE,
    STFT_N_FFT,
)

__all__ = ["CQT", "STFT", "HarmonicSpectrogram", "LogMel", "build_frontend", "num_frames"]


def num_frames(num_samples: int, *, hop_length: int = HOP_LENGTH) -> int:
    """Frames produced for ``num_samples`` samples by a centred transform (1001 for 10 s)."""
    return num_samples // hop_length + 1


def _check_audio_batch(audio: torch.Tensor) -> torch.Tensor:
    if audio.dim() == 1:
        audio = audio.unsqueeze(0)
    if audio.dim() != 2:
        raise ValueError(f"audio must be (batch, samples) or (samples,), got shape {tuple(audio.shape)}")
    return audio


class STFT(nn.Module):
    """Complex STFT and its inverse (n_fft 1024, hop 160, Hann window) for the separator.

    ``forward`` returns a complex tensor ``(batch, frames, n_fft // 2 + 1)``; ``inverse`` takes the same
    layout back to ``(batch, samples)``.
    """

    window: torch.Tensor

    def __init__(self, n_fft: int = STFT_N_FFT, *, hop_length: int = HOP_LENGTH) -> None:
        super().__init__()
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        audio = _check_audio_batch(audio)
        spec = torch.stft(
            audio, self.n_fft, hop_length=self.hop_length, window=self.window, center=True,
            pad_mode="reflect" if audio.shape[-1] > self.n_fft // 2 else "constant", return_complex=True,
        )
        return spec.transpose(1, 2)

    def inverse(self, spec: torch.Tensor, *, length: int) -> torch.Tensor:
        """(batch, frames, bins) complex -> (batch, length) waveform.

        The separator (:class:`~jointist.models.separator.FiLMUNetSeparator`) turns its masked
        mixture spectrograms back into stems with it; a test checks the round trip.
        """
        return torch.istft(
            spec.transpose(1, 2), self.n_fft, hop_length=self.hop_length, window=self.window, center=True, length=length
        )


class LogMel(nn.Module):
    """Log-mel spectrogram: n_fft 2048, hop 160 (100 frames/s), 229 bins from 30 Hz to 8 kHz.

    Output: ``log(max(mel_power, 1e-5))`` of shape ``(batch, frames, n_mels)``.
    """

    mel_basis: torch.Tensor

    def __init__(
        self,
        *,
        n_fft: int = MEL_N_FFT,
        hop_length: int = HOP_LENGTH,
        n_mels: int = MEL_N_BINS,
        f_min: float = MEL_F_MIN,
        f_max: float = MEL_F_MAX,
        sample_rate: int = SAMPLE_RATE,
    ) -> None:
        super().__init__()
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.n_mels = n_mels
        fb = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=f_min, fmax=f_max)
        self.register_buffer("mel_basis", torch.from_numpy(fb.T.astype(np.float32)), persistent=False)
        self.stft = STFT(n_fft, hop_length=hop_length)

    @property
    def n_bins(self) -> int:
        return self.n_mels

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        spec = self.stft(audio)  # (batch, frames, n_fft/2+1) complex
        power = spec.real.square() + spec.imag.square()
        mel = torch.matmul(power, self.mel_basis)  # (batch, frames, n_mels)
        return torch.log(torch.clamp(mel, min=LOG_EPS))


class CQT(nn.Module):
    """Log-magnitude constant-Q transform with the same interface as :class:`LogMel`.

    Brown & Puckette's method: one FFT per frame (size: the next power of two above the longest
    kernel), multiplied by a matrix of spectral kernels, one per CQT bin. The kernels are Hann-windowed
    complex exponentials whose length is ``Q * sample_rate / f_k``, so every bin has a constant Q.
    Defaults: one bin per key of the 88-key axis, A0 to C8.
    """

    kernel_real: torch.Tensor
    kernel_imag: torch.Tensor

    def __init__(
        self,
        *,
        f_min: float | None = None,
        n_bins: int = N_PITCHES,
        bins_per_octave: int = 12,
        hop_length: int = HOP_LENGTH,
        sample_rate: int = SAMPLE_RATE,
        filter_scale: float = 1.0,
    ) -> None:
        super().__init__()
        if f_min is None:  # A0, the lowest key
            f_min = float(librosa.midi_to_hz(MIN_MIDI))
        freqs = f_min * 2.0 ** (np.arange(n_bins) / bins_per_octave)
        if freqs[-1] >= sample_rate / 2:
            raise ValueError(f"highest CQT bin {freqs[-1]:.0f} Hz is above Nyquist ({sample_rate / 2:.0f} Hz)")
        q = filter_scale / (2.0 ** (1.0 / bins_per_octave) - 1.0)
        lengths = np.ceil(q * sample_rate / freqs).astype(int)
        n_fft = int(2 ** math.ceil(math.log2(lengths.max())))
        kernels = np.zeros((n_bins, n_fft), np.complex128)
        for k, (freq, length) in enumerate(zip(freqs, lengths)):
            start = (n_fft - length) // 2
            t = np.arange(length) - (length - 1) / 2
            kernels[k, start:start + length] = np.hanning(length) / length * np.exp(2j * np.pi * freq * t / sample_rate)
        spectral = np.conj(np.fft.fft(kernels, axis=1)[:, : n_fft // 2 + 1]) / n_fft  # (n_bins, n_fft/2+1)
        self.n_fft = n_fft
        self.hop_length = hop_length
        self._n_bins = n_bins
        self.register_buffer("kernel_real", torch.from_numpy(spectral.real.T.astype(np.float32)), persistent=False)
        self.register_buffer("kernel_imag", torch.from_numpy(spectral.imag.T.astype(np.float32)), persistent=False)

    @property
    def n_bins(self) -> int:
        return self._n_bins

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        audio = _check_audio_batch(audio)
        spec = torch.stft(
            audio, self.n_fft, hop_length=self.hop_length, window=torch.ones(self.n_fft, device=audio.device),
            center=True, pad_mode="constant", return_complex=True,
        ).transpose(1, 2)  # (batch, frames, n_fft/2+1)
        real = spec.real @ self.kernel_real - spec.imag @ self.kernel_imag
        imag = spec.real @ self.kernel_imag + spec.imag @ self.kernel_real
        magnitude = torch.sqrt(real.square() + imag.square())
        return torch.log(torch.clamp(magnitude, min=LOG_EPS))


def _log_bin_matrix(centres: np.ndarray, bin_width: float, n_fft: int, sample_rate: int, oversample: int = 16) -> np.ndarray:
    """(n_fft/2+1, n_centres) weights mapping a linear magnitude spectrum to log-spaced bins.

    Each log bin averages the spectrum, linearly interpolated between FFT bins, at ``oversample``
    points spread evenly in log frequency over its own width (``bin_width`` semitones). Where the bins
    are narrower than the FFT's resolution this is interpolation, where they are wider it is
    averaging, so one rule serves both ends of the keyboard.
    """
    offsets = (np.arange(oversample) + 0.5) / oversample - 0.5
    points = librosa.midi_to_hz(centres[:, None] + bin_width * offsets[None, :])  # (n_centres, oversample)
    position = points * n_fft / sample_rate
    lower = np.floor(position).astype(int)
    frac = position - lower
    weights = np.zeros((n_fft // 2 + 1, len(centres)), np.float64)
    column = np.broadcast_to(np.arange(len(centres))[:, None], lower.shape)
    inside = lower + 1 <= n_fft // 2  # points above Nyquist add nothing
    np.add.at(weights, (lower[inside], column[inside]), (1.0 - frac[inside]) / oversample)
    np.add.at(weights, (lower[inside] + 1, column[inside]), frac[inside] / oversample)
    return weights


class HarmonicSpectrogram(nn.Module):
    """Harmonically stacked log-frequency magnitude spectrogram (the input of the pitch-wise transcriber).

    A log-frequency spectrum with ``bins_per_semitone`` bins per semitone is built from three STFTs,
    each used where its resolution suits the pitch (4096-point windows below ``split_hz[0]``,
    2048-point up to ``split_hz[1]``, 1024-point above: long windows resolve the bass, short ones keep
    the onsets of high notes sharp). Then, for every harmonic ``h`` (0.5 = the sub-octave), the
    spectrum is shifted by ``12 * log2(h)`` semitones, so that bin ``k`` of every channel lies at
    ``h`` times the frequency of key ``k``: a harmonic series lines up in one column, and a
    convolution along frequency sees the same pattern for every key (Bittner et al. 2017, 2022).

    ``forward(audio)`` with audio ``(batch, samples)`` returns ``(batch, harmonics, frames, 88 *
    bins_per_semitone)`` log magnitudes; bin ``k * bins_per_semitone + bins_per_semitone // 2`` is
    centred on key ``k`` (A0 + k semitones). Bins above Nyquist are zero before the log.
    """

    def __init__(
        self,
        *,
        harmonics: tuple[float, ...] | list[float] = (0.5, 1, 2, 3, 4, 5, 6, 7),
        bins_per_semitone: int = 3,
        n_ffts: tuple[int, int, int] = (4096, 2048, 1024),
        split_hz: tuple[float, float] = (250.0, 1000.0),
        hop_length: int = HOP_LENGTH,
        sample_rate: int = SAMPLE_RATE,
    ) -> None:
        super().__init__()
        self.harmonics = tuple(float(h) for h in harmonics)
        self.bins_per_semitone = bins_per_semitone
        self.hop_length = hop_length
        self.n_ffts = tuple(int(n) for n in n_ffts)
        width = 1.0 / bins_per_semitone
        n_key_bins = N_PITCHES * bins_per_semitone
        shifts = [int(round(12 * bins_per_semitone * math.log2(h))) for h in self.harmonics]
        self.shifts = shifts
        # the log axis spans every bin any harmonic channel reads; bins above Nyquist get no weight
        self.first = min(0, min(shifts))
        last = max(s + n_key_bins for s in shifts)
        centres = MIN_MIDI + (np.arange(self.first, last) - bins_per_semitone // 2) * width
        freqs = librosa.midi_to_hz(centres)
        bands = np.digitize(freqs, split_hz)  # 0: low, 1: mid, 2: high
        for i, n_fft in enumerate(self.n_ffts):
            mask = bands == i
            weights = _log_bin_matrix(centres, width, n_fft, sample_rate) * mask[None, :]
            used = np.flatnonzero(weights.any(axis=1))
            top = int(used.max()) + 1 if len(used) else 1
            scale = 2.0 / np.hanning(n_fft).sum()  # a unit sinusoid peaks at 1 whatever the window
            self.register_buffer(f"basis{i}", torch.from_numpy((weights[:top] * scale).astype(np.float32)), persistent=False)
            self.register_buffer(f"window{i}", torch.hann_window(n_fft), persistent=False)
        self._n_bins = n_key_bins

    @property
    def n_bins(self) -> int:
        return self._n_bins

    def log_spectrum(self, audio: torch.Tensor) -> torch.Tensor:
        """(batch, samples) -> (batch, frames, n_log) magnitude on the log-frequency axis."""
        audio = _check_audio_batch(audio)
        total = None
        for i, n_fft in enumerate(self.n_ffts):
            basis = getattr(self, f"basis{i}")
            spec = torch.stft(
                audio, n_fft, hop_length=self.hop_length, window=getattr(self, f"window{i}"), center=True,
                pad_mode="constant", return_complex=True,
            ).abs()[:, : basis.shape[0]]  # (batch, bins, frames)
            part = torch.matmul(spec.transpose(1, 2), basis)
            total = part if total is None else total + part
        return total  # type: ignore[return-value]

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        log_spec = torch.log(torch.clamp(self.log_spectrum(audio), min=LOG_EPS))
        n = self._n_bins
        channels = [log_spec[..., s - self.first: s - self.first + n] for s in self.shifts]
        return torch.stack(channels, dim=1)


def build_frontend(kind: str = "logmel", **kwargs: object) -> LogMel | CQT:
    """Front-end by name: ``logmel`` (default) or ``cqt``; kwargs go to its constructor.

    :class:`HarmonicSpectrogram` is not offered here: its output has a harmonic axis, ``(batch,
    harmonics, frames, bins)``, which only the pitch-wise transcriber consumes."""
    if kind == "logmel":
        return LogMel(**kwargs)  # type: ignore[arg-type]
    if kind == "cqt":
        return CQT(**kwargs)  # type: ignore[arg-type]
    raise ValueError(f"unknown front-end {kind!r}; choose 'logmel' or 'cqt'")
