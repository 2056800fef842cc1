"""The note-onset verifier: candidate onsets and their features, labels from reference notes, the
verified onset roll, its decoding in blocks, the model in a model file, and its training job."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from jointist.constants import FRAMES_PER_SECOND, MIN_MIDI
from jointist.instruments import DRUMS, by_name
from jointist.models.serialize import load_model, model_roles, save_models
from jointist.models.verifier import NoteVerifier
from jointist.pipeline import Transcriber
from jointist.postprocess import DecodeConfig, TrackDecoder, decode_tracks
from jointist.verifier import AFTER, FEATURES, NO_RIVAL, candidate_features, candidate_labels, verified_onsets
from tests.conftest import note_array, write_track

PIANO, ORGAN = by_name("piano").index, by_name("organ").index
KEY = 40  # MIDI 61


def rolls(frames: int = 60) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Piano, organ and drums: one note at frame 10 heard strongly by piano and weakly by organ,
    a weak piano ghost at frame 40, and a drum hit at frame 20."""
    onset = np.zeros((frames, 3, 88), np.float32)
    frame = np.zeros_like(onset)
    onset[9:12, 0, KEY] = [0.3, 0.9, 0.2]
    onset[10, 1, KEY] = 0.4
    frame[10:30, 0, KEY] = 0.8
    frame[10:30, 1, KEY] = 0.5
    onset[40, 0, KEY + 7] = 0.08
    onset[20, 2, 10] = 0.9
    return onset, frame, np.zeros_like(onset)


CLASSES = [PIANO, ORGAN, DRUMS.index]


def test_candidates_are_the_pitched_onset_peaks_with_their_rivals():
    onset, frame, offsets = rolls()
    cands = candidate_features(onset, frame, offsets, CLASSES, floor=0.05)
    got = sorted(zip(cands.frame.tolist(), cands.row.tolist(), cands.key.tolist()))
    assert got == [(10, 0, KEY), (10, 1, KEY), (40, 0, KEY + 7)]  # no drum candidate, one per peak
    f = {name: cands.features[:, i] for i, name in enumerate(FEATURES)}
    piano = int(np.flatnonzero((cands.row == 0) & (cands.frame == 10))[0])
    organ = int(np.flatnonzero(cands.row == 1)[0])
    ghost = int(np.flatnonzero(cands.frame == 40)[0])
    assert f["onset"][piano] == pytest.approx(0.9) and f["onset_before"][piano] == pytest.approx(0.3)
    assert f["rival_onset"][piano] == pytest.approx(0.4) and cands.rival[piano] == ORGAN
    assert f["rival_onset"][organ] == pytest.approx(0.9) and cands.rival[organ] == PIANO
    assert f["frame_next4"][piano] == pytest.approx(0.8) and f["frame_before"][piano] == 0.0
    assert cands.rival[ghost] == NO_RIVAL and f["rival_onset"][ghost] == 0.0
    assert f["drums"][piano] == 1.0 and f["others"][piano] == pytest.approx(1 / 5)
    assert cands.own.tolist() == [CLASSES[r] for r in cands.row]
    # a floor above the ghost drops it; a window of frames keeps only its candidates
    assert len(candidate_features(onset, frame, offsets, CLASSES, floor=0.1)) == 2
    assert candidate_features(onset, frame, offsets, CLASSES, floor=0.05, first=20, stop=60).frame.tolist() == [40]


def test_a_candidate_is_a_note_only_if_it_starts_one_of_its_own_instrument():
    onset, frame, offsets = rolls()
    onset[12, 0, KEY] = 0.5  # a second piano peak 20 ms after the first: the same note, claimed once
    onset[11, 0, KEY] = 0.1
    cands = candidate_features(onset, frame, offsets, CLASSES, floor=0.05)
    reference = {PIANO: note_array([(0.11, 0.3, KEY + MIN_MIDI)]), ORGAN: note_array([(0.4, 0.5, KEY + MIN_MIDI + 7)])}
    labels = candidate_labels(cands, reference, CLASSES, fps=FRAMES_PER_SECOND)
    keyed = {(int(t), int(r)): float(y) for t, r, y in zip(cands.frame, cands.row, labels)}
    assert keyed == {(10, 0): 1.0, (12, 0): 0.0, (10, 1): 0.0, (40, 0): 0.0}  # organ's note is a fifth up
    # song frames: a block starting at frame 30 moves the candidates' times
    late = candidate_labels(cands, {PIANO: note_array([(0.41, 0.6, KEY + MIN_MIDI)])}, CLASSES, fps=FRAMES_PER_SECOND, first=30)
    assert late[(cands.frame == 10) & (cands.row == 0)].tolist() == [1.0]


class ByRival:
    """A verifier that believes an onset when it is at least as strong as any rival's."""

    floor = 0.05

    def probabilities(self, cands):  # type: ignore[no-untyped-def]
        f = cands.features
        return np.where(f[:, FEATURES.index("onset")] >= f[:, FEATURES.index("rival_onset")], 0.875, 0.125).astype(np.float32)


def test_verified_onsets_hold_the_verifier_probabilities_at_candidates_only():
    onset, frame, offsets = rolls()
    codes = np.rint(onset * 255).astype(np.uint8)
    out = verified_onsets(ByRival(), codes, np.rint(frame * 255).astype(np.uint8), offsets.astype(np.uint8), CLASSES,
                          scale=255)
    assert out.dtype == np.uint8 and out.shape == codes.shape
    assert out[10, 0, KEY] == 223 and out[10, 1, KEY] == 32 and out[40, 0, KEY + 7] == 223  # rint(0.875 * 255)
    assert np.count_nonzero(out[:, :2]) == 3  # only candidates; piano's run around its peak is gone
    assert np.array_equal(out[:, 2], codes[:, 2])  # drums untouched


def test_the_decoder_follows_the_verifier_and_gives_the_same_notes_in_any_blocks():
    onset, frame, offsets = rolls(200)
    config = DecodeConfig(onset_threshold=0.5, frame_threshold=0.3)
    notes = decode_tracks(onset, frame, CLASSES, config=config, offsets=offsets, verifier=ByRival())
    assert [(round(float(n.onset_s), 2), round(float(n.offset_s), 2)) for n in notes[PIANO].to_events()] == [(0.1, 0.3)]
    assert len(notes[ORGAN]) == 0 and len(notes[DRUMS.index]) == 1  # organ's weaker claim is refused
    without = decode_tracks(onset, frame, CLASSES, config=DecodeConfig(onset_threshold=0.3, frame_threshold=0.3))
    assert len(without[ORGAN]) == 1  # the plain rule keeps both at this threshold
    rng = np.random.default_rng(0)
    onset, frame = rng.random((300, 3, 88)).astype(np.float32) ** 4, rng.random((300, 3, 88)).astype(np.float32)
    offsets = rng.random((300, 3, 88)).astype(np.float32) ** 4
    torch.manual_seed(0)
    model = NoteVerifier(hidden=8).eval()
    whole = decode_tracks(onset, frame, CLASSES, config=config, offsets=offsets, verifier=model)
    assert sum(len(n) for n in whole.values()) > 50
    for block in (AFTER - 5, 37, 1):
        decoder = TrackDecoder(CLASSES, config=config, verifier=model)
        for a in range(0, 300, block):
            decoder.push(onset[a: a + block], frame[a: a + block], None, offsets[a: a + block])
        got = decoder.finish()
        for c in CLASSES:
            assert np.array_equal(got[c].onset_s, whole[c].onset_s) and np.array_equal(got[c].offset_s, whole[c].offset_s)


def _job():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("note_verifier", Path(__file__).parents[1] / "jobs" / "note_verifier.py")
    job = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(job)  # type: ignore[union-attr]
    return job


def test_the_fit_learns_which_instrument_owns_a_contested_onset():
    rng = np.random.default_rng(1)

    def data(n: int) -> tuple[np.ndarray, ...]:
        x = rng.random((n, len(FEATURES))).astype(np.float32)
        own = rng.integers(0, 39, n)
        rival = rng.integers(0, 40, n)
        y = (x[:, FEATURES.index("onset")] > x[:, FEATURES.index("rival_onset")]).astype(np.float32)
        return x, own, rival, y

    torch.manual_seed(0)
    model = NoteVerifier(hidden=16)
    held_out = data(2000)
    curve, best = _job().fit(model, data(4000), held_out, epochs=8, batch=256, lr=1e-2)
    assert len(curve) == 8 and best == min(v for _, _, v in curve)
    with torch.no_grad():
        guess = model(*(torch.from_numpy(a) for a in held_out[:3])) > 0
    assert (guess.numpy() == held_out[3].astype(bool)).mean() > 0.9


def test_the_job_writes_a_model_file_whose_transcriber_uses_the_verifier(tiny_model_file, tmp_path, capsys):
    rng = np.random.default_rng(0)
    root = tmp_path / "corpus"
    for split, count in (("train", 4), ("validation", 2)):
        for i in range(count):
            notes = [(float(s), float(s) + 0.3, int(rng.integers(48, 72))) for s in np.sort(rng.uniform(0.1, 2.0, 4))]
            write_track(root / split, f"Track{split[0]}{i:04d}", {"S00": {"program": 0, "notes": notes}}, duration_s=2.5)
    out = tmp_path / "verified.pt"
    assert _job().main(["train", "--model", str(tiny_model_file), "--train", f"{root}:train:{tmp_path / 'c_train'}",
                        "--val", f"{root}:validation:{tmp_path / 'c_val'}", "--out", str(out), "--epochs", "2",
                        "--hidden", "8", "--skip", "1"]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    cached = sorted(p.stem for p in (tmp_path / "c_train").glob("*.npz"))  # kept for the next run
    assert cached == ["Trackt0001", "Trackt0002", "Trackt0003"]  # the first training song was skipped
    assert set(model_roles(out)) == {"transcriber", "verifier"}
    base, base_card = load_model(tiny_model_file, role="transcriber")
    model, card = load_model(out, role="transcriber")
    assert card.decode == base_card.decode and "3 songs" in load_model(out, role="verifier")[1].training_data
    assert all(torch.equal(model.state_dict()[k], v) for k, v in base.state_dict().items())
    assert out.with_suffix(".curve.tsv").read_text().splitlines()[0] == "epoch\ttrain_loss\tvalidation_loss"
    # the verifier's card carries the decoding for verified onsets; verify=False keeps the transcriber's
    models = {role: load_model(out, role=role) for role in ("transcriber", "verifier")}
    verifier, vcard = models["verifier"]
    models["verifier"] = (verifier, vcard.replace(decode={"onset_threshold": 0.25, "frame_threshold": 0.5}))
    save_models(models, out)
    with_it = Transcriber(out, progress=False)
    assert isinstance(with_it.verifier, NoteVerifier) and with_it.decode.onset_threshold == 0.25
    without = Transcriber(out, progress=False, verify=False)
    assert without.verifier is None and without.decode.onset_threshold == 0.5
    audio = np.random.default_rng(2).standard_normal(16000 * 3).astype(np.float32) * 0.1
    result = with_it.transcribe_audio(audio, instruments=["piano", "bass"])
    assert [t.instrument.name for t in result.tracks] == ["Piano", "Bass"]
    # a verifier trained again on two corpora keeps the thresholds tuned for the one it replaces
    again = tmp_path / "again.pt"
    assert _job().main(["train", "--model", str(out), "--train", f"{root}:train:{tmp_path / 'c_train'}",
                        f"{root}:validation:{tmp_path / 'c_val'}", "--val", f"{root}:validation:{tmp_path / 'c_val'}",
                        "--out", str(again), "--epochs", "1", "--hidden", "8", "--keep-decode"]) == 0
    card = load_model(again, role="verifier")[1]
    assert card.decode["onset_threshold"] == 0.25 and "6 songs of corpus/train + corpus/validation" in card.training_data
