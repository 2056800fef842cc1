"""The instrument recognizer: model, metrics, thresholds, aggregation, training through the task."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, f1_score

from jointist.metrics import average_precision, recognition_scores
from jointist.models.serialize import load_model, save_model
from jointist.pipeline import Recognizer, aggregate_windows
from jointist.tasks.recognition import RecognitionTask, tune_thresholds
from tests.conftest import LossHistory, fit_on_one_clip, one_clip, tiny_model


def test_the_classifier_reads_the_cls_token():
    model = tiny_model("InstrumentRecognizer").eval()
    audio = torch.randn(1, 16_000)
    with torch.no_grad():
        tokens = model.embed(audio)
        base = model(audio)
        assert base.shape == (1, 39)
        assert torch.allclose(base, model.head(model.encode(tokens)))  # forward = head(CLS output)
        assert not torch.allclose(base, model.head(model.encode(tokens, cls=torch.randn_like(model.cls))))
        model.cls.add_(torch.randn_like(model.cls))  # the learned CLS token itself feeds the logits
        assert not torch.allclose(base, model(audio))


def test_thresholds_and_aggregation_travel_on_the_card_to_the_recognizer(tmp_path):
    thresholds = np.round(np.linspace(0.1, 0.9, 39), 3).tolist()
    model = tiny_model("InstrumentRecognizer")
    path = save_model(model, tmp_path / "rec.pt", card=model.card(thresholds=thresholds, aggregate="mean"))
    _, card = load_model(path)
    assert card.thresholds == thresholds and card.aggregate == "mean"
    recognizer = Recognizer(path)
    assert np.allclose(recognizer.thresholds, thresholds) and recognizer.aggregate == "mean"
    assert np.allclose(Recognizer(path, thresholds=0.3).thresholds, 0.3)
    plain = save_model(model, tmp_path / "plain.pt")  # a card without them: 0.5 and max
    assert np.allclose(Recognizer(plain).thresholds, 0.5) and Recognizer(plain).aggregate == "max"


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
    labels = np.array([[1, 0], [1, 0], [0, 0], [0, 0]])
    probs = np.array([[0.3, 0.9], [0.35, 0.1], [0.2, 0.1], [0.1, 0.1]])
    tuned = tune_thresholds(labels, probs)
    assert tuned[0] == pytest.approx(0.25)  # the first grid value that keeps both positives and no negative
    assert tuned[1] == 0.5  # no positives: the default


def test_training_through_the_task_recognizes_the_instrument_of_the_clip(tmp_path):
    """``trainer.fit`` of the task on a piano clip: the loss falls, validation tunes the thresholds
    stored on the card, and the exported recognizer finds the piano and nothing else."""
    torch.manual_seed(0)
    clip = one_clip()
    task = RecognitionTask({"recognizer": tiny_model("InstrumentRecognizer")}, optimizer=partial(torch.optim.Adam, lr=1e-2))
    history = LossHistory()
    trainer = fit_on_one_clip(task, clip, max_steps=30, val_every=10, callbacks=[history])
    assert history.losses[-1] < 0.1 * history.losses[0], history.losses
    assert trainer.callback_metrics["val/map_macro"] == 1.0
    card = task.model_card("recognizer")
    assert card.thresholds[0] != 0.5 and card.thresholds[1:] == [0.5] * 38  # tuned where validation had positives
    assert card.trained_steps == 30 and card.aggregate == "max"
    recognizer = Recognizer(save_model(task.recognizer, tmp_path / "rec.pt", card=card))
    assert list(recognizer.recognize(clip.mix)) == [0]


def test_non_finite_validation_probabilities_stop_with_a_clear_error():
    """fp16 autocast can overflow to NaN: validation says so instead of failing inside sklearn."""
    task = RecognitionTask({"recognizer": tiny_model("InstrumentRecognizer")}, optimizer=torch.optim.Adam)
    task.on_validation_epoch_start()
    probs = np.full((4, 39), 0.5, dtype=np.float32)
    probs[2, 5] = np.nan
    task.validation.update(torch.logit(torch.from_numpy(probs)), torch.from_numpy(np.eye(4, 39)))
    with pytest.raises(FloatingPointError, match="1 of 4 validation windows.*bf16-mixed"):
        task.on_validation_epoch_end()
