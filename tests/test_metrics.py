import numpy as np
import pytest

from jointist.metrics import Counts, average_precision, evaluate_piece, match_counts, recognition_scores, summarise
from jointist.notes import NoteArray

N = NoteArray.from_arrays


def test_note_matching_onset_and_offset_tolerances():
    ref = N([1.0, 2.0, 3.0], [1.5, 3.0, 3.2], [60, 62, 64])
    est = N([1.04, 2.06, 3.0, 4.0], [1.5, 3.0, 3.5, 4.5], [60, 62, 64, 65])
    onset = match_counts(ref, est, with_offset=False)
    # 1.04 within 50 ms: match; 2.06 is 60 ms late: no match; 3.0: match; 4.0: extra
    assert (onset.tp, onset.n_ref, onset.n_est) == (2, 3, 4)
    assert onset.precision == 0.5 and onset.recall == pytest.approx(2 / 3) and onset.f1 == pytest.approx(4 / 7)
    offset = match_counts(ref, est, with_offset=True)
    # note 3: offset 3.5 vs 3.2, tolerance max(0.2 * 0.2, 0.05) = 0.05 -> no match
    assert offset.tp == 1
    wrong_pitch = match_counts(N([1.0], [2.0], [60]), N([1.0], [2.0], [61]), with_offset=False)
    assert wrong_pitch.tp == 0


def test_counts_edge_cases():
    assert Counts(0, 0, 0).empty and Counts(0, 0, 0).f1 == 0.0
    assert match_counts(N([1.0], [2.0], [60]), NoteArray.empty(), with_offset=False) == Counts(0, 1, 0)
    assert (Counts(1, 2, 3) + Counts(1, 1, 1)) == Counts(2, 3, 4)


def test_piece_and_instrument_wise_with_an_absent_predicted_instrument():
    piano = N([0.5, 1.0], [0.9, 1.5], [60, 64])
    bass = N([0.5], [2.0], [40])
    piece_a = evaluate_piece(
        "a",
        reference={0: piano, 10: bass},
        estimate={0: piano, 10: N([1.5], [2.0], [40]), 33: N([0.2], [0.4], [70])},  # pad predicted, absent
    )
    piece_b = evaluate_piece("b", reference={0: piano}, estimate={0: N([0.5], [0.9], [60])})
    assert piece_a.reference == (0, 10) and piece_a.predicted == (0, 10, 33)
    report = summarise([piece_a, piece_b])
    # per class onset F1: piece a: piano 1, bass 0, pad 0 (absent); piece b: piano 2/3
    assert report.piecewise["onset"] == pytest.approx(((1 + 0) / 2 + 2 / 3) / 2)
    assert report.piecewise_penalised["onset"] == pytest.approx(((1 + 0 + 0) / 3 + 2 / 3) / 2)
    assert report.instrumentwise["onset"] == pytest.approx(((1 + 2 / 3) / 2 + 0) / 2)
    assert report.instrumentwise_penalised["onset"] == pytest.approx(((1 + 2 / 3) / 2 + 0 + 0) / 3)
    assert report.per_instrument["Synth Pad"]["predicted_absent"] == 1
    assert report.per_instrument["Piano"]["pieces"] == 2
    # flat: piece a merges piano+bass (3 ref) vs piano+bass+pad (4 est): 2 matched -> F1 4/7
    assert report.flat["onset"] == pytest.approx((4 / 7 + 2 / 3) / 2)
    # multi-instrument (pooled, with offsets): TP 2 + 1 = 3, refs 3 + 2 = 5, ests 4 + 1 = 5
    assert report.multi_instrument["offset"] == pytest.approx(3 / 5)
    assert "instrument-wise" in report.to_markdown()


def test_drums_are_scored_on_onsets_and_left_out_of_flat():
    kick = N([0.0, 0.5], [0.1, 0.6], [36, 36])
    piece = evaluate_piece("d", {38: kick}, {38: N([0.01, 0.5], [0.9, 0.7], [36, 36])})
    assert piece.offset[38] == piece.onset[38] == Counts(2, 2, 2)
    assert piece.flat_onset.empty


def test_frame_f1():
    piece = evaluate_piece("f", {0: N([0.0], [1.0], [60])}, {0: N([0.5], [1.5], [60])})
    # ref frames 0..99, est 50..149 -> 50 shared of 100 and 100
    assert piece.frame[0] == Counts(50, 100, 100)


def test_average_precision_with_ties_and_without_positives():
    # thresholds 0.9 (a tie of one positive and one negative): P 1/2, R 1/2; 0.5: P 2/3, R 1
    assert average_precision([1, 0, 1, 0], [0.9, 0.9, 0.5, 0.1]) == pytest.approx(1 / 2 * 1 / 2 + 1 / 2 * 2 / 3)
    assert average_precision([0, 1], [0.2, 0.9]) == 1.0
    assert np.isnan(average_precision(np.zeros(3), np.ones(3)))  # undefined (sklearn would say 0 and warn)
    with pytest.raises(ValueError):
        average_precision([1, 0], [np.nan, 0.5])


def test_macro_map_leaves_out_classes_without_positives():
    labels = np.zeros((4, 39))
    labels[[0, 1], 0] = 1
    labels[[2], 5] = 1
    probs = np.full((4, 39), 0.3)
    probs[:, 0] = [0.9, 0.4, 0.5, 0.1]  # AP (1 + 2/3) / 2
    probs[:, 5] = [0.1, 0.2, 0.8, 0.3]  # AP 1
    report = recognition_scores(labels, probs)
    assert list(report.ap) == ["Piano", "Organ"]
    assert report.map_macro == pytest.approx(((1 + 2 / 3) / 2 + 1) / 2)  # not divided by 39
    assert report.map_weighted == pytest.approx((2 * (1 + 2 / 3) / 2 + 1) / 3)
