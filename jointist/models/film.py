"""Feature-wise linear modulation (FiLM, Perez et al. 2018) from an instrument condition."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["FiLM", "FILM_MODES"]

FILM_MODES = ("full", "bias", "none")


class FiLM(nn.Module):
    """``y = gamma(c) * x + beta(c)`` along a feature axis.

    Args:
        num_features: size of the modulated axis.
        cond_dim: size of the condition vector (39 for an instrument one-hot).
        mode: ``full`` (gamma and beta), ``bias`` (beta only, the original Jointist form) or ``none``.
        feature_dim: which axis of ``x`` holds the features (e.g. 1 for (batch, channels, time, freq),
            -1 for (batch, time, features)).

    ``gamma`` is parameterised as ``1 + delta`` with ``delta`` and ``beta`` initialised to zero, so a
    new FiLM layer is the identity.
    """

    def __init__(self, num_features: int, cond_dim: int, *, mode: str = "full", feature_dim: int = -1) -> None:
        super().__init__()
        if mode not in FILM_MODES:
            raise ValueError(f"FiLM mode must be one of {FILM_MODES}, got {mode!r}")
        self.mode = mode
        self.num_features = num_features
        self.feature_dim = feature_dim
        self.beta = nn.Linear(cond_dim, num_features) if mode != "none" else None
        self.delta = nn.Linear(cond_dim, num_features) if mode == "full" else None
        for layer in (self.beta, self.delta):
            if layer is not None:
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)

    def _shape(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """(batch, features) -> broadcastable against x."""
        dim = self.feature_dim % x.dim()
        shape = [x.shape[0]] + [1] * (x.dim() - 1)
        shape[dim] = self.num_features
        return params.view(shape)

    def params(self, cond: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """(gamma, beta) of shape (batch, features) for a condition (batch, cond_dim)."""
        gamma = 1.0 + self.delta(cond) if self.delta is not None else None
        beta = self.beta(cond) if self.beta is not None else None
        return gamma, beta

    def modulate(self, x: torch.Tensor, gamma: torch.Tensor | None, beta: torch.Tensor | None) -> torch.Tensor:
        if gamma is not None:
            x = x * self._shape(gamma, x)
        if beta is not None:
            x = x + self._shape(beta, x)
        return x

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.params(cond)
        return self.modulate(x, gamma, beta)
