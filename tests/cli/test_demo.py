"""``jointist-demo``: renders a song, transcribes and separates it with the shipped models, writes the
outputs and prints its scores."""

from __future__ import annotations

import json
import re

from jointist.cli import demo
from tests.conftest import run_command


def test_demo_renders_transcribes_and_scores(tmp_path, capsys):
    out = tmp_path / "demo"
    assert run_command(demo.main, f"out={out}", "duration_s=6", "progress=false") == 0
    printed = capsys.readouterr().out
    assert "instrument-wise" in printed and "multi-instrument" in printed
    flat = float(re.search(r"\| flat \(instrument-agnostic\) \| ([0-9.]+) \|", printed).group(1))
    assert flat > 0.3  # measured: 0.496 (seed 2026, 6 s, nine instruments, a SoundFont unheard in training)
    assert (out / "song" / "demo" / "Track00001" / "mix.flac").is_file()
    doc = json.loads((out / "demo.json").read_text())
    assert doc["source"].endswith("mix.flac") and len(doc["instruments"]) == 9  # the song's own instruments (gt)
    rolls = {p.name for p in (out / "pianoroll").iterdir()}
    assert {f"{i['name'].lower().replace(' ', '_')}.png" for i in doc["instruments"]} == rolls
    stems = {p.name for p in (out / "stems").iterdir()}  # separated by default: one stem per instrument
    assert stems == {name.replace(".png", ".wav") for name in rolls}
    sdri = float(re.search(r"\| source-wise \| [-0-9.]+ \| ([-0-9.]+) \|", printed).group(1))
    assert sdri > 6.0  # improvement over the mixture, mean of the nine stems; measured: 13.6 dB (SDR 1.1 dB)
    recognition = re.search(r"instruments: (\d+) right, (\d+) extra, (\d+) missed", printed)
    right, extra, missed = map(int, recognition.groups())
    assert right + missed == 9 and right >= 3  # the shipped recognizer hears some of the song's instruments


def test_demo_without_separation_writes_no_stems(tmp_path, capsys):
    out = tmp_path / "demo"
    assert run_command(demo.main, f"out={out}", "duration_s=4", "progress=false", "separate=false") == 0
    assert "SDR" not in capsys.readouterr().out and not (out / "stems").exists()
