"""What every jointist task shares: optimiser factories, self-describing checkpoints, training tracks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn

from jointist.data.slakh import TrackInfo

__all__ = ["JointistTask"]


class JointistTask(pl.LightningModule):
    """Base LightningModule owning one plain model.

    Args:
        model: an ``nn.Module`` with a ``config`` dict of its constructor arguments.
        optimizer: a factory ``params -> Optimizer`` (Hydra ``_partial_: true``).
        scheduler: optional factory ``optimizer -> LRScheduler``, stepped every step.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(self.model.parameters())
        if self.scheduler_factory is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": self.scheduler_factory(optimizer), "interval": "step"}}

    def export_extra(self) -> dict[str, Any]:
        """What inference needs besides the weights (stored with the model)."""
        return {}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["jointist_model"] = {
            "class": type(self.model).__name__,
            "config": dict(self.model.config),  # type: ignore[arg-type]
            "extra": self.export_extra(),
        }

    def train_tracks(self) -> list[TrackInfo]:
        """The training split's tracks when fitting with a SlakhDataModule (else empty)."""
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        dataset = getattr(datamodule, "datasets", {}).get("train") if datamodule is not None else None
        return list(dataset.tracks) if dataset is not None else []
