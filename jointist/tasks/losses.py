"""Losses as modules, shared by the single-role tasks and the joint task.

All losses are taken in float32 (logits may be bf16 under autocast).
"""

from __future__ import annotations

import torch
from torch import nn

from jointist.instruments import NUM_CLASSES
from jointist.models.base import TranscriberOutput

__all__ = ["MultiResolutionSTFTLoss", "RecognitionLoss", "SeparationLoss", "TranscriptionLoss"]


class TranscriptionLoss(nn.Module):
    """Weighted BCE on onset and frame rolls, plus the instrument-agnostic auxiliary terms.

    Args:
        onset_weight, frame_weight: weights of the two terms.
        onset_pos_weight: weight of the positive cells in the onset BCE; onsets are ~0.1% of the
            roll, and without it the onset branch learns far more slowly than the frame branch.
        agnostic_weight: weight of the instrument-agnostic onset and frame terms (every pitched note
            of the clip is a target there: a dense signal for a transcriber's shared trunk).
        velocity_weight: weight of the velocity term of a model with a velocity head: the squared
            error of sigmoid(velocity logit) against velocity / 127, on the onset cells only (as in
            Onsets and Frames), averaged over them.
        offset_weight: weight of the offset term of a model with an offset head: BCE on the offset
            roll (one cell where each pitched note ends), its positive cells weighted as the onsets'.
    """

    onset_pos_weight: torch.Tensor

    def __init__(
        self, *, onset_weight: float = 1.0, frame_weight: float = 1.0, onset_pos_weight: float = 1.0,
        agnostic_weight: float = 0.5, velocity_weight: float = 1.0, offset_weight: float = 1.0,
    ) -> None:
        super().__init__()
        self.velocity_weight = velocity_weight
        self.offset_weight = offset_weight
        self.onset_weight = onset_weight
        self.frame_weight = frame_weight
        self.agnostic_weight = agnostic_weight
        self.register_buffer("onset_pos_weight", torch.tensor(float(onset_pos_weight)), persistent=False)

    def pair(self, logits: TranscriberOutput, onset: torch.Tensor, frame: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(onset BCE, frame BCE) of logits against rolls of the same shape."""
        bce = nn.functional.binary_cross_entropy_with_logits
        return (bce(logits.onset.float(), onset, pos_weight=self.onset_pos_weight),
                bce(logits.frame.float(), frame))

    def forward(
        self,
        logits: TranscriberOutput,
        onset: torch.Tensor,
        frame: torch.Tensor,
        *,
        agnostic: TranscriberOutput | None = None,
        agnostic_targets: tuple[torch.Tensor, torch.Tensor] | None = None,
        velocity: torch.Tensor | None = None,
        offset: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Total loss and its parts (``onset``, ``frame``, ``agnostic_onset``, ``agnostic_frame``,
        ``velocity``, ``offset``).

        Args:
            logits: (batch, K, time, 88) of the conditioned heads; ``onset``/``frame`` their rolls.
            agnostic: (batch, time, 88) logits of the agnostic head, with ``agnostic_targets``.
            velocity: (batch, K, time, 88) velocity / 127 on the onset cells, for ``logits.velocity``.
            offset: (batch, K, time, 88) offset roll, for ``logits.offset``.
        """
        onset_loss, frame_loss = self.pair(logits, onset, frame)
        loss = self.onset_weight * onset_loss + self.frame_weight * frame_loss
        parts = {"onset": onset_loss, "frame": frame_loss}
        if logits.velocity is not None and velocity is not None and self.velocity_weight > 0:
            error = (torch.sigmoid(logits.velocity.float()) - velocity) ** 2
            parts["velocity"] = (error * onset).sum() / onset.sum().clamp(min=1.0)
            loss = loss + self.velocity_weight * parts["velocity"]
        if logits.offset is not None and offset is not None and self.offset_weight > 0:
            parts["offset"] = nn.functional.binary_cross_entropy_with_logits(
                logits.offset.float(), offset, pos_weight=self.onset_pos_weight)
            loss = loss + self.offset_weight * parts["offset"]
        if self.agnostic_weight > 0 and agnostic is not None and agnostic_targets is not None:
            a_onset, a_frame = self.pair(agnostic, *agnostic_targets)
            loss = loss + self.agnostic_weight * (self.onset_weight * a_onset + self.frame_weight * a_frame)
            parts.update(agnostic_onset=a_onset, agnostic_frame=a_frame)
        return loss, parts


class RecognitionLoss(nn.Module):
    """Multi-label BCE on the 39 class logits with per-class positive weights (``pos_weight``,
    set from the training data's class counts by the task; ones by default)."""

    pos_weight: torch.Tensor

    def __init__(self, n_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        self.register_buffer("pos_weight", torch.ones(n_classes))

    def forward(self, logits: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """logits (batch, 39), present (batch, 39) multi-hot -> scalar."""
        return nn.functional.binary_cross_entropy_with_logits(logits.float(), present, pos_weight=self.pos_weight)


class MultiResolutionSTFTLoss(nn.Module):
    """Spectral convergence + log-magnitude L1, averaged over several STFT resolutions
    (Yamamoto et al., 2020). Waveforms (..., samples) -> scalar."""

    def __init__(self, fft_sizes: tuple[int, ...] | list[int] = (512, 1024, 2048), *, hop_ratio: float = 0.25,
                 eps: float = 1e-7) -> None:
        super().__init__()
        self.fft_sizes = [int(n) for n in fft_sizes]
        self.hop_ratio = hop_ratio
        self.eps = eps
        for n in self.fft_sizes:
            self.register_buffer(f"window{n}", torch.hann_window(n), persistent=False)

    def forward(self, estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        est = estimate.float().reshape(-1, estimate.shape[-1])
        ref = target.float().reshape(-1, target.shape[-1])
        total = est.new_zeros(())
        for n in self.fft_sizes:
            window = getattr(self, f"window{n}")
            hop = max(1, int(n * self.hop_ratio))
            est_mag = torch.stft(est, n, hop, window=window, return_complex=True).abs()
            ref_mag = torch.stft(ref, n, hop, window=window, return_complex=True).abs()
            convergence = torch.linalg.vector_norm(ref_mag - est_mag) / (torch.linalg.vector_norm(ref_mag) + self.eps)
            log_l1 = (torch.log(est_mag + self.eps) - torch.log(ref_mag + self.eps)).abs().mean()
            total = total + convergence + log_l1
        return total / len(self.fft_sizes)


class SeparationLoss(nn.Module):
    """L1 on the waveform of every (clip, instrument) stem, silent targets for absent instruments
    included, plus an optional multi-resolution STFT term.

    Args:
        stft_weight: weight of :class:`MultiResolutionSTFTLoss` (0: waveform L1 only).
        fft_sizes: its resolutions.
    """

    def __init__(self, *, stft_weight: float = 0.0, fft_sizes: tuple[int, ...] | list[int] = (512, 1024, 2048)) -> None:
        super().__init__()
        self.stft_weight = stft_weight
        self.stft = MultiResolutionSTFTLoss(fft_sizes) if stft_weight > 0 else None

    def forward(self, estimate: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """estimate, target: (batch, K, samples) -> total loss and its parts (``l1``, ``stft``)."""
        if estimate.shape != target.shape:
            raise ValueError(f"estimate {tuple(estimate.shape)} and target {tuple(target.shape)} differ")
        l1 = (estimate.float() - target.float()).abs().mean()
        parts = {"l1": l1}
        loss = l1
        if self.stft is not None:
            parts["stft"] = self.stft(estimate, target)
            loss = loss + self.stft_weight * parts["stft"]
        return loss, parts
