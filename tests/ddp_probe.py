"""Callbacks that tests hand to `jointist-train` through its config: what each DDP rank saw, and a
stop that stands in for a killed run.

Loaded by ``jointist-train`` in the DDP worker processes (``+callbacks.probe._target_=tests.ddp_probe.Probe``),
so it lives in an importable module rather than in the test file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytorch_lightning as pl


def _head(task: pl.LightningModule) -> dict[str, list[float]]:
    """The first values of every parameter, by name."""
    return {n: p.detach().flatten()[:64].tolist() for n, p in task.named_parameters()}


class Probe(pl.Callback):
    """Per rank: the clips of its first batch, its (all-reduced) gradients after the first backward
    pass, and its parameters before training, after ``after`` steps and at the end of the run.
    Written to ``<out>/rank<r>.json`` when training ends."""

    def __init__(self, out: str, after: int = 1) -> None:
        self.out = Path(out)
        self.after = after
        self.record: dict[str, Any] = {}

    def on_train_batch_start(self, trainer: pl.Trainer, task: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        if trainer.global_step == 0 and "clips" not in self.record:
            self.record["clips"] = [[ex.track_id, ex.start_s] for ex in batch.examples]
            self.record["params_start"] = _head(task)

    def on_after_backward(self, trainer: pl.Trainer, task: pl.LightningModule) -> None:
        if "grads" not in self.record:
            self.record["grads"] = {n: p.grad.flatten()[:64].tolist() for n, p in task.named_parameters() if p.grad is not None}

    def on_train_batch_end(self, trainer: pl.Trainer, task: pl.LightningModule, *args: Any) -> None:
        if trainer.global_step == self.after:
            self.record["params_after"] = _head(task)

    def on_train_end(self, trainer: pl.Trainer, task: pl.LightningModule) -> None:
        self.record["params_end"] = _head(task)
        self.record["world_size"] = trainer.world_size
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / f"rank{trainer.global_rank}.json").write_text(json.dumps(self.record))


class StopAt(pl.Callback):
    """Stop training after ``step`` optimiser steps, as if the run had been killed right after the
    checkpoint written at that step."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer: pl.Trainer, task: pl.LightningModule, *args: Any) -> None:
        if trainer.global_step >= self.step:
            trainer.should_stop = True
