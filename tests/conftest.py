"""Shared fixtures: tiny Slakh2100-format folders written by hand (no FluidSynth needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import yaml
from hydra import compose, initialize_config_dir

from jointist.audio.io import write_audio
from jointist.cli import CONF_DIR
from jointist.constants import SAMPLE_RATE


def sine_notes(notes: list[tuple[float, float, int]], duration_s: float) -> np.ndarray:
    """A stem whose audio is a sine per (onset_s, offset_s, pitch) note, silent elsewhere."""
    audio = np.zeros(int(duration_s * SAMPLE_RATE), np.float32)
    for onset, offset, pitch in notes:
        a, b = int(onset * SAMPLE_RATE), int(offset * SAMPLE_RATE)
        t = np.arange(b - a) / SAMPLE_RATE
        audio[a:b] += 0.2 * np.sin(2 * np.pi * 440 * 2 ** ((pitch - 69) / 12) * t)
    return audio


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


@pytest.fixture
def mini_corpus(tmp_path: Path) -> Path:
    root = tmp_path / "mini"
    for split, name in (("train", "Track00001"), ("train", "Track00002"), ("validation", "Track00003"), ("test", "Track00004")):
        write_track(root / split, name, {
            "S00": {"program": 0, "notes": [(0.2, 0.8, 60), (1.0, 1.5, 64), (1.5, 2.5, 67)]},
            "S01": {"program": 33, "notes": [(0.1, 1.9, 40)]},
        }, duration_s=3.0)
    return root


def compose_train(root: Path, out: Path, *overrides: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("train", overrides=[
            f"data.root={root}", "model=transcriber_tiny", "data.segment_s=1.0", "data.batch_size=2",
            "data.num_workers=0", "data.train_examples_per_epoch=4", f"paths.output_dir={out}", *overrides,
        ])
