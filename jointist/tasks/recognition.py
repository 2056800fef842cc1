"""Training the instrument recognizer: multi-label BCE, class-imbalance weighting, mAP/F1, thresholds.

A class is a positive of a window when it has at least one note sounding in it. With
``imbalance="pos_weight"`` the positive term of each class is weighted by
``clip(sqrt(negatives / positives), 1, max_pos_weight)`` counted over the training tracks, so rare
instruments are not drowned by the common ones. At the end of each validation the per-class
thresholds that maximise validation F1 are chosen (``tune_thresholds``) and stored with the model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from jointist.data.slakh import ExampleBatch, TrackInfo
from jointist.instruments import NUM_CLASSES
from jointist.models.base import ModelCard
from jointist.tasks.base import JointistTask
from jointist.tasks.losses import RecognitionLoss
from jointist.tasks.validation import RecognitionValidation, tune_thresholds

__all__ = ["RecognitionTask", "positive_weights", "tune_thresholds"]

def positive_weights(tracks: Sequence[TrackInfo], max_pos_weight: float) -> torch.Tensor:
    """(39,) weights of each class's positives: ``clip(sqrt(negatives / positives), 1, max_pos_weight)``
    over the tracks (a track is a positive of the classes it has stems of)."""
    positives = np.zeros(NUM_CLASSES)
    for track in tracks:
        positives[track.instruments] += 1
    negatives = len(tracks) - positives
    weight = np.clip(np.sqrt(negatives / np.maximum(positives, 1)), 1.0, max_pos_weight)
    return torch.as_tensor(weight, dtype=torch.float32)


class RecognitionTask(JointistTask):
    """LightningModule around an :class:`~jointist.models.recognizer.InstrumentRecognizer`.

    Args:
        models: ``{"recognizer": model}`` mapping audio (B, samples) to (B, 39) logits.
        optimizer, scheduler, param_groups, freeze, pretrained: see :class:`~jointist.tasks.base.JointistTask`.
        imbalance: ``pos_weight`` (weight rare classes' positives) or ``none``.
        max_pos_weight: cap of the positive weights.
        tune_thresholds: choose per-class thresholds on validation.
        aggregate: how window probabilities become a song's (``max`` or ``mean``), stored with the model.
    """

    loss: RecognitionLoss
    thresholds: torch.Tensor

    def __init__(
        self,
        models: Mapping[str, nn.Module],
        *,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        param_groups: Mapping[str, Mapping[str, Any]] | None = None,
        freeze: Mapping[str, Mapping[str, Any]] | None = None,
        pretrained: Mapping[str, str] | None = None,
        imbalance: str = "pos_weight",
        max_pos_weight: float = 10.0,
        tune_thresholds: bool = True,
        aggregate: str = "max",
    ) -> None:
        super().__init__(models, optimizer=optimizer, scheduler=scheduler, param_groups=param_groups, freeze=freeze,
                         pretrained=pretrained)
        if imbalance not in ("pos_weight", "none"):
            raise ValueError(f"imbalance must be 'pos_weight' or 'none', got {imbalance!r}")
        if aggregate not in ("max", "mean"):
            raise ValueError(f"aggregate must be 'max' or 'mean', got {aggregate!r}")
        self.imbalance = imbalance
        self.max_pos_weight = max_pos_weight
        self.tune = tune_thresholds
        self.aggregate = aggregate
        self.loss = RecognitionLoss(NUM_CLASSES)
        self.register_buffer("thresholds", torch.full((NUM_CLASSES,), 0.5))
        self.validation = RecognitionValidation()
        self.save_hyperparameters(ignore=["models", "optimizer", "scheduler"])

    @property
    def recognizer(self) -> nn.Module:
        return self.model_of("recognizer")

    def setup(self, stage: str) -> None:
        super().setup(stage)
        tracks = self.train_tracks()
        if tracks and self.imbalance == "pos_weight":
            self.loss.pos_weight.copy_(positive_weights(tracks, self.max_pos_weight))

    def model_card(self, role: str) -> ModelCard:
        card = super().model_card(role)
        return card.replace(thresholds=[float(t) for t in self.thresholds.cpu()], aggregate=self.aggregate)

    def training_step(self, batch: ExampleBatch, batch_idx: int) -> torch.Tensor:
        loss = self.loss(self.recognizer(batch.mix), batch.present)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch))
        return loss

    def on_validation_epoch_start(self) -> None:
        self.validation.reset()

    def validation_step(self, batch: ExampleBatch, batch_idx: int) -> None:
        logits = self.recognizer(batch.mix)
        self.log("val/loss", self.loss(logits, batch.present), prog_bar=True, batch_size=len(batch))
        self.validation.update(logits, batch.present)

    def on_validation_epoch_end(self) -> None:
        precision = str(self.trainer.precision) if self._trainer is not None else "unknown"
        for name, value in self.validation.finish(self.thresholds, tune=self.tune, precision=precision).items():
            self.log(name, value, prog_bar=name == "val/map_macro")
