"""Building blocks shared by the models: one convolution block, one spectrogram conv stack."""

from __future__ import annotations

import torch
from torch import nn

from jointist.models.film import FiLM

__all__ = ["PRIOR_LOGIT", "ConvBlock", "ConvStack", "init_prior"]

PRIOR_LOGIT = -4.0
"""Output biases of sparse roll predictions start at sigmoid(-4) = 0.018, near the share of active
cells in a piano roll, so the first steps are not spent pushing 88 x T outputs from 0.5 down (the
focal-loss paper's prior initialisation)."""



def init_prior(layer: nn.Module) -> None:
    """Set a roll output layer's bias to :data:`PRIOR_LOGIT`."""
    bias = getattr(layer, "bias", None)
    if not isinstance(bias, torch.Tensor):
        raise TypeError(f"{type(layer).__name__} has no bias to initialise")
    nn.init.constant_(bias, PRIOR_LOGIT)


_Pair = int | tuple[int, int]


def _pair(value: _Pair) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


class ConvBlock(nn.Module):
    """One or two convolutions, each followed by batch norm, optional FiLM and ReLU; then optional
    pooling and dropout. Input and output: (batch, channels, time, freq).

    Args:
        kernel, stride, padding: of the first convolution (the second is 3x3, stride 1, "same");
            ``padding=None`` keeps the size for odd kernels.
        convs: 1 or 2 convolutions.
        cond_dim: size of the FiLM condition (None: unconditioned); ``film``: its mode.
        pool: pooling window (time, freq) or an int for frequency only; 1 or (1, 1): none.
        pool_mode: ``max`` or ``avg``.
        dropout: after pooling.

    The transcriber's blocks use the defaults (two 3x3 convs, FiLM, max-pool along frequency), the
    recognizer ``pool=(2, 2), pool_mode="avg"``, the pitch-wise trunk single convs with its own
    kernels and strides and no pooling.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernel: _Pair = 3,
        stride: _Pair = 1,
        padding: _Pair | None = None,
        convs: int = 2,
        cond_dim: int | None = None,
        film: str = "full",
        pool: _Pair = 2,
        pool_mode: str = "max",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if convs not in (1, 2):
            raise ValueError(f"convs must be 1 or 2, got {convs}")
        if pool_mode not in ("max", "avg"):
            raise ValueError(f"pool_mode must be 'max' or 'avg', got {pool_mode!r}")
        k = _pair(kernel)
        pad = _pair(padding) if padding is not None else ((k[0] - 1) // 2, (k[1] - 1) // 2)
        self.conv1 = nn.Conv2d(in_channels, out_channels, k, stride=_pair(stride), padding=pad, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False) if convs == 2 else None
        self.bn2 = nn.BatchNorm2d(out_channels) if convs == 2 else None
        conditioned = cond_dim is not None and film != "none"
        self.film1 = FiLM(out_channels, cond_dim, mode=film, feature_dim=1) if conditioned else None  # type: ignore[arg-type]
        self.film2 = FiLM(out_channels, cond_dim, mode=film, feature_dim=1) if conditioned and convs == 2 else None  # type: ignore[arg-type]
        window = (1, pool) if isinstance(pool, int) else _pair(pool)
        if window == (1, 1):
            self.pool: nn.Module = nn.Identity()
        else:
            self.pool = nn.MaxPool2d(window) if pool_mode == "max" else nn.AvgPool2d(window)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        x = self.bn1(self.conv1(x))
        if self.film1 is not None and cond is not None:
            x = self.film1(x, cond)
        x = torch.relu(x)
        if self.conv2 is not None and self.bn2 is not None:
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
