"""``jointist-transcribe``: the files it writes, ``instruments=auto``, and clear errors (exit status 2)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from jointist.cli import transcribe
from jointist.instruments import by_name
from jointist.midi import read_midi
from tests.conftest import run_command


def test_the_console_script_writes_midi_json_and_pianorolls(tiny_model_file, song, tmp_path):
    out = tmp_path / "out"
    script = shutil.which("jointist-transcribe")
    assert script, "the console script is installed with the package"
    done = subprocess.run([script, f"audio={song}", "instruments=[piano,e-guitar]", f"out={out}", f"ckpt={tiny_model_file}",
                           "progress=false"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert sorted(read_midi(out / "song.mid")) == [by_name("piano").index, by_name("e-guitar").index]
    doc = json.loads((out / "song.json").read_text())
    assert [i["name"] for i in doc["instruments"]] == ["Piano", "Electric Guitar"] and doc["source"] == str(song)
    assert (out / "song.pianoroll" / "piano.png").stat().st_size > 1000  # named per recording
    assert (out / "song.pianoroll" / "electric_guitar.png").stat().st_size > 1000
    assert "Piano" in done.stdout and "notes" in done.stdout  # one line per instrument


def test_plots_false_writes_no_pianorolls(tiny_model_file, song, tmp_path):
    out = tmp_path / "out"
    assert run_command(transcribe.main, f"audio={song}", "instruments=[drums]", f"out={out}", f"ckpt={tiny_model_file}",
                       "progress=false", "plots=false") == 0
    assert sorted(p.name for p in out.iterdir()) == ["song.json", "song.mid"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["instruments=[piano,kazoo]"], "unknown instrument 'kazoo'"),
        (["instruments=auto", "recognizer=/nonexistent.pt"], "checkpoint not found: /nonexistent.pt"),
        (["audio=/nonexistent.wav"], "audio file not found"),
        (["ckpt=/nonexistent.pt"], "checkpoint not found: /nonexistent.pt"),
    ],
)
def test_errors_are_one_clear_line_and_exit_status_2(tiny_model_file, song, tmp_path, capsys, args, message):
    base = {"audio": str(song), "ckpt": str(tiny_model_file), "instruments": "[piano]", "out": str(tmp_path / "o"),
            "progress": "false"}
    base.update(a.split("=", 1) for a in args)
    assert run_command(transcribe.main, *(f"{k}={v}" for k, v in base.items())) == 2
    captured = capsys.readouterr()
    assert message in captured.out and "Traceback" not in captured.out + captured.err
    assert not (tmp_path / "o").exists()


def test_auto_logs_what_the_recognizer_detected(tiny_model_file, tiny_recognizer_file, song, tmp_path, capsys):
    out = tmp_path / "o"
    assert run_command(transcribe.main, f"audio={song}", "instruments=auto", f"ckpt={tiny_model_file}",
                       f"recognizer={tiny_recognizer_file}", f"out={out}", "plots=false", "progress=false") == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("detected instruments:"))
    assert "Piano (p=1.00)" in line and "Bass (p=1.00)" in line
    assert set(json.loads((out / "song.json").read_text())["detected"]) == {"Piano", "Bass"}
