import json

import numpy as np
import pytest

from jointist.metrics import (
    ENERGY_FLOOR_DB,
    SDR_CEILING_DB,
    Counts,
    average_precision,
    evaluate_piece,
    evaluate_separation,
    match_counts,
    oracle_irm,
    recognition_scores,
    summarise,
    summarise_separation,
    whole_track_sdr_db,
)
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


# -- separation --------------------------------------------------------------------------------

SR = 16_000
PIANO, BASS, PAD = 0, 10, 33


def _noise(seconds: float, seed: int, scale: float = 0.1) -> np.ndarray:
    return scale * np.random.default_rng(seed).standard_normal(int(seconds * SR))


def test_whole_track_sdr_of_a_scaled_copy_and_of_added_noise():
    s = _noise(2, 0)
    assert whole_track_sdr_db(s, 0.5 * s) == pytest.approx(10 * np.log10(4), abs=1e-9)  # error 0.5 s: 6.02 dB
    noise = _noise(2, 1)
    noise *= np.sqrt(np.sum(s**2) / np.sum(noise**2) / 10)  # error energy |s|^2 / 10 exactly
    assert whole_track_sdr_db(s, s + noise) == pytest.approx(10.0, abs=1e-9)
    assert whole_track_sdr_db(s, np.zeros_like(s)) == pytest.approx(0.0)
    assert whole_track_sdr_db(s, s) == SDR_CEILING_DB  # capped, not inf
    assert np.isnan(whole_track_sdr_db(np.zeros(10), np.ones(10)))  # undefined for a silent reference


def test_museval_sdr_is_the_median_of_frame_sdrs_and_matches_the_whole_track_sdr():
    # BSS Eval v4 (images) scores s_true = s, so each 1 s frame's SDR is |s_f|^2 / |s_hat_f - s_f|^2
    s = _noise(4, 0)
    scaled = evaluate_separation("x", {PIANO: s}, {PIANO: 0.5 * s}, s)
    assert scaled.sources[PIANO].bss_sdr == pytest.approx(10 * np.log10(4), abs=1e-6)
    assert scaled.sources[PIANO].bss_frames == 4
    # stationary white noise, 10 dB below the source: both SDRs within ~0.5 dB of 10
    noise = _noise(4, 1)
    noise *= np.sqrt(np.sum(s**2) / np.sum(noise**2) / 10)
    noisy = evaluate_separation("x", {PIANO: s}, {PIANO: s + noise}, s).sources[PIANO]
    assert noisy.sdr == pytest.approx(10.0, abs=1e-9)
    assert abs(noisy.bss_sdr - noisy.sdr) < 0.5
    frame_sdr = [10 * np.log10(np.sum(s[k * SR:(k + 1) * SR] ** 2) / np.sum(noise[k * SR:(k + 1) * SR] ** 2)) for k in range(4)]
    assert noisy.bss_sdr == pytest.approx(np.median(frame_sdr), abs=1e-6)


def test_silent_reference_frames_are_skipped_as_museval_does():
    s = _noise(4, 0)
    s[2 * SR:] = 0  # the source plays for 2 s of 4
    late = np.zeros_like(s)
    late[2 * SR:] = _noise(2, 3)  # noise where the reference is silent
    scores = evaluate_separation("x", {PIANO: s}, {PIANO: 0.5 * s + late}, s).sources[PIANO]
    assert scores.bss_frames == 2 and scores.bss_sdr == pytest.approx(10 * np.log10(4), abs=1e-6)
    assert scores.sdr == pytest.approx(10 * np.log10(np.sum(s**2) / (0.25 * np.sum(s**2) + np.sum(late**2))))


def test_sir_rises_when_interference_is_removed():
    s1, s2, n = _noise(3, 0), _noise(3, 1), _noise(3, 2, scale=0.001)
    refs = {PIANO: s1, BASS: s2}
    leaky = evaluate_separation("x", refs, {PIANO: s1 + 0.3 * s2 + n, BASS: s2 + n}, s1 + s2).sources[PIANO]
    clean = evaluate_separation("x", refs, {PIANO: s1 + n, BASS: s2 + n}, s1 + s2).sources[PIANO]
    assert leaky.bss_sir == pytest.approx(10 * np.log10(1 / 0.09), abs=0.5)  # interference 0.3 s2
    assert clean.bss_sir > leaky.bss_sir + 20
    assert leaky.bss_sar > 30 and clean.bss_sdr > leaky.bss_sdr


@pytest.mark.parametrize("bss", [False, True])
def test_source_piece_and_instrument_wise_means(bss):
    # estimate a * s has SDR -20 log10(1 - a): a 0.9 -> 20 dB, 0.99 -> 40 dB, 0 -> 0 dB (silence)
    p1, b1, p2 = _noise(2, 0), _noise(2, 1), _noise(2, 2)
    piece_a = evaluate_separation("a", {PIANO: p1, BASS: b1}, {PIANO: 0.9 * p1, BASS: 0 * b1}, p1 + b1, bss_eval=bss)
    piece_b = evaluate_separation("b", {PIANO: p2}, {PIANO: 0.99 * p2}, p2, bss_eval=bss)
    report = summarise_separation([piece_a, piece_b])
    metrics = ["sdr", "bss_sdr"] if bss else ["sdr"]
    for m in metrics:
        assert report.sourcewise_db[m] == pytest.approx((20 + 0 + 40) / 3, abs=1e-4)
        assert report.piecewise_db[m] == pytest.approx(((20 + 0) / 2 + 40) / 2, abs=1e-4)
        assert report.instrumentwise_db[m] == pytest.approx(((20 + 40) / 2 + 0) / 2, abs=1e-4)
        assert report.per_instrument["Piano"][m] == pytest.approx(30, abs=1e-4)
    assert report.per_instrument["Piano"]["pieces"] == 2 and report.per_instrument["Bass"]["pieces"] == 1
    assert report.undefined["sdr"] == 0
    if bss:
        assert piece_a.dithered == (BASS,)  # a silent estimate: museval would refuse it
    else:
        assert np.isnan(report.sourcewise_db["bss_sdr"]) and report.undefined["bss_sdr"] == 0


def test_absent_instruments_energy_re_mixture():
    s = _noise(1, 0)
    scores = evaluate_separation(
        "x", {PIANO: s}, {PIANO: s, BASS: np.zeros_like(s), PAD: s.copy(), 5: 0.1 * s}, s, bss_eval=False
    )
    assert scores.absent_energy_db == {BASS: ENERGY_FLOOR_DB, PAD: pytest.approx(0.0), 5: pytest.approx(-20.0)}
    report = summarise_separation([scores])
    assert report.absent["count"] == 3 and report.absent["max_db"] == pytest.approx(0.0)
    assert report.absent_per_instrument["Bass"] == {"pieces": 1, "mean_db": ENERGY_FLOOR_DB}
    assert not any(np.isnan(v) for v in report.absent.values())
    assert "Bass" not in report.per_instrument  # absent classes have no SDR row


def test_silent_reference_is_undefined_and_never_enters_a_mean():
    s = _noise(2, 0)
    piece = evaluate_separation("x", {PIANO: s, BASS: np.zeros_like(s)}, {PIANO: 0.5 * s, BASS: 0.1 * s}, s)
    assert piece.silent_reference == (BASS,) and np.isnan(piece.sources[BASS].sdr)
    assert piece.absent_energy_db[BASS] == pytest.approx(-20.0)  # no reference energy: also absent
    alone = evaluate_separation("y", {BASS: np.zeros_like(s)}, {}, s)  # a piece with nothing defined
    report = summarise_separation([piece, alone])
    for table in (report.sourcewise_db, report.piecewise_db, report.instrumentwise_db):
        for m in ("sdr", "sdri", "bss_sdr", "bss_sir", "bss_sar"):
            assert np.isfinite(table[m]), (table, m)
    assert report.sourcewise_db["sdr"] == pytest.approx(10 * np.log10(4))
    assert report.undefined == {"sdr": 2, "sdri": 2, "bss_sdr": 2, "bss_sir": 2, "bss_sar": 2}
    assert list(report.per_instrument) == ["Piano"]


def test_oracle_irm_separates_non_overlapping_sinusoids_and_sums_to_the_mixture():
    t = np.arange(2 * SR) / SR
    low, high = 0.5 * np.sin(2 * np.pi * 440 * t), 0.3 * np.sin(2 * np.pi * 2000 * t)
    mix = low + high
    est = oracle_irm({PIANO: low, BASS: high}, mix)
    assert set(est) == {PIANO, BASS} and est[PIANO].shape == mix.shape and est[PIANO].dtype == np.float32
    assert whole_track_sdr_db(low, est[PIANO]) > 20 and whole_track_sdr_db(high, est[BASS]) > 20
    total = est[PIANO].astype(np.float64) + est[BASS]
    assert np.linalg.norm(total - mix) / np.linalg.norm(mix) < 1e-4


def test_separation_report_markdown_and_json():
    s, b = _noise(2, 0), _noise(2, 1)
    piece = evaluate_separation("x", {PIANO: s, BASS: b}, {PIANO: 0.5 * s, BASS: 0.9 * b, PAD: 0.01 * s}, s + b)
    report = summarise_separation([piece])
    text = report.to_markdown()
    assert "| Piano | 1 |" in text and "| Bass | 1 |" in text and "instrument-wise" in text
    assert "Absent instruments: 1 stems" in text and "Synth Pad" in text
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["per_instrument"]["Piano"]["sdr"] == pytest.approx(10 * np.log10(4))
    # the mixture s + b (equal powers) scores 0 dB as the piano estimate: the improvement is the SDR
    mixture_sdr = whole_track_sdr_db(s, s + b)
    assert data["per_instrument"]["Piano"]["sdri"] == pytest.approx(10 * np.log10(4) - mixture_sdr)
    assert "| SDRi |" in text
    empty = summarise_separation([])
    json.dumps(empty.to_dict(), allow_nan=False)  # empty means become None
    assert "no stem predicted" in empty.to_markdown()


def test_reports_break_down_by_style(tmp_path):
    import json

    from jointist.evaluation import SplitScores, write_report
    from jointist.metrics import evaluate_piece, summarise
    from jointist.notes import NoteArray

    notes = NoteArray.from_arrays([0.5, 1.5], [1.0, 2.0], [60, 64], [80, 80])
    right = evaluate_piece("T1", {0: notes}, {0: notes})
    wrong = evaluate_piece("T2", {0: notes}, {0: NoteArray.from_arrays([0.5], [1.0], [61], [80])})
    other = evaluate_piece("T3", {0: notes}, {0: notes})
    scores = SplitScores(summarise([right, wrong, other]), [right, wrong, other],
                         styles={"T1": "chorale", "T2": "jazz", "T3": "chorale"})
    by_style = scores.by_style()
    assert list(by_style) == ["chorale", "jazz"] and by_style["chorale"].pieces == 2
    assert by_style["chorale"].flat["onset"] == 1.0 and by_style["jazz"].flat["onset"] == 0.0
    write_report(scores.transcription, tmp_path, by_style=by_style)
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["by_style"]["jazz"]["pieces"] == 1
    assert "| chorale | 2 | 1.000 / 1.000 |" in (tmp_path / "report.md").read_text()
