"""Training the FiLM-conditioned transcriber: losses, instrument sampling, validation F1, logging.

Per clip the task transcribes ``instruments_per_clip`` classes: up to ``present_per_clip`` of the
classes with notes in the window, the rest absent classes with empty targets
(:mod:`jointist.tasks.targets`). Validation transcribes every clip's true instruments and logs the
note F1 family (:class:`~jointist.tasks.validation.TranscriptionValidation`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from jointist.audio.features import num_frames
from jointist.data.slakh import ExampleBatch
from jointist.instruments import NUM_CLASSES
from jointist.models.base import ConditionedTranscriberModel, ModelCard
from jointist.postprocess import DecodeConfig
from jointist.tasks.base import JointistTask
from jointist.tasks.losses import TranscriptionLoss
from jointist.tasks.targets import agnostic_rolls, class_weights, draw_instruments, target_rolls_for
from jointist.tasks.validation import TranscriptionValidation

__all__ = ["TranscriptionTask", "transcription_loss"]


def transcription_loss(transcriber: Any, loss: TranscriptionLoss, batch: ExampleBatch, instruments: np.ndarray,
                       features: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor], Any]:
    """The transcription loss of a batch for the classes ``instruments`` (B, K), its parts, and the
    heads' logits; ``features`` are the transcriber's per-clip features when already computed."""
    frames = num_frames(batch.mix.shape[-1])
    device = batch.mix.device
    onset_t, frame_t, velocity_t, offset_t = target_rolls_for(batch.examples, instruments, frames=frames)
    features = transcriber.features(batch.mix) if features is None else features
    out = transcriber.heads(features, torch.from_numpy(instruments).to(device))
    velocity = velocity_t.to(device) if getattr(out, "velocity", None) is not None else None
    offset = offset_t.to(device) if getattr(out, "offset", None) is not None else None
    agnostic = transcriber.agnostic(features) if loss.agnostic_weight > 0 else None
    agnostic_targets = None
    if agnostic is not None:
        a_onset, a_frame = agnostic_rolls(batch.examples, frames=frames)
        agnostic_targets = (a_onset.to(device), a_frame.to(device))
    total, parts = loss(out, onset_t.to(device), frame_t.to(device), agnostic=agnostic, agnostic_targets=agnostic_targets,
                        velocity=velocity, offset=offset)
    return total, parts, out


class TranscriptionTask(JointistTask):
    """LightningModule around an :class:`~jointist.models.transcriber.OnsetsFramesTranscriber`.

    Args:
        models: ``{"transcriber": model}``, a conditioned transcriber (``features`` once per clip,
            ``heads`` per instrument, ``agnostic`` or None; :mod:`jointist.models.base`).
        optimizer, scheduler, param_groups, freeze, pretrained: see :class:`~jointist.tasks.base.JointistTask`.
        instruments_per_clip: classes transcribed per training clip (present + absent).
        present_per_clip: at most this many of them present.
        temperature: sampling temperature over class counts.
        onset_weight, frame_weight, onset_pos_weight, agnostic_weight, velocity_weight, offset_weight: the
            :class:`~jointist.tasks.losses.TranscriptionLoss` (the agnostic terms apply to models
            whose ``agnostic(features)`` is not None).
        decode: note decoding thresholds for validation F1 (stored with the model).
        seed: seed of the instrument draws.
    """

    loss: TranscriptionLoss

    def __init__(
        self,
        models: Mapping[str, nn.Module],
        *,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        param_groups: Mapping[str, Mapping[str, Any]] | None = None,
        freeze: Mapping[str, Mapping[str, Any]] | None = None,
        pretrained: Mapping[str, str] | None = None,
        instruments_per_clip: int = 4,
        present_per_clip: int = 3,
        temperature: float = 2.0,
        onset_weight: float = 1.0,
        frame_weight: float = 1.0,
        onset_pos_weight: float = 1.0,
        agnostic_weight: float = 0.5,
        velocity_weight: float = 1.0,
        offset_weight: float = 1.0,
        decode: Mapping[str, Any] | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(models, optimizer=optimizer, scheduler=scheduler, param_groups=param_groups, freeze=freeze,
                         pretrained=pretrained)
        if not isinstance(self.model_of("transcriber"), ConditionedTranscriberModel):
            raise TypeError(f"{type(self.model_of('transcriber')).__name__} is not a conditioned transcriber "
                            "(features once per clip, heads per instrument, agnostic or None)")
        if not 1 <= instruments_per_clip <= NUM_CLASSES:
            raise ValueError(f"instruments_per_clip must be in 1..{NUM_CLASSES}, got {instruments_per_clip}")
        self.instruments_per_clip = instruments_per_clip
        self.present_per_clip = present_per_clip
        self.temperature = temperature
        self.loss = TranscriptionLoss(onset_weight=onset_weight, frame_weight=frame_weight,
                                      onset_pos_weight=onset_pos_weight, agnostic_weight=agnostic_weight,
                                      velocity_weight=velocity_weight, offset_weight=offset_weight)
        self.decode = DecodeConfig(**(decode or {}))
        self.seed = seed
        self.class_weights = np.ones(NUM_CLASSES)
        self.validation = TranscriptionValidation(self.decode)
        self.save_hyperparameters(ignore=["models", "optimizer", "scheduler"])

    @property
    def transcriber(self) -> Any:
        """The conditioned transcriber (:class:`~jointist.models.base.ConditionedTranscriberModel`)."""
        return self.model_of("transcriber")

    # -- set-up -------------------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        super().setup(stage)
        tracks = self.train_tracks()
        if tracks:
            self.class_weights = class_weights(tracks, self.temperature)

    def model_card(self, role: str) -> ModelCard:
        return super().model_card(role).replace(decode=dict(self.decode.__dict__))

    # -- training -------------------------------------------------------------------------------
    def training_step(self, batch: ExampleBatch, batch_idx: int) -> torch.Tensor:
        rng = np.random.default_rng([self.seed, self.global_step, batch_idx])
        instruments = draw_instruments(rng, batch.examples, k=self.instruments_per_clip,
                                       max_present=self.present_per_clip, class_weights=self.class_weights)
        loss, parts, _ = transcription_loss(self.transcriber, self.loss, batch, instruments)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch))
        for name, value in parts.items():
            self.log(f"train/{name}_loss", value, batch_size=len(batch))
        return loss

    # -- validation -----------------------------------------------------------------------------
    def on_validation_epoch_start(self) -> None:
        self.validation.reset()

    def validation_step(self, batch: ExampleBatch, batch_idx: int) -> None:
        loss = self.validation.update(self.transcriber, self.transcriber.features(batch.mix), batch, self.loss)
        if loss is not None:
            self.log("val/loss", loss, prog_bar=True, batch_size=len(batch))

    def on_validation_epoch_end(self) -> None:
        for name, value in self.validation.finish().items():
            self.log(name, value, prog_bar=name == "val/note_f1")
        self.validation.log_image(self.logger, self.global_step)
