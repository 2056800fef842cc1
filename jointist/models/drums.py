"""A drum transcriber: which kit piece is hit when, from the mixture's whole spectrum.

The pitch-wise transcriber reads each key from the harmonic spectrogram's column of that key's
pitch. That suits pitched notes and not drums: a GM drum key is a kit piece, not a pitch, and a ride
cymbal (key 51) or a pedal hi-hat (44) sounds nowhere near the column of D#3 or G#2. Trained with the
pitched instruments, the shipped transcriber learned the kick, the snare and the closed hi-hat and
hardly any other piece (``jobs/attribution.py --drums``). This model sees the whole log-mel frame of
the mix for every kit piece, as drum transcription models do (Vogl et al. 2017; Southall et al.
2017; the drum model of Onsets and Frames, Callender et al. 2020)::

    audio (B, samples) -> log-mel (B, T, 229) -> batch norm per bin
      -> conv blocks along time x frequency, max-pooled along frequency -> linear (B, T, D)
      -> biGRU -> linear: onset logits and velocity logits per kit key (B, T, 47)

The kit keys are General MIDI's percussion keys 35..81 (:data:`KIT_KEYS`); :meth:`rolls` places them
on the 88-key axis that the rest of jointist uses for drums (the key number is the GM drum number).
The pipeline uses it for the ``Drums`` class when a model file holds one (role ``drummer``).
"""

from __future__ import annotations

import torch
from torch import nn

from jointist.audio.features import build_frontend
from jointist.constants import MIN_MIDI, N_PITCHES
from jointist.models.base import JointistModel
from jointist.models.blocks import ConvStack, init_prior

__all__ = ["KIT_KEYS", "DrumTranscriber"]

KIT_KEYS = tuple(range(35, 82))
"""The General MIDI percussion keys (35 acoustic bass drum .. 81 open triangle) a drum model predicts."""


class DrumTranscriber(JointistModel):
    """Onsets (and their velocities) of every GM kit key from the mixture.

    Args:
        channels: conv blocks (two 3x3 convolutions each, max-pooled by 2 along frequency).
        features: width of the per-frame features.
        rnn_hidden: hidden size of each GRU direction.
        dropout: after conv blocks and the projection.
    """

    role = "drummer"

    def __init__(self, channels: tuple[int, ...] | list[int] = (8, 16, 32), features: int = 128, rnn_hidden: int = 64,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.frontend = build_frontend("logmel")
        n_bins = self.frontend.n_bins
        self.norm = nn.BatchNorm1d(n_bins)
        self.stack = ConvStack(n_bins, tuple(channels), features, dropout=dropout)
        self.rnn = nn.GRU(features, rnn_hidden, batch_first=True, bidirectional=True)
        self.onset = nn.Linear(2 * rnn_hidden, len(KIT_KEYS))
        self.velocity = nn.Linear(2 * rnn_hidden, len(KIT_KEYS))
        init_prior(self.onset)
        self.register_buffer("keys", torch.tensor(KIT_KEYS, dtype=torch.long) - MIN_MIDI, persistent=False)
        self.register_buffer("calibration", torch.zeros(len(KIT_KEYS)))
        """Per kit key, a shift of the onset logits fitted on validation songs after training
        (``jobs/drum_transcriber.py``): a rarely hit piece (a ride, a tambourine) is predicted with
        lower probabilities than the kick, and one drum threshold suits every key after the shift."""

    def spectrogram(self, audio: torch.Tensor) -> torch.Tensor:
        """(batch, samples) -> log-mel (batch, T, 229), what :meth:`from_spectrogram` takes (training
        jobs cache it)."""
        return self.frontend(audio)

    def from_spectrogram(self, spec: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-mel (batch, T, bins) -> onset and velocity logits (batch, T, len(KIT_KEYS)) each."""
        x = self.norm(spec.transpose(1, 2)).transpose(1, 2)
        x, _ = self.rnn(self.stack(x))
        return self.onset(x) + self.calibration, self.velocity(x)

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """audio (batch, samples) -> onset and velocity logits (batch, T, len(KIT_KEYS))."""
        return self.from_spectrogram(self.spectrogram(audio))

    def rolls(self, audio: torch.Tensor, frames: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Onset probabilities and velocities (velocity / 127) on the 88-key axis, (batch, T, 88) each
        (0 at keys that are not kit keys); ``frames`` crops or zero-pads T to another model's frames."""
        onset, velocity = self(audio)
        t = onset.shape[1] if frames is None else frames
        out = onset.new_zeros(2, onset.shape[0], t, N_PITCHES)
        n = min(t, onset.shape[1])
        out[0, :, :n, self.keys] = torch.sigmoid(onset[:, :n])
        out[1, :, :n, self.keys] = torch.sigmoid(velocity[:, :n])
        return out[0], out[1]
