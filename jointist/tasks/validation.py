"""Validation of each role as a plain accumulator, shared by the single-role tasks and the joint task.

A task calls ``reset()`` when validation starts, ``update(...)`` per batch, and logs the dictionary
``finish()`` returns; the joint task holds one accumulator per role it trains, so every role is
measured there exactly as it is when trained alone:

- :class:`RecognitionValidation`: mAP and F1 over windows (per-class thresholds tuned on them);
- :class:`TranscriptionValidation`: the note F1 family of every clip's true instruments, and the
  instrument-agnostic F1 of the transcriber's shared trunk;
- :class:`SeparationValidation`: SDR of the present sources, energy of the absent ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from jointist.audio.features import num_frames
from jointist.constants import FRAMES_PER_SECOND
from jointist.data.slakh import ExampleBatch
from jointist.metrics import (
    Counts,
    PieceScores,
    TranscriptionReport,
    energy_re_mixture_db,
    evaluate_piece,
    match_counts,
    merge_pitched,
    recognition_scores,
    summarise,
    whole_track_sdr_db,
)
from jointist.postprocess import DecodeConfig, decode_notes, decode_tracks
from jointist.tasks.losses import TranscriptionLoss
from jointist.tasks.targets import rolls_for

__all__ = ["RecognitionValidation", "SeparationValidation", "TranscriptionValidation", "note_f1_metrics", "tune_thresholds"]

THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.05), 2)


def tune_thresholds(labels: np.ndarray, probs: np.ndarray, *, default: float = 0.5) -> np.ndarray:
    """Per class, the grid threshold with the best F1 (``default`` for classes without positives)."""
    labels = np.asarray(labels) > 0.5
    out = np.full(labels.shape[1], default)
    for c in range(labels.shape[1]):
        if not labels[:, c].any():
            continue
        scores = [Counts(int(np.sum(labels[:, c] & (probs[:, c] >= t))), int(labels[:, c].sum()),
                         int(np.sum(probs[:, c] >= t))).f1 for t in THRESHOLD_GRID]
        out[c] = THRESHOLD_GRID[int(np.argmax(scores))]
    return out


def note_f1_metrics(report: TranscriptionReport) -> dict[str, float]:
    """The note F1 family logged at validation by every head (``val/note_f1``, the piece-wise onset F1,
    ranks checkpoints)."""
    return {
        "val/note_f1_flat": report.flat["onset"],
        "val/note_f1_instrument": report.instrumentwise["onset"],
        "val/note_f1_piece": report.piecewise["onset"],
        "val/note_f1_offset_flat": report.flat["offset"],
        "val/multi_instrument_f1": report.multi_instrument["offset"],
        "val/note_f1": report.piecewise["onset"],
    }


def _image_writer(logger: Any) -> Any:
    """The logger's ``add_image`` target (TensorBoard), or None."""
    experiment = getattr(logger, "experiment", None) if logger is not None else None
    return experiment if experiment is not None and hasattr(experiment, "add_image") else None


class RecognitionValidation:
    """Window-level recognition: logits and labels per batch; mAP/F1 at the end."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._probs: list[np.ndarray] = []
        self._labels: list[np.ndarray] = []

    def update(self, logits: torch.Tensor, present: torch.Tensor) -> None:
        self._probs.append(torch.sigmoid(logits).float().cpu().numpy())
        self._labels.append(present.cpu().numpy())

    def finish(self, thresholds: torch.Tensor, *, tune: bool, precision: str = "unknown") -> dict[str, float]:
        """Metrics of the windows seen; with ``tune``, ``thresholds`` (39,) is set in place first."""
        if not self._probs:
            return {}
        probs, labels = np.concatenate(self._probs), np.concatenate(self._labels)
        bad = int((~np.isfinite(probs)).any(axis=1).sum())
        if bad:
            raise FloatingPointError(
                f"the recognizer produced non-finite probabilities for {bad} of {len(probs)} validation windows "
                f"(precision {precision}): with 16-mixed, fp16 overflows; train with precision=bf16-mixed or "
                "32-true, or a lower learning rate"
            )
        if tune:
            thresholds.copy_(torch.as_tensor(tune_thresholds(labels, probs), dtype=torch.float32))
        report = recognition_scores(labels, probs, thresholds.cpu().numpy())
        return {"val/map_macro": report.map_macro, "val/map_weighted": report.map_weighted,
                "val/f1_macro": report.f1_macro, "val/f1_weighted": report.f1_weighted}


class TranscriptionValidation:
    """Each clip's true instruments transcribed and decoded; the note F1 family at the end.

    Args:
        decode: the thresholds notes are decoded with (the task's, stored with the model).
    """

    def __init__(self, decode: DecodeConfig) -> None:
        self.decode = decode
        self.reset()

    def reset(self) -> None:
        self._scores: list[PieceScores] = []
        self._agnostic: list[float] = []
        self._image: tuple[np.ndarray, np.ndarray] | None = None

    def update(self, transcriber: Any, features: torch.Tensor, batch: ExampleBatch,
               loss: TranscriptionLoss) -> torch.Tensor | None:
        """Score the clips of a batch from the transcriber's per-clip ``features``; their mean loss."""
        frames = num_frames(batch.mix.shape[-1])
        losses = []
        for i, ex in enumerate(batch.examples):
            classes = np.asarray(sorted(ex.notes), dtype=np.int64)[None, :]
            if classes.size == 0:
                continue
            out = transcriber.heads(features[i: i + 1], torch.from_numpy(classes).to(features.device))
            onset_t, frame_t = rolls_for([ex], classes, frames=frames)
            losses.append(loss(out, onset_t.to(features.device), frame_t.to(features.device))[0])
            onset_p = torch.sigmoid(out.onset[0]).float().cpu().numpy()
            frame_p = torch.sigmoid(out.frame[0]).float().cpu().numpy()
            estimate = decode_tracks(onset_p.transpose(1, 0, 2), frame_p.transpose(1, 0, 2), classes[0], config=self.decode)
            # frame k covers [k - 0.5, k + 0.5) / fps: onsets from -5 ms on belong to the window
            window_s = (frames - 0.5) / FRAMES_PER_SECOND
            reference = {c: n.starting_within(-0.5 / FRAMES_PER_SECOND, window_s) for c, n in ex.notes.items()}
            self._scores.append(evaluate_piece(f"{ex.track_id}@{ex.start_s}", reference, estimate, velocity=False))
            agnostic = transcriber.agnostic(features[i: i + 1])  # what the shared trunk alone hears
            if agnostic is not None:
                pitched = merge_pitched(reference)
                if len(pitched):
                    heard = decode_notes(torch.sigmoid(agnostic.onset[0]).float().cpu().numpy(),
                                         torch.sigmoid(agnostic.frame[0]).float().cpu().numpy(), config=self.decode)
                    self._agnostic.append(match_counts(pitched, heard, with_offset=False).f1)
            if self._image is None:
                j = int(np.argmax([len(ex.notes[int(c)]) for c in classes[0]]))
                self._image = (frame_p[j], frame_t[0, j].numpy())
        return torch.stack(losses).mean() if losses else None

    def finish(self) -> dict[str, float]:
        if not self._scores:
            return {}
        report = summarise(self._scores)
        metrics = {**note_f1_metrics(report), "val/frame_f1": report.frame["instrument"]}
        if self._agnostic:
            metrics["val/agnostic_note_f1"] = float(np.mean(self._agnostic))
        return metrics

    def log_image(self, logger: Any, step: int) -> None:
        """One clip's frame posteriors against its roll (red: target, green: prediction)."""
        writer = _image_writer(logger)
        if writer is None or self._image is None:
            return
        predicted, target = self._image
        image = np.zeros((3, predicted.shape[1], predicted.shape[0]), np.float32)  # rows: pitch, low at the bottom
        image[0] = target.T[::-1]
        image[1] = predicted.T[::-1]
        writer.add_image("val/frame_roll_target_red_prediction_green", image, step)


class SeparationValidation:
    """Whole-window SDR of every present source; energy of the stems of absent instruments."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._sdr: list[float] = []
        self._absent_db: list[float] = []
        self._image: tuple[np.ndarray, np.ndarray] | None = None

    def update(self, estimate: torch.Tensor, target: torch.Tensor, instruments: np.ndarray, batch: ExampleBatch) -> None:
        """estimate, target (B, K, samples) of the classes ``instruments`` (B, K)."""
        est = estimate.float().cpu().numpy()
        ref = target.float().cpu().numpy()
        mix = batch.mix.float().cpu().numpy()
        for i, ex in enumerate(batch.examples):
            for j, c in enumerate(instruments[i]):
                energy = float(np.sum(ref[i, j] ** 2))
                if ex.present[int(c)] > 0 and energy > 0:
                    self._sdr.append(whole_track_sdr_db(ref[i, j], est[i, j]))
                    if self._image is None:
                        self._image = (est[i, j], ref[i, j])
                elif energy == 0:
                    self._absent_db.append(energy_re_mixture_db(est[i, j], mix[i]))

    def finish(self) -> dict[str, float]:
        metrics = {}
        if self._sdr:
            metrics["val/sdr"] = float(np.mean(self._sdr))
        if self._absent_db:
            metrics["val/absent_energy_db"] = float(np.mean(self._absent_db))
        return metrics

    def log_image(self, logger: Any, step: int) -> None:
        """Spectrograms of one estimate (top) and its target (bottom)."""
        writer = _image_writer(logger)
        if writer is None or self._image is None:
            return
        window = torch.hann_window(1024)
        rows = []
        for wave in self._image:
            spec = torch.stft(torch.from_numpy(wave), 1024, 160, window=window, return_complex=True).abs()
            db = 20 * torch.log10(spec + 1e-5)
            rows.append(((db.clamp(min=-80.0) + 80.0) / 80.0).flip(0).numpy())
        writer.add_image("val/spectrogram_estimate_top_target_bottom", np.concatenate(rows, axis=0)[None], step)
