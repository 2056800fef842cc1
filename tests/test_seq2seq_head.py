"""The seq2seq head end to end: class notes <-> tokens, the training task, the inference pipeline and
the commands (``head=seq2seq``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from hydra.utils import instantiate

from jointist.constants import SAMPLE_RATE
from jointist.data.slakh import Example, collate_examples
from jointist.instruments import DRUMS, INSTRUMENTS, NUM_CLASSES
from jointist.metrics import evaluate_piece, match_counts
from jointist.models.serialize import CheckpointError, save_model, save_models
from jointist.notes import NoteArray
from jointist.pipeline import TokenTranscriber, load_transcriber, transcribe
from jointist.seq2seq import (
    CHANNEL_GROUPS,
    CHANNEL_OF_CLASS,
    allowed_tokens,
    channels_for,
    class_notes,
    instrument_swaps,
    program_notes,
    segment_tokens,
)
from jointist.tasks.seq2seq import Seq2SeqTask
from jointist.tokens import Vocabulary, decode_segments, mt3_codec
from tests.conftest import model_config, note_array, run_command, sine_notes, tiny_model

SEGMENT_S = 2.048
PIANO = [(0.1, 0.5, 60), (0.4, 0.9, 67), (1.0, 1.4, 64), (1.2, 1.9, 72)]
BASS = [(0.2, 1.6, 40)]


def vocab() -> Vocabulary:
    return Vocabulary(mt3_codec(1))


def clip() -> Example:
    """2.048 s: four piano sines and one bass sine."""
    n = int(SEGMENT_S * SAMPLE_RATE)
    mix = sine_notes(PIANO, SEGMENT_S)[:n] + sine_notes(BASS, SEGMENT_S)[:n]
    present = np.zeros(NUM_CLASSES, np.float32)
    present[[0, 10]] = 1.0
    return Example("clip", 0.0, mix.astype(np.float32), {}, {0: note_array(PIANO), 10: note_array(BASS)}, present)


# -- classes <-> tokens ---------------------------------------------------------------------------

def test_class_notes_survive_the_codec_and_drums_stay_drums() -> None:
    notes = {0: note_array(PIANO), 10: note_array(BASS), DRUMS.index: note_array([(0.5, 0.6, 36), (1.5, 1.6, 38)])}
    ids = segment_tokens(notes, vocab(), segment_s=SEGMENT_S)
    assert ids[-1] == vocab().EOS
    decoded, stats = decode_segments([ids], [0.0], vocab(), end_s=SEGMENT_S)
    back = class_notes(decoded)
    assert sorted(back) == [0, 10, DRUMS.index]
    assert stats.invalid_events == 0
    for c in (0, 10):
        assert match_counts(notes[c], back[c], with_offset=True).f1 == 1.0
    np.testing.assert_allclose(back[DRUMS.index].onset_s, [0.5, 1.5])
    # the codec's notes carry each class's representative program
    programs = {(n.program, n.is_drum) for n in program_notes(notes)}
    assert programs == {(INSTRUMENTS[0].program, False), (INSTRUMENTS[10].program, False), (0, True)}


def test_a_channel_stream_holds_only_its_group() -> None:
    notes = {0: note_array(PIANO), 10: note_array(BASS)}
    bass_channel = int(CHANNEL_OF_CLASS[10])
    decoded, _ = decode_segments([segment_tokens(notes, vocab(), segment_s=SEGMENT_S, channel=bass_channel)], [0.0],
                                 vocab(), end_s=SEGMENT_S)
    assert sorted(class_notes(decoded)) == [10]
    silent = int(CHANNEL_OF_CLASS[DRUMS.index])
    # a silent group's target: an empty tie section, then EOS
    assert segment_tokens(notes, vocab(), segment_s=SEGMENT_S, channel=silent) == [vocab().token_id("tie", 0), vocab().EOS]
    assert channels_for([0, 1, 10]) == [0, bass_channel]
    assert len(CHANNEL_GROUPS) == 13


def test_allowed_tokens_ban_other_programs_and_drums() -> None:
    v = vocab()
    allowed = allowed_tokens(v, [0, 10])
    assert allowed[v.token_id("program", INSTRUMENTS[0].program)] and allowed[v.token_id("program", INSTRUMENTS[10].program)]
    assert not allowed[v.token_id("program", INSTRUMENTS[11].program)]
    assert not allowed[sorted(v.drum_ids())].any()
    assert allowed[v.EOS] and allowed[v.token_id("pitch", 60)] and allowed[v.token_id("shift", 5)]
    drums_only = allowed_tokens(v, [DRUMS.index])
    assert drums_only[sorted(v.drum_ids())].all() and not drums_only[sorted(v.program_ids())].any()
    assert allowed_tokens(v, None).all()


def test_instrument_swaps_count_a_note_handed_to_another_instrument_at_a_boundary() -> None:
    reference = {0: note_array([(0.5, 3.0, 60)])}
    kept = {0: note_array([(0.5, 3.0, 60)])}
    swapped = {0: note_array([(0.5, 2.048, 60)]), 5: note_array([(2.048, 3.0, 60)])}
    lost = {0: note_array([(0.5, 2.0, 60)])}
    assert instrument_swaps(reference, kept, [2.048]) == (0, 1)
    assert instrument_swaps(reference, swapped, [2.048]) == (1, 1)
    assert instrument_swaps(reference, lost, [2.048]) == (0, 0)


# -- the task ---------------------------------------------------------------------------------------

def tiny_task(**model_overrides: object) -> Seq2SeqTask:
    model = tiny_model("Seq2SeqTranscriber", **model_overrides)
    return Seq2SeqTask({"seq2seq": model}, optimizer=lambda params: torch.optim.Adam(params, lr=3e-3))


def test_token_targets_of_a_batch_are_the_codec_tokens_shifted_right() -> None:
    task = tiny_task()
    batch = collate_examples([clip(), clip()])
    tokens, truncated = task.token_batch(batch, np.random.default_rng(0))
    expected = segment_tokens(clip().notes, task.vocab, segment_s=SEGMENT_S)
    assert truncated == 0
    assert tokens.targets.shape == (2, len(expected))
    assert tokens.targets[0].tolist() == expected
    assert tokens.decoder_input[0, 0].item() == task.vocab.PAD
    assert tokens.decoder_input[0, 1:].tolist() == expected[:-1]


def test_multichannel_targets_are_the_sounding_groups_and_drawn_silent_ones() -> None:
    task = tiny_task(channels=len(CHANNEL_GROUPS))
    tokens, _ = task.token_batch(collate_examples([clip()]), np.random.default_rng(0))
    channels = tokens.channel.tolist()
    assert {int(CHANNEL_OF_CLASS[0]), int(CHANNEL_OF_CLASS[10])} <= set(channels)
    assert len(channels) == 3  # piano's and bass's groups + one silent group
    every, _ = task.token_batch(collate_examples([clip()]), None)
    assert every.channel.tolist() == list(range(len(CHANNEL_GROUPS)))


def test_a_wrong_channel_count_is_refused() -> None:
    with pytest.raises(ValueError, match="channels=13"):
        tiny_task(channels=4)


def test_a_single_stream_model_warm_starts_a_multichannel_one(tmp_path: Path) -> None:
    """The GPU recipe trains the multi-channel decoder from a single-stream model: every weight carries
    over and only the channel embedding starts fresh; any other difference is still refused."""
    source = tiny_model("Seq2SeqTranscriber", seed=3)
    path = save_model(source, tmp_path / "single.pt")
    optimizer = lambda params: torch.optim.Adam(params, lr=3e-3)  # noqa: E731
    task = Seq2SeqTask({"seq2seq": tiny_model("Seq2SeqTranscriber", channels=len(CHANNEL_GROUPS))},
                       optimizer=optimizer, pretrained={"seq2seq": str(path)})
    loaded = task.model_of("seq2seq").state_dict()
    assert {k for k in loaded if k not in source.state_dict()} == {"channel_embedding.weight"}
    assert all(torch.equal(loaded[k], v) for k, v in source.state_dict().items())
    with pytest.raises(CheckpointError, match="pretrained seq2seq"):
        Seq2SeqTask({"seq2seq": tiny_model("Seq2SeqTranscriber", channels=len(CHANNEL_GROUPS), d_ff=32)},
                    optimizer=optimizer, pretrained={"seq2seq": str(path)})


def test_validation_decodes_only_the_first_batches_it_is_told_to() -> None:
    """Greedy decoding dominates a validation's cost: with ``val_decode_batches=1`` later batches are
    scored by their teacher-forced loss only, and the note F1 comes from the first batch's windows."""
    model = tiny_model("Seq2SeqTranscriber")
    task = Seq2SeqTask({"seq2seq": model}, optimizer=lambda params: torch.optim.Adam(params, lr=3e-3),
                       val_decode_batches=1)
    task.eval()
    batch = collate_examples([clip(), clip()])
    with torch.no_grad():
        task.validation_step(batch, 0)
        assert len(task._scores) == 2  # both windows of the first batch decoded and scored
        task.validation_step(batch, 1)
        assert len(task._scores) == 2
    with pytest.raises(ValueError, match="val_decode_batches"):
        Seq2SeqTask({"seq2seq": model}, optimizer=lambda params: torch.optim.Adam(params), val_decode_batches=0)


def test_the_auxiliary_frame_loss_reads_the_pitched_notes_at_the_encoders_frame_rate() -> None:
    """Frame k of the encoder is at k x 128 / 16000 s (125 frames/s): the bass note from 0.2 s to 1.6 s
    covers frames 25..199 of key 40 - 21; drums never enter the roll; without a frame head the loss is refused."""
    from jointist.instruments import DRUMS

    task = Seq2SeqTask({"seq2seq": tiny_model("Seq2SeqTranscriber", frame_head=True)},
                       optimizer=lambda params: torch.optim.Adam(params, lr=3e-3), frame_loss_weight=1.0)
    example = clip()
    example.notes[DRUMS.index] = note_array([(0.3, 0.4, 36)])
    batch = collate_examples([example])
    roll = task.frame_targets(batch, 256)[0]
    assert np.flatnonzero(roll[:, 40 - 21]).tolist() == list(range(25, 200))
    assert not roll[:, 36 - 21].any()  # the kick is a drum
    assert roll[13, 60 - 21] == 1 and roll[12, 60 - 21] == 0  # piano C4 from 0.1 s (frame 12.5) sounds from frame 13
    memory = task.model.encode(batch.mix)
    assert task.frame_loss(batch, memory).item() > 0
    with pytest.raises(ValueError, match="frame head"):
        Seq2SeqTask({"seq2seq": tiny_model("Seq2SeqTranscriber")}, optimizer=lambda params: torch.optim.Adam(params),
                    frame_loss_weight=1.0)


@pytest.fixture(scope="module")
def overfit_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny seq2seq model trained on the clip alone until it writes its tokens, as a model file."""
    torch.manual_seed(0)
    task = tiny_task()
    optimizer = torch.optim.Adam(task.parameters(), lr=3e-3)
    batch = collate_examples([clip()])
    task.train()
    for _ in range(300):
        tokens, _ = task.token_batch(batch, None)
        loss, accuracy = task.loss_and_accuracy(task.logits(batch.mix, tokens), tokens.targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if accuracy.item() == 1.0 and loss.item() < 0.01:
            break
    task.eval()
    model = task.model_of("seq2seq")
    return save_models({"seq2seq": (model, task.model_card("seq2seq"))}, tmp_path_factory.mktemp("s2s") / "s2s.pt")


def test_a_tiny_model_overfits_one_clip_through_the_pipeline(overfit_file: Path) -> None:
    pipeline = TokenTranscriber(overfit_file, progress=False)
    result = pipeline.transcribe_audio(clip().mix, instruments=["piano", "bass"])
    estimate = {t.instrument.index: t.notes for t in result.tracks}
    scores = evaluate_piece("clip", clip().notes, estimate, velocity=False)
    assert scores.flat_onset.f1 >= 0.9
    assert scores.onset[0].f1 >= 0.9 and scores.onset[10].f1 >= 0.9
    assert result.tracks[0].frame.codes.shape == (int(SEGMENT_S * 100) + 1, 88)


def test_restricted_decoding_gives_only_the_requested_instruments(overfit_file: Path) -> None:
    pipeline = TokenTranscriber(overfit_file, progress=False)
    allowed = allowed_tokens(pipeline.vocab, [10])
    streams = pipeline.segment_tokens(clip().mix, [10])
    emitted = {t for segment in streams[None] for t in segment}
    assert all(allowed[t] for t in emitted)
    result = pipeline.transcribe_audio(clip().mix, instruments=["bass"])
    assert [t.instrument.index for t in result.tracks] == [10]


def test_long_audio_goes_through_consecutive_segments(overfit_file: Path) -> None:
    audio = np.concatenate([clip().mix] * 3)  # 6.1 s: three segments, the last one padded
    result = transcribe(audio, instruments=["piano", "bass"], model=overfit_file, head="seq2seq")
    assert result.duration_s == pytest.approx(3 * SEGMENT_S)
    reference = {c: NoteArray.concatenate([NoteArray(n.onset_s + k * SEGMENT_S, n.offset_s + k * SEGMENT_S, n.pitch,
                                                     n.velocity) for k in range(3)]) for c, n in clip().notes.items()}
    estimate = {t.instrument.index: t.notes for t in result.tracks}
    assert evaluate_piece("x3", reference, estimate, velocity=False).flat_onset.f1 >= 0.9
    assert all(n.offset_s.max() <= result.duration_s for n in estimate.values() if len(n))


def test_the_head_is_checked(overfit_file: Path, tiny_model_file: Path) -> None:
    with pytest.raises(ValueError, match="onsets_frames, seq2seq"):
        load_transcriber("mt3", overfit_file)
    with pytest.raises(CheckpointError, match="seq2seq"):
        TokenTranscriber(tiny_model_file, progress=False)


def test_jointist_transcribe_with_the_seq2seq_head(overfit_file: Path, tmp_path: Path) -> None:
    from jointist.cli.transcribe import main

    wav = tmp_path / "clip.wav"
    sf.write(wav, clip().mix, SAMPLE_RATE)
    out = tmp_path / "out"
    assert run_command(main, f"audio={wav}", f"out={out}", "head=seq2seq", f"ckpt={overfit_file}",
                       "instruments=[piano,bass]", "progress=false") == 0
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(str(out / "clip.mid"))
    assert sorted(i.program for i in midi.instruments) == sorted([INSTRUMENTS[0].program, INSTRUMENTS[10].program])
    assert run_command(main, f"audio={wav}", f"out={tmp_path / 'bad'}", "head=mt3", f"ckpt={overfit_file}") == 2


def test_jointist_evaluate_with_the_seq2seq_head(overfit_file: Path, mini_corpus: Path, tmp_path: Path) -> None:
    from jointist.cli.evaluate import run
    from tests.conftest import compose_config

    cfg = compose_config("evaluate", f"data_root={mini_corpus}", "split=test", "head=seq2seq", f"ckpt={overfit_file}",
                         f"out={tmp_path / 'eval'}", "progress=false")
    report = run(cfg)["transcription"]
    assert 0.0 <= report.flat["onset"] <= 1.0
    assert (tmp_path / "eval" / "report.json").is_file()


def test_the_configs_build_and_the_codec_fits_them() -> None:
    for name in ("seq2seq_tiny", "seq2seq"):
        model = instantiate(model_config(name), _convert_="object")
        assert model.init_args["vocab_size"] >= vocab().vocab_size
        assert model.role == "seq2seq"


def test_the_separator_reads_the_seq2seq_notes_as_its_condition(overfit_file: Path, tmp_path: Path) -> None:
    from jointist.data.targets import class_rolls
    from jointist.models.serialize import save_model
    from tests.conftest import perturb

    separator = save_model(perturb(tiny_model("FiLMUNetSeparator"), 0.3).eval(), tmp_path / "separator.pt")
    pipeline = TokenTranscriber(overfit_file, progress=False, separator=separator)
    result = pipeline.transcribe_audio(clip().mix, instruments=["piano", "bass"], separate=True)
    assert [t.stem.shape for t in result.tracks] == [(len(clip().mix),)] * 2
    # the same stems as score-informed separation from the notes the head wrote
    notes = {t.instrument.index: t.notes for t in result.tracks}
    informed = pipeline.separate_with_score(clip().mix, notes)
    for a, b in zip(result.tracks, informed.tracks, strict=True):
        np.testing.assert_allclose(a.stem, b.stem, atol=1e-6)
    onset, frame = class_rolls(notes, [0, 10], num_frames=result.tracks[0].frame.codes.shape[0])
    np.testing.assert_array_equal(result.tracks[0].frame.codes > 127, frame[0] > 0.5)
