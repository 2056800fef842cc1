"""Song-level recognition: aggregation, count bounds, calibration on validation songs, the card."""

from __future__ import annotations

import importlib.util
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from jointist.evaluation import RecognizedSongs, recognition_reports
from jointist.instruments import NUM_CLASSES
from jointist.models.base import ModelCard
from jointist.models.serialize import load_model, model_roles, save_model, save_models
from jointist.pipeline import Recognizer, aggregate_windows
from jointist.recognition_calibration import (
    THRESHOLD_GRID,
    SongDecision,
    _logit,
    _sigmoid,
    calibrate,
    fit_thresholds,
    set_scores,
)
from tests.conftest import confident_recognizer, tiny_model, write_track

CLASSES = 8


def test_top_k_aggregation_is_the_mean_of_the_k_most_probable_windows():
    probs = np.array([[0.1, 0.9, 0.2], [0.7, 0.1, 0.2], [0.4, 0.2, 0.8]])
    assert np.allclose(aggregate_windows(probs, "top2"), [0.55, 0.55, 0.5])
    assert np.allclose(aggregate_windows(probs, "top1"), aggregate_windows(probs, "max"))
    assert np.allclose(aggregate_windows(probs, "top9"), aggregate_windows(probs, "mean"))  # fewer windows than k
    for bad in ("top0", "top", "median"):
        with pytest.raises(ValueError, match="top<k>"):
            aggregate_windows(probs, bad)


def test_the_cap_keeps_the_most_probable_classes_above_threshold():
    song = np.array([0.9, 0.6, 0.8, 0.7, 0.1, 0.95])
    rule = SongDecision(thresholds=(0.5, 0.5, 0.5, 0.5, 0.5, 0.99), max_instruments=2)
    assert np.flatnonzero(rule.select(song)).tolist() == [0, 2]  # class 5 is the most probable but below its threshold
    assert list(rule.decide(song[None])) == [0, 2]  # one window: its probabilities, most probable first
    assert np.flatnonzero(SongDecision(thresholds=rule.thresholds).select(song)).tolist() == [0, 1, 2, 3]


def test_a_song_with_nothing_above_threshold_gets_its_most_probable_class_with_min_one():
    songs = np.array([[0.2, 0.4, 0.3], [0.9, 0.1, 0.8]])
    assert not SongDecision.uniform(0.5, 3).select(songs)[0].any()
    picked = SongDecision.uniform(0.5, 3, min_instruments=1).select(songs)
    assert picked.tolist() == [[False, True, False], [True, False, True]]  # the second song has two already
    assert SongDecision.uniform(0.5, 3, min_instruments=2, max_instruments=2).select(songs).sum(1).tolist() == [2, 2]
    with pytest.raises(ValueError, match="max_instruments"):
        SongDecision.uniform(0.5, 3, min_instruments=2, max_instruments=1)


def test_set_scores_on_a_hand_made_case():
    labels = np.array([[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]])
    named = np.array([[1, 0, 1, 1], [1, 0, 0, 0], [0, 0, 0, 0]], bool)
    s = set_scores(labels, named)
    assert (s.precision, s.recall) == pytest.approx((2 / 4, 2 / 3))
    assert s.set_f1 == pytest.approx((2 * 1 / 5 + 1.0 + 1.0) / 3)  # an empty truth named empty scores 1
    assert (s.set_precision, s.set_recall) == pytest.approx(((1 / 3 + 1 + 1) / 3, (1 / 2 + 1 + 1) / 3))
    assert (s.named, s.true) == pytest.approx((4 / 3, 1.0))


def spiky_songs(n: int, *, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Songs of 4 windows and 2-3 of 8 classes: present classes score 0.7-0.95 in every window,
    absent ones 0.05-0.2, except that every song has one window where two absent classes spike to 0.97.
    Max over windows names the spikes; the mean of the top two windows does not."""
    rng = np.random.default_rng(seed)
    probs, labels = [], np.zeros((n, CLASSES))
    for i in range(n):
        present = rng.choice(CLASSES, size=rng.integers(2, 4), replace=False)
        labels[i, present] = 1
        p = rng.uniform(0.05, 0.2, size=(4, CLASSES))
        p[:, present] = rng.uniform(0.7, 0.95, size=(4, len(present)))
        absent = np.setdiff1d(np.arange(CLASSES), present)
        p[rng.integers(4), rng.choice(absent, size=2, replace=False)] = 0.97
        probs.append(p)
    return probs, labels


def test_calibration_removes_the_false_positives_of_max_over_windows():
    val_probs, val_labels = spiky_songs(60, seed=0)
    test_probs, test_labels = spiky_songs(30, seed=1)
    before = SongDecision.uniform(0.3, CLASSES)  # max and a low threshold: what the window-tuned card did
    before_scores = set_scores(test_labels, np.stack([before.select(before.song_probabilities(p)) for p in test_probs]))
    assert before_scores.recall == 1.0 and before_scores.named == pytest.approx(test_labels.sum(1).mean() + 2)

    calibration = calibrate(val_probs, val_labels)
    rule = calibration.decision
    assert rule.aggregate == "top2"  # the first aggregation (simplest first) that separates them
    assert calibration.validation.set_f1 == 1.0 and calibration.cross_validated_set_f1 == 1.0
    for probs, labels in zip(test_probs, test_labels):
        assert sorted(rule.decide(probs)) == np.flatnonzero(labels).tolist()  # exactly the true set
    assert calibration.candidates[("max", 0.0, 0, None)] < 0.9


def test_a_cap_on_the_number_of_instruments_is_chosen_when_songs_differ_in_level():
    """Every song has exactly two instruments, scoring 0.3 above the song's own level, which varies
    more than that: no threshold separates them, the cap of two does."""
    rng = np.random.default_rng(2)
    probs, labels = [], np.zeros((40, CLASSES))
    for i in range(40):
        present = rng.choice(CLASSES, size=2, replace=False)
        labels[i, present] = 1
        level = rng.uniform(0.05, 0.6)
        p = np.full((3, CLASSES), level) + rng.uniform(0, 0.05, size=(3, CLASSES))
        p[:, present] += 0.3
        probs.append(p)
    calibration = calibrate(probs, labels, max_instruments=(None, 2))
    assert calibration.decision.max_instruments == 2 and calibration.validation.set_f1 == 1.0
    assert calibration.candidates[("max", 0.0, 0, None)] < calibration.cross_validated_set_f1


def test_min_one_is_chosen_when_quiet_solo_instruments_fall_below_threshold():
    """One instrument per song, sometimes quiet (0.15-0.5); a third of the songs have a loud instrument
    and a stray class at 0.6. Thresholds above 0.6 miss the quiet ones, which min 1 gives back."""
    rng = np.random.default_rng(3)
    probs, labels = [], np.zeros((60, CLASSES))
    for i in range(60):
        c = rng.integers(CLASSES)
        labels[i, c] = 1
        p = rng.uniform(0.0, 0.02, size=(2, CLASSES))
        if i % 3 == 0:
            p[:, c], p[:, (c + 1) % CLASSES] = 0.95, 0.6
        else:
            p[:, c] = rng.uniform(0.15, 0.5)
        probs.append(p)
    calibration = calibrate(probs, labels, max_instruments=(None,))
    assert calibration.decision.min_instruments == 1 and calibration.validation.set_f1 == 1.0
    assert calibration.candidates[("max", 0.0, 0, None)] < 1.0


def test_a_class_with_one_positive_song_is_shrunk_toward_the_global_threshold():
    rng = np.random.default_rng(4)
    labels = rng.random((50, CLASSES)) < 0.4
    labels[:, 5], labels[:, 6] = False, False
    labels[0, 5] = True  # one positive song
    probs = np.where(labels, rng.uniform(0.5, 0.6, labels.shape), rng.uniform(0.0, 0.1, labels.shape))
    probs[0, 5], probs[1:, 5] = 0.99, rng.uniform(0.0, 0.1, 49)
    probs[1, 5] = 0.9  # one song without it scores 0.9: alone, its best threshold lies between 0.9 and 0.99
    own, global_t = fit_thresholds(labels, probs, shrinkage=0.0)
    shrunk, same_global = fit_thresholds(labels, probs, shrinkage=8.0)
    assert same_global == global_t and 0.1 < global_t < 0.5
    assert 0.9 < own[5] < 0.99
    assert shrunk[5] == pytest.approx(_sigmoid((_logit(own[5]) + 8 * _logit(global_t)) / 9), abs=1e-4)
    assert global_t < shrunk[5] < own[5] and shrunk[5] - global_t < (own[5] - global_t) / 2
    assert shrunk[6] == own[6] == global_t  # no positive: the global threshold
    assert set(own[own != global_t]) <= set(THRESHOLD_GRID)  # unshrunk thresholds are grid values


def test_the_decision_travels_on_the_card_through_a_model_file(tmp_path):
    model = tiny_model("InstrumentRecognizer")
    rule = SongDecision(thresholds=tuple(np.linspace(0.1, 0.9, NUM_CLASSES).round(4)), aggregate="top2",
                        min_instruments=1, max_instruments=4)
    path = save_models({"recognizer": (model, model.card(**rule.card_fields()))}, tmp_path / "m.pt")
    _, card = load_model(path)
    assert (card.aggregate, card.min_instruments, card.max_instruments) == ("top2", 1, 4)
    recognizer = Recognizer(path)
    assert recognizer.decision == rule
    probs = np.full((3, NUM_CLASSES), 0.95)
    assert list(recognizer.decide(probs)) == [0, 1, 2, 3]  # all above threshold: the cap keeps 4 (ties: lowest index)
    assert list(recognizer.decide(np.zeros((3, NUM_CLASSES)))) == [0]  # nothing above: min 1
    overridden = Recognizer(path, thresholds=0.3, aggregate="mean")  # overrides keep the card's count bounds
    assert overridden.decision == SongDecision.uniform(0.3, NUM_CLASSES, aggregate="mean", min_instruments=1, max_instruments=4)


def test_an_old_card_decides_exactly_as_before(tmp_path):
    model = confident_recognizer()
    thresholds = np.round(np.linspace(0.2, 0.8, NUM_CLASSES), 3).tolist()
    old = {k: v for k, v in model.card(thresholds=thresholds, aggregate="max").to_dict().items()
           if k not in ("min_instruments", "max_instruments")}  # a card written before the fields existed
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        card = ModelCard.from_dict(old)
    assert (card.min_instruments, card.max_instruments) == (0, None)
    recognizer = Recognizer(save_model(model, tmp_path / "old.pt", card=card))
    rng = np.random.default_rng(5)
    for _ in range(20):
        probs = rng.random((rng.integers(1, 6), NUM_CLASSES)) ** 3
        song = probs.max(axis=0)  # the old rule: max over windows, every class at its threshold
        expected = sorted(((int(c), float(song[c])) for c in np.flatnonzero(song >= thresholds)), key=lambda kv: -kv[1])
        assert list(recognizer.decide(probs).items()) == expected
    assert recognizer.decide(np.zeros((2, NUM_CLASSES))) == {}  # no minimum: nothing named


def test_the_song_report_names_what_the_decision_names():
    labels = np.zeros((2, NUM_CLASSES))
    labels[0, [0, 1]], labels[1, 2] = 1, 1
    window_probs = [np.full((2, NUM_CLASSES), 0.1), np.full((3, NUM_CLASSES), 0.1)]
    window_probs[0][:, [0, 1, 3]] = 0.9
    window_probs[1][0, 4] = 0.9  # song 2: nothing above 0.5 but one spurious window
    songs = RecognizedSongs(["a", "b"], window_probs, [np.zeros_like(p) for p in window_probs], labels)
    plain = recognition_reports(songs, SongDecision.uniform(0.5, NUM_CLASSES))["songs"]
    assert (plain.precision, plain.recall, plain.set_f1) == pytest.approx((2 / 4, 2 / 3, (0.8 + 0.0) / 2))
    capped = recognition_reports(songs, SongDecision.uniform(0.5, NUM_CLASSES, max_instruments=2))["songs"]
    assert (capped.precision, capped.recall) == pytest.approx((2 / 3, 2 / 3))  # class 3 is dropped (ties: lowest index)
    assert capped.set_f1 == pytest.approx((1.0 + 0.0) / 2)


def test_the_calibration_job_writes_a_calibrated_model_file(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("calibrate_recognizer", Path(__file__).parents[1] / "jobs" / "calibrate_recognizer.py")
    job = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(job)  # type: ignore[union-attr]
    root = tmp_path / "corpus"
    for split in ("validation", "test"):
        for i in range(3):
            write_track(root / split, f"Track0000{i}", {"S00": {"program": 0, "notes": [(0.5, 1.0, 60)]}}, duration_s=2.0)
    model = confident_recognizer([0, 10])  # always piano, and bass a little less surely: a false positive everywhere
    with torch.no_grad():
        model.head.bias[10] = 2.0
    source = save_model(model, tmp_path / "m.pt", card=model.card(thresholds=[0.5] * NUM_CLASSES, aggregate="max"))
    out = tmp_path / "calibrated" / "m.pt"
    assert job.main([str(source), str(root), str(out), "--folds", "3", "--report", str(tmp_path / "r.json")]) == 0
    printed = capsys.readouterr().out
    assert "| test (3) | before | 0.667 |" in printed and "| test (3) | after | 1.000 |" in printed
    assert f"wrote {out}" in printed
    card = model_roles(out)["recognizer"]
    assert "song decision calibrated on 3 validation songs of corpus" in card.notes
    assert card.thresholds[10] > 0.9 and Recognizer(out).decision.thresholds == tuple(card.thresholds)
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["scores"]["test"]["after"]["set_f1"] == 1.0
    assert model_roles(source)["recognizer"].thresholds == [0.5] * NUM_CLASSES  # the input is untouched
