"""The losses as modules: what each weight does, which terms are taken, float32 under autocast."""

from __future__ import annotations

import pytest
import torch

from jointist.models.base import TranscriberOutput
from jointist.tasks.losses import RecognitionLoss, TranscriptionLoss


def rolls(frames: int = 20) -> tuple[torch.Tensor, torch.Tensor]:
    """Onset and frame targets (1, 1, frames, 88): one note on key 39 from frame 5 to 14."""
    onset, frame = torch.zeros(1, 1, frames, 88), torch.zeros(1, 1, frames, 88)
    onset[..., 5, 39] = 1.0
    frame[..., 5:15, 39] = 1.0
    return onset, frame


def logits_for(onset: torch.Tensor, frame: torch.Tensor, *, confidence: float = 8.0) -> TranscriberOutput:
    """Logits that say ``confidence`` for every target cell and ``-confidence`` elsewhere."""
    return TranscriberOutput(confidence * (2 * onset - 1), confidence * (2 * frame - 1))


def test_right_answers_cost_almost_nothing_and_wrong_ones_a_lot():
    onset, frame = rolls()
    loss = TranscriptionLoss()
    right, _ = loss(logits_for(onset, frame), onset, frame)
    wrong, _ = loss(logits_for(1 - onset, 1 - frame), onset, frame)
    assert right < 1e-3 < 5.0 < wrong


def test_onset_pos_weight_multiplies_what_a_missed_onset_costs():
    onset, frame = rolls()
    missed = logits_for(torch.zeros_like(onset), frame, confidence=20.0)  # only the missed onset costs
    plain = TranscriptionLoss(onset_pos_weight=1.0)(missed, onset, frame)[1]["onset"]
    weighted = TranscriptionLoss(onset_pos_weight=5.0)(missed, onset, frame)[1]["onset"]
    assert weighted.item() == pytest.approx(5 * plain.item(), rel=1e-3)
    assert TranscriptionLoss(onset_pos_weight=5.0)(logits_for(onset, frame), onset, frame)[1]["onset"] < 1e-3


@pytest.mark.parametrize("term", ["onset", "frame"])
def test_a_term_weighted_zero_gives_its_logits_no_gradient(term):
    onset, frame = rolls()
    logits = TranscriberOutput(torch.zeros_like(onset, requires_grad=True), torch.zeros_like(frame, requires_grad=True))
    total, parts = TranscriptionLoss(**{f"{term}_weight": 0.0})(logits, onset, frame)
    total.backward()
    assert getattr(logits, term).grad.abs().max() == 0
    other = "frame" if term == "onset" else "onset"
    assert getattr(logits, other).grad.abs().max() > 0
    assert total.item() == pytest.approx(parts[other].item())


def test_agnostic_terms_count_only_with_an_agnostic_head_and_their_targets():
    onset, frame = rolls()
    conditioned = logits_for(onset, frame)
    agnostic_onset, agnostic_frame = onset[:, 0], frame[:, 0]  # (batch, frames, 88)
    wrong_agnostic = logits_for(1 - agnostic_onset, 1 - agnostic_frame)
    loss = TranscriptionLoss(agnostic_weight=0.5)
    alone, parts = loss(conditioned, onset, frame)
    assert set(parts) == {"onset", "frame"}
    with_head, parts = loss(conditioned, onset, frame, agnostic=wrong_agnostic, agnostic_targets=(agnostic_onset, agnostic_frame))
    assert set(parts) == {"onset", "frame", "agnostic_onset", "agnostic_frame"}
    assert with_head.item() == pytest.approx(alone.item() + 0.5 * (parts["agnostic_onset"] + parts["agnostic_frame"]).item(), rel=1e-5)
    off, parts = TranscriptionLoss(agnostic_weight=0.0)(conditioned, onset, frame, agnostic=wrong_agnostic,
                                                        agnostic_targets=(agnostic_onset, agnostic_frame))
    assert set(parts) == {"onset", "frame"} and off.item() == pytest.approx(alone.item())


def test_losses_are_taken_in_float32_from_bf16_logits():
    onset, frame = rolls()
    total, parts = TranscriptionLoss()(TranscriberOutput(*(t.bfloat16() for t in logits_for(onset, frame)[:2])), onset, frame)
    assert total.dtype == torch.float32 and all(p.dtype == torch.float32 for p in parts.values())
    present = torch.zeros(2, 39)
    present[0, 3] = 1
    assert RecognitionLoss()(torch.zeros(2, 39, dtype=torch.bfloat16), present).dtype == torch.float32


def test_recognition_pos_weight_weighs_the_positives_of_each_class_and_is_saved():
    present = torch.zeros(1, 39)
    present[0, [3, 7]] = 1
    loss = RecognitionLoss()
    missed = torch.full((1, 39), -20.0)  # every class predicted absent: only the two positives cost
    plain = loss(missed, present)
    loss.pos_weight[3] = 4.0
    assert loss(missed, present).item() == pytest.approx(plain.item() * (4 + 1) / 2, rel=1e-4)
    assert torch.equal(loss.state_dict()["pos_weight"], loss.pos_weight)  # travels in the task's checkpoint
