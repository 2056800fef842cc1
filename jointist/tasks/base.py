"""What every jointist task shares: models by role, optimiser parameter groups per role, a
freeze/unfreeze schedule, pretrained weights per role, self-describing checkpoints.

A task owns its models in an ``nn.ModuleDict`` keyed by role (``recognizer``, ``transcriber``,
``separator``), so a single-role task and the joint task are the same class shape and a checkpoint
of either exports one multi-role model file. Everything about the schedule is data (Hydra config):

.. code-block:: yaml

    param_groups: {transcriber: {lr: 1.0e-4}}       # per-role optimiser overrides
    freeze: {transcriber: {until_step: 1000}}        # frozen (eval mode, no gradients) before step 1000
    pretrained: {transcriber: path/to/model.pt}      # weights loaded for a role before training
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn

from jointist.data.slakh import TrackInfo
from jointist.models.base import JointistModel, ModelCard
from jointist.models.serialize import CheckpointError, load_model

log = logging.getLogger(__name__)

ADDED_HEADS: dict[str, tuple[str, ...]] = {
    "velocity": ("velocity_out",), "offset": ("offset_branch", "offset_out"),
    "channels": ("channel_embedding",), "frame_head": ("frame_head",),
}
"""Model switches that only add modules (switch -> its modules' names): a pretrained model without
it loads into one with it, and those modules start from scratch (a transcriber's velocity and offset
heads; a seq2seq decoder's channel embedding, which turns a single-stream model into a multi-channel
one; the seq2seq encoder's frame read-out)."""

__all__ = ["JointistTask"]


class JointistTask(pl.LightningModule):
    """Base LightningModule owning plain models by role.

    Args:
        models: role -> model (each a :class:`~jointist.models.base.JointistModel` of that role).
        optimizer: a factory ``params -> Optimizer`` (Hydra ``_partial_: true``); it receives one
            parameter group per role.
        scheduler: optional factory ``optimizer -> LRScheduler``, stepped every step.
        param_groups: role -> optimiser options overriding the factory's (e.g. ``{lr: 1e-4}``).
        freeze: role -> ``{until_step: N}``: the role's model is frozen (no gradients, batch norm in
            eval mode) while ``global_step < N``; ``N = -1`` freezes it for the whole run. ``except:
            [names]`` keeps those top-level modules of the model training meanwhile (a head added to
            a trained model, e.g. ``{until_step: -1, except: [offset_branch, offset_out]}``).
        pretrained: role -> model file or checkpoint whose ``role`` model is loaded into that role.
    """

    def __init__(
        self,
        models: Mapping[str, nn.Module],
        *,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        param_groups: Mapping[str, Mapping[str, Any]] | None = None,
        freeze: Mapping[str, Mapping[str, Any]] | None = None,
        pretrained: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        for role, model in models.items():
            if not isinstance(model, JointistModel) or model.role != role:
                raise ValueError(f"models[{role!r}] must be a jointist model of that role, got {type(model).__name__}")
        # (``freeze_until``, not ``freeze``: LightningModule.freeze() is a method)
        self.models = nn.ModuleDict(dict(models))
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.param_groups = {role: dict(options) for role, options in (param_groups or {}).items()}
        self.freeze_until = {role: int(spec["until_step"]) for role, spec in (freeze or {}).items()}
        self.freeze_except: dict[str, tuple[str, ...]] = {
            role: tuple(str(name) for name in spec.get("except") or ()) for role, spec in (freeze or {}).items()}
        for role, names in self.freeze_except.items():
            if role not in self.models:
                continue  # refused below, with the other schedule entries for a missing role
            model = self.models[role]
            unknown = [name for name in names if getattr(model, name, None) is None]
            if unknown:
                known = ", ".join(name for name, _ in model.named_children())
                raise ValueError(f"freeze.{role}.except names {', '.join(unknown)}, which this {role} does not have "
                                 f"(its modules: {known})")
        for role in (*self.param_groups, *self.freeze_until, *(pretrained or {})):
            if role not in self.models:
                raise ValueError(f"schedule names the role {role!r}, but this task has only {', '.join(self.models)}")
        self.pretrained_cards: dict[str, ModelCard] = {}
        for role, path in (pretrained or {}).items():
            self.load_pretrained(role, str(path))

    # -- roles ----------------------------------------------------------------------------------
    def model_of(self, role: str) -> JointistModel:
        if role not in self.models:
            raise KeyError(f"this task has no {role} (it has {', '.join(self.models)})")
        return self.models[role]  # type: ignore[return-value]

    def load_pretrained(self, role: str, path: str) -> None:
        """Load the ``role`` model of a model file or checkpoint into this task's model of that role."""
        source, card = load_model(path, role=role)
        target = self.model_of(role)
        # a switch that only adds a head (a velocity head) may differ: that head starts fresh
        added = {k for k in ADDED_HEADS if not source.init_args.get(k) and target.init_args.get(k)}
        same = {k: v for k, v in source.init_args.items() if k not in added}
        if type(source) is not type(target) or same != {k: v for k, v in target.init_args.items() if k not in added}:
            raise CheckpointError(
                f"pretrained {role} {path} is a {card.class_name}({card.init_args}); this task's is "
                f"{type(target).__name__}({target.init_args})"
            )
        missing, unexpected = target.load_state_dict(source.state_dict(), strict=False)
        fresh = [k for k in missing if k.split(".")[0] not in {name for a in added for name in ADDED_HEADS[a]}]
        if fresh or unexpected:
            raise CheckpointError(f"pretrained {role} {path}: missing {fresh}, unexpected {unexpected}")
        if missing:
            log.info("pretrained %s: %s start from scratch", role, ", ".join(missing))
        self.pretrained_cards[role] = card

    def frozen(self, role: str) -> bool:
        until = self.freeze_until.get(role)
        return until is not None and (until < 0 or self.global_step < until)

    def _set_frozen(self, role: str, model: nn.Module, frozen: bool) -> None:
        model.requires_grad_(not frozen)
        model.train(self.training and not frozen)  # frozen: batch norm statistics and dropout fixed too
        if frozen:
            for name in self.freeze_except.get(role, ()):
                part = getattr(model, name)
                part.requires_grad_(True)
                part.train(self.training)

    def _apply_freeze(self) -> None:
        for role, model in self.models.items():
            self._set_frozen(role, model, self.frozen(role))

    def setup(self, stage: str) -> None:
        # Before a strategy wraps the model, DDP registers the parameters that need gradients: only
        # the roles frozen for the whole run leave it. A role frozen until a step stays registered, so
        # its gradients are all-reduced once it trains (trainer=ddp finds the unused ones meanwhile).
        for role, model in self.models.items():
            if self.freeze_until.get(role, 0) < 0:
                self._set_frozen(role, model, True)

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        self._apply_freeze()

    # -- optimisation ---------------------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        groups = [{"params": list(model.parameters()), **self.param_groups.get(role, {})} for role, model in self.models.items()]
        optimizer = self.optimizer_factory(groups)
        if self.scheduler_factory is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": self._scheduler(optimizer), "interval": "step"}}

    def _scheduler(self, optimizer: torch.optim.Optimizer) -> Any:
        """The scheduler; a single ``max_lr`` (OneCycleLR) is scaled per parameter group by the group's
        own learning rate, so a role given a lower rate in ``param_groups`` keeps it at the peak."""
        factory = self.scheduler_factory
        assert factory is not None
        max_lr = factory.keywords.get("max_lr") if isinstance(factory, functools.partial) else None
        if isinstance(factory, functools.partial) and isinstance(max_lr, (int, float)):
            default = float(optimizer.defaults["lr"])
            peaks = [float(max_lr) * float(g["lr"]) / default for g in optimizer.param_groups]
            factory = functools.partial(factory.func, *factory.args, **{**factory.keywords, "max_lr": peaks})
        return factory(optimizer)

    # -- what is stored with the models ---------------------------------------------------------
    def model_card(self, role: str) -> ModelCard:
        """The card of a role's model; tasks add what inference needs (thresholds)."""
        return self.model_of(role).card(trained_steps=int(self.global_step))

    def model_cards(self) -> dict[str, ModelCard]:
        return {role: self.model_card(role) for role in self.models}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["jointist_models"] = {role: card.to_dict() for role, card in self.model_cards().items()}

    def train_tracks(self) -> list[TrackInfo]:
        """The training split's tracks when fitting with a SlakhDataModule (else empty)."""
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        dataset = getattr(datamodule, "datasets", {}).get("train") if datamodule is not None else None
        return list(dataset.tracks) if dataset is not None else []
