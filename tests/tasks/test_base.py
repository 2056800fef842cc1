"""What every task shares: models by role, optimiser groups per role, the freeze schedule, pretrained
weights per role, and checkpoints that describe every role's model."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import pytest
import pytorch_lightning as pl
import torch

from jointist.audio.features import num_frames
from jointist.data.slakh import ExampleBatch
from jointist.models.serialize import CheckpointError, load_models, save_model, save_models
from jointist.tasks.base import JointistTask
from jointist.tasks.losses import RecognitionLoss, TranscriptionLoss
from jointist.tasks.targets import rolls_for
from tests.conftest import confident_recognizer, fit_on_one_clip, one_clip, perturb, tiny_config, tiny_model

CLIP = [(0.1, 0.5, 60), (0.5, 0.9, 64)]


class TwoRoles(JointistTask):
    """A recognizer and a transcriber trained side by side, each on its own loss (the shape of a joint task)."""

    def __init__(self, **schedule: Any) -> None:
        models = {"recognizer": tiny_model("InstrumentRecognizer"), "transcriber": tiny_model("PitchwiseTranscriber")}
        super().__init__(models, optimizer=partial(torch.optim.AdamW, lr=1e-3), **schedule)
        self.recognition_loss = RecognitionLoss()
        self.transcription_loss = TranscriptionLoss()

    def training_step(self, batch: ExampleBatch, batch_idx: int) -> torch.Tensor:
        piano = np.zeros((len(batch), 1), np.int64)
        onset, frame = rolls_for(batch.examples, piano, frames=num_frames(batch.mix.shape[-1]))
        out = self.model_of("transcriber")(batch.mix, torch.from_numpy(piano))
        return self.recognition_loss(self.model_of("recognizer")(batch.mix), batch.present) + self.transcription_loss(out, onset, frame)[0]


class Watch(pl.Callback):
    """Per step and role: gradients on, training mode, and the whole state (weights and batch-norm
    statistics) after the step."""

    def __init__(self) -> None:
        self.steps: list[dict[str, dict[str, Any]]] = []

    def on_before_backward(self, trainer: pl.Trainer, task: pl.LightningModule, loss: torch.Tensor) -> None:
        self.steps.append({role: {"requires_grad": all(p.requires_grad for p in model.parameters()),
                                  "training": model.training} for role, model in task.models.items()})

    def on_train_batch_end(self, trainer: pl.Trainer, task: pl.LightningModule, *args: Any) -> None:
        for role, model in task.models.items():
            self.steps[-1][role]["state"] = {k: v.clone() for k, v in model.state_dict().items()}


def same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_each_role_gets_its_own_optimiser_group():
    task = TwoRoles(param_groups={"transcriber": {"lr": 1e-4, "weight_decay": 0.0}})
    trainer = fit_on_one_clip(task, one_clip(CLIP, duration_s=1.0), max_steps=1)
    groups = trainer.optimizers[0].param_groups
    assert [(g["lr"], g["weight_decay"]) for g in groups] == [(1e-3, 1e-2), (1e-4, 0.0)]  # AdamW's defaults for the rest
    for group, role in zip(groups, ("recognizer", "transcriber"), strict=True):
        assert {id(p) for p in group["params"]} == {id(p) for p in task.model_of(role).parameters()}


def test_a_frozen_role_does_not_move_until_its_step_while_the_other_trains():
    task = TwoRoles(freeze={"transcriber": {"until_step": 3}})
    start = {role: {k: v.clone() for k, v in model.state_dict().items()} for role, model in task.models.items()}
    watch = Watch()
    fit_on_one_clip(task, one_clip(CLIP, duration_s=1.0), max_steps=6, callbacks=[watch])
    assert [s["transcriber"]["requires_grad"] for s in watch.steps] == [False] * 3 + [True] * 3
    assert [s["transcriber"]["training"] for s in watch.steps] == [False] * 3 + [True] * 3  # batch norm too
    assert all(s["recognizer"]["requires_grad"] and s["recognizer"]["training"] for s in watch.steps)
    before = start["transcriber"]
    for step in watch.steps[:3]:  # neither weights (AdamW's decay included) nor batch-norm statistics move
        assert same_state(step["transcriber"]["state"], before)
    for step in watch.steps[3:]:
        assert not same_state(step["transcriber"]["state"], before)
        before = step["transcriber"]["state"]
    previous = start["recognizer"]
    for step in watch.steps:  # the other role trains from the first step on
        assert not same_state(step["recognizer"]["state"], previous)
        previous = step["recognizer"]["state"]


def test_until_step_minus_one_freezes_a_role_for_the_whole_run():
    task = TwoRoles(freeze={"recognizer": {"until_step": -1}})
    start = {k: v.clone() for k, v in task.model_of("recognizer").state_dict().items()}
    fit_on_one_clip(task, one_clip(CLIP, duration_s=1.0), max_steps=3)
    assert same_state(task.model_of("recognizer").state_dict(), start)
    assert not any(p.requires_grad for p in task.model_of("recognizer").parameters())


def test_a_schedule_for_a_role_the_task_lacks_is_refused():
    for schedule in ({"param_groups": {"separator": {"lr": 1.0}}}, {"freeze": {"separator": {"until_step": 1}}}):
        with pytest.raises(ValueError, match="names the role 'separator', but this task has only recognizer, transcriber"):
            TwoRoles(**schedule)
    with pytest.raises(ValueError, match=r"models\['recognizer'\] must be a jointist model of that role"):
        JointistTask({"recognizer": tiny_model("PitchwiseTranscriber")}, optimizer=torch.optim.Adam)


def test_pretrained_weights_are_loaded_per_role(tmp_path):
    transcriber = perturb(tiny_model("PitchwiseTranscriber"))
    recognizer = confident_recognizer()
    both = save_models({"transcriber": (transcriber, transcriber.card()), "recognizer": (recognizer, recognizer.card())},
                       tmp_path / "both.pt")
    only = save_model(transcriber, tmp_path / "transcriber.pt")
    task = TwoRoles(pretrained={"transcriber": str(only), "recognizer": str(both)})
    assert same_state(task.model_of("transcriber").state_dict(), transcriber.state_dict())
    assert same_state(task.model_of("recognizer").state_dict(), recognizer.state_dict())


def test_pretrained_weights_from_a_training_checkpoint(trained_run):
    last = trained_run["out"] / "checkpoints" / "last.ckpt"
    task = TwoRoles(pretrained={"transcriber": str(last)})
    trained, _ = load_models(last)["transcriber"]
    assert same_state(task.model_of("transcriber").state_dict(), trained.state_dict())


def test_pretrained_weights_of_another_model_are_refused_clearly(tmp_path):
    mel = save_model(tiny_model("OnsetsFramesTranscriber"), tmp_path / "mel.pt")
    with pytest.raises(CheckpointError, match=r"pretrained transcriber .*mel.pt is a OnsetsFramesTranscriber\(.*\); "
                                              r"this task's is PitchwiseTranscriber\("):
        TwoRoles(pretrained={"transcriber": str(mel)})
    width = 2 * tiny_config("PitchwiseTranscriber")["head_channels"]
    wider = save_model(tiny_model("PitchwiseTranscriber", head_channels=width), tmp_path / "wider.pt")
    with pytest.raises(CheckpointError, match=f"'head_channels': {width}"):
        TwoRoles(pretrained={"transcriber": str(wider)})
    with pytest.raises(CheckpointError, match=r"holds no recognizer \(it holds: transcriber\)"):
        TwoRoles(pretrained={"recognizer": str(mel)})


def test_a_checkpoint_describes_every_role_and_the_steps_behind_it(tmp_path):
    task = TwoRoles()
    trainer = fit_on_one_clip(task, one_clip(CLIP, duration_s=1.0), max_steps=2)
    trainer.save_checkpoint(tmp_path / "two.ckpt")
    loaded = load_models(tmp_path / "two.ckpt")
    assert sorted(loaded) == ["recognizer", "transcriber"]
    for role, (model, card) in loaded.items():
        assert card.trained_steps == 2 and card.class_name == type(task.model_of(role)).__name__
        assert same_state(model.state_dict(), task.model_of(role).state_dict())
