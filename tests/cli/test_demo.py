"""``jointist-demo``: renders a song, transcribes it, writes the outputs and prints its scores."""

from __future__ import annotations

import json

from jointist.cli import demo
from tests.conftest import run_command


def test_demo_renders_transcribes_and_scores(tiny_model_file, tmp_path, capsys):
    out = tmp_path / "demo"
    assert run_command(demo.main, f"out={out}", f"ckpt={tiny_model_file}", "duration_s=6", "progress=false") == 0
    printed = capsys.readouterr().out
    assert "instrument-wise" in printed and "multi-instrument" in printed
    assert (out / "song" / "demo" / "Track00001" / "mix.flac").is_file()
    doc = json.loads((out / "demo.json").read_text())
    assert doc["source"].endswith("mix.flac") and doc["instruments"]  # the song's own instruments (instruments=gt)
    assert {f"{i['name'].lower().replace(' ', '_')}.png" for i in doc["instruments"]} <= {p.name for p in (out / "pianoroll").iterdir()}
