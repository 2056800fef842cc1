"""Fitting the small decoding models (the note-onset verifier, the note-end chooser) on examples
computed once from a transcriber's cached posteriorgrams (``jobs/note_verifier.py``, ``jobs/note_ends.py``).

A split is named ``root:split:cache`` (a corpus in Slakh2100's layout, its split, and the folder
of :func:`~jointist.evaluation.posteriorgrams_of_split`'s cache); :func:`fit_keep_best` is the
training loop both jobs share: AdamW with a one-cycle schedule over shuffled minibatches of the
examples, a validation score after each epoch, and the weights of the best epoch kept.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn

__all__ = ["corpora_label", "fit_keep_best", "split_spec"]


def split_spec(spec: str) -> tuple[str, str, str]:
    """``root:split:cache`` -> (root, split, cache)."""
    parts = spec.split(":", 2)
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"a split is named root:split:cache (e.g. data/refine:train:pg_cache/refine_train), got {spec!r}")
    return parts[0], parts[1], parts[2]


def corpora_label(specs: Sequence[str]) -> str:
    """The corpora and splits of ``root:split:cache`` names, without where they lie (for model cards)."""
    return " + ".join(f"{Path(root).name}/{split}" for root, split, _ in map(split_spec, specs))


def fit_keep_best(
    model: nn.Module, examples: Sequence[torch.Tensor], loss: Callable[[nn.Module, list[torch.Tensor]], torch.Tensor],
    validate: Callable[[nn.Module], float], *, epochs: int, batch: int, lr: float, higher_is_better: bool,
    label: str,
) -> tuple[list[tuple[int, float, float]], float]:
    """Train ``model`` on ``examples`` (tensors with one row per example) for ``epochs``, ``batch``
    rows at a time: ``loss(model, rows)`` is minimised with AdamW (weight decay 1e-4) and a one-cycle
    schedule peaking at ``lr``; after each epoch ``validate(model)`` (in eval mode) is printed as
    ``label`` and the weights of the best epoch are loaded back at the end. Returns the curve
    (epoch, mean training loss, validation score) and the best score."""
    n = len(examples[0])
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * -(-n // batch))
    best, best_score, curve = None, None, []
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(n)
        total = 0.0
        for a in range(0, n, batch):
            rows = order[a: a + batch]
            value = loss(model, [t[rows] for t in examples])
            opt.zero_grad()
            value.backward()
            opt.step()
            sched.step()
            total += value.item() * len(rows)
        model.eval()
        with torch.no_grad():
            score = float(validate(model))
        curve.append((epoch + 1, total / n, score))
        print(f"epoch {epoch + 1}: train loss {total / n:.4f}, {label} {score:.4f}", flush=True)
        if best_score is None or (score > best_score if higher_is_better else score < best_score):
            best, best_score = copy.deepcopy(model.state_dict()), score
    assert best is not None and best_score is not None
    model.load_state_dict(best)
    return curve, best_score
