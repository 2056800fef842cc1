"""``jointist-evaluate``: reports on a split, decode thresholds tuned and stored, recognition with auto."""

from __future__ import annotations

import json
import re

import pytest

from jointist.cli import evaluate
from jointist.models.serialize import load_model, save_models
from jointist.pipeline import Transcriber
from tests.conftest import confident_recognizer, run_command, tiny_model, write_track


def test_decode_thresholds_are_tuned_on_a_split_and_stored_on_the_card(tiny_model_file, tmp_path, capsys):
    root = tmp_path / "corpus"
    write_track(root / "validation", "Track00001", {"S00": {"program": 0, "notes": [(0.5, 1.0, 60)]}}, duration_s=3.0)
    out = tmp_path / "eval"
    assert run_command(evaluate.main, f"data_root={root}", "split=validation", "tune_decode=true", f"ckpt={tiny_model_file}",
                       f"out={out}", "progress=false") == 0
    assert "balanced note F1" in capsys.readouterr().out
    _, card = load_model(out / "model_tuned.pt")
    assert card.notes.endswith("decode tuned on validation")
    assert card.decode["onset_threshold"] in (0.1, 0.2, 0.3, 0.4, 0.5)
    assert card.decode["shared_onset_ratio"] in (0.0, 0.5, 0.8, 1.0)
    assert Transcriber(out / "model_tuned.pt").decode.onset_threshold == card.decode["onset_threshold"]  # used from then on
    report = json.loads((out / "report.json").read_text())
    assert report["pieces"] == 1 and report["instruments"] == "gt" and report["model_file"] == str(tiny_model_file)


def test_per_instrument_thresholds_are_tuned_on_top_of_the_models_shared_ones(tiny_model_file, tmp_path, capsys):
    root = tmp_path / "corpus"
    write_track(root / "validation", "Track00001", {"S00": {"program": 0, "notes": [(0.5, 1.0, 60)]}}, duration_s=3.0)
    out = tmp_path / "eval"
    assert run_command(evaluate.main, f"data_root={root}", "split=validation", "tune_decode=true", "tune_per_class=true",
                       "tune_shared=false", "tune_min_pieces=1", f"ckpt={tiny_model_file}", f"out={out}",
                       "progress=false") == 0
    printed = capsys.readouterr().out
    assert "Piano (1 songs): onset" in printed  # what was chosen for each instrument, logged
    grid_points = re.findall(r"onset [\d.]+ frame [\d.]+ shared-onset ratio [\d.]+: balanced note F1", printed)
    assert len(grid_points) == 1  # tune_shared=false: the model's shared settings, scored once
    assert "shared settings: balanced note F1" in printed  # the tables compete with no table on the whole objective
    _, card = load_model(out / "model_tuned.pt")
    before = Transcriber(tiny_model_file).decode
    assert (card.decode["onset_threshold"], card.decode["shared_onset_ratio"]) == (before.onset_threshold,
                                                                                   before.shared_onset_ratio)
    assert "class_thresholds" in card.decode  # None when no instrument beats the shared thresholds
    table = dict((name, (on, fr)) for name, on, fr, *_ in card.decode["class_thresholds"] or ())
    assert Transcriber(out / "model_tuned.pt").decode.for_class(0).onset_threshold == table.get(
        "Piano", (card.decode["onset_threshold"],))[0]


def test_a_model_with_an_offset_head_gets_its_offset_threshold_tuned_with_the_frame_threshold(tmp_path, capsys):
    import numpy as np
    import torch

    from jointist.evaluation import FRAME_GRID, OFFSET_GRID
    from jointist.models.serialize import save_model
    from tests.conftest import perturb

    model = perturb(tiny_model("PitchwiseTranscriber", offset=True), scale=0.2)
    with torch.no_grad():  # notes come out, and offsets peak now and then
        model.onset_out.bias.fill_(2.0)
        model.refine[-1].bias.fill_(4.0)
        model.offset_out.bias.fill_(0.5)
    path = save_model(model, tmp_path / "offsets.pt", card=model.card(decode={"onset_threshold": 0.5}))
    root = tmp_path / "corpus"
    write_track(root / "validation", "Track00001", {"S00": {"program": 0, "notes": [(0.5, 1.0, 60), (1.2, 2.5, 64)]}},
                duration_s=3.0)
    out, cache = tmp_path / "eval", tmp_path / "cache"
    assert run_command(evaluate.main, f"data_root={root}", "split=validation", "tune_decode=true", "tune_shared=false",
                       f"ckpt={path}", f"out={out}", f"tune_cache={cache}", "progress=false") == 0
    printed = capsys.readouterr().out
    scores = re.findall(r"frame threshold ([\d.]+), offset threshold (\S+): balanced note F1 ([\d.]+)", printed)
    assert len(scores) == len(FRAME_GRID) * len(OFFSET_GRID)  # every pair, even with tune_shared=false
    _, card = load_model(out / "model_tuned.pt")
    best = max(float(f1) for _, _, f1 in scores)
    chosen = [(float(fr), off) for fr, off, f1 in scores if float(f1) == best][0]
    assert (card.decode["frame_threshold"], str(card.decode["offset_threshold"])) == chosen
    with np.load(cache / "Track00001.npz") as z:  # the posteriorgrams kept for the next run, offsets included
        assert z["offset"].shape == z["onset"].shape == (301, 1, 88)


def test_with_a_verifier_the_thresholds_tuned_are_those_of_the_verified_onsets(tiny_model_file, tmp_path, capsys):
    import torch

    from jointist.models.verifier import NoteVerifier

    models = {"transcriber": load_model(tiny_model_file, role="transcriber")}
    verifier = NoteVerifier(hidden=8)
    with torch.no_grad():
        verifier.mlp[-1].bias.fill_(3.0)  # believes most candidates
    models["verifier"] = (verifier, verifier.card(decode={"onset_threshold": 0.5, "frame_threshold": 0.5}))
    path = save_models(models, tmp_path / "verified.pt")
    root = tmp_path / "corpus"
    write_track(root / "validation", "Track00001", {"S00": {"program": 0, "notes": [(0.5, 1.0, 60)]}}, duration_s=3.0)
    out = tmp_path / "eval"
    assert run_command(evaluate.main, f"data_root={root}", "split=validation", "tune_decode=true", f"ckpt={path}",
                       f"out={out}", "progress=false") == 0
    _, card = load_model(out / "model_tuned.pt", role="verifier")
    _, transcriber_card = load_model(out / "model_tuned.pt", role="transcriber")
    assert card.notes.endswith("decode tuned on validation") and card.decode["onset_threshold"] in (0.1, 0.2, 0.3, 0.4, 0.5)
    assert transcriber_card.decode == models["transcriber"][1].decode  # the thresholds without the verifier stay
    assert Transcriber(out / "model_tuned.pt").decode.onset_threshold == card.decode["onset_threshold"]
    assert Transcriber(out / "model_tuned.pt", verify=False).decode.onset_threshold == 0.5


@pytest.fixture
def piano_and_bass(tmp_path):
    root = tmp_path / "corpus"
    for name in ("Track00001", "Track00002"):
        write_track(root / "test", name, {
            "S00": {"program": 0, "notes": [(0.5, 1.0, 60), (1.5, 2.0, 64)]},
            "S01": {"program": 33, "notes": [(0.2, 2.5, 40)]},
        }, duration_s=3.0)
    return root


def test_auto_reports_recognition_and_recognized_against_true_instruments(piano_and_bass, tmp_path, capsys):
    transcriber, recognizer = tiny_model("OnsetsFramesTranscriber"), confident_recognizer([0, 10])  # piano and bass
    both = save_models({"transcriber": (transcriber, transcriber.card()),
                        "recognizer": (recognizer, recognizer.card(thresholds=[0.5] * 39, aggregate="max"))}, tmp_path / "m.pt")
    out = tmp_path / "eval"
    assert run_command(evaluate.main, f"data_root={piano_and_bass}", "split=test", "instruments=auto", f"ckpt={both}",
                       f"out={out}", "progress=false") == 0  # the file's own recognizer
    printed = capsys.readouterr().out
    assert "recognition (windows)" in printed and "instruments recognized" in printed and "true instruments" in printed
    recognition = json.loads((out / "recognition" / "recognition.json").read_text())
    assert recognition["songs"]["map_macro"] == pytest.approx(1.0) and recognition["songs"]["f1_macro"] == pytest.approx(1.0)
    assert (out / "recognition" / "recognition_per_instrument.png").stat().st_size > 1000
    auto = json.loads((out / "auto" / "report.json").read_text())
    truth = json.loads((out / "gt" / "report.json").read_text())
    assert auto["pieces"] == truth["pieces"] == 2 and set(auto["per_instrument"]) == {"Piano", "Bass"}
    assert auto["flat"] == truth["flat"]  # the recognizer found exactly the true instruments


def test_a_missing_split_is_one_clear_line(tiny_model_file, tmp_path, capsys):
    assert run_command(evaluate.main, f"data_root={tmp_path / 'nowhere'}", f"ckpt={tiny_model_file}",
                       f"out={tmp_path / 'eval'}", "progress=false") == 2
    assert "nowhere" in capsys.readouterr().out


def test_the_balanced_objective_counts_a_note_written_into_two_tracks_against_the_transcription():
    """A piano note also written into the bass track: piece-wise F1 does not see it (bass has no
    reference there), the flat and multi-instrument F1 do, so balanced tuning prefers decodings
    that give each note to one instrument."""
    from jointist.evaluation import tune_score
    from jointist.metrics import evaluate_piece, summarise
    from tests.conftest import note_array

    note = note_array([(0.5, 1.0, 60)])
    report = summarise([evaluate_piece("song", {0: note}, {0: note, 33: note})])
    assert tune_score(report, "piecewise") == pytest.approx(1.0)
    assert tune_score(report, "balanced") == pytest.approx((2 / 3 + 1.0 + 2 / 3) / 3)
    with pytest.raises(ValueError, match="balanced"):
        tune_score(report, "flat")
