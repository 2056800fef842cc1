"""Writes the version-1 files of this folder with the code that wrote version-1 files (commit 5e60748^).

    git archive 5e60748^ jointist conf tests | tar -x -C /tmp/v1code
    PYTHONPATH=/tmp/v1code python tests/models/v1/make_v1_files.py tests/models/v1

- ``transcriber.pt``, ``recognizer.pt``: tiny models (``conf/model/*_tiny.yaml`` of that version,
  weights moved off their initial values, batch-norm statistics updated) saved by its ``save_model``;
- ``task.ckpt``: the last checkpoint of a one-step ``jointist-train`` run of that version;
- ``expected.npz``: a 0.5 s input (``audio``) and what each model gave for it under that version.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

import jointist
from jointist.cli import CONF_DIR
from jointist.cli.train import train
from jointist.models.serialize import load_model, save_model
from tests.conftest import compose_train, write_track  # the tests of that version

assert not hasattr(jointist, "results"), "run this with the code of 5e60748^ on PYTHONPATH"
INSTRUMENTS = torch.tensor([[0, 38]])


def tiny(name: str, generator: torch.Generator, audio: torch.Tensor, **overrides: object) -> torch.nn.Module:
    torch.manual_seed(0)
    model = instantiate(OmegaConf.load(Path(CONF_DIR) / "model" / f"{name}.yaml"), **overrides)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=generator))
        model.train()
        model(audio, INSTRUMENTS) if name.startswith("transcriber") else model(audio)  # batch-norm statistics move
    return model.eval()


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(0)
    audio = torch.randn(1, 8_000, generator=generator)
    expected = {"audio": audio.numpy()}
    with torch.no_grad():
        model = tiny("transcriber_tiny", generator, audio)
        expected["transcriber_onset"], expected["transcriber_frame"] = (t.numpy() for t in model(audio, INSTRUMENTS))
        save_model(model, out / "transcriber.pt", extra={"decode": {"onset_threshold": 0.3, "frame_threshold": 0.2},
                                                          "trained_steps": 5, "source": "make_v1_files.py"})
        model = tiny("recognizer_tiny", generator, audio, max_frames=200)
        expected["recognizer_logits"] = model(audio).numpy()
        save_model(model, out / "recognizer.pt", extra={"thresholds": [0.25] * 39, "aggregate": "mean", "trained_steps": 3})
    with tempfile.TemporaryDirectory() as tmp:
        root, run = Path(tmp) / "corpus", Path(tmp) / "run"
        for split, name in (("train", "Track00001"), ("validation", "Track00002")):
            write_track(root / split, name, {"S00": {"program": 0, "notes": [(0.2, 0.8, 60), (1.0, 1.5, 64)]}}, duration_s=2.0)
        train(compose_train(root, run, "trainer.max_steps=1", "trainer.val_check_interval=1", "~logger",
                            "~callbacks.lr_monitor"))
        shutil.copy(run / "checkpoints" / "last.ckpt", out / "task.ckpt")
    model, _ = load_model(out / "task.ckpt")
    with torch.no_grad():
        expected["ckpt_onset"], expected["ckpt_frame"] = (t.numpy() for t in model(audio, INSTRUMENTS))
    np.savez_compressed(out / "expected.npz", **expected)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
