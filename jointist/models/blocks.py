"""Building blocks shared by the models."""

from __future__ import annotations

import torch
from torch import nn

from jointist.models.film import FiLM

__all__ = ["ConvBlock", "ConvStack"]


class ConvBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and ReLU, optional FiLM after each, then pooling along
    frequency and dropout. Input and output: (batch, channels, time, freq)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        cond_dim: int | None = None,
        film: str = "full",
        pool: int = 2,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        conditioned = cond_dim is not None and film != "none"
        self.film1 = FiLM(out_channels, cond_dim, mode=film, feature_dim=1) if conditioned else None  # type: ignore[arg-type]
        self.film2 = FiLM(out_channels, cond_dim, mode=film, feature_dim=1) if conditioned else None  # type: ignore[arg-type]
        self.pool = nn.MaxPool2d((1, pool)) if pool > 1 else nn.Identity()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        x = self.bn1(self.conv1(x))
        if self.film1 is not None and cond is not None:
            x = self.film1(x, cond)
        x = torch.relu(x)
        x = self.bn2(self.conv2(x))
        if self.film2 is not None and cond is not None:
            x = self.film2(x, cond)
        x = torch.relu(x)
        return self.dropout(self.pool(x))


class ConvStack(nn.Module):
    """ConvBlocks over a spectrogram, flattened per frame and projected.

    (batch, time, freq) -> (batch, time, out_features); with no channels it is only the projection.
    """

    def __init__(
        self,
        n_bins: int,
        channels: tuple[int, ...] | list[int],
        out_features: int,
        *,
        cond_dim: int | None = None,
        film: str = "full",
        pool: int = 2,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        blocks, in_ch, freq = [], 1, n_bins
        for ch in channels:
            blocks.append(ConvBlock(in_ch, ch, cond_dim=cond_dim, film=film, pool=pool, dropout=dropout))
            in_ch, freq = ch, freq // pool if pool > 1 else freq
        self.blocks = nn.ModuleList(blocks)
        self.proj = nn.Linear(in_ch * freq, out_features)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, spec: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        x = spec.unsqueeze(1)  # (batch, 1, time, freq)
        for block in self.blocks:
            x = block(x, cond)
        b, c, t, f = x.shape
        x = x.permute(0, 2, 1, 3).reshape(b, t, c * f)
        return self.dropout(torch.relu(self.proj(x)))
