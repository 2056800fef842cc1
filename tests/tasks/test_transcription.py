"""The transcription task: instrument draws, agnostic targets, and training through the task itself
until a clip's notes come back out of the pipeline."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch
from pytorch_lightning.callbacks import EarlyStopping

from jointist.data.slakh import Example
from jointist.metrics import match_counts
from jointist.models.serialize import save_model
from jointist.notes import NoteArray
from jointist.pipeline import Transcriber
from jointist.tasks.targets import agnostic_rolls, sample_instruments
from jointist.tasks.transcription import TranscriptionTask
from tests.conftest import CLIP_NOTES, LossHistory, fit_on_one_clip, note_array, one_clip, tiny_model


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


def test_instrument_sampling_follows_the_class_weights():
    rng = np.random.default_rng(0)
    weights = np.ones(39)
    weights[3] = 100.0  # class 3 is a hundred times likelier than any other absent class
    draws = [sample_instruments(rng, np.zeros(39), k=1, max_present=0, class_weights=weights)[0] for _ in range(200)]
    assert 0.6 < np.mean(np.asarray(draws) == 3) < 0.9  # 100 / 138 = 0.72


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


def one_clip_task(model: torch.nn.Module, **options) -> TranscriptionTask:
    """The task on a piano-only clip: the piano, and no absent instrument, per step."""
    return TranscriptionTask({"transcriber": model}, optimizer=partial(torch.optim.Adam, lr=1e-2),
                             instruments_per_clip=1, present_per_clip=1, **options)


def test_training_through_the_task_transcribes_the_clip_it_was_trained_on(tmp_path):
    """The tiny default transcriber, trained by ``trainer.fit`` on the task (its training step,
    loss, validation F1 and model card) on one clip, then exported: the pipeline finds that clip's
    notes again."""
    torch.manual_seed(0)
    clip = one_clip()
    # onsets are 6 cells of 25 000: weighted up, every seed tried (8) learns them in 40 to 60 steps
    task = one_clip_task(tiny_model("PitchwiseTranscriber"), onset_pos_weight=20.0)
    stop = EarlyStopping(monitor="val/note_f1", mode="max", stopping_threshold=0.99, patience=100)
    trainer = fit_on_one_clip(task, clip, max_steps=200, val_every=20, callbacks=[stop])
    assert trainer.callback_metrics["val/note_f1"] == 1.0, f"{trainer.global_step} steps: {trainer.callback_metrics}"
    assert trainer.global_step < 200  # stopped early, on the validation F1 the task logs

    path = save_model(task.transcriber, tmp_path / "model.pt", card=task.model_card("transcriber"))
    # the model learnt this clip at the clip's own level: heard as given, not scaled to the corpus level
    piano = Transcriber(path, progress=False, input_peak=None).transcribe_audio(clip.mix, instruments=["piano"]).tracks[0]
    score = match_counts(note_array(CLIP_NOTES), piano.notes, with_offset=False)
    assert score.f1 >= 0.9, (score, piano.notes.to_events())
    assert sorted(set(piano.notes.pitch.tolist())) == sorted({n[2] for n in CLIP_NOTES})


def test_the_log_mel_transcriber_trains_through_the_task():
    """OnsetsFramesTranscriber (no agnostic head: the task leaves those loss terms out)."""
    torch.manual_seed(0)
    model = tiny_model("OnsetsFramesTranscriber")
    history = LossHistory()
    clip = one_clip([n for n in CLIP_NOTES if n[1] <= 1.5], duration_s=1.5)
    fit_on_one_clip(one_clip_task(model), clip, max_steps=10, callbacks=[history])
    assert len(history.losses) == 10
    assert history.losses[-1] < 0.5 * history.losses[0], history.losses


def test_the_task_refuses_a_model_that_is_not_a_conditioned_transcriber():
    with pytest.raises(ValueError, match=r"models\['transcriber'\] must be a jointist model of that role"):
        TranscriptionTask({"transcriber": tiny_model("InstrumentRecognizer")}, optimizer=torch.optim.Adam)
    with pytest.raises(ValueError, match="instruments_per_clip must be in 1..39"):
        TranscriptionTask({"transcriber": tiny_model()}, optimizer=torch.optim.Adam, instruments_per_clip=40)
