"""Training the separator: one stem per instrument from the mixture, conditioned on the instrument
and on a frame posteriorgram.

Per clip the task separates ``instruments_per_clip`` classes drawn as the transcription task draws
them (:func:`~jointist.tasks.transcription.sample_instruments`): up to ``present_per_clip`` of the
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
from jointist.data.slakh import Example, ExampleBatch
from jointist.instruments import NUM_CLASSES
from jointist.metrics import energy_re_mixture_db, whole_track_sdr_db
from jointist.models.base import ModelCard, SeparatorModel
from jointist.models.serialize import load_model
from jointist.tasks.base import JointistTask
from jointist.tasks.losses import SeparationLoss
from jointist.tasks.transcription import rolls_for, sample_instruments

__all__ = ["CONDITIONS", "SeparationTask", "stems_for"]

CONDITIONS = ("roll", "transcriber", "none")

def stems_for(examples: list[Example], instruments: np.ndarray, *, samples: int) -> torch.Tensor:
    """Target stems (B, K, samples) of the chosen classes; silence for classes absent from a clip."""
    b, k = instruments.shape
    out = np.zeros((b, k, samples), np.float32)
    for i, ex in enumerate(examples):
        if not ex.stems:
            raise ValueError("separation needs the stems: set data.load_stems=true")
        for j, c in enumerate(instruments[i]):
            stem = ex.stems.get(int(c))
            if stem is not None:
                out[i, j, : len(stem)] = stem[:samples]
    return torch.from_numpy(out)


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
        freeze: Mapping[str, Mapping[str, int]] | None = None,
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
        self._val_sdr: list[float] = []
        self._val_absent_db: list[float] = []
        self._val_image: tuple[np.ndarray, np.ndarray] | None = None
        self.save_hyperparameters(ignore=["models", "optimizer", "scheduler"])

    @property
    def separator(self) -> Any:
        return self.model_of("separator")

    def setup(self, stage: str) -> None:
        super().setup(stage)
        counts = np.zeros(NUM_CLASSES)
        for track in self.train_tracks():
            counts[track.instruments] += 1
        if counts.sum() > 0:
            self.class_weights = np.maximum(counts, 1.0) ** (1.0 / self.temperature)

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
        return np.stack([
            sample_instruments(rng, ex.present, k=self.instruments_per_clip, max_present=self.present_per_clip,
                               class_weights=self.class_weights)
            for ex in batch.examples
        ])

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
        self._val_sdr, self._val_absent_db, self._val_image = [], [], None

    def validation_step(self, batch: ExampleBatch, batch_idx: int) -> None:
        # a fixed draw per batch: every present class of each clip plus absent ones, as in training
        rng_state = np.random.default_rng([self.seed, 10_000 + batch_idx])
        instruments = np.stack([
            sample_instruments(rng_state, ex.present, k=self.instruments_per_clip, max_present=self.instruments_per_clip,
                               class_weights=self.class_weights)
            for ex in batch.examples
        ])
        estimate = self.separate(batch, instruments)
        target = stems_for(batch.examples, instruments, samples=batch.mix.shape[-1]).to(self.device)
        loss, _ = self.loss(estimate, target)
        self.log("val/loss", loss, prog_bar=True, batch_size=len(batch))
        est = estimate.float().cpu().numpy()
        ref = target.cpu().numpy()
        mix = batch.mix.float().cpu().numpy()
        for i, ex in enumerate(batch.examples):
            for j, c in enumerate(instruments[i]):
                energy = float(np.sum(ref[i, j] ** 2))
                if ex.present[int(c)] > 0 and energy > 0:
                    self._val_sdr.append(whole_track_sdr_db(ref[i, j], est[i, j]))
                    if self._val_image is None:
                        self._val_image = (est[i, j], ref[i, j])
                elif energy == 0:
                    self._val_absent_db.append(energy_re_mixture_db(est[i, j], mix[i]))

    def on_validation_epoch_end(self) -> None:
        if self._val_sdr:
            self.log("val/sdr", float(np.mean(self._val_sdr)), prog_bar=True)
        if self._val_absent_db:
            self.log("val/absent_energy_db", float(np.mean(self._val_absent_db)))
        self._log_spectrogram_image()

    def _log_spectrogram_image(self) -> None:
        if self._val_image is None or self.logger is None:
            return
        experiment = getattr(self.logger, "experiment", None)
        if experiment is None or not hasattr(experiment, "add_image"):
            return
        window = torch.hann_window(1024)
        rows = []
        for wave in self._val_image:  # estimate, then target
            spec = torch.stft(torch.from_numpy(wave), 1024, 160, window=window, return_complex=True).abs()
            db = 20 * torch.log10(spec + 1e-5)
            rows.append(((db.clamp(min=-80.0) + 80.0) / 80.0).flip(0).numpy())
        image = np.concatenate(rows, axis=0)[None]  # top: estimate, bottom: target
        experiment.add_image("val/spectrogram_estimate_top_target_bottom", image, self.global_step)
