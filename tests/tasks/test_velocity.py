"""The transcriber's velocity head: its output, its loss on onset cells, and a pretrained model without
it fine-tuned with it."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch

from jointist.data.slakh import Example
from jointist.models.base import TranscriberOutput
from jointist.models.serialize import CheckpointError, save_model
from jointist.notes import NoteArray
from jointist.tasks.losses import TranscriptionLoss
from jointist.tasks.targets import rolls_with_velocity_for
from jointist.tasks.transcription import TranscriptionTask
from tests.conftest import perturb, tiny_model
from tests.tasks.test_base import same_state


def test_the_velocity_head_outputs_one_logit_per_cell_of_each_instrument():
    audio = torch.randn(2, 16_000)
    instruments = torch.tensor([[0, 10, 38], [5, 0, 1]])
    with_head = tiny_model("PitchwiseTranscriber", velocity=True).eval()
    out = with_head(audio, instruments)
    assert out.velocity is not None and out.velocity.shape == out.onset.shape == (2, 3, 101, 88)
    assert tiny_model("PitchwiseTranscriber").eval()(audio, instruments).velocity is None


def test_velocity_targets_sit_on_onset_cells():
    notes = NoteArray.from_arrays([0.10, 0.50], [0.30, 0.90], [60, 64], [127, 64])
    ex = Example("T", 0.0, np.zeros(16_000, np.float32), {}, {0: notes}, np.zeros(39, np.float32))
    onset, frame, velocity = rolls_with_velocity_for([ex], np.array([[0, 5]]), frames=101)
    assert velocity.shape == (1, 2, 101, 88)
    assert velocity[0, 0, 10, 60 - 21] == pytest.approx(1.0) and velocity[0, 0, 50, 64 - 21] == pytest.approx(64 / 127)
    assert torch.count_nonzero(velocity) == 2 and not velocity[0, 1].any()  # class 5 has no notes
    assert torch.equal(velocity > 0, onset > 0)


def test_the_velocity_loss_counts_onset_cells_only():
    loss = TranscriptionLoss()
    onset = torch.zeros(1, 1, 4, 88)
    onset[0, 0, 1, 40] = 1.0
    target = onset * 0.75
    logits = torch.full((1, 1, 4, 88), -3.0)
    right = torch.full_like(logits, 0.0)
    right[0, 0, 1, 40] = float(torch.logit(torch.tensor(0.75)))
    _, parts = loss(TranscriberOutput(logits, logits, right), onset, onset, velocity=target)
    assert parts["velocity"].item() == pytest.approx(0.0, abs=1e-10)
    right[0, 0, 2, 10] = 5.0  # a wrong velocity where no note starts costs nothing
    _, parts = loss(TranscriberOutput(logits, logits, right), onset, onset, velocity=target)
    assert parts["velocity"].item() == pytest.approx(0.0, abs=1e-10)
    right[0, 0, 1, 40] = 0.0  # 0.5 instead of 0.75 on the one onset
    _, parts = loss(TranscriberOutput(logits, logits, right), onset, onset, velocity=target)
    assert parts["velocity"].item() == pytest.approx(0.0625)
    _, parts = loss(TranscriberOutput(logits, logits), onset, onset, velocity=target)
    assert "velocity" not in parts  # a model without the head


def test_a_pretrained_transcriber_without_velocity_loads_into_one_with_it(tmp_path):
    source = perturb(tiny_model("PitchwiseTranscriber"), seed=5)
    path = save_model(source, tmp_path / "transcriber.pt")
    task = TranscriptionTask({"transcriber": tiny_model("PitchwiseTranscriber", velocity=True)},
                             optimizer=partial(torch.optim.Adam, lr=1e-3), pretrained={"transcriber": str(path)})
    loaded = task.model_of("transcriber").state_dict()
    assert same_state({k: v for k, v in loaded.items() if not k.startswith("velocity_out")}, source.state_dict())
    assert {k for k in loaded if k not in source.state_dict()} == {"velocity_out.weight", "velocity_out.bias"}
    with pytest.raises(CheckpointError, match="pretrained transcriber"):  # any other difference still refuses
        TranscriptionTask({"transcriber": tiny_model("PitchwiseTranscriber", velocity=True, head_channels=6)},
                          optimizer=partial(torch.optim.Adam, lr=1e-3), pretrained={"transcriber": str(path)})
