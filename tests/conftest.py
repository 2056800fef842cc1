"""Shared fixtures and helpers.

- tiny Slakh2100-format folders written by hand (no FluidSynth needed);
- tiny models composed from ``conf/model/*_tiny.yaml`` (the only place model sizes live for tests);
- one-clip training batches with known notes;
- configurations composed like the commands compose them, and the commands run in this process.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pretty_midi
import pytest
import pytorch_lightning as pl
import torch
import yaml
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from jointist.audio.io import write_audio
from jointist.cli import CONF_DIR
from jointist.constants import SAMPLE_RATE
from jointist.data.slakh import Example, ExampleBatch, collate_examples
from jointist.instruments import NUM_CLASSES
from jointist.models.base import JointistModel
from jointist.models.serialize import save_model
from jointist.notes import NoteArray

MODEL_CONF = Path(CONF_DIR) / "model"

# One thread for torch, here and in the commands the tests start: the tiny models gain nothing from
# two, and two threads spinning on a CPU that other processes share made the suite 5-10x slower
# (measured: tests/tasks + tests/test_pipeline 26 s with one thread, 112-252 s with two, load 5).
os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

SMALLEST: dict[str, tuple[str, dict[str, Any]]] = {
    # classes without a conf/model/*_tiny.yaml: the shipped config they start from, and the smallest sizes
    "OnsetsFramesTranscriber": ("transcriber_mel", {"shared_channels": [4], "features": 32, "rnn_hidden": 16,
                                                    "film_layers": 1, "dropout": 0.0}),
}


# -- audio and corpora ----------------------------------------------------------------------------

def sine_notes(notes: Sequence[tuple[float, float, int]], duration_s: float) -> np.ndarray:
    """A stem whose audio is a sine per (onset_s, offset_s, pitch) note, silent elsewhere."""
    audio = np.zeros(int(duration_s * SAMPLE_RATE), np.float32)
    for onset, offset, pitch in notes:
        a, b = int(onset * SAMPLE_RATE), int(offset * SAMPLE_RATE)
        t = np.arange(b - a) / SAMPLE_RATE
        audio[a:b] += 0.2 * np.sin(2 * np.pi * 440 * 2 ** ((pitch - 69) / 12) * t)
    return audio


def note_array(notes: Sequence[tuple[float, float, int]]) -> NoteArray:
    """(onset_s, offset_s, pitch) triples as a NoteArray."""
    return NoteArray.from_arrays([n[0] for n in notes], [n[1] for n in notes], [n[2] for n in notes])


def write_track(
    split_dir: Path,
    name: str,
    stems: dict[str, dict],
    *,
    duration_s: float = 4.0,
) -> Path:
    """Write ``split_dir/name`` with one entry per stem: {program, is_drum, notes, rendered}."""
    track = split_dir / name
    (track / "stems").mkdir(parents=True)
    (track / "MIDI").mkdir()
    mix = np.zeros(int(duration_s * SAMPLE_RATE), np.float32)
    meta = {"audio_dir": "stems", "midi_dir": "MIDI", "stems": {}}
    for sid, stem in stems.items():
        pm = pretty_midi.PrettyMIDI(initial_tempo=120)
        inst = pretty_midi.Instrument(program=stem["program"], is_drum=stem.get("is_drum", False))
        inst.notes = [pretty_midi.Note(100, p, on, off) for on, off, p in stem["notes"]]
        pm.instruments.append(inst)
        pm.write(str(track / "MIDI" / f"{sid}.mid"))
        rendered = stem.get("rendered", True)
        if rendered:
            audio = sine_notes(stem["notes"], duration_s)
            write_audio(track / "stems" / f"{sid}.flac", audio)
            mix += audio
        meta["stems"][sid] = {
            "audio_rendered": rendered, "is_drum": stem.get("is_drum", False), "midi_saved": True,
            "program_num": stem["program"], "inst_class": "x",
        }
    write_audio(track / "mix.flac", mix)
    (track / "metadata.yaml").write_text(yaml.safe_dump(meta))
    return track


@pytest.fixture
def hand_corpus(tmp_path: Path) -> Path:
    """root/train/Track00001: piano (program 0), bass (33), drums, and a stem that was not rendered."""
    root = tmp_path / "slakh"
    write_track(root / "train", "Track00001", {
        "S00": {"program": 0, "notes": [(0.5, 1.0, 60), (1.5, 2.5, 64), (1.5, 2.5, 67)]},
        "S01": {"program": 33, "notes": [(0.25, 3.0, 40)]},
        "S02": {"program": 0, "is_drum": True, "notes": [(1.0, 1.1, 36), (2.0, 2.1, 38)]},
        "S03": {"program": 40, "notes": [(0.0, 1.0, 70)], "rendered": False},
    })
    write_track(root / "train", "Track00002", {
        "S00": {"program": 26, "notes": [(3.2, 3.9, 52)]},
    }, duration_s=4.0)
    return root


def write_mini_corpus(root: Path) -> Path:
    """train (2 tracks), validation and test (1 each): piano and bass, 3 s each."""
    for split, name in (("train", "Track00001"), ("train", "Track00002"), ("validation", "Track00003"), ("test", "Track00004")):
        write_track(root / split, name, {
            "S00": {"program": 0, "notes": [(0.2, 0.8, 60), (1.0, 1.5, 64), (1.5, 2.5, 67)]},
            "S01": {"program": 33, "notes": [(0.1, 1.9, 40)]},
        }, duration_s=3.0)
    return root


@pytest.fixture
def mini_corpus(tmp_path: Path) -> Path:
    return write_mini_corpus(tmp_path / "mini")


@pytest.fixture(scope="session")
def shared_mini_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The mini corpus, written once for the tests that only read it."""
    return write_mini_corpus(tmp_path_factory.mktemp("corpus") / "mini")


# -- one clip with known notes ------------------------------------------------------------------

CLIP_NOTES = [(0.2, 0.6, 60), (0.5, 1.0, 67), (1.0, 1.4, 64), (1.2, 2.0, 48), (1.6, 1.8, 72), (2.0, 2.6, 62)]
"""A 2.8 s piano clip: six sine notes, two of them overlapping others."""


def one_clip(notes: Sequence[tuple[float, float, int]] = CLIP_NOTES, *, duration_s: float = 2.8, instrument: int = 0) -> Example:
    """One training example: the sines of ``notes`` played by class ``instrument``, nothing else."""
    present = np.zeros(NUM_CLASSES, np.float32)
    present[instrument] = 1.0
    return Example("clip", 0.0, sine_notes(notes, duration_s), {}, {instrument: note_array(notes)}, present)


def one_clip_batch(**kwargs: Any) -> ExampleBatch:
    return collate_examples([one_clip(**kwargs)])


def fit_on_one_clip(
    task: pl.LightningModule, clip: Example, *, max_steps: int, val_every: int | None = None,
    callbacks: Sequence[pl.Callback] = (),
) -> pl.Trainer:
    """``trainer.fit`` of a task on one clip (batches of one), validated on the same clip every
    ``val_every`` steps (never when None); no logger, checkpoints or progress bars."""
    from torch.utils.data import DataLoader

    epoch = val_every or max_steps
    trainer = pl.Trainer(
        accelerator="cpu", devices=1, max_steps=max_steps, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
        limit_val_batches=1 if val_every else 0, callbacks=list(callbacks),
    )
    loader = DataLoader([clip] * epoch, batch_size=1, collate_fn=collate_examples)
    trainer.fit(task, train_dataloaders=loader,
                val_dataloaders=DataLoader([clip], batch_size=1, collate_fn=collate_examples) if val_every else None)
    return trainer


class LossHistory(pl.Callback):
    """The training loss of every step."""

    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_train_batch_end(self, trainer: pl.Trainer, module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.losses.append(float(outputs["loss"]))


# -- models -----------------------------------------------------------------------------------------

def model_config(name: str, **overrides: Any) -> dict[str, Any]:
    """``conf/model/<name>.yaml`` as a plain dict (``_target_`` included), with overrides."""
    return OmegaConf.to_container(OmegaConf.merge(OmegaConf.load(MODEL_CONF / f"{name}.yaml"), overrides))  # type: ignore[return-value]


def tiny_config_name(class_name: str) -> str | None:
    """The ``conf/model/*_tiny.yaml`` (its name) that builds a model class, if there is one."""
    for path in sorted(MODEL_CONF.glob("*_tiny.yaml")):
        if model_config(path.stem)["_target_"].rsplit(".", 1)[-1] == class_name:
            return path.stem
    return None


def tiny_config(class_name: str) -> dict[str, Any]:
    """The smallest configuration of a registered model class: its ``conf/model/*_tiny.yaml``, else
    :data:`SMALLEST`."""
    name = tiny_config_name(class_name)
    if name is not None:
        return model_config(name)
    if class_name in SMALLEST:
        name, sizes = SMALLEST[class_name]
        return model_config(name, **sizes)
    raise LookupError(f"no conf/model/*_tiny.yaml builds {class_name}: add one, the tests build every registered model from it")


def tiny_model(class_name: str = "PitchwiseTranscriber", *, seed: int = 0, **overrides: Any) -> JointistModel:
    """A freshly initialised tiny model (seeded), in training mode."""
    torch.manual_seed(seed)
    return instantiate({**tiny_config(class_name), **overrides}, _convert_="object")


def perturb(model: torch.nn.Module, scale: float = 0.05, *, seed: int = 1) -> torch.nn.Module:
    """Add noise to every weight: a new FiLM layer is the identity, so the condition changes nothing
    until the weights move."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn(p.shape, generator=generator))
    return model


@pytest.fixture(scope="session")
def tiny_model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny pitch-wise transcriber whose untrained outputs are lifted so that notes come out, with
    decode thresholds of 0.5 on its card."""
    model = tiny_model("PitchwiseTranscriber")
    with torch.no_grad():  # an untrained model outputs ~sigmoid(-4); lift it so notes come out
        model.onset_out.bias.fill_(2.0)
        model.refine[-1].bias.fill_(2.0)
    card = model.card(decode={"onset_threshold": 0.5, "frame_threshold": 0.5})
    return save_model(model, tmp_path_factory.mktemp("model") / "tiny.pt", card=card)


def confident_recognizer(present: Sequence[int] = (0, 10)) -> JointistModel:
    """A tiny recognizer sure that the classes ``present`` play (default piano and bass) and no other."""
    model = tiny_model("InstrumentRecognizer")
    with torch.no_grad():
        model.head.bias.fill_(-8.0)
        model.head.bias[list(present)] = 8.0
    return model.eval()


@pytest.fixture(scope="session")
def tiny_recognizer_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = confident_recognizer()
    card = model.card(thresholds=[0.5] * NUM_CLASSES, aggregate="max")
    return save_model(model, tmp_path_factory.mktemp("rec") / "rec.pt", card=card)


@pytest.fixture
def song(tmp_path: Path) -> Path:
    """25 s of audio (three 10 s windows) with two sine notes."""
    import soundfile as sf

    path = tmp_path / "song.wav"
    sf.write(path, sine_notes([(0.5, 1.0, 60), (1.5, 2.0, 64)], 25.0), SAMPLE_RATE)
    return path


# -- configurations and commands --------------------------------------------------------------

def compose_config(config_name: str, *overrides: str) -> DictConfig:
    """A command's configuration, composed as the command composes it."""
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose(config_name, overrides=list(overrides))


def compose_train(root: Path, out: Path, *overrides: str) -> DictConfig:
    """``jointist-train`` on the tiny transcriber, 1 s windows, batches of 2, no worker processes."""
    return compose_config("train", *[
        f"data.root={root}", "model=transcriber_tiny", "data.segment_s=1.0", "data.batch_size=2",
        "data.num_workers=0", "data.train_examples_per_epoch=4", f"paths.output_dir={out}", *overrides,
    ])


def run_command(main: Callable[[], None], *args: str) -> int:
    """Run a Hydra console entry point (``jointist.cli.<command>.main``) in this process with ``args``
    on its command line; its exit status (0 when it returns)."""
    root = logging.getLogger()
    saved_handlers, saved_level, saved_argv = root.handlers[:], root.level, sys.argv
    sys.argv = [main.__module__, *args]
    try:
        main()
        return 0
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 1
    finally:  # Hydra points the root logger at this test's captured stdout: give it back
        sys.argv = saved_argv
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


@pytest.fixture(scope="session")
def trained_run(shared_mini_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``jointist-train`` of the tiny transcriber for 2 steps (validation and checkpoint at step 2):
    what ``train`` returned, plus ``out`` (its output folder). Read it, do not write into it."""
    from jointist.cli.train import train

    out = tmp_path_factory.mktemp("trained") / "run"
    result = train(compose_train(shared_mini_corpus, out, "trainer.max_steps=2", "trainer.val_check_interval=2"))
    return {**result, "out": out}
