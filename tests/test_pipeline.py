"""Inference end to end with a tiny model: API, CLI, outputs, long audio, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile as sf
import torch

from jointist.audio.io import AudioError, SilentAudioError
from jointist.evaluation import evaluate_split, write_report
from jointist.instruments import UnknownInstrumentError
from jointist.models.pitchwise import PitchwiseTranscriber
from jointist.models.serialize import CheckpointError, save_model
from jointist.pipeline import Transcriber
from tests.conftest import sine_notes, write_track


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model = PitchwiseTranscriber(harmonics=(0.5, 1, 2), trunk_channels=(4, 8), dilations=(1, 2), head_channels=8,
                                 dropout=0.0)
    with torch.no_grad():  # an untrained model outputs ~sigmoid(-4); lift it so notes come out
        model.onset_out.bias.fill_(2.0)
        model.refine[-1].bias.fill_(2.0)
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    return save_model(model, path, extra={"decode": {"onset_threshold": 0.5, "frame_threshold": 0.5}})


@pytest.fixture(scope="module")
def tiny_recognizer(tmp_path_factory) -> Path:
    from jointist.models.recognizer import InstrumentRecognizer

    torch.manual_seed(0)
    model = InstrumentRecognizer(conv_channels=(4,), d_model=16, n_layers=1, n_heads=2, ff_dim=32, dropout=0.0)
    with torch.no_grad():  # piano and bass surely present, the rest surely absent
        model.head.bias.fill_(-8.0)
        model.head.bias[[0, 10]] = 8.0
    thresholds = [0.5] * 39
    return save_model(model, tmp_path_factory.mktemp("rec") / "rec.pt", extra={"thresholds": thresholds, "aggregate": "max"})


@pytest.fixture
def song(tmp_path) -> Path:
    path = tmp_path / "song.wav"
    sf.write(path, sine_notes([(0.5, 1.0, 60), (1.5, 2.0, 64)], 25.0), 16_000)
    return path


def test_transcribe_api_returns_one_track_per_instrument(tiny_model, song, tmp_path):
    import jointist

    result = jointist.transcribe(song, instruments=["piano", "bass", "drums"], model=tiny_model)
    assert [t.instrument.name for t in result.tracks] == ["Piano", "Bass", "Drums"]
    assert result.duration_s == pytest.approx(25.0)
    for track in result.tracks:
        assert track.frame.shape == (2501, 88) and track.frame.dtype == np.uint8
        assert len(track.notes) > 0 and track.notes.offset_s.max() <= 25.02
    midi = result.write_midi(tmp_path / "out.mid")
    pm = pretty_midi.PrettyMIDI(str(midi))
    assert [(i.program, i.is_drum) for i in pm.instruments] == [(0, False), (32, False), (0, True)]


def test_long_audio_windows_match_a_single_pass(tiny_model):
    transcriber = Transcriber(tiny_model, progress=False, batch_size=2)
    audio = sine_notes([(0.5, 2.0, 60), (12.0, 13.0, 64), (21.0, 23.0, 67)], 30.0)
    onset, frame = transcriber.posteriorgrams(audio, [transcriber_instrument("piano")])
    assert frame.shape == (3001, 1, 88)
    # the stitched output equals the model's output on each window's central frames
    with torch.no_grad():
        window = torch.from_numpy(audio[144_000: 304_000])[None]
        direct = torch.sigmoid(transcriber.model(window, torch.tensor([[0]])).frame)[0, 0].numpy()
    expected = (direct[50:950] * 255 + 0.5).astype(np.uint8)  # window 2 starts at 9 s, keeps 9.5..18.5 s
    assert np.abs(frame[950:1850, 0].astype(int) - expected.astype(int)).max() <= 1


def test_instruments_in_groups_equal_one_pass(tiny_model):
    from jointist.instruments import INSTRUMENTS

    audio = sine_notes([(0.5, 2.0, 60), (3.0, 4.0, 45)], 12.0)
    wanted = [INSTRUMENTS[c] for c in (0, 5, 10, 20, 38)]
    with torch.no_grad():  # make the condition matter: FiLM starts as the identity
        model = Transcriber(tiny_model, progress=False).model
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    grouped = Transcriber(tiny_model, progress=False, instruments_per_pass=2)
    grouped.model = model
    single = Transcriber(tiny_model, progress=False, instruments_per_pass=8)
    single.model = model
    a, b = grouped.posteriorgrams(audio, wanted), single.posteriorgrams(audio, wanted)
    assert a[0].shape == (1201, 5, 88)
    assert np.abs(a[0].astype(int) - b[0].astype(int)).max() <= 1 and np.abs(a[1].astype(int) - b[1].astype(int)).max() <= 1
    assert not np.array_equal(a[1][:, 0], a[1][:, 1])  # the rows really are different instruments


def transcriber_instrument(name: str):
    from jointist.instruments import by_name

    return by_name(name)


def test_cli_writes_midi_json_and_pianorolls(tiny_model, song, tmp_path):
    out = tmp_path / "out"
    subprocess.run(
        [sys.executable, "-m", "jointist.cli.transcribe", f"audio={song}", "instruments=[piano,e-guitar]",
         f"out={out}", f"ckpt={tiny_model}", "progress=false"],
        check=True, capture_output=True, text=True,
    )
    assert (out / "song.mid").is_file()
    doc = json.loads((out / "song.json").read_text())
    assert [i["name"] for i in doc["instruments"]] == ["Piano", "Electric Guitar"]
    assert (out / "pianoroll" / "piano.png").stat().st_size > 1000
    assert (out / "pianoroll" / "electric_guitar.png").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["instruments=[piano,kazoo]"], "unknown instrument 'kazoo'; valid names"),
        (["instruments=auto", "recognizer=/nonexistent.pt"], "checkpoint not found"),
        (["audio=/nonexistent.wav"], "audio file not found"),
        (["ckpt=/nonexistent.pt"], "checkpoint not found"),
    ],
)
def test_cli_errors_are_clear(tiny_model, song, tmp_path, args, message):
    base = {"audio": str(song), "ckpt": str(tiny_model), "instruments": "[piano]", "out": str(tmp_path / "o")}
    base.update(a.split("=", 1) for a in args)
    done = subprocess.run([sys.executable, "-m", "jointist.cli.transcribe", *(f"{k}={v}" for k, v in base.items())],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert message in done.stdout + done.stderr


def test_api_errors(tiny_model, tmp_path):
    transcriber = Transcriber(tiny_model, progress=False)
    with pytest.raises(UnknownInstrumentError, match="valid names"):
        transcriber.transcribe_audio(np.ones(16_000, np.float32), instruments=["theremin"])
    with pytest.raises(SilentAudioError):
        transcriber.transcribe_audio(np.zeros(16_000, np.float32), instruments=["piano"])
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"not an mp3 at all" * 20)
    with pytest.raises(AudioError, match="cannot read"):
        transcriber.transcribe_file(bad, instruments=["piano"])
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(tiny_model.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="corrupt"):
        Transcriber(corrupt)


def test_evaluation_report_on_a_split(tiny_model, tmp_path):
    root = tmp_path / "corpus"
    write_track(root / "test", "Track00001", {
        "S00": {"program": 0, "notes": [(0.5, 1.0, 60), (1.5, 2.0, 64)]},
        "S01": {"program": 0, "is_drum": True, "notes": [(1.0, 1.1, 36)]},
    }, duration_s=3.0)
    transcriber = Transcriber(tiny_model, progress=False)
    report, pieces = evaluate_split(transcriber, root, "test", instruments="gt", progress=False)
    assert report.pieces == 1 and pieces[0].reference == (0, 38)
    assert 0.0 <= report.flat["onset"] <= 1.0
    everything, _ = evaluate_split(transcriber, root, "test", instruments="all", progress=False)
    assert everything.instrumentwise_penalised["onset"] <= everything.instrumentwise["onset"]
    assert sum(row["predicted_absent"] for row in everything.per_instrument.values()) > 0
    paths = write_report(everything, tmp_path / "eval")
    assert json.loads(paths["json"].read_text())["pieces"] == 1
    assert "multi-instrument" in paths["markdown"].read_text() and paths["chart"].stat().st_size > 1000


def test_demo_renders_transcribes_and_scores(tiny_model, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "jointist.cli.demo", f"out={tmp_path / 'demo'}", f"ckpt={tiny_model}", "duration_s=6",
         "progress=false"],
        capture_output=True, text=True, check=True,
    )
    assert "instrument-wise" in done.stdout and "multi-instrument" in done.stdout
    assert (tmp_path / "demo" / "demo.mid").is_file() and (tmp_path / "demo" / "pianoroll").is_dir()
    assert (tmp_path / "demo" / "song" / "demo" / "Track00001" / "mix.flac").is_file()


def test_auto_runs_the_recognizer_then_transcribes_what_it_found(tiny_model, tiny_recognizer, song, tmp_path):
    import jointist

    result = jointist.transcribe(song, instruments="auto", model=tiny_model, recognizer=tiny_recognizer)
    assert [t.instrument.name for t in result.tracks] == ["Piano", "Bass"]
    assert set(result.detected) == {"Piano", "Bass"} and all(p > 0.99 for p in result.detected.values())
    assert json.loads(result.to_json())["detected"].keys() == {"Piano", "Bass"}
    done = subprocess.run(
        [sys.executable, "-m", "jointist.cli.transcribe", f"audio={song}", "instruments=auto", f"ckpt={tiny_model}",
         f"recognizer={tiny_recognizer}", f"out={tmp_path / 'o'}", "plots=false", "progress=false"],
        capture_output=True, text=True, check=True,
    )
    line = next(x for x in (done.stdout + done.stderr).splitlines() if x.startswith("detected instruments:"))
    assert "Piano (p=1.00)" in line and "Bass (p=1.00)" in line
    # a user's list bypasses the recognizer
    named = jointist.transcribe(song, instruments=["drums"], model=tiny_model, recognizer="/nonexistent.pt")
    assert [t.instrument.name for t in named.tracks] == ["Drums"] and named.detected == {}


def test_decode_thresholds_are_tuned_on_a_split_and_stored(tiny_model, tmp_path):
    from jointist.models.serialize import load_model

    root = tmp_path / "corpus"
    write_track(root / "validation", "Track00001", {"S00": {"program": 0, "notes": [(0.5, 1.0, 60)]}}, duration_s=3.0)
    done = subprocess.run(
        [sys.executable, "-m", "jointist.cli.evaluate", f"data_root={root}", "split=validation", "tune_decode=true",
         f"ckpt={tiny_model}", f"out={tmp_path / 'eval'}", "progress=false"],
        capture_output=True, text=True, check=True,
    )
    assert "piece-wise note F1" in done.stdout + done.stderr
    _, extra = load_model(tmp_path / "eval" / "model_tuned.pt")
    assert extra["decode_tuned_on"] == "validation"
    assert extra["decode"]["onset_threshold"] in (0.1, 0.2, 0.3, 0.4, 0.5)
    assert extra["decode"]["shared_onset_ratio"] in (0.0, 0.5, 1.0)
