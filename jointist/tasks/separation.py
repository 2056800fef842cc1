"""Training the separator: one stem per instrument from the mixture, conditioned on the instrument
and on a frame posteriorgram.

Per clip the task separates ``instruments_per_clip`` classes drawn as the transcription task draws
them (:func:`~jointist.tasks.targets.sample_instruments`): up to ``present_per_clip`` of the
classes playing in the window, the rest absent classes whose target is silence, so the separator
learns to output nothing for an instrument that does not play.

The posteriorgram condition (``condition``):

- ``roll``: the ground-truth frame roll of each instrument (teacher forcing);
- ``transcriber``: the frame posteriors of a transcriber held by the task under the role
  ``transcriber`` (``transcriber: path/to/model.pt`` loads one; it stays frozen unless the schedule
  unfreezes it), computed from the same clip;
- ``none``: no posteriorgram (for ``fusion=none`` separators).

Validation logs the whole-track SDR (10 log10 |s|^2 / |s - s_hat|^2) of every present source of
each window, the energy of the stems predicted for absent instruments relative to the mixture, and
a spectrogram image of one estimate against its target.
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
from jointist.models.base import ModelCard, SeparatorModel
from jointist.models.serialize import load_model
from jointist.tasks.base import JointistTask
from jointist.tasks.losses import SeparationLoss
from jointist.tasks.targets import class_weights, draw_instruments, rolls_for, stems_for
from jointist.tasks.validation import SeparationValidation

__all__ = ["CONDITIONS", "SeparationTask", "validation_instruments"]

CONDITIONS = ("roll", "transcriber", "none")


def validation_instruments(batch: ExampleBatch, batch_idx: int, *, seed: int, k: int, class_weights: np.ndarray) -> np.ndarray:
    """A fixed draw per validation batch: every present class of each clip (up to ``k``), then absent ones."""
    rng = np.random.default_rng([seed, 10_000 + batch_idx])
    return draw_instruments(rng, batch.examples, k=k, max_present=k, class_weights=class_weights)

class SeparationTask(JointistTask):
    """LightningModule around a :class:`~jointist.models.base.SeparatorModel`.

    Args:
        models: ``{"separator": model}`` (and ``"transcriber"`` for ``condition=transcriber``).
        optimizer, scheduler, param_groups, freeze, pretrained: see :class:`~jointist.tasks.base.JointistTask`.
        condition: ``roll``, ``transcriber`` or ``none`` (see the module docstring).
        transcriber: model file of the transcriber for ``condition=transcriber`` (frozen unless
            ``freeze`` says otherwise).
        instruments_per_clip, present_per_clip, temperature: the instrument draw per clip.
        stft_weight: weight of the multi-resolution STFT term of :class:`~jointist.tasks.losses.SeparationLoss`.
        seed: seed of the instrument draws.
    """

    loss: SeparationLoss

    def __init__(
        self,
        models: Mapping[str, nn.Module],
        *,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        param_groups: Mapping[str, Mapping[str, Any]] | None = None,
        freeze: Mapping[str, Mapping[str, Any]] | None = None,
        pretrained: Mapping[str, str] | None = None,
        condition: str = "roll",
        transcriber: str | None = None,
        instruments_per_clip: int = 4,
        present_per_clip: int = 3,
        temperature: float = 2.0,
        stft_weight: float = 0.0,
        seed: int = 0,
    ) -> None:
        if condition not in CONDITIONS:
            raise ValueError(f"condition must be one of {CONDITIONS}, got {condition!r}")
        models = dict(models)
        freeze = dict(freeze or {})
        transcriber = str(transcriber) if transcriber is not None else None  # plain values in the hyperparameters
        loaded_card: ModelCard | None = None
        if condition == "transcriber":
            if "transcriber" not in models:
                if transcriber is None:
                    raise ValueError("condition=transcriber needs task.transcriber=<model file> (or a transcriber model)")
                models["transcriber"], loaded_card = load_model(transcriber, role="transcriber")
            freeze.setdefault("transcriber", {"until_step": -1})
        fusion = getattr(models.get("separator"), "fusion", None)
        if fusion is not None and (fusion == "none") != (condition == "none"):
            raise ValueError(f"condition={condition!r} does not fit a separator with fusion={fusion!r}: "
                             "use condition=none exactly for fusion=none")
        super().__init__(models, optimizer=optimizer, scheduler=scheduler, param_groups=param_groups, freeze=freeze,
                         pretrained=pretrained)
        if not isinstance(self.model_of("separator"), SeparatorModel):
            raise TypeError(f"{type(self.model_of('separator')).__name__} is not a separator "
                            "(features once per clip, heads per instrument)")
        if not 1 <= instruments_per_clip <= NUM_CLASSES:
            raise ValueError(f"instruments_per_clip must be in 1..{NUM_CLASSES}, got {instruments_per_clip}")
        self.condition = condition
        self.loaded_card = loaded_card  # the pretrained transcriber's card (decode thresholds) travels on
        self.instruments_per_clip = instruments_per_clip
        self.present_per_clip = present_per_clip
        self.temperature = temperature
        self.seed = seed
        self.loss = SeparationLoss(stft_weight=stft_weight)
        self.class_weights = np.ones(NUM_CLASSES)
        self.validation = SeparationValidation()
        self.save_hyperparameters(ignore=["models", "optimizer", "scheduler"])

    @property
    def separator(self) -> Any:
        return self.model_of("separator")

    def setup(self, stage: str) -> None:
        super().setup(stage)
        tracks = self.train_tracks()
        if tracks:
            self.class_weights = class_weights(tracks, self.temperature)

    def model_card(self, role: str) -> ModelCard:
        if role == "transcriber" and self.loaded_card is not None and self.frozen("transcriber") \
                and self.freeze_until.get("transcriber", 0) < 0:
            return self.loaded_card  # never trained here: its own card, decode thresholds included
        card = super().model_card(role)
        if role == "separator":
            return card.replace(notes=f"trained with condition={self.condition}")
        return card

    # -- the forward pass shared by training and validation ---------------------------------------
    def posteriorgram(self, batch: ExampleBatch, instruments: np.ndarray) -> torch.Tensor | None:
        """The frame condition (B, K, frames, 88) of the chosen instruments, or None."""
        if self.condition == "none":
            return None
        frames = num_frames(batch.mix.shape[-1])
        if self.condition == "roll":
            return rolls_for(batch.examples, instruments, frames=frames)[1].to(self.device)
        transcriber = self.model_of("transcriber")
        with torch.set_grad_enabled(self.training and not self.frozen("transcriber")):
            out = transcriber.heads(transcriber.features(batch.mix), torch.from_numpy(instruments).to(self.device))  # type: ignore[operator]
        return torch.sigmoid(out.frame.float())

    def separate(self, batch: ExampleBatch, instruments: np.ndarray) -> torch.Tensor:
        """Stems (B, K, samples) of the chosen instruments."""
        features = self.separator.features(batch.mix)
        return self.separator.heads(features, torch.from_numpy(instruments).to(self.device),
                                    self.posteriorgram(batch, instruments))

    def draw_instruments(self, batch: ExampleBatch, batch_idx: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, self.global_step, batch_idx])
        return draw_instruments(rng, batch.examples, k=self.instruments_per_clip, max_present=self.present_per_clip,
                                class_weights=self.class_weights)

    def training_step(self, batch: ExampleBatch, batch_idx: int) -> torch.Tensor:
        instruments = self.draw_instruments(batch, batch_idx)
        estimate = self.separate(batch, instruments)
        target = stems_for(batch.examples, instruments, samples=batch.mix.shape[-1]).to(self.device)
        loss, parts = self.loss(estimate, target)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch))
        for name, value in parts.items():
            self.log(f"train/{name}_loss", value, batch_size=len(batch))
        return loss

    # -- validation -------------------------------------------------------------------------------
    def on_validation_epoch_start(self) -> None:
        self.validation.reset()

    def validation_step(self, batch: ExampleBatch, batch_idx: int) -> None:
        instruments = validation_instruments(batch, batch_idx, seed=self.seed, k=self.instruments_per_clip,
                                             class_weights=self.class_weights)
        estimate = self.separate(batch, instruments)
        target = stems_for(batch.examples, instruments, samples=batch.mix.shape[-1]).to(self.device)
        self.log("val/loss", self.loss(estimate, target)[0], prog_bar=True, batch_size=len(batch))
        self.validation.update(estimate, target, instruments, batch)

    def on_validation_epoch_end(self) -> None:
        for name, value in self.validation.finish().items():
            self.log(name, value, prog_bar=name == "val/sdr")
        self.validation.log_image(self.logger, self.global_step)
