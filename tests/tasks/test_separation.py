"""The separation task: its targets, its posteriorgram conditions (true rolls or a frozen
transcriber's posteriors), the STFT loss, overfitting one clip through the task, and the model file
``jointist-train experiment=separator_synth`` exports."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch

from jointist.cli.train import train
from jointist.data.slakh import Example, collate_examples
from jointist.metrics import whole_track_sdr_db
from jointist.models.base import SeparatorModel
from jointist.models.serialize import load_model, model_roles
from jointist.tasks.losses import MultiResolutionSTFTLoss, SeparationLoss
from jointist.tasks.separation import SeparationTask
from jointist.tasks.targets import rolls_for, stems_for
from tests.conftest import compose_train, fit_on_one_clip, note_array, sine_notes, tiny_model

PIANO, BASS = 0, 10  # class indices
PIANO_NOTES = [(0.1, 0.6, 60), (0.5, 0.9, 67)]
BASS_NOTES = [(0.0, 0.8, 40)]


def piano_and_bass(duration_s: float = 1.0) -> Example:
    """One clip: a piano stem (two sine notes) and a bass stem (one), their sum as the mixture."""
    piano, bass = sine_notes(PIANO_NOTES, duration_s), sine_notes(BASS_NOTES, duration_s)
    present = np.zeros(39, np.float32)
    present[[PIANO, BASS]] = 1.0
    return Example("clip", 0.0, piano + bass, {PIANO: piano, BASS: bass},
                   {PIANO: note_array(PIANO_NOTES), BASS: note_array(BASS_NOTES)}, present)


def separation_task(*, lr: float = 1e-2, seed: int = 0, **options) -> SeparationTask:
    """The task around a tiny separator (``fusion=none`` for ``condition=none``); both classes of
    :func:`piano_and_bass` every step."""
    options = {"instruments_per_clip": 2, "present_per_clip": 2, **options}
    fusion = {"fusion": "none"} if options.get("condition") == "none" else {}
    return SeparationTask({"separator": tiny_model("FiLMUNetSeparator", seed=seed, **fusion)},
                          optimizer=partial(torch.optim.Adam, lr=lr), **options)


def state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


# -- targets ----------------------------------------------------------------------------------------

def test_targets_are_the_stems_of_present_classes_and_silence_for_absent_ones():
    clip = piano_and_bass()
    target = stems_for([clip, clip], np.array([[BASS, 5, PIANO], [7, PIANO, 38]]), samples=16_000)
    assert target.shape == (2, 3, 16_000) and target.dtype == torch.float32
    assert np.array_equal(target[0, 0].numpy(), clip.stems[BASS]) and np.array_equal(target[0, 2].numpy(), clip.stems[PIANO])
    assert np.array_equal(target[1, 1].numpy(), clip.stems[PIANO])
    assert not target[0, 1].any() and not target[1, 0].any() and not target[1, 2].any()
    assert np.array_equal(stems_for([clip], np.array([[PIANO]]), samples=8_000)[0, 0].numpy(), clip.stems[PIANO][:8_000])


def test_a_batch_without_stems_asks_for_load_stems():
    clip = piano_and_bass()
    no_stems = Example(clip.track_id, 0.0, clip.mix, {}, clip.notes, clip.present)
    with pytest.raises(ValueError, match="set data.load_stems=true"):
        stems_for([no_stems], np.array([[PIANO]]), samples=16_000)
    task = separation_task()
    with pytest.raises(ValueError, match="set data.load_stems=true"):
        task.training_step(collate_examples([no_stems]), 0)


# -- conditions -------------------------------------------------------------------------------------

def test_condition_roll_feeds_the_true_frame_rolls():
    task = separation_task(condition="roll")
    clip = piano_and_bass()
    batch, instruments = collate_examples([clip]), np.array([[BASS, PIANO, 5]])
    posteriorgram = task.posteriorgram(batch, instruments)
    assert posteriorgram.shape == (1, 3, 101, 88)
    assert torch.equal(posteriorgram, rolls_for(batch.examples, instruments, frames=101)[1])
    assert posteriorgram[0, 0, :80, 40 - 21].all() and not posteriorgram[0, 2].any()  # the bass note; silence for class 5


def test_condition_none_gives_no_posteriorgram_and_an_unknown_condition_is_refused():
    task = separation_task(condition="none")
    assert task.posteriorgram(collate_examples([piano_and_bass()]), np.array([[PIANO]])) is None
    with pytest.raises(ValueError, match="condition must be one of"):
        separation_task(condition="oracle")
    with pytest.raises(ValueError, match="task.transcriber=<model file>"):
        separation_task(condition="transcriber")
    # a separator that fuses a posteriorgram needs one, and one that does not must not be given one
    with pytest.raises(ValueError, match="does not fit a separator with fusion='harmonic'"):
        SeparationTask({"separator": tiny_model("FiLMUNetSeparator")}, optimizer=torch.optim.Adam, condition="none")


def test_condition_transcriber_loads_a_frozen_transcriber_from_its_model_file(tiny_model_file):
    task = separation_task(condition="transcriber", transcriber=str(tiny_model_file))
    stored, _ = load_model(tiny_model_file, role="transcriber")
    transcriber = task.model_of("transcriber")
    assert all(torch.equal(a, b) for a, b in zip(transcriber.state_dict().values(), stored.state_dict().values(), strict=True))
    clip = piano_and_bass()
    batch, instruments = collate_examples([clip]), np.array([[PIANO, BASS]])
    task.eval()
    with torch.no_grad():  # the condition is the transcriber's frame posteriors of the same clip
        posteriorgram = task.posteriorgram(batch, instruments)
        expected = torch.sigmoid(stored.eval()(batch.mix, torch.tensor([[PIANO, BASS]])).frame)
    assert posteriorgram.shape == (1, 2, 101, 88) and torch.allclose(posteriorgram, expected)

    transcriber_before, separator_before = state(transcriber), state(task.separator)
    fit_on_one_clip(task.train(), clip, max_steps=3)
    assert task.frozen("transcriber") and not any(p.requires_grad for p in transcriber.parameters())
    assert not transcriber.training  # batch norm statistics frozen too
    after = state(transcriber)
    assert all(torch.equal(after[k], v) for k, v in transcriber_before.items())  # weights and running statistics
    moved = state(task.separator)
    assert any(not torch.equal(moved[k], v) for k, v in separator_before.items() if v.is_floating_point())


# -- losses -----------------------------------------------------------------------------------------

def test_the_stft_loss_is_zero_for_identical_signals_and_positive_otherwise():
    signal = torch.from_numpy(np.stack([sine_notes(PIANO_NOTES, 1.0), sine_notes(BASS_NOTES, 1.0)]))[None]
    stft = MultiResolutionSTFTLoss()
    assert float(stft(signal, signal.clone())) == pytest.approx(0.0, abs=1e-6)
    louder, other = float(stft(1.5 * signal, signal)), float(stft(signal.flip(1), signal))
    assert louder > 0.1 and other > louder  # the wrong stems cost more than the right ones too loud
    total, parts = SeparationLoss(stft_weight=0.5)(signal.flip(1), signal)
    assert set(parts) == {"l1", "stft"} and float(total) == pytest.approx(float(parts["l1"] + 0.5 * parts["stft"]))
    with pytest.raises(ValueError, match="differ"):
        SeparationLoss()(signal[:, :1], signal)


# -- training ---------------------------------------------------------------------------------------

def test_a_tiny_separator_overfits_one_clip_through_the_task():
    """120 Adam steps on a piano + bass clip (true rolls as the condition): each present stem comes
    back above 10 dB SDR (measured ~19 dB; a new separator's half-mixtures score about 0-3 dB)."""
    task = separation_task(lr=2e-2)
    clip = piano_and_bass()
    batch, instruments = collate_examples([clip]), np.array([[PIANO, BASS]])
    fit_on_one_clip(task, clip, max_steps=120)
    task.eval()
    with torch.no_grad():
        estimate = task.separate(batch, instruments)[0].numpy()
    sdr = [whole_track_sdr_db(clip.stems[c], estimate[j]) for j, c in enumerate(instruments[0])]
    assert min(sdr) > 10.0, sdr


def test_the_exported_separator_card_notes_the_condition(shared_mini_corpus, tmp_path):
    result = train(compose_train(shared_mini_corpus, tmp_path / "run", "experiment=separator_synth", "model=separator_tiny",
                                 "data.decode_cache=null", "data.num_workers=0", "data.segment_s=1.0",
                                 "trainer.max_steps=2", "trainer.val_check_interval=2"))
    assert {"train/loss", "val/sdr", "val/absent_energy_db"} <= set(result["metrics"])
    assert np.isfinite(result["metrics"]["val/sdr"])
    roles = model_roles(result["model_file"])
    assert list(roles) == ["separator"]
    card = roles["separator"]
    assert card.class_name == "FiLMUNetSeparator" and card.trained_steps == 2 and card.notes == "trained with condition=roll"
    model, _ = load_model(result["model_file"], role="separator")
    assert isinstance(model, SeparatorModel) and model.init_args == card.init_args


def test_a_frozen_pretrained_transcriber_keeps_its_card_in_the_exported_file(tiny_model_file):
    """Its decode thresholds travel with it, so the exported system decodes notes as it did."""
    task = separation_task(condition="transcriber", transcriber=str(tiny_model_file))
    _, stored = load_model(tiny_model_file, role="transcriber")
    assert stored.decode and task.model_card("transcriber") == stored
    assert task.model_card("separator").notes == "trained with condition=transcriber"
