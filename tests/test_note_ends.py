"""The note-end chooser: candidate ends of decoded notes and their features, labels from reference
notes, the decoder's chosen ends (the same in any blocks as for the whole song), the model in a model
file, and its training job."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from jointist.instruments import DRUMS, by_name
from jointist.models.note_ends import NoteEnder
from jointist.models.serialize import load_model, model_roles
from jointist.note_ends import FEATURES, HORIZON, KINDS, EndCandidates, end_candidates, end_labels, ended_notes
from jointist.pipeline import Transcriber
from jointist.postprocess import DecodeConfig, TrackDecoder, decode_tracks
from tests.conftest import note_array, write_track

GUITAR, BASS = by_name("acoustic guitar").index, by_name("bass").index
KEY = 40
FPS = 100


def _slot(kind: str) -> int:
    return KINDS.index(kind)


def test_candidates_are_the_tracker_end_the_frame_crossings_the_offset_peaks_and_the_next_starts():
    frame = np.zeros((200, 88), np.float32)
    frame[10:30, KEY] = 0.8  # the note sounds strongly for 20 frames, then fades
    frame[30:50, KEY] = 0.25
    frame[50:60, KEY] = 0.12
    offsets = np.zeros_like(frame)
    offsets[45, KEY] = 0.3  # an offset peak
    class_starts = np.array([10, 10, 38, 70, 90, 95, 120])  # the instrument's note starts (a chord at 10)
    cands = end_candidates(np.array([10]), np.array([KEY]), np.array([30]), frame, offsets, class_starts,
                           np.sort(np.r_[class_starts, 66]), np.array([90]), klass=GUITAR, hold=3, total=200)
    end = {kind: int(cands.end[0, i]) for i, kind in enumerate(KINDS) if cands.mask[0, i]}
    assert end["tracker"] == 30
    assert end["frame<0.5"] == 30 and end["frame<0.3"] == 30 and end["frame<0.2"] == 50
    assert end["frame<0.1"] == 60 and end["frame<0.05"] == 60
    assert end["offset peak 1"] == 45 and "offset peak 2" not in end
    # the next starts of the instrument after the onset, up to the key's next note (frame 90)
    assert end["next start 1"] == 38 and end["next start 2"] == 70 and end["next start 3"] == 90
    assert "next start 4" not in end and end["bound"] == 90
    assert cands.features.shape == (1, len(KINDS), len(FEATURES))
    f = dict(zip(FEATURES, cands.features[0, _slot("next start 2")]))
    assert f["log_duration"] == pytest.approx(np.log(0.6))
    assert f["starts_here"] == 1 and f["everyone_starts_here"] == 1 and f["key_restarts"] == 0
    assert dict(zip(FEATURES, cands.features[0, _slot("bound")]))["key_restarts"] == 1
    assert not cands.features[0, ~cands.mask[0]].any()  # unused slots hold zeros


def test_the_bound_is_the_horizon_for_a_key_that_does_not_start_again():
    frame = np.full((HORIZON + 100, 88), 0.9, np.float32)
    cands = end_candidates(np.array([5]), np.array([KEY]), np.array([HORIZON + 80]), frame, None,
                           np.array([5]), np.array([5]), np.array([10 ** 9]), klass=GUITAR, hold=3, total=len(frame))
    assert cands.end[0, _slot("bound")] == 5 + HORIZON and cands.end[0, _slot("tracker")] == 5 + HORIZON


def test_a_candidate_is_right_within_mir_evals_offset_tolerance_of_the_note_its_onset_matches():
    cands = EndCandidates(start=np.array([100, 300]), key=np.array([KEY, KEY]), tracker_end=np.array([150, 320]),
                          end=np.array([[150, 190, 205], [320, 330, 340]]), mask=np.ones((2, 3), bool),
                          features=np.zeros((2, 3, len(FEATURES)), np.float32), klass=GUITAR)
    # reference: 1.0 -> 2.0 s (tolerance 0.2 s: ends 1.8..2.2 are right); nothing near 3.0 s
    labels, matched = end_labels(cands, note_array([(1.01, 2.0, KEY + 21)]), fps=FPS)
    assert matched.tolist() == [True, False]
    assert labels.tolist() == [[0, 1, 1], [0, 0, 0]]


class Pick:
    """A chooser that takes one kind of candidate where a note has it, and the tracker's end otherwise."""

    def __init__(self, kind: str) -> None:
        self.slot = KINDS.index(kind)

    def choose(self, cands: EndCandidates) -> np.ndarray:
        return np.where(cands.mask[:, self.slot], self.slot, 0)


def rolls(frames: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """Guitar plucks that fade after 15 frames, one every 50 frames on alternating keys, and a bass
    note held 100 frames."""
    onset = np.zeros((frames, 2, 88), np.float32)
    frame = np.zeros_like(onset)
    for i, t in enumerate(range(20, frames - 50, 50)):
        key = KEY + 3 * (i % 2)
        onset[t, 0, key] = 0.9
        frame[t: t + 15, 0, key] = 0.9
    onset[20, 1, 20] = 0.9
    frame[20:120, 1, 20] = 0.9
    return onset, frame


def test_the_decoder_ends_notes_where_the_chooser_says():
    onset, frame = rolls()
    config = DecodeConfig(onset_threshold=0.5, frame_threshold=0.5)
    plain = decode_tracks(onset, frame, [GUITAR, BASS], config=config)
    assert [round(float(x), 2) for x in plain[GUITAR].offset_s] == [0.35, 0.85, 1.35, 1.85, 2.35]
    legato = decode_tracks(onset, frame, [GUITAR, BASS], config=config, ender=Pick("next start 1"))
    # each pluck is held until the guitar's next note; the last one keeps its end; the bass is untouched
    assert [round(float(x), 2) for x in legato[GUITAR].offset_s] == [0.7, 1.2, 1.7, 2.2, 2.35]
    assert np.array_equal(legato[BASS].offset_s, plain[BASS].offset_s)
    assert np.array_equal(legato[GUITAR].onset_s, plain[GUITAR].onset_s)


def test_chosen_ends_are_the_same_in_any_blocks_and_for_the_whole_song():
    rng = np.random.default_rng(0)
    frames = 3 * HORIZON
    classes = [GUITAR, BASS, DRUMS.index]
    onset = rng.random((frames, 3, 88)).astype(np.float32) ** 6
    frame = np.clip(rng.random((frames, 3, 88)).astype(np.float32) + 0.35, 0, 1)
    offsets = rng.random((frames, 3, 88)).astype(np.float32) ** 4
    config = DecodeConfig(onset_threshold=0.6, frame_threshold=0.5, offset_threshold=0.5)
    torch.manual_seed(0)
    model = NoteEnder(hidden=8).eval()
    plain = decode_tracks(onset, frame, classes, config=config, offsets=offsets)
    whole = ended_notes(model, plain, frame, offsets, classes, fps=FPS, hold=3)
    assert sum(len(n) for n in whole.values()) > 100
    moved = sum(int((whole[c].offset_s != plain[c].offset_s).sum()) for c in classes)
    assert moved > 20  # the untrained chooser moves many ends, so the comparison below means something
    for block in (1, 37, 250, frames):
        decoder = TrackDecoder(classes, config=config, ender=model)
        for a in range(0, frames, block):
            decoder.push(onset[a: a + block], frame[a: a + block], None, offsets[a: a + block])
        got = decoder.finish()
        for c in classes:
            assert np.array_equal(got[c].onset_s, whole[c].onset_s)
            assert np.allclose(got[c].offset_s, whole[c].offset_s, atol=1e-9)


def test_the_model_learns_to_pick_the_right_kind_of_candidate():
    rng = np.random.default_rng(1)

    def data(n: int) -> tuple[np.ndarray, ...]:
        features = rng.standard_normal((n, len(KINDS), len(FEATURES))).astype(np.float32)
        mask = np.ones((n, len(KINDS)), bool)
        klass = rng.choice([GUITAR, BASS], n)
        labels = np.zeros((n, len(KINDS)), np.float32)
        # guitars end at their next start, basses where the frame roll falls below 0.3
        labels[np.arange(n), np.where(klass == GUITAR, _slot("next start 1"), _slot("frame<0.3"))] = 1
        return features, mask, klass, labels, np.ones(n, bool)

    torch.manual_seed(0)
    model = NoteEnder(hidden=16)
    curve, best = _job().fit(model, data(3000), data(1000), epochs=6, batch=256, lr=1e-2)
    assert len(curve) == 6 and best == max(v for _, _, v in curve) and best > 0.95


def _job():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("note_ends_job", Path(__file__).parents[1] / "jobs" / "note_ends.py")
    job = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(job)  # type: ignore[union-attr]
    return job


def test_the_job_writes_a_model_file_whose_transcriber_chooses_note_ends(tiny_model_file, tmp_path, capsys):
    rng = np.random.default_rng(0)
    root = tmp_path / "corpus"
    for split, count in (("train", 3), ("validation", 2)):
        for i in range(count):
            notes = [(float(s), float(s) + 0.3, int(rng.integers(48, 72))) for s in np.sort(rng.uniform(0.1, 2.0, 4))]
            write_track(root / split, f"Track{split[0]}{i:04d}", {"S00": {"program": 0, "notes": notes}}, duration_s=2.5)
    out = tmp_path / "ended.pt"
    assert _job().main(["train", "--model", str(tiny_model_file), "--train", f"{root}:train:{tmp_path / 'c_train'}",
                        "--val", f"{root}:validation:{tmp_path / 'c_val'}", "--out", str(out), "--epochs", "2",
                        "--hidden", "8"]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "ended within tolerance by the tracker" in printed
    assert set(model_roles(out)) == {"transcriber", "ender"}
    assert "3 songs" in load_model(out, role="ender")[1].training_data
    assert out.with_suffix(".curve.tsv").read_text().splitlines()[0] == "epoch\ttrain_loss\tvalidation_within_tolerance"
    with_it = Transcriber(out, progress=False)
    assert isinstance(with_it.ender, NoteEnder)
    assert Transcriber(out, progress=False, choose_ends=False).ender is None
    audio = np.random.default_rng(2).standard_normal(16000 * 3).astype(np.float32) * 0.1
    result = with_it.transcribe_audio(audio, instruments=["piano", "bass"])
    assert [t.instrument.name for t in result.tracks] == ["Piano", "Bass"]
    assert _job().main(["report", f"{root}:validation:{tmp_path / 'c_val'}", "--model", str(out),
                        "--base", str(tiny_model_file)]) == 0
    assert "(chosen ends)" in capsys.readouterr().out


def test_a_cached_split_is_named_root_split_cache():
    from jointist.cached_fit import corpora_label, split_spec

    assert split_spec("data/refine:train:pg/refine_train") == ("data/refine", "train", "pg/refine_train")
    assert corpora_label(["/abs/data/refine:train:c1", "data/refine2:train:c2"]) == "refine/train + refine2/train"
    with pytest.raises(ValueError, match="root:split:cache"):
        split_spec("data/refine:train")
