"""Checkpoints a killed run can resume from: written atomically (never a truncated file), ``last.ckpt``
always the latest step, whatever the monitored score did, and a clear error for a damaged one."""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Checkpoint
from pytorch_lightning.plugins.io import TorchCheckpointIO

from jointist.atomic import atomic_path
from jointist.models.serialize import CheckpointError

__all__ = ["AtomicCheckpointIO", "LastCheckpoint"]


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes to a temporary file in the same folder, then renames it over the target; reading a file
    that is corrupt or cut short raises a :class:`CheckpointError` that says so."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | os.PathLike[str], storage_options: Any = None) -> None:
        with atomic_path(path) as tmp:
            super().save_checkpoint(checkpoint, tmp, storage_options)

    def load_checkpoint(self, path: str | Path, *args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return super().load_checkpoint(path, *args, **kwargs)
        except pickle.UnpicklingError as err:
            if zipfile.is_zipfile(path):  # a whole file whose contents were refused: jointist-train says why
                raise
            raise _damaged(path, err) from err
        except EOFError as err:
            raise _damaged(path, err) from err
        except RuntimeError as err:
            if "PytorchStreamReader" not in str(err):  # not the zip container failing: not a damaged file
                raise
            raise _damaged(path, err) from err


def _damaged(path: str | Path, err: BaseException) -> CheckpointError:
    path = Path(path)
    others = sorted(p.name for p in path.parent.glob("*.ckpt") if p.name != path.name)
    instead = f"another checkpoint of {path.parent} (ckpt_path=<file>; there: {', '.join(others)})" if others else \
        "an earlier checkpoint (ckpt_path=<file>)"
    reason = (str(err).splitlines() or [type(err).__name__])[0]
    return CheckpointError(
        f"cannot resume from {path}: the file is corrupt or cut short ({reason}). Checkpoints are written "
        f"atomically, so it was damaged after it was written; resume from {instead}, or start a new run"
    )


class LastCheckpoint(Checkpoint):
    """Keeps ``<dirpath>/last.ckpt`` at the latest step: written every ``every_n_steps`` optimiser
    steps, after every validation and when training ends.

    Lightning's ``save_last`` rewrites ``last.ckpt`` only when the monitored checkpoint is saved, that
    is when the score improves: a run killed after a plateau resumed from far behind. ``ckpt_path=last``
    finds this file (it lies in the monitored checkpoints' folder).

    A file written at step ``k`` holds the state after step ``k``: the weights, optimiser and scheduler
    after its update, and, when ``k`` is validated, the callbacks after that validation. So a write due
    at a validated step is written again after validation (one more write every ``lcm(every_n_steps,
    val_check_interval)`` steps), and, being a :class:`Checkpoint`, this callback runs after the
    monitored checkpoint's, whose record of the best score goes into the file. A run resumed from it
    then neither repeats that validation nor forgets it when choosing its best checkpoint.

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

    def _save(self, trainer: pl.Trainer, *, again: bool = False) -> None:
        if trainer.sanity_checking or (trainer.global_step == self._saved_at and not again):
            return
        trainer.save_checkpoint(self.path)  # every rank calls it; the strategy writes once, atomically
        self._saved_at = trainer.global_step

    def on_train_batch_end(self, trainer: pl.Trainer, task: pl.LightningModule, *args: Any) -> None:
        if self.every_n_steps and trainer.global_step > 0 and trainer.global_step % self.every_n_steps == 0:
            self._save(trainer)

    def on_validation_end(self, trainer: pl.Trainer, task: pl.LightningModule) -> None:
        if trainer.state.fn == "fit":
            self._save(trainer, again=True)

    def on_train_end(self, trainer: pl.Trainer, task: pl.LightningModule) -> None:
        self._save(trainer)
