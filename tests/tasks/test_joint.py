"""The joint task: the roles' losses summed with weights and warm-ups, the separator conditioned on
the transcriber's posteriorgram (soft, binarised, true roll) with or without gradients back to it,
instruments from the truth or the recognizer, every role validated, and data-parallel training."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pytorch_lightning as pl
import torch

from jointist.audio.features import num_frames
from jointist.data.slakh import collate_examples
from jointist.models.serialize import save_model
from jointist.tasks.joint import JointTask
from jointist.tasks.targets import rolls_for
from tests.conftest import confident_recognizer, fit_on_one_clip, perturb, tiny_model
from tests.tasks.test_base import Watch, same_state
from tests.tasks.test_separation import BASS, PIANO, piano_and_bass

REPO = Path(__file__).resolve().parents[2]


def joint(roles: tuple[str, ...] = ("transcriber", "separator"), *, lr: float = 1e-2, fusion: str | None = None,
          separator_binarize: bool | None = None, **options: Any) -> JointTask:
    """A joint task over tiny models (perturbed, so FiLM and the fusion are not the identity), both
    classes of :func:`piano_and_bass` every step; the separator's fusion fits the posteriorgram
    unless ``fusion`` says otherwise."""
    fusion = fusion or ("none" if options.get("posteriorgram") == "none" else "harmonic")
    binarize = options.get("posteriorgram") == "ste" if separator_binarize is None else separator_binarize
    builders = {"recognizer": lambda: tiny_model("InstrumentRecognizer"),
                "transcriber": lambda: perturb(tiny_model("PitchwiseTranscriber")),
                "separator": lambda: perturb(tiny_model("FiLMUNetSeparator", fusion=fusion, binarize=binarize))}
    options = {"instruments_per_clip": 2, "present_per_clip": 2, **options}
    return JointTask({role: builders[role]() for role in roles}, optimizer=partial(torch.optim.Adam, lr=lr), **options)


def grads(model: torch.nn.Module) -> float:
    return float(sum(p.grad.abs().sum() for p in model.parameters() if p.grad is not None))


@pytest.mark.parametrize("posteriorgram", ["soft", "ste"])
@pytest.mark.parametrize("through", [True, False])
def test_the_separation_loss_reaches_the_transcriber_only_when_configured(posteriorgram, through):
    """With the transcription loss weighted 0, the transcriber's gradients come from the separation
    loss alone, through the posteriorgram: some when configured, none when stopped."""
    task = joint(posteriorgram=posteriorgram, separation_to_transcriber=through, loss_weights={"transcriber": 0.0})
    task.training_step(collate_examples([piano_and_bass()]), 0).backward()
    assert grads(task.model_of("separator")) > 0
    assert (grads(task.model_of("transcriber")) > 0) == through


def test_the_posteriorgram_is_soft_binarised_or_the_true_roll():
    clip = piano_and_bass()
    batch, instruments = collate_examples([clip]), np.array([[PIANO, BASS]])
    frames = num_frames(batch.mix.shape[-1])
    logits = torch.randn(1, 2, frames, 88, requires_grad=True)
    soft = joint(posteriorgram="soft").condition(batch, instruments, logits)
    assert torch.allclose(soft, torch.sigmoid(logits))
    # ste: the separator binarises (straight through) what the task hands it, in training as at inference
    task = joint(posteriorgram="ste")
    separator = task.model_of("separator")
    post = task.condition(batch, instruments, logits)
    hint = separator.hint(post.reshape(2, frames, 88))
    assert torch.equal(hint, separator.hint((torch.sigmoid(logits) > 0.5).float().reshape(2, frames, 88)))
    hint.sum().backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0  # the gradient passes the threshold
    with pytest.raises(ValueError, match="binarize=True"):
        joint(posteriorgram="ste", fusion="harmonic", separator_binarize=False)
    roll = joint(("separator",), posteriorgram="roll").condition(batch, instruments, None)
    assert torch.equal(roll, rolls_for([clip], instruments, frames=frames)[1])
    assert joint(("separator",), posteriorgram="none").condition(batch, instruments, None) is None


def test_a_pretrained_transcriber_stays_frozen_until_its_step_while_the_separator_trains():
    """pTS's schedule: the transcriber (weights and batch-norm statistics) does not move in steps 0-2,
    then trains; the separator trains from the first step."""
    watch = Watch()
    task = joint(freeze={"transcriber": {"until_step": 3}}, param_groups={"transcriber": {"lr": 1e-3}})
    before = {role: {k: v.clone() for k, v in task.model_of(role).state_dict().items()} for role in task.models}
    fit_on_one_clip(task, piano_and_bass(), max_steps=5, callbacks=[watch])
    states = [before] + [{role: step[role]["state"] for role in task.models} for step in watch.steps]
    moved = {role: [not same_state(a[role], b[role]) for a, b in zip(states, states[1:])] for role in task.models}
    assert moved["transcriber"] == [False, False, False, True, True]
    assert moved["separator"] == [True] * 5
    assert [s["transcriber"]["training"] for s in watch.steps] == [False, False, False, True, True]


def test_loss_weights_warm_up_linearly_from_when_a_role_starts_training():
    seen: dict[str, list[float]] = {"separator": [], "transcriber": []}

    class Weights(pl.Callback):
        def on_train_batch_start(self, trainer: pl.Trainer, task: pl.LightningModule, *args: Any) -> None:
            for role in seen:
                seen[role].append(task.loss_weight(role))

    task = joint(loss_weights={"separator": 2.0}, loss_warmup={"separator": 4, "transcriber": 2},
                 freeze={"transcriber": {"until_step": 3}})
    fit_on_one_clip(task, piano_and_bass(), max_steps=6, callbacks=[Weights()])
    assert seen["separator"] == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0, 2.0])
    assert seen["transcriber"] == pytest.approx([0.0, 0.0, 0.0, 0.0, 0.5, 1.0])  # from its unfreezing at step 3


def test_a_frozen_role_adds_nothing_to_the_loss():
    batch = collate_examples([piano_and_bass()])
    frozen = joint(freeze={"transcriber": {"until_step": -1}}, loss_weights={"separator": 0.0})
    assert float(frozen.training_step(batch, 0)) == 0.0  # the transcriber's loss is left out, the separator's weighs 0
    with pytest.raises(RuntimeError, match="every role of this step is frozen"):
        joint(("transcriber",), freeze={"transcriber": {"until_step": -1}}).training_step(batch, 0)


def test_a_lower_rate_for_a_role_holds_under_the_one_cycle_schedule():
    """OneCycleLR's single max_lr (the config's) is scaled per role: pTS fine-tunes its transcriber
    at a fifth of the separator's peak."""
    task = JointTask({"transcriber": tiny_model("PitchwiseTranscriber"), "separator": tiny_model("FiLMUNetSeparator")},
                     optimizer=partial(torch.optim.AdamW, lr=1e-3), param_groups={"transcriber": {"lr": 2e-4}},
                     scheduler=partial(torch.optim.lr_scheduler.OneCycleLR, max_lr=1e-3, total_steps=10),
                     posteriorgram="soft")
    optimizer = task.configure_optimizers()["optimizer"]
    assert [g["max_lr"] for g in optimizer.param_groups] == pytest.approx([2e-4, 1e-3])


def test_instruments_come_from_the_truth_or_from_the_recognizer():
    batch = collate_examples([piano_and_bass()])
    task = JointTask({"recognizer": confident_recognizer((3, 7)), "transcriber": tiny_model("PitchwiseTranscriber")},
                     optimizer=torch.optim.Adam, instruments="recognizer", instruments_per_clip=2)
    logits = task.model_of("recognizer")(batch.mix)
    assert sorted(task.choose_instruments(batch, 0, logits)[0]) == [3, 7]  # its choice, though piano and bass play
    truth = joint(instruments="truth")
    assert sorted(truth.choose_instruments(batch, 0, None)[0]) == [PIANO, BASS]
    with pytest.raises(ValueError, match="instruments=recognizer needs a recognizer"):
        joint(instruments="recognizer")


def test_every_role_is_validated_and_trained_end_to_end():
    """IR_T_S on one clip: the total loss falls and validation reports mAP, note F1 and SDR."""
    losses = []

    class Loss(pl.Callback):
        def on_train_batch_end(self, trainer: pl.Trainer, task: pl.LightningModule, outputs: Any, *args: Any) -> None:
            losses.append(float(outputs["loss"]))

    torch.manual_seed(0)
    task = joint(("recognizer", "transcriber", "separator"))
    trainer = fit_on_one_clip(task, piano_and_bass(), max_steps=20, val_every=10, callbacks=[Loss()])
    assert losses[-1] < 0.5 * losses[0], losses
    assert {"val/map_macro", "val/note_f1", "val/note_f1_flat", "val/sdr", "val/loss"} <= set(trainer.callback_metrics)
    assert trainer.callback_metrics["val/map_macro"] == 1.0  # both classes of the clip ranked first


@pytest.mark.parametrize(("roles", "options", "message"), [
    (("separator",), {"posteriorgram": "soft"}, "add a transcriber"),
    (("transcriber", "separator"), {"posteriorgram": "none", "fusion": "harmonic"}, "fusion='harmonic'"),
    (("separator",), {"posteriorgram": "roll", "fusion": "none"}, "fusion='none'"),
    (("transcriber",), {"loss_weights": {"separator": 1.0}}, "has only transcriber"),
    (("transcriber",), {"posteriorgram": "hard"}, "posteriorgram must be one of"),
])
def test_a_configuration_that_cannot_work_is_refused_clearly(roles, options, message):
    with pytest.raises(ValueError, match=message):
        joint(roles, **options)


def test_two_processes_see_different_clips_and_agree_on_gradients_and_weights(shared_mini_corpus, tmp_path):
    """``trainer=ddp`` on two CPU processes (gloo) with pTS's schedule (a pretrained transcriber frozen
    for 2 steps, then trained at its own rate): different clips per rank, the same all-reduced
    gradients after the first backward pass, a transcriber that does not move while frozen and then
    does, and the same weights on both ranks at the end."""
    probe = tmp_path / "probe"
    pretrained = save_model(tiny_model("PitchwiseTranscriber"), tmp_path / "transcriber.pt")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    command = [
        sys.executable, "-m", "jointist.cli.train", "experiment=pTS", "model@models.transcriber=transcriber_tiny",
        "model@models.separator=separator_tiny", f"task.pretrained.transcriber={pretrained}",
        "task.freeze.transcriber.until_step=2", f"data.root={shared_mini_corpus}", "data.segment_s=1.0",
        "data.batch_size=2", "data.num_workers=0", "data.train_examples_per_epoch=8", "trainer=ddp",
        "trainer.accelerator=cpu", "trainer.devices=2", "trainer.sync_batchnorm=false", "trainer.precision=32-true",
        "trainer.max_steps=4", "~trainer.max_time", "trainer.limit_val_batches=0", "export_model=null",
        f"paths.output_dir={tmp_path / 'run'}", "+callbacks.probe._target_=tests.ddp_probe.Probe",
        f"+callbacks.probe.out={probe}", "+callbacks.probe.after=2",
    ]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((probe / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert all(r["world_size"] == 2 for r in ranks)
    assert ranks[0]["clips"] != ranks[1]["clips"]
    assert ranks[0]["grads"] and not any(n.startswith("models.transcriber.") for n in ranks[0]["grads"])  # frozen
    for key in ("grads", "params_end"):
        assert ranks[0][key].keys() == ranks[1][key].keys()
        for name in ranks[0][key]:
            assert np.allclose(ranks[0][key][name], ranks[1][key][name], atol=1e-6), (key, name)
    for rank in ranks:
        transcriber = [n for n in rank["params_start"] if n.startswith("models.transcriber.")]
        assert transcriber and all(rank["params_start"][n] == rank["params_after"][n] for n in transcriber)
        assert any(not np.allclose(rank["params_after"][n], rank["params_end"][n]) for n in transcriber)


def test_pretrained_weights_go_to_their_role_only(tmp_path):
    source = perturb(tiny_model("PitchwiseTranscriber"), seed=5)
    path = save_model(source, tmp_path / "transcriber.pt")
    task = joint(pretrained={"transcriber": str(path)})
    assert same_state(task.model_of("transcriber").state_dict(), source.state_dict())
    assert not same_state(joint().model_of("transcriber").state_dict(), source.state_dict())  # not a coincidence
    with pytest.raises(Exception, match="holds no separator"):
        joint(pretrained={"separator": str(path)})


def test_a_killed_joint_run_resumes_to_the_weights_of_an_uninterrupted_one(shared_mini_corpus, tmp_path):
    """TS for 4 steps in one go, and stopped after the checkpoint of step 2 then resumed from
    ``last``: the same weights and validation SDR at the end (one-cycle schedule, instrument draws
    and data windows all resume where they were)."""
    from jointist.cli.train import train
    from jointist.models.serialize import read_model_file
    from tests.conftest import compose_train

    def run(out: Path, *extra: str) -> dict[str, Any]:
        return train(compose_train(
            shared_mini_corpus, out, "experiment=TS", "model@models.transcriber=transcriber_tiny",
            "model@models.separator=separator_tiny", "data.segment_s=1.0", "data.num_workers=0",
            "data.train_examples_per_epoch=4", "trainer.max_steps=4", "trainer.val_check_interval=2",
            "trainer.precision=32-true", "~trainer.max_time", "trainer.limit_val_batches=1", *extra))

    whole = run(tmp_path / "whole")
    run(tmp_path / "killed", "+callbacks.stop._target_=tests.ddp_probe.StopAt", "+callbacks.stop.step=2")
    assert read_model_file(tmp_path / "killed" / "checkpoints" / "last.ckpt")["global_step"] == 2
    resumed = run(tmp_path / "killed", "ckpt_path=last")
    final = [read_model_file(tmp_path / name / "checkpoints" / "last.ckpt") for name in ("whole", "killed")]
    assert final[0]["global_step"] == final[1]["global_step"] == 4
    for name, value in final[0]["state_dict"].items():
        assert torch.allclose(value.float(), final[1]["state_dict"][name].float(), atol=1e-5), name
    assert resumed["metrics"]["val/sdr"] == pytest.approx(whole["metrics"]["val/sdr"], abs=1e-4)
