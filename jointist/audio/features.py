"""Spectrogram front-ends as torch modules: they run batched on the model's device.

All front-ends share one interface: ``forward(audio)`` with audio ``(batch, samples)`` returns
``(batch, frames, bins)`` with ``frames = samples // hop_length + 1`` (centred frames: frame ``k`` is
centred on sample ``k * hop_length``, i.e. at ``k / 100`` s), and ``n_bins`` tells the width.
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

__all__ = ["CQT", "STFT", "LogMel", "build_frontend", "num_frames"]


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
        """(batch, frames, bins) complex -> (batch, length) waveform."""
        return torch.istft(
            spec.transpose(1, 2), self.n_fft, hop_length=self.hop_length, window=self.window, center=True, length=length
        )


class LogMel(nn.Module):
    """Log-mel spectrogram: n_fft 2048, hop 160 (100 frames/s), 229 bins from 30 Hz to 8 kHz.

    Output: ``log(max(mel_power, 1e-5))`` of shape ``(batch, frames, n_mels)``.
    """

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

    def __init__(
        self,
        *,
        f_min: float = 440.0 * 2.0 ** ((MIN_MIDI - 69) / 12),
        n_bins: int = N_PITCHES,
        bins_per_octave: int = 12,
        hop_length: int = HOP_LENGTH,
        sample_rate: int = SAMPLE_RATE,
        filter_scale: float = 1.0,
    ) -> None:
        super().__init__()
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


def build_frontend(kind: str = "logmel", **kwargs: object) -> nn.Module:
    """Front-end by name: ``logmel`` (default) or ``cqt``; kwargs go to its constructor."""
    if kind == "logmel":
        return LogMel(**kwargs)  # type: ignore[arg-type]
    if kind == "cqt":
        return CQT(**kwargs)  # type: ignore[arg-type]
    raise ValueError(f"unknown front-end {kind!r}; choose 'logmel' or 'cqt'")
