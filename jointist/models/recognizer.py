"""Instrument recognizer: CNN front-end + transformer encoder with a CLS token (Jointist's recognizer).

    audio (B, samples) -> log-mel (B, T, 229)
      -> conv blocks, each pooling time and frequency by 2        (B, C, T / 2^n, 229 / 2^n)
      -> flatten channels x frequency, linear to d_model            (B, T', d_model)
      -> prepend a learned CLS token, add learned positions         (B, 1 + T', d_model)
      -> transformer encoder (pre-norm)                             (B, 1 + T', d_model)
      -> the CLS output -> linear                                   (B, 39) logits
"""

from __future__ import annotations

import torch
from torch import nn

from jointist.audio.features import build_frontend
from jointist.instruments import NUM_CLASSES
from jointist.models.base import JointistModel
from jointist.models.blocks import ConvBlock

__all__ = ["InstrumentRecognizer"]


class InstrumentRecognizer(JointistModel):
    """Which of the 39 classes play in a clip.

    Args:
        conv_channels: channels of the conv blocks (the paper goes up to 2048; the default runs on CPUs).
        d_model, n_layers, n_heads, ff_dim: the transformer encoder (the paper: 256, 4, 8).
        max_frames: longest input in spectrogram frames (sets the learned position table).
    """

    role = "recognizer"

    def __init__(
        self,
        *,
        n_classes: int = NUM_CLASSES,
        frontend: str = "logmel",
        conv_channels: tuple[int, ...] | list[int] = (32, 64, 128, 256),
        d_model: int = 256,
        n_layers: int = 4,
        n_heads: int = 8,
        ff_dim: int = 512,
        dropout: float = 0.1,
        max_frames: int = 3001,
    ) -> None:
        super().__init__()
        self.frontend = build_frontend(frontend)
        self.norm = nn.BatchNorm1d(self.frontend.n_bins)
        blocks, in_ch, freq = [], 1, self.frontend.n_bins
        for ch in conv_channels:
            blocks.append(ConvBlock(in_ch, ch, pool=(2, 2), pool_mode="avg", dropout=dropout))
            in_ch, freq = ch, freq // 2
        self.cnn = nn.Sequential(*blocks)
        self.proj = nn.Linear(in_ch * freq, d_model)
        self.cls = nn.Parameter(torch.zeros(1, 1, d_model))
        self.positions = nn.Parameter(torch.zeros(1, 1 + max_frames // 2 ** len(conv_channels) + 1, d_model))
        nn.init.normal_(self.cls, std=0.02)
        nn.init.normal_(self.positions, std=0.02)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, ff_dim, dropout, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.out_norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, n_classes)

    def embed(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, samples) -> token sequence (B, T', d_model) before the CLS token is prepended."""
        spec = self.frontend(audio)
        spec = self.norm(spec.transpose(1, 2)).transpose(1, 2)
        x = self.cnn(spec.unsqueeze(1))  # (B, C, T', F')
        b, c, t, f = x.shape
        return self.proj(x.permute(0, 2, 1, 3).reshape(b, t, c * f))

    def encode(self, tokens: torch.Tensor, cls: torch.Tensor | None = None) -> torch.Tensor:
        """Tokens (B, T', d) -> encoder output of the CLS position (B, d)."""
        b, t, _ = tokens.shape
        if 1 + t > self.positions.shape[1]:
            raise ValueError(f"input of {t} tokens is longer than max_frames allows ({self.positions.shape[1] - 1})")
        cls = self.cls.expand(b, 1, -1) if cls is None else cls
        x = torch.cat([cls, tokens], dim=1) + self.positions[:, : 1 + t]
        return self.out_norm(self.encoder(x)[:, 0])

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, samples) -> (B, 39) logits."""
        return self.head(self.encode(self.embed(audio)))
