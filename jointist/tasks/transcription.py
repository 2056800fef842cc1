"""Training the FiLM-conditioned transcriber: losses, instrument sampling, validation F1, logging.

Per clip the task transcribes ``instruments_per_clip`` classes: up to ``present_per_clip`` of the
classes with notes in the window, the rest absent classes with empty targets (negatives, so the
model learns to stay silent for an instrument that does not play). Both draws use probabilities
``p(c) ~ count(c) ** (1 / temperature)`` over the training set's stem counts: temperature 1 follows
the data, larger values flatten toward uniform.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from jointist.audio.features import num_frames
from jointist.constants import FRAMES_PER_SECOND
from jointist.data.slakh import Example, ExampleBatch
from jointist.data.targets import class_rolls, notes_to_rolls
from jointist.instruments import NUM_CLASSES
from jointist.metrics import PieceScores, evaluate_piece, match_counts, merge_pitched, summarise
from jointist.models.base import ConditionedTranscriberModel, ModelCard
from jointist.postprocess import DecodeConfig, decode_notes, decode_tracks
from jointist.tasks.base import JointistTask
from jointist.tasks.losses import TranscriptionLoss

__all__ = ["TranscriptionTask", "sample_instruments"]


def sample_instruments(
    rng: np.random.Generator,
    present: np.ndarray,
    *,
    k: int,
    max_present: int,
    class_weights: np.ndarray,
) -> np.ndarray:
    """Choose ``k`` distinct classes: up to ``max_present`` present ones, the rest absent.

    Args:
        present: (39,) multi-hot of the classes with notes in the clip.
        class_weights: (39,) positive sampling weights.
    """
    present_idx = np.flatnonzero(present > 0)
    absent_idx = np.flatnonzero(present <= 0)
    n_present = min(max_present, len(present_idx), k)
    chosen: list[int] = []
    if n_present:
        w = class_weights[present_idx] / class_weights[present_idx].sum()
        chosen += rng.choice(present_idx, size=n_present, replace=False, p=w).tolist()
    n_absent = k - n_present
    if n_absent:
        w = class_weights[absent_idx] / class_weights[absent_idx].sum()
        chosen += rng.choice(absent_idx, size=n_absent, replace=False, p=w).tolist()
    return np.asarray(chosen, dtype=np.int64)


def rolls_for(examples: list[Example], instruments: np.ndarray, *, frames: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Onset and frame targets (B, K, frames, 88) for the chosen classes of each clip."""
    both = [class_rolls(ex.notes, instruments[i], num_frames=frames) for i, ex in enumerate(examples)]
    return torch.from_numpy(np.stack([o for o, _ in both])), torch.from_numpy(np.stack([f for _, f in both]))


def agnostic_rolls(examples: list[Example], *, frames: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Instrument-agnostic onset and frame targets (B, frames, 88): every pitched note of each clip."""
    onset = np.zeros((len(examples), frames, 88), np.float32)
    frame = np.zeros((len(examples), frames, 88), np.float32)
    for i, ex in enumerate(examples):
        pitched = merge_pitched(ex.notes)
        if len(pitched):
            rolls = notes_to_rolls(pitched, num_frames=frames)
            onset[i], frame[i] = rolls.onset, rolls.frame
    return torch.from_numpy(onset), torch.from_numpy(frame)


class TranscriptionTask(JointistTask):
    """LightningModule around an :class:`~jointist.models.transcriber.OnsetsFramesTranscriber`.

    Args:
        models: ``{"transcriber": model}``, a conditioned transcriber (``features`` once per clip,
            ``heads`` per instrument, ``agnostic`` or None; :mod:`jointist.models.base`).
        optimizer, scheduler, param_groups, freeze, pretrained: see :class:`~jointist.tasks.base.JointistTask`.
        instruments_per_clip: classes transcribed per training clip (present + absent).
        present_per_clip: at most this many of them present.
        temperature: sampling temperature over class counts.
        onset_weight, frame_weight, onset_pos_weight, agnostic_weight: the
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
        freeze: Mapping[str, Mapping[str, int]] | None = None,
        pretrained: Mapping[str, str] | None = None,
        instruments_per_clip: int = 4,
        present_per_clip: int = 3,
        temperature: float = 2.0,
        onset_weight: float = 1.0,
        frame_weight: float = 1.0,
        onset_pos_weight: float = 1.0,
        agnostic_weight: float = 0.5,
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
                                      onset_pos_weight=onset_pos_weight, agnostic_weight=agnostic_weight)
        self.decode = DecodeConfig(**(decode or {}))
        self.seed = seed
        self.class_weights = np.ones(NUM_CLASSES)
        self._val_scores: list[PieceScores] = []
        self._val_agnostic: list[float] = []
        self._val_image: tuple[np.ndarray, np.ndarray, str] | None = None
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
            counts = np.zeros(NUM_CLASSES)
            for track in tracks:
                for stem in track.stems:
                    counts[stem.instrument] += 1
            self.class_weights = (counts + 1.0) ** (1.0 / self.temperature)

    def model_card(self, role: str) -> ModelCard:
        return super().model_card(role).replace(decode=dict(self.decode.__dict__))

    # -- training -------------------------------------------------------------------------------
    def _loss(self, batch: ExampleBatch, instruments: np.ndarray) -> tuple[torch.Tensor, dict[str, torch.Tensor], Any]:
        frames = num_frames(batch.mix.shape[-1])
        onset_t, frame_t = rolls_for(batch.examples, instruments, frames=frames)
        features = self.transcriber.features(batch.mix)
        out = self.transcriber.heads(features, torch.from_numpy(instruments).to(self.device))
        agnostic = self.transcriber.agnostic(features) if self.loss.agnostic_weight > 0 else None
        agnostic_targets = None
        if agnostic is not None:
            a_onset, a_frame = agnostic_rolls(batch.examples, frames=frames)
            agnostic_targets = (a_onset.to(self.device), a_frame.to(self.device))
        loss, parts = self.loss(out, onset_t.to(self.device), frame_t.to(self.device), agnostic=agnostic,
                                agnostic_targets=agnostic_targets)
        return loss, parts, out

    def training_step(self, batch: ExampleBatch, batch_idx: int) -> torch.Tensor:
        rng = np.random.default_rng([self.seed, self.global_step, batch_idx])
        instruments = np.stack([
            sample_instruments(rng, ex.present, k=self.instruments_per_clip, max_present=self.present_per_clip,
                               class_weights=self.class_weights)
            for ex in batch.examples
        ])
        loss, parts, _ = self._loss(batch, instruments)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch))
        for name, value in parts.items():
            self.log(f"train/{name}_loss", value, batch_size=len(batch))
        return loss

    # -- validation -----------------------------------------------------------------------------
    def on_validation_epoch_start(self) -> None:
        self._val_scores = []
        self._val_agnostic = []
        self._val_image = None

    def validation_step(self, batch: ExampleBatch, batch_idx: int) -> None:
        features = self.transcriber.features(batch.mix)
        frames = num_frames(batch.mix.shape[-1])
        losses = []
        for i, ex in enumerate(batch.examples):
            classes = np.asarray(sorted(ex.notes), dtype=np.int64)[None, :]
            if classes.size == 0:
                continue
            out = self.transcriber.heads(features[i: i + 1], torch.from_numpy(classes).to(self.device))
            onset_t, frame_t = rolls_for([ex], classes, frames=frames)
            losses.append(self.loss(out, onset_t.to(self.device), frame_t.to(self.device))[0])
            onset_p = torch.sigmoid(out.onset[0]).float().cpu().numpy()
            frame_p = torch.sigmoid(out.frame[0]).float().cpu().numpy()
            estimate = decode_tracks(onset_p.transpose(1, 0, 2), frame_p.transpose(1, 0, 2), classes[0], config=self.decode)
            # frame k covers [k - 0.5, k + 0.5) / fps: onsets from -5 ms on belong to the window
            window_s = (frames - 0.5) / FRAMES_PER_SECOND
            reference = {c: n.starting_within(-0.5 / FRAMES_PER_SECOND, window_s) for c, n in ex.notes.items()}
            self._val_scores.append(evaluate_piece(f"{ex.track_id}@{ex.start_s}", reference, estimate))
            agnostic = self.transcriber.agnostic(features[i: i + 1])  # what the shared trunk alone hears
            if agnostic is not None:
                pitched = merge_pitched(reference)
                if len(pitched):
                    heard = decode_notes(torch.sigmoid(agnostic.onset[0]).float().cpu().numpy(),
                                         torch.sigmoid(agnostic.frame[0]).float().cpu().numpy(), config=self.decode)
                    self._val_agnostic.append(match_counts(pitched, heard, with_offset=False).f1)
            if self._val_image is None:
                j = int(np.argmax([len(ex.notes[int(c)]) for c in classes[0]]))
                self._val_image = (frame_p[j], frame_t[0, j].numpy(), f"{ex.track_id} class {int(classes[0, j])}")
        if losses:
            self.log("val/loss", torch.stack(losses).mean(), prog_bar=True, batch_size=len(batch))

    def on_validation_epoch_end(self) -> None:
        if not self._val_scores:
            return
        report = summarise(self._val_scores)
        if self._val_agnostic:
            self.log("val/agnostic_note_f1", float(np.mean(self._val_agnostic)))
        self.log("val/note_f1_flat", report.flat["onset"])
        self.log("val/note_f1_instrument", report.instrumentwise["onset"])
        self.log("val/note_f1_piece", report.piecewise["onset"])
        self.log("val/note_f1_offset_flat", report.flat["offset"])
        self.log("val/multi_instrument_f1", report.multi_instrument["offset"])
        self.log("val/frame_f1", report.frame["instrument"])
        self.log("val/note_f1", report.piecewise["onset"], prog_bar=True)
        self._log_roll_image()

    def _log_roll_image(self) -> None:
        if self._val_image is None or self.logger is None:
            return
        experiment = getattr(self.logger, "experiment", None)
        if experiment is None or not hasattr(experiment, "add_image"):
            return
        predicted, target, _ = self._val_image
        # rows: pitch (low at the bottom); red = target, green = prediction
        image = np.zeros((3, predicted.shape[1], predicted.shape[0]), np.float32)
        image[0] = target.T[::-1]
        image[1] = predicted.T[::-1]
        experiment.add_image("val/frame_roll_target_red_prediction_green", image, self.global_step)
