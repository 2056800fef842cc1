"""Checkpoints a killed run can resume from: written atomically (never a truncated file), and
``last.ckpt`` always the latest step, whatever the monitored score did."""

from __future__ import annotations

import os
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.plugins.io import TorchCheckpointIO

from jointist.atomic import atomic_path

__all__ = ["AtomicCheckpointIO", "LastCheckpoint"]


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes to a temporary file in the same folder, then renames it over the target."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | os.PathLike[str], storage_options: Any = None) -> None:
        with atomic_path(path) as tmp:
            super().save_checkpoint(checkpoint, tmp, storage_options)


class LastCheckpoint(pl.Callback):
    """Keeps ``<dirpath>/last.ckpt`` at the latest step: written every ``every_n_steps`` optimiser
    steps, after every validation and when training ends.

    Lightning's ``save_last`` rewrites ``last.ckpt`` only when the monitored checkpoint is saved, that
    is when the score improves: a run killed after a plateau resumed from far behind. ``ckpt_path=last``
    finds this file (it lies in the monitored checkpoints' folder).

    Args:
        dirpath: the checkpoints folder.
        every_n_steps: steps between writes during training (0: only at validations and the end).
    """

    def __init__(self, dirpath: str, every_n_steps: int = 100) -> None:
        if every_n_steps < 0:
            raise ValueError(f"every_n_steps must be >= 0, got {every_n_steps}")
        self.path = os.path.join(dirpath, "last.ckpt")
        self.every_n_steps = every_n_steps
        self._saved_at = -1

    def _save(self, trainer: pl.Trainer) -> None:
        if trainer.sanity_checking or trainer.global_step == self._saved_at:
            return
        trainer.save_checkpoint(self.path)  # every rank calls it; the strategy writes once, atomically
        self._saved_at = trainer.global_step

    def on_train_batch_end(self, trainer: pl.Trainer, task: pl.LightningModule, *args: Any) -> None:
        if self.every_n_steps and trainer.global_step > 0 and trainer.global_step % self.every_n_steps == 0:
            self._save(trainer)

    def on_validation_end(self, trainer: pl.Trainer, task: pl.LightningModule) -> None:
        if trainer.state.fn == "fit":
            self._save(trainer)

    def on_train_end(self, trainer: pl.Trainer, task: pl.LightningModule) -> None:
        self._save(trainer)
