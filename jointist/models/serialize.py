"""Self-describing model files: a checkpoint carries what is needed to rebuild its model.

Format (a ``torch.save`` dict of plain values and tensors, loadable with ``weights_only=True``)::

    {"format": "jointist-model", "version": 1, "class": "OnsetsFramesTranscriber",
     "config": {...constructor keyword arguments...}, "state_dict": {...}, "extra": {...}}

Lightning checkpoints written by jointist's tasks carry the same ``class``/``config`` under the key
``jointist_model``, so :func:`load_model` reads both.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from jointist.atomic import atomic_path
from jointist.models.pitchwise import PitchwiseTranscriber
from jointist.models.recognizer import InstrumentRecognizer
from jointist.models.transcriber import OnsetsFramesTranscriber

__all__ = ["MODEL_CLASSES", "CheckpointError", "build_model", "load_model", "save_model"]

MODEL_CLASSES: dict[str, type[nn.Module]] = {
    "OnsetsFramesTranscriber": OnsetsFramesTranscriber,
    "PitchwiseTranscriber": PitchwiseTranscriber,
    "InstrumentRecognizer": InstrumentRecognizer,
}


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable, or does not describe a jointist model."""


def build_model(name: str, config: dict[str, Any]) -> nn.Module:
    if name not in MODEL_CLASSES:
        raise CheckpointError(f"unknown model class {name!r}; known: {', '.join(MODEL_CLASSES)}")
    return MODEL_CLASSES[name](**config)


def save_model(model: nn.Module, path: str | os.PathLike[str], *, extra: dict[str, Any] | None = None) -> Path:
    """Write a model file atomically (temporary file + rename)."""
    path = Path(path)
    payload = {
        "format": "jointist-model", "version": 1, "class": type(model).__name__,
        "config": dict(model.config), "state_dict": model.state_dict(), "extra": extra or {},  # type: ignore[arg-type]
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_model(path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a model from a jointist model file or a jointist Lightning checkpoint.

    Returns:
        (model in eval mode, extra metadata such as post-processing thresholds).
    Raises:
        CheckpointError: missing, corrupt or foreign file.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        if path.suffix != ".ckpt":
            raise CheckpointError(f"cannot read checkpoint {path} (corrupt or not a PyTorch file): {err}") from err
        try:  # Lightning checkpoints pickle more than tensors (loop and callback state): trusted files only
            payload = torch.load(path, map_location=map_location, weights_only=False)
        except Exception as err2:
            raise CheckpointError(f"cannot read checkpoint {path} (corrupt or not a PyTorch file): {err2}") from err2
    if not isinstance(payload, dict):
        raise CheckpointError(f"{path} is not a jointist checkpoint")
    if payload.get("format") == "jointist-model":
        name, config, state, extra = payload["class"], payload["config"], payload["state_dict"], payload.get("extra", {})
    elif "jointist_model" in payload and "state_dict" in payload:
        meta = payload["jointist_model"]
        name, config, extra = meta["class"], meta["config"], meta.get("extra", {})
        state = {k[len("model."):]: v for k, v in payload["state_dict"].items() if k.startswith("model.")}
    else:
        raise CheckpointError(f"{path} does not describe a jointist model (no model class and configuration)")
    model = build_model(name, dict(config))
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise CheckpointError(f"{path}: weights do not match the {name} configuration: {err}") from err
    return model.eval(), dict(extra)
