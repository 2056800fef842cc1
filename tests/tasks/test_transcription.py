"""Training: fast_dev_run of the real Hydra config, overfitting one clip, resuming from a checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from jointist.cli import CONF_DIR
from jointist.cli.train import train
from jointist.data.slakh import Example
from jointist.data.targets import notes_to_rolls
from jointist.metrics import match_counts
from jointist.models.pitchwise import PitchwiseTranscriber
from jointist.models.serialize import load_model
from jointist.models.transcriber import OnsetsFramesTranscriber
from jointist.notes import NoteArray
from jointist.postprocess import decode_notes
from jointist.tasks.transcription import agnostic_rolls, sample_instruments
from tests.conftest import compose_train, sine_notes


def test_fast_dev_run_of_jointist_train(mini_corpus, tmp_path):
    cfg = compose_train(mini_corpus, tmp_path / "run", "+trainer.fast_dev_run=true")
    result = train(cfg)
    assert {"train/loss", "train/agnostic_onset_loss", "val/loss", "val/note_f1", "val/agnostic_note_f1"} <= set(result["metrics"])
    assert np.isfinite(result["metrics"]["train/loss"])


@pytest.mark.parametrize("experiment", sorted(p.stem for p in (Path(CONF_DIR) / "experiment").glob("*.yaml")))
def test_every_experiment_config_runs_one_step(mini_corpus, tmp_path, experiment):
    task = compose_train(mini_corpus, tmp_path / "run", f"experiment={experiment}").task._target_
    tiny = "recognizer_tiny" if task.endswith("RecognitionTask") else "transcriber_tiny"
    cfg = compose_train(mini_corpus, tmp_path / "run", f"experiment={experiment}", f"model={tiny}",
                        "data.segment_s=1.0", "data.num_workers=0", "+trainer.fast_dev_run=true", "~trainer.max_time")
    assert np.isfinite(train(cfg)["metrics"]["train/loss"])


def test_training_resumes_from_its_last_checkpoint(mini_corpus, tmp_path):
    out = tmp_path / "run"
    first = train(compose_train(mini_corpus, out, "trainer.max_steps=2", "trainer.val_check_interval=2"))
    last = out / "checkpoints" / "last.ckpt"
    assert last.is_file() and Path(first["model_file"]).is_file()
    assert not [p for p in (out / "checkpoints").iterdir() if p.name.endswith(".tmp")]
    resumed = train(compose_train(mini_corpus, out, "trainer.max_steps=4", "trainer.val_check_interval=2",
                                  f"ckpt_path={last}"))
    assert torch.load(last, weights_only=False)["global_step"] == 4
    model, extra = load_model(resumed["model_file"])
    # the exported weights are the best checkpoint's, and say how many steps made them
    assert extra["trained_steps"] == torch.load(extra["source"], weights_only=False)["global_step"] <= 4
    assert isinstance(model, PitchwiseTranscriber)
    # the Lightning checkpoint itself rebuilds the model without Hydra
    assert isinstance(load_model(last)[0], PitchwiseTranscriber)


@pytest.mark.parametrize("name", sorted(p.stem for p in (Path(CONF_DIR) / "model").glob("transcriber*.yaml")))
def test_every_transcriber_config_builds_and_transcribes_several_instruments(name):
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    model = instantiate(OmegaConf.load(Path(CONF_DIR) / "model" / f"{name}.yaml")).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 4_000), torch.tensor([[0, 38]]))
    assert out.onset.shape == out.frame.shape == (1, 2, 26, 88)


def test_instrument_sampling_mixes_present_and_absent():
    rng = np.random.default_rng(0)
    present = np.zeros(39)
    present[[0, 10, 38, 5]] = 1
    for _ in range(20):
        chosen = sample_instruments(rng, present, k=4, max_present=3, class_weights=np.ones(39))
        assert len(set(chosen.tolist())) == 4
        assert sum(present[c] > 0 for c in chosen) == 3
    only_one = np.zeros(39)
    only_one[7] = 1
    chosen = sample_instruments(rng, only_one, k=4, max_present=3, class_weights=np.ones(39))
    assert chosen[0] == 7 and sum(only_one[chosen]) == 1


def test_agnostic_targets_merge_every_pitched_instrument_and_leave_drums_out():
    piano = NoteArray.from_arrays([0.10], [0.30], [60])
    bass = NoteArray.from_arrays([0.20, 0.50], [0.40, 0.90], [36, 40])
    drums = NoteArray.from_arrays([0.25], [0.35], [38])
    ex = Example("T", 0.0, np.zeros(16_000, np.float32), {}, {0: piano, 5: bass, 38: drums}, np.zeros(39, np.float32))
    onset, frame = agnostic_rolls([ex], frames=101)
    assert onset.shape == frame.shape == (1, 101, 88)
    hits = {(int(t), int(p) + 21) for t, p in zip(*np.nonzero(onset[0].numpy()))}
    assert hits == {(10, 60), (20, 36), (50, 40)}  # no drum onset at frame 25, key 38
    assert frame[0, 10:30, 60 - 21].all() and frame[0, 20:40, 36 - 21].all() and not frame[0, :, 38 - 21].any()


@pytest.mark.parametrize("kind", ["pitchwise", "mel"])
def test_tiny_model_overfits_one_clip(kind):
    torch.manual_seed(0)
    spec = [(0.2, 0.6, 60), (0.5, 1.0, 67), (1.0, 1.4, 64), (1.2, 2.0, 48), (1.6, 1.8, 72), (2.0, 2.6, 62)]
    audio = torch.from_numpy(sine_notes(spec, 2.8))[None]
    notes = NoteArray.from_arrays([s[0] for s in spec], [s[1] for s in spec], [s[2] for s in spec])
    rolls = notes_to_rolls(notes, num_frames=281)
    onset_t, frame_t = torch.from_numpy(rolls.onset)[None, None], torch.from_numpy(rolls.frame)[None, None]
    if kind == "pitchwise":
        model = PitchwiseTranscriber(harmonics=(0.5, 1, 2, 3), trunk_channels=(8, 16), dilations=(1, 2), head_channels=16,
                                     dropout=0.0)
    else:
        model = OnsetsFramesTranscriber(shared_channels=(8,), features=64, rnn_hidden=32, film_layers=1, dropout=0.0)
    optimizer = torch.optim.Adam(model.parameters(), 3e-3)
    piano = torch.tensor([[0]])
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    f1 = 0.0
    for step in range(400):
        model.train()
        out = model(audio, piano)
        loss = bce(out.onset, onset_t, pos_weight=torch.tensor(10.0)) + bce(out.frame, frame_t)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 25 == 24:
            model.eval()
            with torch.no_grad():
                out = model(audio, piano)
            est = decode_notes(torch.sigmoid(out.onset[0, 0]).numpy(), torch.sigmoid(out.frame[0, 0]).numpy())
            f1 = match_counts(notes, est, with_offset=False).f1
            if f1 >= 0.9:
                break
    assert f1 >= 0.9
