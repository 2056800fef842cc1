"""Onsets-and-frames transcription conditioned on an instrument through FiLM (Jointist's transcriber).

Data flow for a batch of clips and ``K`` instruments per clip::

    audio (B, samples) -> log-mel (B, T, 229)                               computed once per clip
      -> shared trunk: unconditioned conv blocks -> linear (B, T, D)        computed once per clip
      -> repeated per instrument (B*K, T, D) with the condition one-hot (B*K, 39)
      -> onset branch: [linear -> LayerNorm -> FiLM -> GELU] x n -> biGRU -> linear 88   onset logits
      -> frame branch: same layout                                          frame activations
      -> refinement: concat(sigmoid(onset).detach(), sigmoid(frame)) -> biGRU -> linear 88
    outputs (B, K, T, 88) onset and frame logits

The paper's layout (each branch its own FiLM-conditioned conv stack of 48/64/96/128 channels on the
spectrogram, linear 768, biGRU 256) is the same class with ``shared_channels=()`` and
``branch_channels=(48, 64, 96, 128)``: then every instrument pays for the whole conv stack, which is
why the default shares the unconditioned early layers and conditions only what follows.
"""

from __future__ import annotations

import torch
from torch import nn

from jointist.audio.features import build_frontend
from jointist.constants import N_PITCHES
from jointist.instruments import NUM_CLASSES
from jointist.models.base import JointistModel, TranscriberOutput
from jointist.models.blocks import PRIOR_LOGIT, ConvStack
from jointist.models.film import FiLM

__all__ = ["OnsetsFramesTranscriber", "TranscriberOutput"]


class _Branch(nn.Module):
    """One branch (onset or frame) for one instrument condition per row."""

    def __init__(
        self, *, n_bins: int, in_features: int, conv_channels: tuple[int, ...], features: int, rnn_hidden: int,
        cond_dim: int, film: str, film_layers: int, dropout: float,
    ) -> None:
        super().__init__()
        self.acoustic = (
            ConvStack(n_bins, conv_channels, features, cond_dim=cond_dim, film=film, dropout=dropout)
            if conv_channels else None
        )
        self.linears = nn.ModuleList()
        self.norms = nn.ModuleList()
        self.films = nn.ModuleList()
        width = features if conv_channels else in_features
        for _ in range(film_layers):
            self.linears.append(nn.Linear(width, features))
            self.norms.append(nn.LayerNorm(features))
            self.films.append(FiLM(features, cond_dim, mode=film))
            width = features
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.rnn = nn.GRU(width, rnn_hidden, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * rnn_hidden, N_PITCHES)
        nn.init.constant_(self.out.bias, PRIOR_LOGIT)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """x: (rows, T, F) spectrogram (conv branch) or shared features; cond: (rows, cond_dim)."""
        if self.acoustic is not None:
            x = self.acoustic(x, cond)
        for linear, norm, film in zip(self.linears, self.norms, self.films):
            x = self.dropout(nn.functional.gelu(film(norm(linear(x)), cond)))
        x, _ = self.rnn(x)
        return self.out(x)


class OnsetsFramesTranscriber(JointistModel):
    """FiLM-conditioned onsets-and-frames transcriber.

    Args:
        n_classes: size of the instrument condition (39).
        frontend: ``logmel`` or ``cqt``.
        shared_channels: unconditioned conv blocks shared by all instruments (empty: none).
        branch_channels: FiLM-conditioned conv blocks per branch and instrument (the paper: 48..128).
        features: width of the per-frame features (the paper: 768).
        rnn_hidden: hidden size of each GRU direction (the paper: 256).
        film: ``full`` (gamma and beta), ``bias`` (beta only, the original Jointist) or ``none``.
        film_layers: FiLM + linear layers per branch on the shared features.
        dropout: dropout after conv blocks and linear layers.
    """

    role = "transcriber"

    def __init__(
        self,
        *,
        n_classes: int = NUM_CLASSES,
        frontend: str = "logmel",
        shared_channels: tuple[int, ...] | list[int] = (16, 32, 64),
        branch_channels: tuple[int, ...] | list[int] = (),
        features: int = 256,
        rnn_hidden: int = 128,
        film: str = "full",
        film_layers: int = 2,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if not shared_channels and not branch_channels and film_layers == 0:
            raise ValueError("the transcriber needs shared_channels, branch_channels or film_layers > 0")
        self.n_classes = n_classes
        self.frontend = build_frontend(frontend)
        n_bins = self.frontend.n_bins
        self.norm = nn.BatchNorm1d(n_bins)
        self.trunk = ConvStack(n_bins, tuple(shared_channels), features, dropout=dropout) if shared_channels else None
        in_features = features if shared_channels else n_bins
        branch = dict(
            n_bins=n_bins, in_features=in_features, conv_channels=tuple(branch_channels), features=features,
            rnn_hidden=rnn_hidden, cond_dim=n_classes, film=film, film_layers=film_layers, dropout=dropout,
        )
        if shared_channels and branch_channels:
            raise ValueError("use shared_channels (fast) or branch_channels (paper), not both")
        self.onset_branch = _Branch(**branch)  # type: ignore[arg-type]
        self.frame_branch = _Branch(**branch)  # type: ignore[arg-type]
        self.refine_rnn = nn.GRU(2 * N_PITCHES, rnn_hidden, batch_first=True, bidirectional=True)
        self.refine_out = nn.Linear(2 * rnn_hidden, N_PITCHES)
        nn.init.constant_(self.refine_out.bias, PRIOR_LOGIT)

    def features(self, audio: torch.Tensor) -> torch.Tensor:
        """(batch, samples) -> per-clip features (batch, T, D): everything that does not depend on
        the instrument, computed once however many instruments are transcribed."""
        spec = self.frontend(audio)  # (B, T, bins)
        spec = self.norm(spec.transpose(1, 2)).transpose(1, 2)
        return self.trunk(spec) if self.trunk is not None else spec

    def agnostic(self, features: torch.Tensor) -> TranscriberOutput | None:
        """This layout has no instrument-agnostic head."""
        return None

    def heads(self, features: torch.Tensor, instruments: torch.Tensor) -> TranscriberOutput:
        """Per-clip features (B, T, D) and instrument indices (B, K) -> logits (B, K, T, 88)."""
        if instruments.dim() != 2 or instruments.shape[0] != features.shape[0]:
            raise ValueError(f"instruments must be (batch, K) with batch {features.shape[0]}, got {tuple(instruments.shape)}")
        b, k = instruments.shape
        t = features.shape[1]
        rows = features.unsqueeze(1).expand(b, k, *features.shape[1:]).reshape(b * k, *features.shape[1:])
        cond = nn.functional.one_hot(instruments.reshape(-1).long(), self.n_classes).to(features.dtype)
        onset = self.onset_branch(rows, cond)
        frame = self.frame_branch(rows, cond)
        refined, _ = self.refine_rnn(torch.cat([torch.sigmoid(onset).detach(), torch.sigmoid(frame)], dim=-1))
        frame = self.refine_out(refined)
        return TranscriberOutput(onset.view(b, k, t, N_PITCHES), frame.view(b, k, t, N_PITCHES))

    def forward(self, audio: torch.Tensor, instruments: torch.Tensor) -> TranscriberOutput:
        """audio (batch, samples), instruments (batch, K) class indices -> logits (batch, K, T, 88)."""
        return self.heads(self.features(audio), instruments)
