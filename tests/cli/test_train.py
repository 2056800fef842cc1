"""``jointist-train``: every task and experiment config runs, the model file it exports, resuming."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from jointist.cli import CONF_DIR
from jointist.cli.train import train
from jointist.models.serialize import load_model, read_model_file
from tests.conftest import compose_config, compose_train, tiny_config_name

EXPERIMENTS = sorted(p.stem for p in (Path(CONF_DIR) / "experiment").glob("*.yaml"))


@pytest.mark.parametrize(("overrides", "metrics"), [
    ((), {"train/loss", "train/agnostic_onset_loss", "val/loss", "val/note_f1", "val/agnostic_note_f1"}),
    (("task=recognition", "model=recognizer_tiny", "callbacks.checkpoint.monitor=val/map_macro"),
     {"train/loss", "val/loss", "val/map_macro", "val/f1_macro"}),
    (("task=seq2seq", "model=seq2seq_tiny", "data.segment_s=2.048"),
     {"train/loss", "train/token_accuracy", "val/loss", "val/token_accuracy", "val/note_f1", "val/multi_instrument_f1"}),
    (("task=seq2seq", "model=seq2seq_tiny", "model.channels=13", "data.segment_s=2.048"),
     {"train/loss", "train/token_accuracy", "val/loss", "val/note_f1"}),
    (("task=seq2seq", "model=seq2seq_tiny", "model.frame_head=true", "task.frame_loss_weight=0.5", "data.segment_s=2.048"),
     {"train/loss", "train/frame_loss", "val/note_f1"}),
    (("model.offset=true", "+task.freeze={transcriber: {until_step: -1, except: [offset_branch, offset_out]}}"),
     {"train/loss", "train/offset_loss", "val/note_f1"}),
], ids=["transcription", "recognition", "seq2seq", "seq2seq_multichannel", "seq2seq_frame_loss", "transcription_offset_head"])
def test_fast_dev_run_of_each_task(shared_mini_corpus, tmp_path, overrides, metrics):
    result = train(compose_train(shared_mini_corpus, tmp_path / "run", "+trainer.fast_dev_run=true", *overrides))
    assert metrics <= set(result["metrics"]) and np.isfinite(result["metrics"]["train/loss"])
    assert "model_file" not in result  # a dry run exports nothing


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_config_runs_one_step(shared_mini_corpus, tiny_model_file, tmp_path, experiment):
    """Each experiment with every model at the size of its class's conf/model/*_tiny.yaml (a joint
    experiment's roles each so), a pretrained role that the experiment asks for given a tiny model file."""
    composed = compose_config("train", f"experiment={experiment}")
    specs = dict(composed.models) if composed.get("models") else {None: composed.model}
    overrides = []
    for role, spec in specs.items():
        tiny = tiny_config_name(spec._target_.rsplit(".", 1)[-1])
        assert tiny, f"no conf/model/*_tiny.yaml builds {spec._target_}, a model of experiment={experiment}"
        overrides.append(f"model@models.{role}={tiny}" if role else f"model={tiny}")
    pretrained = composed.task.get("pretrained") or {}
    overrides += [f"task.pretrained.{role}={tiny_model_file}" for role in pretrained
                  if OmegaConf.is_missing(pretrained, role)]
    cfg = compose_train(shared_mini_corpus, tmp_path / "run", f"experiment={experiment}", *overrides,
                        "data.segment_s=1.0", "data.num_workers=0", "+trainer.fast_dev_run=true", "~trainer.max_time")
    assert np.isfinite(train(cfg)["metrics"]["train/loss"])


def test_the_exported_model_file_holds_the_best_checkpoint_with_a_clean_card(trained_run, shared_mini_corpus):
    out = trained_run["out"]
    assert (out / "checkpoints" / "last.ckpt").is_file() and (out / "config.yaml").is_file()
    assert not [p for p in (out / "checkpoints").iterdir() if p.name.endswith(".tmp")]
    best = Path(trained_run["best_checkpoint"])
    model, card = load_model(trained_run["model_file"])
    from_best, _ = load_model(best)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), from_best.state_dict().values(), strict=True))
    assert card.trained_steps == read_model_file(best)["global_step"] == 2
    assert card.training_data == "mini (SlakhDataModule)" and str(shared_mini_corpus.parent) not in repr(card)
    assert card.decode is not None and card.decode["onset_threshold"] == 0.5  # conf/task/transcription.yaml


def test_training_resumes_from_its_last_checkpoint_without_unpickling_code(shared_mini_corpus, tmp_path):
    out = tmp_path / "run"
    train(compose_train(shared_mini_corpus, out, "trainer.max_steps=2", "trainer.val_check_interval=2"))
    resumed = train(compose_train(shared_mini_corpus, out, "trainer.max_steps=4", "trainer.val_check_interval=2",
                                  "ckpt_path=last"))  # trust_checkpoint=false: the checkpoint is read with weights_only
    assert read_model_file(out / "checkpoints" / "last.ckpt")["global_step"] == 4
    best = read_model_file(resumed["best_checkpoint"])
    _, card = load_model(resumed["model_file"])
    assert card.trained_steps == best["global_step"] in (2, 4)  # the steps behind the exported weights
