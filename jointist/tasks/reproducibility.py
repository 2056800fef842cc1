"""Random draws that depend on the training step only, so a run resumed from a checkpoint draws what
an uninterrupted run draws.

The tasks' own draws (instruments per clip, silent channels) already come from
``np.random.default_rng([seed, global_step, batch_idx])`` and the training windows from
``(seed, index)``. What is left is torch's global generator, which dropout draws from. Saving its
state in the checkpoint would not be enough: more than the training steps draw from it, at moments
that differ between a resumed and an uninterrupted run (each new DataLoader iterator draws its base
seed, so every validation and the resumed run's sanity check shift the stream). Seeding it at every
training batch from the step makes each batch's dropout a function of ``(seed, step, batch)`` alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch

__all__ = ["StepSeed", "step_seed"]

_TORCH_STREAM = 1
"""Last word of the seed, keeping torch's draws apart from the tasks' NumPy draws of the same batch."""


def step_seed(seed: int, global_step: int, batch_idx: int, rank: int = 0) -> int:
    """The seed of torch's generator for training batch ``batch_idx`` of step ``global_step`` on
    process ``rank``: a 64-bit hash of the four numbers."""
    words = np.random.SeedSequence([seed, global_step, batch_idx, rank, _TORCH_STREAM]).generate_state(2)
    return int(words[0]) << 32 | int(words[1])


class StepSeed(pl.Callback):
    """Seeds torch's global generator (CPU and every GPU) before every training batch with
    :func:`step_seed`, so dropout depends on the step, the batch and the process, not on what drew
    before it.

    Args:
        seed: the run's seed.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def on_train_batch_start(self, trainer: pl.Trainer, task: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        torch.manual_seed(step_seed(self.seed, trainer.global_step, batch_idx, trainer.global_rank))
