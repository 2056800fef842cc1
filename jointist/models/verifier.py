"""The note-onset verifier (:mod:`jointist.verifier`): a small MLP over candidate onsets' features."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from jointist.instruments import NUM_CLASSES
from jointist.models.base import JointistModel
from jointist.verifier import FEATURES, Candidates

__all__ = ["NoteVerifier"]


class NoteVerifier(JointistModel):
    """P(a candidate onset starts a note of its instrument) from
    :func:`~jointist.verifier.candidate_features`: the numeric features, standardised with the
    training candidates' mean and spread, and embeddings of the instrument and of its strongest rival,
    through two hidden layers.

    Args:
        hidden: width of the two hidden layers.
        embedding: size of the instrument and rival embeddings.
        floor: the smallest onset probability of a candidate.
    """

    role = "verifier"
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, hidden: int = 64, embedding: int = 8, floor: float = 0.02) -> None:
        super().__init__()
        self.floor = float(floor)
        self.own = nn.Embedding(NUM_CLASSES, embedding)
        self.rival = nn.Embedding(NUM_CLASSES + 1, embedding)
        self.register_buffer("mean", torch.zeros(len(FEATURES)))
        self.register_buffer("std", torch.ones(len(FEATURES)))
        self.mlp = nn.Sequential(
            nn.Linear(len(FEATURES) + 2 * embedding, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, 1),
        )

    def fit_normalisation(self, features: np.ndarray) -> None:
        """Standardise the numeric features with the mean and spread of training candidates (n, F)."""
        x = torch.as_tensor(np.asarray(features), dtype=torch.float32)
        self.mean.copy_(x.mean(dim=0))
        self.std.copy_(x.std(dim=0).clamp_min(1e-4))

    def forward(self, features: torch.Tensor, own: torch.Tensor, rival: torch.Tensor) -> torch.Tensor:
        """Logits (n,) of candidates: features (n, len(FEATURES)), instrument and rival classes (n,)."""
        x = torch.cat([(features - self.mean) / self.std, self.own(own), self.rival(rival)], dim=1)
        return self.mlp(x).squeeze(1)

    @torch.no_grad()
    def probabilities(self, cands: Candidates) -> np.ndarray:
        """P(note) of each candidate (n,), float32."""
        if len(cands) == 0:
            return np.zeros(0, np.float32)
        device = self.own.weight.device
        logits = self(torch.from_numpy(cands.features).to(device), torch.from_numpy(cands.own).to(device),
                      torch.from_numpy(cands.rival).to(device))
        return torch.sigmoid(logits).float().cpu().numpy()
