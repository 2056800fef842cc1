"""Training recognizer, transcriber and separator together: Jointist's joint task.

The task owns any subset of the three roles (plain models, keyed by role, as every task) and sums
their losses, each the module the single-role task uses::

    mixture -> recognizer -> logits ......................... RecognitionLoss  x w_recognizer(step)
            -> instruments per clip: the truth (teacher forcing) or the recognizer's top-k
            -> transcriber(features once, heads per instrument) . TranscriptionLoss x w_transcriber(step)
            -> posteriorgram of the same instruments: soft, straight-through binarised, the true
               roll, or none (gradients reach the transcriber only when configured)
            -> separator(mixture, instrument, posteriorgram) .... SeparationLoss    x w_separator(step)

Loss weights warm up linearly from 0 over ``loss_warmup[role]`` steps, counted from the step the role
starts training (after its freeze). Everything about the schedule
(per-role learning rates, freezing until a step, pretrained weights per role) comes from
:class:`~jointist.tasks.base.JointistTask`, as data. Validation reports each role as its own task
does (:mod:`jointist.tasks.validation`): recognition mAP/F1, the note F1 family, SDR; the separator
is validated on the posteriorgram it is trained with (the transcriber's, or the true roll).
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
from jointist.models.base import ConditionedTranscriberModel, ModelCard, SeparatorModel
from jointist.postprocess import DecodeConfig
from jointist.tasks.base import JointistTask
from jointist.tasks.losses import RecognitionLoss, SeparationLoss, TranscriptionLoss
from jointist.tasks.recognition import positive_weights
from jointist.tasks.separation import validation_instruments
from jointist.tasks.targets import class_weights, draw_instruments, rolls_for, stems_for
from jointist.tasks.transcription import transcription_loss
from jointist.tasks.validation import RecognitionValidation, SeparationValidation, TranscriptionValidation

__all__ = ["INSTRUMENT_SOURCES", "POSTERIORGRAMS", "JointTask"]

POSTERIORGRAMS = ("soft", "ste", "roll", "none")
INSTRUMENT_SOURCES = ("truth", "recognizer")
ROLES = ("recognizer", "transcriber", "separator")


class JointTask(JointistTask):
    """Any of recognizer, transcriber and separator, trained on one weighted sum of their losses.

    Args:
        models: role -> model, a non-empty subset of ``recognizer``, ``transcriber``, ``separator``.
        optimizer, scheduler, param_groups, freeze, pretrained: see :class:`~jointist.tasks.base.JointistTask`.
        loss_weights: role -> weight of its loss (1 for roles not named).
        loss_warmup: role -> steps over which its weight rises linearly from 0, from the step the
            role starts training (none: full from the start).
        posteriorgram: what conditions the separator: ``soft`` (the transcriber's frame posteriors),
            ``ste`` (the same, thresholded with straight-through gradients by the separator itself,
            which needs ``binarize: true`` so that inference binarises exactly as training did),
            ``roll`` (the true frame roll: the ceiling) or ``none`` (a ``fusion=none`` separator).
        separation_to_transcriber: let the separation loss's gradients reach the transcriber
            through the posteriorgram (stopped when false).
        instruments: the classes trained per clip: ``truth`` (up to ``present_per_clip`` present,
            the rest absent, as the single-role tasks draw them) or ``recognizer`` (the recognizer's
            ``instruments_per_clip`` most probable classes, as ``instruments=auto`` would choose;
            their targets are the truth, silence for a wrong guess).
        instruments_per_clip, present_per_clip, temperature: the instrument draw per clip.
        onset_weight, frame_weight, onset_pos_weight, agnostic_weight: the transcription loss.
        stft_weight: the separation loss's multi-resolution STFT term.
        imbalance, max_pos_weight, tune_thresholds, aggregate: the recognizer's, as in its own task.
        decode: note decoding thresholds for validation F1 (stored with the transcriber).
        seed: seed of the instrument draws.
    """

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
        loss_weights: Mapping[str, float] | None = None,
        loss_warmup: Mapping[str, int] | None = None,
        posteriorgram: str = "soft",
        separation_to_transcriber: bool = True,
        instruments: str = "truth",
        instruments_per_clip: int = 4,
        present_per_clip: int = 3,
        temperature: float = 2.0,
        onset_weight: float = 1.0,
        frame_weight: float = 1.0,
        onset_pos_weight: float = 5.0,
        agnostic_weight: float = 0.5,
        stft_weight: float = 0.0,
        imbalance: str = "pos_weight",
        max_pos_weight: float = 10.0,
        tune_thresholds: bool = True,
        aggregate: str = "max",
        decode: Mapping[str, Any] | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(models, optimizer=optimizer, scheduler=scheduler, param_groups=param_groups, freeze=freeze,
                         pretrained=pretrained)
        if not self.models:
            raise ValueError(f"the joint task needs at least one of {', '.join(ROLES)}")
        unknown = [role for role in self.models if role not in ROLES]
        if unknown:
            raise ValueError(f"the joint task trains {', '.join(ROLES)}; got {', '.join(unknown)}")
        if posteriorgram not in POSTERIORGRAMS:
            raise ValueError(f"posteriorgram must be one of {POSTERIORGRAMS}, got {posteriorgram!r}")
        if instruments not in INSTRUMENT_SOURCES:
            raise ValueError(f"instruments must be one of {INSTRUMENT_SOURCES}, got {instruments!r}")
        if instruments == "recognizer" and "recognizer" not in self.models:
            raise ValueError("instruments=recognizer needs a recognizer among the models")
        if "transcriber" in self.models and not isinstance(self.models["transcriber"], ConditionedTranscriberModel):
            raise TypeError(f"{type(self.models['transcriber']).__name__} is not a conditioned transcriber")
        if "separator" in self.models:
            separator = self.models["separator"]
            if not isinstance(separator, SeparatorModel):
                raise TypeError(f"{type(separator).__name__} is not a separator (features once per clip, heads per instrument)")
            fusion = getattr(separator, "fusion", None)
            if fusion is not None and (fusion == "none") != (posteriorgram == "none"):
                raise ValueError(f"posteriorgram={posteriorgram!r} does not fit a separator with fusion={fusion!r}: "
                                 "use posteriorgram=none exactly for fusion=none")
            binarize = bool(getattr(separator, "binarize", False))
            if binarize != (posteriorgram == "ste"):
                raise ValueError(f"posteriorgram={posteriorgram!r} needs a separator with binarize={not binarize} "
                                 "(models.separator.binarize): the separator binarises its condition itself, in "
                                 "training and at inference alike")
            if posteriorgram in ("soft", "ste") and "transcriber" not in self.models:
                raise ValueError(f"posteriorgram={posteriorgram} conditions the separator on a transcriber's "
                                 "posteriors: add a transcriber (or use posteriorgram=roll or none)")
        for role in (*(loss_weights or {}), *(loss_warmup or {})):
            if role not in self.models:
                raise ValueError(f"loss schedule names the role {role!r}, but this task has only {', '.join(self.models)}")
        if not 1 <= instruments_per_clip <= NUM_CLASSES:
            raise ValueError(f"instruments_per_clip must be in 1..{NUM_CLASSES}, got {instruments_per_clip}")
        if imbalance not in ("pos_weight", "none"):
            raise ValueError(f"imbalance must be 'pos_weight' or 'none', got {imbalance!r}")
        self.loss_weights = {role: float((loss_weights or {}).get(role, 1.0)) for role in self.models}
        self.loss_warmup = {role: int(steps) for role, steps in (loss_warmup or {}).items()}
        self.posteriorgram_kind = posteriorgram
        self.separation_to_transcriber = separation_to_transcriber
        self.instrument_source = instruments
        self.instruments_per_clip = instruments_per_clip
        self.present_per_clip = present_per_clip
        self.temperature = temperature
        self.imbalance = imbalance
        self.max_pos_weight = max_pos_weight
        self.tune = tune_thresholds
        self.aggregate = aggregate
        self.seed = seed
        self.decode = DecodeConfig(**(decode or {}))
        self.class_weights = np.ones(NUM_CLASSES)
        self.recognition_loss = RecognitionLoss(NUM_CLASSES)
        self.transcription_loss = TranscriptionLoss(onset_weight=onset_weight, frame_weight=frame_weight,
                                                    onset_pos_weight=onset_pos_weight, agnostic_weight=agnostic_weight)
        self.separation_loss = SeparationLoss(stft_weight=stft_weight)
        self.register_buffer("thresholds", torch.full((NUM_CLASSES,), 0.5))
        self.validations: dict[str, Any] = {}
        if "recognizer" in self.models:
            self.validations["recognizer"] = RecognitionValidation()
        if "transcriber" in self.models:
            self.validations["transcriber"] = TranscriptionValidation(self.decode)
        if "separator" in self.models:
            self.validations["separator"] = SeparationValidation()
        self.save_hyperparameters(ignore=["models", "optimizer", "scheduler"])

    # -- set-up and cards -------------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        super().setup(stage)
        tracks = self.train_tracks()
        if tracks:
            self.class_weights = class_weights(tracks, self.temperature)
            if "recognizer" in self.models and self.imbalance == "pos_weight":
                self.recognition_loss.pos_weight.copy_(positive_weights(tracks, self.max_pos_weight))

    def model_card(self, role: str) -> ModelCard:
        card = super().model_card(role)
        if role == "recognizer":
            return card.replace(thresholds=[float(t) for t in self.thresholds.cpu()], aggregate=self.aggregate)
        if role == "transcriber":  # a pretrained transcriber keeps the thresholds tuned for it
            loaded = self.pretrained_cards.get("transcriber")
            return card.replace(decode=dict(loaded.decode) if loaded is not None and loaded.decode
                                else dict(self.decode.__dict__))
        if role == "separator":
            return card.replace(notes=f"trained jointly with posteriorgram={self.posteriorgram_kind}")
        return card

    def loss_weight(self, role: str) -> float:
        """The weight of a role's loss at the current step: 0 at the step the role starts training
        (0, or the step it is unfrozen at), full ``loss_warmup[role]`` steps later."""
        weight = self.loss_weights[role]
        warmup = self.loss_warmup.get(role, 0)
        if warmup <= 0:
            return weight
        start = max(self.freeze_until.get(role, 0), 0)
        return weight * min(1.0, max(0.0, (self.global_step - start) / warmup))

    # -- the forward pass ---------------------------------------------------------------------------
    def choose_instruments(self, batch: ExampleBatch, batch_idx: int, logits: torch.Tensor | None) -> np.ndarray:
        """(B, K) classes to transcribe and separate per clip (see ``instruments``)."""
        if self.instrument_source == "recognizer" and logits is not None:
            order = torch.argsort(logits.detach().float(), dim=1, descending=True)
            return order[:, : self.instruments_per_clip].cpu().numpy().astype(np.int64)
        rng = np.random.default_rng([self.seed, self.global_step, batch_idx])
        return draw_instruments(rng, batch.examples, k=self.instruments_per_clip, max_present=self.present_per_clip,
                                class_weights=self.class_weights)

    def condition(self, batch: ExampleBatch, instruments: np.ndarray, frame_logits: torch.Tensor | None) -> torch.Tensor | None:
        """The separator's posteriorgram (B, K, frames, 88) for ``instruments``, or None."""
        if self.posteriorgram_kind == "none":
            return None
        if self.posteriorgram_kind == "roll":
            return rolls_for(batch.examples, instruments, frames=num_frames(batch.mix.shape[-1]))[1].to(self.device)
        if frame_logits is None:
            raise RuntimeError("the transcriber's frame logits are needed for this posteriorgram")
        # soft for ste too: the separator binarises it (straight-through), as it will at inference
        post = torch.sigmoid(frame_logits.float())
        if not self.separation_to_transcriber or self.frozen("transcriber"):
            post = post.detach()
        return post

    def _separate(self, batch: ExampleBatch, instruments: np.ndarray,
                  frame_logits: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """The separator's stems (B, K, samples) for ``instruments`` and their targets."""
        separator: Any = self.model_of("separator")
        post = self.condition(batch, instruments, frame_logits)
        estimate = separator.heads(separator.features(batch.mix), torch.from_numpy(instruments).to(self.device), post)
        return estimate, stems_for(batch.examples, instruments, samples=batch.mix.shape[-1]).to(self.device)

    def training_step(self, batch: ExampleBatch, batch_idx: int) -> torch.Tensor:
        losses: dict[str, torch.Tensor] = {}
        logits = None
        if "recognizer" in self.models:
            logits = self.model_of("recognizer")(batch.mix)
            losses["recognizer"] = self.recognition_loss(logits, batch.present)
        instruments = self.choose_instruments(batch, batch_idx, logits)
        frame_logits = None
        if "transcriber" in self.models:
            loss, parts, out = transcription_loss(self.model_of("transcriber"), self.transcription_loss, batch, instruments)
            losses["transcriber"] = loss
            frame_logits = out.frame
            for name, value in parts.items():
                self.log(f"train/{name}_loss", value, batch_size=len(batch))
        if "separator" in self.models:
            estimate, target = self._separate(batch, instruments, frame_logits)
            losses["separator"], _ = self.separation_loss(estimate, target)
        total = torch.zeros((), device=self.device)
        for role, loss in losses.items():
            self.log(f"train/{role}_loss", loss, batch_size=len(batch))
            if not self.frozen(role):
                weight = self.loss_weight(role)
                self.log(f"train/{role}_weight", weight, batch_size=len(batch))
                total = total + weight * loss
        if not total.requires_grad:
            raise RuntimeError(f"every role of this step is frozen ({', '.join(self.models)}): nothing to train")
        self.log("train/loss", total, prog_bar=True, batch_size=len(batch))
        return total

    # -- validation -----------------------------------------------------------------------------------
    def on_validation_epoch_start(self) -> None:
        for validation in self.validations.values():
            validation.reset()

    def validation_step(self, batch: ExampleBatch, batch_idx: int) -> None:
        losses = []
        if "recognizer" in self.models:
            logits = self.model_of("recognizer")(batch.mix)
            self.validations["recognizer"].update(logits, batch.present)
            losses.append(self.recognition_loss(logits, batch.present))
        transcriber: Any = self.models["transcriber"] if "transcriber" in self.models else None
        features = transcriber.features(batch.mix) if transcriber is not None else None  # once for both roles
        if transcriber is not None:
            loss = self.validations["transcriber"].update(transcriber, features, batch, self.transcription_loss)
            if loss is not None:
                self.log("val/transcriber_loss", loss, batch_size=len(batch))
                losses.append(loss)
        if "separator" in self.models:
            instruments = validation_instruments(batch, batch_idx, seed=self.seed, k=self.instruments_per_clip,
                                                 class_weights=self.class_weights)
            frame_logits = None
            if transcriber is not None and self.posteriorgram_kind in ("soft", "ste"):
                frame_logits = transcriber.heads(features, torch.from_numpy(instruments).to(self.device)).frame
            estimate, target = self._separate(batch, instruments, frame_logits)
            loss, _ = self.separation_loss(estimate, target)
            self.log("val/separator_loss", loss, batch_size=len(batch))
            losses.append(loss)
            self.validations["separator"].update(estimate, target, instruments, batch)
        if losses:
            self.log("val/loss", torch.stack(losses).sum(), prog_bar=True, batch_size=len(batch))

    def on_validation_epoch_end(self) -> None:
        precision = str(self.trainer.precision) if self._trainer is not None else "unknown"
        for role, validation in self.validations.items():
            if role == "recognizer":
                metrics = validation.finish(self.thresholds, tune=self.tune, precision=precision)
            else:
                metrics = validation.finish()
                validation.log_image(self.logger, self.global_step)
            for name, value in metrics.items():
                self.log(name, value, prog_bar=name in ("val/map_macro", "val/note_f1", "val/sdr"))
