"""The instrument recognizer: model, metrics, thresholds, aggregation, training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, f1_score

from jointist.metrics import average_precision, recognition_scores
from jointist.models.recognizer import InstrumentRecognizer
from jointist.models.serialize import load_model, save_model
from jointist.pipeline import Recognizer, aggregate_windows
from jointist.tasks.recognition import tune_thresholds
from tests.conftest import compose_train

TINY = dict(conv_channels=(4, 8), d_model=16, n_layers=1, n_heads=2, ff_dim=32, dropout=0.0)


def tiny() -> InstrumentRecognizer:
    torch.manual_seed(0)
    return InstrumentRecognizer(**TINY).eval()


def test_output_shape():
    assert tiny()(torch.randn(3, 16_000)).shape == (3, 39)


def test_the_classifier_reads_the_cls_token():
    model = tiny()
    audio = torch.randn(1, 16_000)
    with torch.no_grad():
        tokens = model.embed(audio)
        base = model(audio)
        assert torch.allclose(base, model.head(model.encode(tokens)))  # forward = head(CLS output)
        assert not torch.allclose(base, model.head(model.encode(tokens, cls=torch.randn(1, 1, 16))))
        model.cls.add_(torch.randn_like(model.cls))  # the learned CLS token itself feeds the logits
        assert not torch.allclose(base, model(audio))


def test_thresholds_round_trip_through_the_checkpoint(tmp_path):
    thresholds = np.round(np.linspace(0.1, 0.9, 39), 3).tolist()
    path = save_model(tiny(), tmp_path / "rec.pt", extra={"thresholds": thresholds, "aggregate": "mean"})
    model, extra = load_model(path)
    assert extra["thresholds"] == thresholds and extra["aggregate"] == "mean"
    recognizer = Recognizer(path)
    assert np.allclose(recognizer.thresholds, thresholds) and recognizer.aggregate == "mean"
    assert np.allclose(Recognizer(path, thresholds=0.3).thresholds, 0.3)


def test_aggregation_over_windows():
    probs = np.array([[0.1, 0.9, 0.2], [0.7, 0.1, 0.2], [0.4, 0.2, 0.2]])
    assert np.allclose(aggregate_windows(probs, "max"), [0.7, 0.9, 0.2])
    assert np.allclose(aggregate_windows(probs, "mean"), [0.4, 0.4, 0.2])
    with pytest.raises(ValueError, match="max' or 'mean"):
        aggregate_windows(probs, "median")


def test_map_and_f1_match_sklearn_on_a_hand_made_case():
    labels = np.zeros((6, 39))
    labels[[0, 1, 2], 0] = 1  # piano in three clips
    labels[[3], 10] = 1  # bass in one
    labels[[0, 4, 5], 38] = 1  # drums in three
    probs = np.full((6, 39), 0.1)
    probs[:, 0] = [0.9, 0.8, 0.3, 0.6, 0.2, 0.1]
    probs[:, 10] = [0.2, 0.1, 0.3, 0.4, 0.7, 0.1]
    probs[:, 38] = [0.9, 0.9, 0.2, 0.1, 0.8, 0.6]
    report = recognition_scores(labels, probs, 0.5)
    cols = [0, 10, 38]
    assert report.ap["Piano"] == pytest.approx(average_precision_score(labels[:, 0], probs[:, 0]))
    assert report.ap["Bass"] == pytest.approx(1 / 2)  # the one bass clip ranks second
    assert report.map_macro == pytest.approx(average_precision_score(labels[:, cols], probs[:, cols], average="macro"))
    assert report.map_weighted == pytest.approx(average_precision_score(labels[:, cols], probs[:, cols], average="weighted"))
    assert report.f1_macro == pytest.approx(f1_score(labels[:, cols], probs[:, cols] >= 0.5, average="macro"))
    assert report.f1_weighted == pytest.approx(f1_score(labels[:, cols], probs[:, cols] >= 0.5, average="weighted"))
    assert set(report.support) == {"Piano", "Bass", "Drums"}  # classes without positives are left out
    assert np.isnan(average_precision(np.zeros(3), np.ones(3)))


def test_threshold_tuning_maximises_f1():
    labels = np.array([[1], [1], [0], [0]])
    probs = np.array([[0.3], [0.35], [0.2], [0.1]])
    assert tune_thresholds(labels, probs)[0] == pytest.approx(0.25)


def test_fast_dev_run_of_recognition(mini_corpus, tmp_path):  # noqa: F811
    from jointist.cli.train import train

    cfg = compose_train(mini_corpus, tmp_path / "run", "task=recognition", "model=recognizer_tiny",
                        "callbacks.checkpoint.monitor=val/map_macro", "+trainer.fast_dev_run=true")
    result = train(cfg)
    assert {"train/loss", "val/map_macro", "val/f1_macro"} <= set(result["metrics"])


def test_evaluate_reports_recognition_and_recognized_vs_true_instruments(tmp_path):
    import json
    import subprocess
    import sys

    from tests.conftest import write_track

    root = tmp_path / "corpus"
    for name in ("Track00001", "Track00002"):
        write_track(root / "test", name, {
            "S00": {"program": 0, "notes": [(0.5, 1.0, 60), (1.5, 2.0, 64)]},
            "S01": {"program": 33, "notes": [(0.2, 2.5, 40)]},
        }, duration_s=3.0)
    torch.manual_seed(0)
    rec = InstrumentRecognizer(**TINY)
    with torch.no_grad():
        rec.head.bias.fill_(-8.0)
        rec.head.bias[[0, 10]] = 8.0
    rec_path = save_model(rec, tmp_path / "rec.pt", extra={"thresholds": [0.5] * 39, "aggregate": "max"})
    from jointist.models.transcriber import OnsetsFramesTranscriber

    trans_path = save_model(OnsetsFramesTranscriber(shared_channels=(4,), features=32, rnn_hidden=16, film_layers=1),
                            tmp_path / "t.pt")
    done = subprocess.run(
        [sys.executable, "-m", "jointist.cli.evaluate", f"data_root={root}", "split=test", "instruments=auto",
         f"ckpt={trans_path}", f"recognizer={rec_path}", f"out={tmp_path / 'eval'}", "progress=false"],
        capture_output=True, text=True, check=True,
    )
    assert "recognition (windows)" in done.stdout and "instruments recognized" in done.stdout
    recognition = json.loads((tmp_path / "eval" / "recognition" / "recognition.json").read_text())
    assert recognition["songs"]["map_macro"] == pytest.approx(1.0) and recognition["songs"]["f1_macro"] == pytest.approx(1.0)
    assert (tmp_path / "eval" / "recognition" / "recognition_per_instrument.png").is_file()
    auto = json.loads((tmp_path / "eval" / "auto" / "report.json").read_text())
    truth = json.loads((tmp_path / "eval" / "gt" / "report.json").read_text())
    assert auto["pieces"] == truth["pieces"] == 2 and set(auto["per_instrument"]) == {"Piano", "Bass"}
