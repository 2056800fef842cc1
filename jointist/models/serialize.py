"""Model files: one file holds one model per role, each with its :class:`~jointist.models.base.ModelCard`.

Format (a ``torch.save`` dict of plain values and tensors)::

    {"format": "jointist-model", "version": 2,
     "models": {"transcriber": {"card": {...ModelCard...}, "state_dict": {...}},
                "recognizer":  {...}, ...}}

Lightning checkpoints written by jointist's tasks carry the cards under ``jointist_models``
(role -> card) and the weights under ``models.<role>.`` in their ``state_dict``, so
:func:`load_model` reads them too. Version-1 files (one model, ``class``/``config``/``extra``) are
still read.

Loading never unpickles arbitrary objects: every file is read with ``torch.load(weights_only=True)``
and an allow-list of the few plain Lightning/NumPy types a Lightning checkpoint holds. A file that
needs anything else (for example a crafted pickle that would run code) is refused with
:class:`CheckpointError`.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from jointist.atomic import atomic_path
from jointist.models.base import ROLES, JointistModel, ModelCard, model_class

__all__ = [
    "CheckpointError", "load_model", "load_models", "model_roles", "read_model_file", "safe_globals", "save_model",
    "save_models",
]

FORMAT = "jointist-model"
VERSION = 2


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable, unsafe, or does not describe a jointist model."""


def _safe_globals(*, lightning: bool) -> list[Any]:
    """Types that NumPy and (with ``lightning``) Lightning put into checkpoints and that carry no code.

    Lightning is imported only for Lightning checkpoints: it costs ~170 MB of memory, which plain
    model files do not need."""
    import numpy as np

    core = getattr(np, "_core", None) or np.core  # numpy 2 renamed np.core (the old name warns)
    allowed: list[Any] = [np.dtype, np.ndarray, core.multiarray._reconstruct]
    allowed += [type(np.dtype(t)) for t in ("float32", "float64", "int64", "int32", "bool")]
    allowed += [np.float64, np.float32, np.int64, np.int32, np.bool_]
    if lightning:
        from lightning_fabric.utilities.data import AttributeDict

        allowed.append(AttributeDict)
    return allowed


def safe_globals(*, lightning: bool = True) -> Any:
    """A context in which ``torch.load(weights_only=True)`` also accepts the plain NumPy and (with
    ``lightning``) Lightning types of a jointist checkpoint (used to resume training without
    unpickling code)."""
    return torch.serialization.safe_globals(_safe_globals(lightning=lightning))


def _legacy_pickle(path: Path) -> bool:
    """Whether a file starts like torch's pre-1.6 format (a pickle protocol marker)."""
    with open(path, "rb") as f:
        return f.read(1) == b"\x80"


def read_model_file(path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The payload of a model file or checkpoint, read without running any code from it."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        with safe_globals(lightning=path.suffix == ".ckpt"):
            payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        text = str(err)
        if not zipfile.is_zipfile(path) and not _legacy_pickle(path):  # not something torch.save wrote
            raise CheckpointError(f"cannot read {path}: the file is corrupt or cut short, or not a model file "
                                  f"(torch.save writes a zip archive; {text.splitlines()[0] if text else type(err).__name__})") from err
        if "Weights only load failed" in text or "Unsupported global" in text or "unsafe" in text.lower():
            raise CheckpointError(
                f"refusing to load {path}: it holds Python objects other than weights and plain values, and "
                "unpickling them could run code. jointist model files and checkpoints never need that; if this "
                f"is a Lightning checkpoint of your own run, resume training from it with trust_checkpoint=true. ({text.splitlines()[0]})"
            ) from err
        if "torch.cuda.is_available() is False" in text or "CUDA" in text and not torch.cuda.is_available():
            raise CheckpointError(f"cannot load {path} onto {map_location}: CUDA is not available on this machine; "
                                  "use the CPU (device=cpu)") from err
        raise CheckpointError(f"cannot read checkpoint {path} (corrupt or not a PyTorch file): {text}") from err
    if not isinstance(payload, dict):
        raise CheckpointError(f"{path} is not a jointist checkpoint")
    return payload


# Keys of version-1 files whose blocks have since been merged into models.blocks.ConvBlock.
_V1_RENAMES: dict[str, list[tuple[str, str]]] = {
    "PitchwiseTranscriber": [(r"^(fine\.\d+|to_keys|keys)\.0\.", r"\1.conv1."), (r"^(fine\.\d+|to_keys|keys)\.1\.", r"\1.bn1.")],
    "InstrumentRecognizer": [(rf"^cnn\.(\d+)\.body\.{i}\.", rf"cnn.\1.{name}.") for i, name in
                             ((0, "conv1"), (1, "bn1"), (3, "conv2"), (4, "bn2"))],
}


def _v1_entry(name: str, config: Mapping[str, Any], state: Mapping[str, Any], extra: Mapping[str, Any]) -> tuple[ModelCard, dict[str, Any]]:
    renames = _V1_RENAMES.get(name, [])
    renamed = {}
    for key, value in state.items():
        for pattern, repl in renames:
            key = re.sub(pattern, repl, key)
        renamed[key] = value
    try:
        cls = model_class(name)
    except KeyError as err:
        raise CheckpointError(str(err.args[0])) from err
    card = ModelCard(
        role=cls.role, class_name=name, init_args=dict(config), decode=extra.get("decode"),
        thresholds=extra.get("thresholds"), aggregate=extra.get("aggregate"), trained_steps=extra.get("trained_steps"),
    )
    return card, renamed


def _entries(payload: Mapping[str, Any], path: Path) -> dict[str, tuple[ModelCard, dict[str, Any]]]:
    """role -> (card, state_dict) of every model in a payload."""
    try:
        if payload.get("format") == FORMAT and payload.get("version") == VERSION:
            return {role: (ModelCard.from_dict(entry["card"]), entry["state_dict"]) for role, entry in payload["models"].items()}
        if payload.get("format") == FORMAT and isinstance(payload.get("version"), int) and payload["version"] > VERSION:
            raise CheckpointError(f"{path} was written by a newer jointist (model file version {payload['version']}, "
                                  f"this one reads up to {VERSION}): upgrade jointist")
        if payload.get("format") == FORMAT and payload.get("version") == 1:
            card, state = _v1_entry(payload["class"], payload["config"], payload["state_dict"], payload.get("extra", {}))
            return {card.role: (card, state)}
        if "jointist_models" in payload and "state_dict" in payload:
            out = {}
            for role, card_dict in payload["jointist_models"].items():
                prefix = f"models.{role}."
                state = {k[len(prefix):]: v for k, v in payload["state_dict"].items() if k.startswith(prefix)}
                out[role] = (ModelCard.from_dict(card_dict), state)
            return out
        if "jointist_model" in payload and "state_dict" in payload:  # checkpoints of version-1 tasks
            meta = payload["jointist_model"]
            state = {k[len("model."):]: v for k, v in payload["state_dict"].items() if k.startswith("model.")}
            card, state = _v1_entry(meta["class"], meta["config"], state, meta.get("extra", {}))
            if card.trained_steps is None and isinstance(payload.get("global_step"), int):
                card = card.replace(trained_steps=payload["global_step"])
            return {card.role: (card, state)}
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{path}: malformed jointist model file ({err})") from err
    raise CheckpointError(f"{path} does not describe a jointist model (no model class and configuration)")


def _build(card: ModelCard, state: Mapping[str, Any], path: Path) -> JointistModel:
    try:
        model = card.build()
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{path}: cannot build {card.class_name} from its card: {err}") from err
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise CheckpointError(f"{path}: weights do not match the {card.class_name} configuration: {err}") from err
    return model.eval()


def model_roles(path: str | os.PathLike[str]) -> dict[str, ModelCard]:
    """role -> card of every model in a file, without building the models."""
    path = Path(path)
    return {role: card for role, (card, _) in _entries(read_model_file(path), path).items()}


def load_models(path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu") -> dict[str, tuple[JointistModel, ModelCard]]:
    """Every model of a file: role -> (model in eval mode, card)."""
    path = Path(path)
    entries = _entries(read_model_file(path, map_location=map_location), path)
    return {role: (_build(card, state, path), card) for role, (card, state) in entries.items()}


def load_model(
    path: str | os.PathLike[str], *, role: str | None = None, map_location: str | torch.device = "cpu"
) -> tuple[JointistModel, ModelCard]:
    """One model of a model file or jointist Lightning checkpoint.

    Args:
        role: which model (``transcriber``, ``recognizer``, ...); None: the file's only model.
    Returns:
        (model in eval mode, its card).
    Raises:
        CheckpointError: missing, corrupt, unsafe or foreign file, or no model of that role.
    """
    path = Path(path)
    entries = _entries(read_model_file(path, map_location=map_location), path)
    if role is None:
        if len(entries) != 1:
            raise CheckpointError(f"{path} holds several models ({', '.join(entries)}); say which with role=...")
        role = next(iter(entries))
    if role not in entries:
        raise CheckpointError(f"{path} holds no {role} (it holds: {', '.join(entries) or 'nothing'})")
    card, state = entries[role]
    return _build(card, state, path), card


def save_models(models: Mapping[str, tuple[JointistModel, ModelCard]], path: str | os.PathLike[str]) -> Path:
    """Write several models (role -> (model, card)) into one file, atomically."""
    payload: dict[str, Any] = {"format": FORMAT, "version": VERSION, "models": {}}
    for role, (model, card) in models.items():
        if role not in ROLES or card.role != role or model.role != role:
            raise ValueError(f"role {role!r}: the model plays {model.role!r} and its card says {card.role!r}")
        card = card.replace(class_name=type(model).__name__, init_args=model.init_args)  # always the model's own
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        payload["models"][role] = {"card": card.to_dict(), "state_dict": state}
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def save_model(model: JointistModel, path: str | os.PathLike[str], *, card: ModelCard | None = None) -> Path:
    """Write one model (with its card, or a card of its class and arguments) atomically."""
    return save_models({model.role: (model, card or model.card())}, path)
