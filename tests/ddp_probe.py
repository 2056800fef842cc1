"""A callback for the distributed test: each rank writes what it saw in its first training step.

Loaded by ``jointist-train`` in the DDP worker processes (``+callbacks.probe._target_=tests.ddp_probe.Probe``),
so it lives in an importable module rather than in the test file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch


class Probe(pl.Callback):
    """After the first backward pass: the clips of the rank's batch and its (all-reduced) gradients;
    after the first optimiser step: its parameters. Written to ``<out>/rank<r>.json``."""

    def __init__(self, out: str) -> None:
        self.out = Path(out)
        self.record: dict[str, Any] = {}

    def on_train_batch_start(self, trainer: pl.Trainer, task: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        if trainer.global_step == 0:
            self.record["clips"] = [[ex.track_id, ex.start_s] for ex in batch.examples]

    def on_after_backward(self, trainer: pl.Trainer, task: pl.LightningModule) -> None:
        if trainer.global_step == 0 and "grads" not in self.record:
            self.record["grads"] = {n: p.grad.flatten()[:64].tolist() for n, p in task.named_parameters() if p.grad is not None}

    def on_train_batch_end(self, trainer: pl.Trainer, task: pl.LightningModule, *args: Any) -> None:
        if trainer.global_step == 1 and "params" not in self.record:
            self.record["params"] = {n: p.detach().flatten()[:64].tolist() for n, p in task.named_parameters()}
            self.record["world_size"] = trainer.world_size
            self.out.mkdir(parents=True, exist_ok=True)
            with torch.no_grad():
                (self.out / f"rank{trainer.global_rank}.json").write_text(json.dumps(self.record))
