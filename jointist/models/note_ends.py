"""The note-end chooser (:mod:`jointist.note_ends`): a small network scoring each note's candidate ends."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from jointist.instruments import NUM_CLASSES
from jointist.models.base import JointistModel
from jointist.note_ends import FEATURES, KINDS, EndCandidates

__all__ = ["NoteEnder"]


class NoteEnder(JointistModel):
    """A score per candidate end of a note (:func:`~jointist.note_ends.end_candidates`) from its
    numeric features (standardised with the training candidates' mean and spread), an embedding of
    its kind and one of the instrument, through two hidden layers; the note ends at the best-scored
    candidate. Trained with a softmax over each note's candidates.

    Args:
        hidden: width of the two hidden layers.
        embedding: size of the kind and instrument embeddings.
    """

    role = "ender"
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, hidden: int = 64, embedding: int = 8) -> None:
        super().__init__()
        self.kind = nn.Embedding(len(KINDS), embedding)
        self.instrument = nn.Embedding(NUM_CLASSES, embedding)
        self.register_buffer("mean", torch.zeros(len(FEATURES)))
        self.register_buffer("std", torch.ones(len(FEATURES)))
        self.mlp = nn.Sequential(
            nn.Linear(len(FEATURES) + 2 * embedding, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, 1),
        )

    def fit_normalisation(self, features: np.ndarray, mask: np.ndarray) -> None:
        """Standardise the numeric features with the mean and spread of the training candidates in use
        (features (n, slots, F), mask (n, slots))."""
        x = torch.as_tensor(np.asarray(features)[np.asarray(mask)], dtype=torch.float32)
        self.mean.copy_(x.mean(dim=0))
        self.std.copy_(x.std(dim=0).clamp_min(1e-4))

    def forward(self, features: torch.Tensor, klass: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Scores (n, slots) of the candidates of n notes: features (n, slots, F), the notes'
        instrument classes (n,) and the slots in use (n, slots) (others score -inf)."""
        n, slots, _ = features.shape
        kinds = self.kind.weight[None].expand(n, slots, -1)
        inst = self.instrument(klass)[:, None].expand(n, slots, -1)
        x = torch.cat([(features - self.mean) / self.std, kinds, inst], dim=2)
        return self.mlp(x).squeeze(2).masked_fill(~mask, float("-inf"))

    @torch.no_grad()
    def choose(self, cands: EndCandidates) -> np.ndarray:
        """The slot of each note's best candidate (n,)."""
        if len(cands) == 0:
            return np.zeros(0, np.int64)
        device = self.kind.weight.device
        scores = self(torch.from_numpy(cands.features).to(device),
                      torch.full((len(cands),), cands.klass, dtype=torch.long, device=device),
                      torch.from_numpy(cands.mask).to(device))
        return scores.argmax(dim=1).cpu().numpy()
