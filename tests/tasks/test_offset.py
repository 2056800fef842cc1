"""The transcriber's offset head: its output, its targets and loss, a pretrained model without it
loaded into one with it, and training the head alone with the rest of the model frozen."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch

from jointist.data.slakh import Example
from jointist.models.base import TranscriberOutput
from jointist.models.serialize import save_model
from jointist.notes import NoteArray
from jointist.tasks.losses import TranscriptionLoss
from jointist.tasks.targets import target_rolls_for
from jointist.tasks.transcription import TranscriptionTask
from tests.conftest import fit_on_one_clip, one_clip, perturb, tiny_model
from tests.tasks.test_base import CLIP, same_state

HEAD = ("offset_branch", "offset_out")


def test_the_offset_head_adds_an_output_and_changes_nothing_else():
    audio = torch.randn(2, 16_000)
    instruments = torch.tensor([[0, 10, 38], [5, 0, 1]])
    plain = perturb(tiny_model("PitchwiseTranscriber", velocity=True)).eval()
    with_head = tiny_model("PitchwiseTranscriber", velocity=True, offset=True).eval()
    with_head.load_state_dict(plain.state_dict(), strict=False)
    out, reference = with_head(audio, instruments), plain(audio, instruments)
    assert out.offset is not None and out.offset.shape == out.onset.shape == (2, 3, 101, 88)
    for name in ("onset", "frame", "velocity"):
        assert torch.equal(getattr(out, name), getattr(reference, name))
    assert reference.offset is None
    # no batch norm in the head: a cell's offset logit does not depend on the rest of the batch
    assert torch.allclose(with_head(audio[:1], instruments[:1]).offset, out.offset[:1], atol=1e-5)


def test_offset_targets_sit_where_notes_end():
    notes = NoteArray.from_arrays([0.10, 0.50], [0.30, 1.50], [60, 64], [100, 100])  # the second ends after the clip
    drums = NoteArray.from_arrays([0.2], [0.3], [36], [100])
    ex = Example("T", 0.0, np.zeros(16_000, np.float32), {}, {0: notes, 38: drums}, np.zeros(39, np.float32))
    onset, frame, _, offset = target_rolls_for([ex], np.array([[0, 38]]), frames=101)
    assert offset.shape == onset.shape == (1, 2, 101, 88)
    assert torch.nonzero(offset[0, 0]).tolist() == [[30, 60 - 21]]
    assert frame[0, 0, 29, 60 - 21] == 1 and frame[0, 0, 30, 60 - 21] == 0  # the frame roll stops where the offset is
    assert not offset[0, 1].any()  # drums have no offsets


def test_the_offset_loss_rewards_the_right_end_frame():
    loss = TranscriptionLoss(onset_pos_weight=5.0)
    offset = torch.zeros(1, 1, 8, 88)
    offset[0, 0, 5, 40] = 1.0
    quiet = torch.full((1, 1, 8, 88), -6.0)
    scores = {}
    for end in (5, 3):  # the true end, two frames early
        logits = quiet.clone()
        logits[0, 0, end, 40] = 6.0
        scores[end] = loss(TranscriberOutput(quiet, quiet, None, logits), offset, offset, offset=offset)[1]["offset"]
    assert scores[5] < 0.01 < scores[3]
    without_term = TranscriptionLoss(offset_weight=0.0), TranscriberOutput(quiet, quiet, None, quiet)
    without_head = loss, TranscriberOutput(quiet, quiet)  # a model without the head
    for terms, out in (without_term, without_head):
        assert "offset" not in terms(out, offset, offset, offset=offset)[1]


def test_a_trained_transcriber_gets_an_offset_head_and_trains_it_alone(tmp_path):
    source = perturb(tiny_model("PitchwiseTranscriber"), seed=5)
    path = save_model(source, tmp_path / "transcriber.pt")
    task = TranscriptionTask({"transcriber": tiny_model("PitchwiseTranscriber", offset=True)},
                             optimizer=partial(torch.optim.AdamW, lr=1e-2), pretrained={"transcriber": str(path)},
                             freeze={"transcriber": {"until_step": -1, "except": list(HEAD)}}, instruments_per_clip=1)
    model = task.model_of("transcriber")
    start = {k: v.clone() for k, v in model.state_dict().items()}
    assert same_state({k: v for k, v in start.items() if not k.startswith(HEAD)}, source.state_dict())
    fit_on_one_clip(task, one_clip(CLIP, duration_s=1.0), max_steps=3)
    after = model.state_dict()
    assert same_state({k: v for k, v in after.items() if not k.startswith(HEAD)}, source.state_dict())  # BN stats too
    moved = [k for k in after if not torch.equal(after[k], start[k])]
    assert moved and all(k.startswith(HEAD) for k in moved)


def test_freezing_all_but_a_module_the_model_lacks_is_refused():
    with pytest.raises(ValueError, match=r"freeze.transcriber.except names offset_out, which this transcriber does not have"):
        TranscriptionTask({"transcriber": tiny_model("PitchwiseTranscriber")}, optimizer=partial(torch.optim.AdamW, lr=1e-3),
                          freeze={"transcriber": {"until_step": -1, "except": ["offset_out"]}})
