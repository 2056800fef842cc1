"""A training run killed mid-epoch and resumed from ``last.ckpt`` ends where an uninterrupted run ends:
the same windows in the same order, the same weights bit for bit, the same best checkpoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DistributedSampler

from jointist.cli.train import train
from jointist.data.slakh import EpochSampler
from jointist.models.serialize import CheckpointError, load_model, read_model_file
from tests.conftest import compose_train


class Killed(RuntimeError):
    """What :class:`KillAfter` raises: the process dying at that point."""


class KillAfter(pl.Callback):
    """Dies right after optimiser step ``step``: nothing more is written (Lightning saves nothing on an
    exception; ``last.ckpt`` stays at the checkpoint before)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer: pl.Trainer, task: pl.LightningModule, *args: Any) -> None:
        if trainer.global_step >= self.step:
            raise Killed(f"killed after step {trainer.global_step}")


class BatchLog(pl.Callback):
    """Appends ``[global_step, batch_idx, [[track, start_s], ...]]`` of every training batch to a file."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def on_train_batch_start(self, trainer: pl.Trainer, task: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        clips = [[ex.track_id, ex.start_s] for ex in batch.examples]
        with self.path.open("a") as f:
            f.write(json.dumps([trainer.global_step, batch_idx, clips]) + "\n")


def batches(path: Path) -> list[list[Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def run(corpus: Path, out: Path, *overrides: str) -> dict[str, Any]:
    """8 steps of the tiny transcriber with dropout and a one-cycle schedule, 2 batches an epoch (the
    checkpoint at step 3 and the kill at step 5 fall mid-epoch, in epochs after the first), ``last.ckpt``
    every 3 steps."""
    return train(compose_train(
        corpus, out, "model.dropout=0.3", "data.train_examples_per_epoch=4", "trainer.max_steps=8",
        "task.scheduler={_target_:torch.optim.lr_scheduler.OneCycleLR,_partial_:true,max_lr:0.01,total_steps:8}",
        "callbacks.last.every_n_steps=3", "~logger", "~callbacks.lr_monitor",
        "+callbacks.log._target_=tests.cli.test_resume.BatchLog", f"+callbacks.log.path={out / 'batches.jsonl'}",
        *overrides,
    ))


@pytest.mark.parametrize(("workers", "validate_every"), [(0, 3), (1, 6)], ids=["in-process,validated", "worker,unvalidated"])
def test_a_run_killed_mid_epoch_resumes_to_the_weights_of_an_uninterrupted_one(shared_mini_corpus, tmp_path, workers,
                                                                               validate_every):
    """Validated at step 3, the checkpoint resumed from is the one written after validation; not
    validated, the one written right after the step. A loader process (``workers=1``) starts reading
    before Lightning tells the sampler its epoch."""
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    options = (f"data.num_workers={workers}", f"trainer.val_check_interval={validate_every}")
    uninterrupted = run(shared_mini_corpus, whole, *options)
    with pytest.raises(Killed):
        run(shared_mini_corpus, killed, *options, "+callbacks.kill._target_=tests.cli.test_resume.KillAfter",
            "+callbacks.kill.step=5")
    assert read_model_file(killed / "checkpoints" / "last.ckpt")["global_step"] == 3
    resumed = run(shared_mini_corpus, killed, *options, "ckpt_path=last")

    seen, seen_again = batches(whole / "batches.jsonl"), batches(killed / "batches.jsonl")
    assert [b[0] for b in seen] == list(range(8))
    assert seen_again[5][:2] == [3, 1]  # the resumed run starts at step 3, the second batch of an epoch
    assert seen_again == seen[:5] + seen[3:]  # steps 0-4 until killed, then 3-7 resumed: the same windows
    final = [read_model_file(out / "checkpoints" / "last.ckpt") for out in (whole, killed)]
    assert final[0]["global_step"] == final[1]["global_step"] == 8
    assert final[0]["state_dict"].keys() == final[1]["state_dict"].keys()
    for name, value in final[0]["state_dict"].items():
        assert torch.equal(value, final[1]["state_dict"][name]), name
    assert resumed["metrics"] == uninterrupted["metrics"]
    assert Path(resumed["best_checkpoint"]).name == Path(uninterrupted["best_checkpoint"]).name
    for a, b in zip(load_model(uninterrupted["model_file"])[0].state_dict().values(),
                    load_model(resumed["model_file"])[0].state_dict().values(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("replicas", [1, 2, 3])
def test_the_sampler_shares_each_epoch_out_and_resumes_a_process_where_it_stopped(replicas):
    """Epoch 2 of 31 windows on ``replicas`` processes: together they cover it (the shares padded to
    equal length with its first windows); resumed after 2 batches of 2, each process is dealt the rest
    of its share; the next epoch is whole. Lightning leaves a DistributedSampler unwrapped."""
    shares = [list(EpochSampler(31, num_replicas=replicas, rank=rank, epoch=2)) for rank in range(replicas)]
    assert {i for share in shares for i in share} == set(range(62, 93))
    assert all(len(share) == len(shares[0]) == -(-31 // replicas) for share in shares)
    for rank in range(replicas):
        sampler = EpochSampler(31, num_replicas=replicas, rank=rank, epoch=2, skip=2 * 2)
        assert isinstance(sampler, DistributedSampler) and len(sampler) == len(shares[rank])
        assert list(sampler) == shares[rank][4:]
        assert list(sampler) == shares[rank]  # the skip was the resumed epoch's
        sampler.set_epoch(3)
        assert list(sampler) == [i + 31 for i in shares[rank]]
    late = EpochSampler(31, epoch=2, skip=5)
    late.set_epoch(3)  # a skip for an epoch that Lightning does not go on with is dropped
    assert list(late) == list(range(93, 124))


@pytest.mark.parametrize("damage", ["cut short", "garbage", "empty"])
def test_resuming_from_a_damaged_last_checkpoint_says_so_and_names_the_others(shared_mini_corpus, tmp_path, damage):
    folder = tmp_path / "run" / "checkpoints"
    folder.mkdir(parents=True)
    torch.save({"state_dict": {"w": torch.zeros(100)}, "global_step": 3}, folder / "step3.ckpt")
    whole = (folder / "step3.ckpt").read_bytes()
    (folder / "last.ckpt").write_bytes({"cut short": whole[:len(whole) // 2], "garbage": b"garbage" * 10, "empty": b""}[damage])
    with pytest.raises(CheckpointError, match=r"last.ckpt: the file is corrupt or cut short .* \(ckpt_path=<file>; there: step3.ckpt\)"):
        run(shared_mini_corpus, tmp_path / "run", "ckpt_path=last")
