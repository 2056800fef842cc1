"""The drum transcriber (role ``drummer``): its outputs on the 88-key axis, the pipeline's Drums
track taken from it, and its training job."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from jointist.constants import MIN_MIDI
from jointist.instruments import DRUMS, by_name
from jointist.models.drums import KIT_KEYS, DrumTranscriber
from jointist.models.serialize import load_model, load_models, model_roles, save_models
from jointist.pipeline import Transcriber
from tests.conftest import tiny_model, write_track

SNARE = 38


def _job():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("drum_job", Path(__file__).parents[1] / "jobs" / "drum_transcriber.py")
    job = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(job)  # type: ignore[union-attr]
    return job


@torch.no_grad()
def test_the_drum_model_writes_every_kit_key_on_the_88_key_axis():
    model = tiny_model("DrumTranscriber").eval()
    audio = torch.randn(2, 16000) * 0.1
    onset, velocity = model(audio)
    assert onset.shape == velocity.shape == (2, 101, len(KIT_KEYS))
    probs, vel = model.rolls(audio)
    assert probs.shape == vel.shape == (2, 101, 88)
    kit = np.asarray(KIT_KEYS) - MIN_MIDI
    others = np.setdiff1d(np.arange(88), kit)
    assert (probs[..., others] == 0).all() and (probs[..., kit] > 0).all()
    assert torch.allclose(probs[..., kit], torch.sigmoid(onset))
    cropped, _ = model.rolls(audio, 90)
    padded, _ = model.rolls(audio, 120)
    assert cropped.shape[1] == 90 and torch.allclose(cropped, probs[:, :90], atol=1e-6)
    assert padded.shape[1] == 120 and torch.allclose(padded[:, :101], probs, atol=1e-6) and (padded[:, 101:] == 0).all()


def _snare_drummer() -> DrumTranscriber:
    """A tiny drummer sure of a snare hit in every frame and of nothing else."""
    model = tiny_model("DrumTranscriber")
    with torch.no_grad():
        model.onset.weight.zero_()
        model.onset.bias.fill_(-8.0)
        model.onset.bias[KIT_KEYS.index(SNARE)] = 8.0
    return model.eval()


@pytest.fixture
def drummer_file(tiny_model_file, tmp_path) -> Path:
    models = load_models(tiny_model_file)
    drummer = _snare_drummer()
    models["drummer"] = (drummer, drummer.card(decode={"class_thresholds": [["Drums", 0.35, 0.1]]}))
    return save_models(models, tmp_path / "with_drummer.pt")


def test_the_drums_track_comes_from_the_drummer_and_the_other_tracks_do_not_change(drummer_file):
    audio = np.random.default_rng(0).standard_normal(16000 * 3).astype(np.float32) * 0.1
    instruments = [by_name(n) for n in ("piano", "drums", "bass")]
    with_it = Transcriber(drummer_file, progress=False)
    without = Transcriber(drummer_file, progress=False, drums=False)
    assert isinstance(with_it.drummer, DrumTranscriber) and without.drummer is None
    assert with_it.decode.for_class(DRUMS.index).onset_threshold == 0.35  # the drummer card's row
    assert without.decode.for_class(DRUMS.index).onset_threshold == 0.5  # the transcriber card's
    mine, theirs = with_it.all_posteriorgrams(audio, instruments), without.all_posteriorgrams(audio, instruments)
    for name in ("onset", "frame"):
        assert np.array_equal(mine[name][:, [0, 2]], theirs[name][:, [0, 2]])
    drums = mine["onset"][:, 1].astype(int)
    assert (drums[:, SNARE - MIN_MIDI] > 250).all() and (np.delete(drums, SNARE - MIN_MIDI, axis=1) < 5).all()
    assert not np.array_equal(drums, theirs["onset"][:, 1])
    alone = with_it.transcribe_audio(audio, instruments=["drums"])  # the transcriber's heads do not run
    assert [t.instrument.name for t in alone.tracks] == ["Drums"]
    assert set(alone.tracks[0].notes.pitch.tolist()) == {SNARE}
    mixed = with_it.transcribe_audio(audio, instruments=["drums", "piano"])
    assert [t.instrument.name for t in mixed.tracks] == ["Drums", "Piano"]
    assert np.array_equal(mixed.tracks[0].notes.onset_s, alone.tracks[0].notes.onset_s)


def test_a_given_decode_keeps_its_own_drum_threshold(drummer_file):
    from jointist.postprocess import DecodeConfig

    chosen = Transcriber(drummer_file, progress=False, decode=DecodeConfig(onset_threshold=0.6))
    assert chosen.drummer is not None and chosen.decode.for_class(DRUMS.index).onset_threshold == 0.6


def test_the_loss_teaches_which_kit_piece_sounds_where():
    """Cached entries whose log-mel has a low band at kick hits and a high band at hi-hat hits: a few
    hundred steps on the job's loss make the validation F1 of both pieces high."""
    job = _job()
    rng = np.random.default_rng(0)

    def entry() -> dict[str, np.ndarray]:
        mel = rng.normal(-6.0, 0.3, (600, 229)).astype(np.float32)
        frames = np.sort(rng.choice(np.arange(10, 590, 7), 40, replace=False))
        keys = rng.choice([KIT_KEYS.index(36), KIT_KEYS.index(42)], 40)
        for f, k in zip(frames, keys):
            band = slice(5, 40) if KIT_KEYS[k] == 36 else slice(170, 220)
            mel[f: f + 3, band] += np.array([4.0, 2.0, 1.0])[:, None]
        return {"mel": mel.astype(np.float16), "frames": frames, "keys": keys, "velocity": np.full(40, 0.7, np.float32)}

    songs = [(f"s{i}", entry()) for i in range(4)]
    torch.manual_seed(0)
    model = DrumTranscriber(channels=[4], features=16, rnn_hidden=8, dropout=0.0)
    _, before = job.validate(model, songs[:1])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(150):
        loss = job.loss_of(model, *job._batch(songs[1:], rng, 4, len(KIT_KEYS), 3.0))
        opt.zero_grad()
        loss.backward()
        opt.step()
    threshold, after = job.validate(model, songs[:1])
    assert before < 0.1 and after > 0.9, (before, after, threshold)


def test_the_job_trains_resumes_and_writes_a_model_file_whose_drums_the_pipeline_uses(tiny_model_file, tmp_path, capsys):
    root = tmp_path / "corpus"
    for split, count in (("train", 3), ("validation", 1)):
        for i in range(count):
            hits = [(0.2 + 0.25 * j, 0.3 + 0.25 * j, (36, 42, 38)[j % 3]) for j in range(8)]
            write_track(root / split, f"Track{split[0]}{i:04d}", {
                "S00": {"program": 0, "is_drum": True, "notes": hits},
                "S01": {"program": 33, "notes": [(0.1, 1.9, 40)]},
            }, duration_s=2.5)
    write_track(root / "train", "Trackt9999", {"S00": {"program": 0, "notes": [(0.5, 1.0, 60)]}}, duration_s=2.5)
    out = tmp_path / "drums.pt"
    common = ["train", "--model", str(tiny_model_file), "--train", f"{root}:train:{tmp_path / 'c_train'}",
              "--val", f"{root}:validation:{tmp_path / 'c_val'}", "--out", str(out), "--channels", "2",
              "--features", "8", "--rnn-hidden", "4", "--batch", "2", "--no-drum-share", "0.25"]
    assert _job().main([*common, "--epochs", "1"]) == 0
    printed = capsys.readouterr().out
    assert "train: 4 songs (3 with drums, 24 hits" in printed and f"wrote {out}" in printed
    assert sorted((tmp_path / "c_train").glob("*.npz"))  # the cache is kept for the next run
    assert _job().main([*common, "--epochs", "2", "--resume", "--key-weight", "0.5"]) == 0
    printed = capsys.readouterr().out
    assert "resumed after epoch 1" in printed and "epoch 2:" in printed and "epoch 1:" not in printed
    assert "hits weighted by key: 38: 1.2" in printed  # 9 hi-hat and kick hits, 6 snare hits: sqrt(9 / 6)
    assert set(model_roles(out)) == {"transcriber", "drummer"}
    drummer, card = load_model(out, role="drummer")
    assert isinstance(drummer, DrumTranscriber) and card.init_args["channels"] == [2]
    assert card.decode["class_thresholds"][0][0] == "Drums" and "3 with drums" in card.training_data
    assert out.with_suffix(".curve.tsv").read_text().splitlines()[0] == "epoch\ttrain_loss\tvalidation_drum_f1\tthreshold"
    pipeline = Transcriber(out, progress=False)
    assert pipeline.drummer is not None
    again = tmp_path / "again.pt"
    assert _job().main([*common, "--out", str(again), "--init", str(out), "--epochs", "1", "--no-calibrate"]) == 0
    assert "from a trained one" in load_model(again, role="drummer")[1].notes
    assert _job().main(["report", f"{root}:validation:{tmp_path / 'pg_val'}", "--model", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| validation | transcriber's drums |" in printed and "| validation | drummer |" in printed


def test_rare_kit_pieces_weigh_more_in_the_loss_up_to_a_cap():
    job = _job()
    index = {k: KIT_KEYS.index(k) for k in (42, 36, 51, 44)}
    keys = np.array([index[42]] * 400 + [index[36]] * 100 + [index[51]] * 4 + [index[44]] * 1)
    weights = job.key_weights([("s", {"keys": keys})], 0.5)
    assert weights[index[42]] == 1.0 and weights[index[36]] == pytest.approx(2.0)
    assert weights[index[51]] == pytest.approx(10.0) and weights[index[44]] == 10.0  # sqrt(100), sqrt(400) capped
    assert weights[KIT_KEYS.index(81)] == 10.0  # never hit: as rare as can be
    assert (job.key_weights([("s", {"keys": keys})], 0.0) == 1.0).all()


def test_a_corrupt_drum_cache_file_is_named(tmp_path):
    root = tmp_path / "corpus"
    write_track(root / "train", "Track00001", {"S00": {"program": 0, "is_drum": True, "notes": [(0.2, 0.3, 36)]}},
                duration_s=1.0)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "Track00001.npz").write_bytes(b"not an npz")
    with pytest.raises(ValueError, match="Track00001.npz: not a readable drum cache file"):
        _job().cached_songs(f"{root}:train:{cache}", DrumTranscriber(), progress=False)


def test_drum_model_false_on_the_command_line_keeps_the_transcribers_drums(drummer_file):
    from omegaconf import OmegaConf

    from jointist.cli.inference import build_transcriber

    cfg = OmegaConf.load(Path(__file__).parents[1] / "conf" / "inference" / "default.yaml")
    cfg.ckpt, cfg.progress = str(drummer_file), False
    assert build_transcriber(cfg).drummer is not None
    cfg.drum_model = False
    assert build_transcriber(cfg).drummer is None
