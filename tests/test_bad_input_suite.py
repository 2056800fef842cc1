"""Issue 13's bad-input suite: every kind of bad input a user can give a command, one case each.

Each case runs the command in this process and asserts what a user relies on: exit status 2, one
specific message naming the cause (never a traceback), and nothing written to the output folder.
The cases that worked before the issue are here too, so they stay working.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from jointist.cli import evaluate, synth, train, transcribe
from jointist.constants import SAMPLE_RATE
from tests.conftest import run_command, sine_notes, write_mini_corpus


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Good and bad inputs, written once."""
    root = tmp_path_factory.mktemp("inputs")
    good = root / "song.wav"
    sf.write(good, sine_notes([(0.5, 1.0, 60), (1.5, 2.0, 64)], 3.0), SAMPLE_RATE)
    out = {"song": good}
    out["empty_wav"] = root / "empty.wav"
    sf.write(out["empty_wav"], np.zeros(0, np.float32), SAMPLE_RATE)
    out["silent_wav"] = root / "silent.wav"
    sf.write(out["silent_wav"], np.zeros(SAMPLE_RATE, np.float32), SAMPLE_RATE)
    out["nan_wav"] = root / "nan.wav"
    sf.write(out["nan_wav"], np.full(SAMPLE_RATE, np.nan, np.float32), SAMPLE_RATE, subtype="FLOAT")
    out["text"] = root / "notes.wav"
    out["text"].write_text("these are not samples\n")
    out["zero_bytes"] = root / "zero.flac"
    out["zero_bytes"].write_bytes(b"")
    out["folder"] = root / "a_folder.wav"
    out["folder"].mkdir()
    out["garbage_ckpt"] = root / "garbage.pt"
    out["garbage_ckpt"].write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    out["empty_ckpt"] = root / "empty.pt"
    out["empty_ckpt"].write_bytes(b"")
    out["text_ckpt"] = root / "model.pt"
    out["text_ckpt"].write_text("not a model\n")
    out["corpus"] = write_mini_corpus(root / "mini")
    out["empty_corpus"] = root / "empty_corpus"
    (out["empty_corpus"] / "test").mkdir(parents=True)
    return out


def _fill(files: dict, tmp_path: Path) -> dict[str, str]:
    """What a case's ``{name}`` placeholders stand for: the bad files, and ``root`` (the test's folder)."""
    return {**{k: str(v) for k, v in files.items()}, "root": str(tmp_path)}


def _unless_given(args: list[str], option: str, value: str) -> list[str]:
    """``option=value`` unless the case sets ``option`` itself."""
    return [] if any(a.startswith(f"{option}=") for a in args) else [f"{option}={value}"]


def _assert_refused(main, args: list[str], capsys: pytest.CaptureFixture[str], message: str) -> None:
    """The command exits with status 2 and a message naming the cause, without a traceback."""
    code = run_command(main, *args)
    captured = capsys.readouterr()
    printed = captured.out + captured.err
    assert code == 2, printed
    assert message in printed and "Traceback" not in printed, printed


TRANSCRIBE = [
    # (id, arguments, message)
    ("no_audio", [], "audio= names no recording"),
    ("missing_file", ["audio={root}/nope.wav"], "nope.wav"),
    ("folder_of_no_audio", ["audio={folder}"], "a_folder.wav"),
    ("text_file", ["audio={text}"], "cannot read"),
    ("zero_bytes", ["audio={zero_bytes}"], "cannot read"),
    ("empty_audio", ["audio={empty_wav}"], "contains no samples"),
    ("silent_audio", ["audio={silent_wav}"], "silent"),
    ("nan_audio", ["audio={nan_wav}"], "contains NaN or infinite samples"),
    ("unknown_instrument", ["audio={song}", "instruments=[piano,kazooo]"], "kazooo"),
    ("unknown_instrument_lists_valid", ["audio={song}", "instruments=[kazooo]"], "electric_guitar"),
    ("class_index_too_big", ["audio={song}", "instruments=[39]"], "39"),
    ("negative_class_index", ["audio={song}", "instruments=[-1]"], "-1"),
    ("float_instrument", ["audio={song}", "instruments=[1.5]"], "1.5"),
    ("empty_instrument_list", ["audio={song}", "instruments=[]"], "instrument"),
    ("onset_threshold_above_1", ["audio={song}", "decode.onset_threshold=5"], "onset_threshold"),
    ("frame_threshold_negative", ["audio={song}", "decode.frame_threshold=-0.1"], "frame_threshold"),
    ("min_note_negative", ["audio={song}", "decode.min_note_s=-1"], "min_note_s"),
    ("shared_onset_ratio_above_1", ["audio={song}", "decode.shared_onset_ratio=2"], "shared_onset_ratio"),
    ("batch_size_zero", ["audio={song}", "batch_size=0"], "batch_size=0: give a whole number >= 1"),
    ("batch_size_negative", ["audio={song}", "batch_size=-2"], "batch_size=-2"),
    ("batch_size_text", ["audio={song}", "batch_size=many"], "batch_size=many"),
    ("instruments_per_pass_zero", ["audio={song}", "instruments_per_pass=0"], "instruments_per_pass=0"),
    ("hop_longer_than_window", ["audio={song}", "hop_s=12"], "need 0 < hop_s <= window_s"),
    ("hop_shorter_than_a_frame", ["audio={song}", "hop_s=0.001"], "shorter than one frame"),
    ("hop_zero", ["audio={song}", "hop_s=0"], "hop_s=0"),
    ("window_text", ["audio={song}", "window_s=long"], "window_s=long"),
    ("unknown_head", ["audio={song}", "head=mt3"], "head=mt3: choose one of onsets_frames, seq2seq"),
    ("max_tokens_one", ["audio={song}", "head=seq2seq", "max_tokens=1"], "max_tokens=1"),
    ("input_peak_above_full_scale", ["audio={song}", "input_peak=2"], "input_peak=2: give the peak level"),
    ("input_peak_text", ["audio={song}", "input_peak=loud"], "input_peak='loud'"),
    ("missing_ckpt", ["audio={song}", "ckpt={root}/none.pt"], "none.pt"),
    ("garbage_ckpt", ["audio={song}", "ckpt={garbage_ckpt}"], "garbage.pt"),
    ("empty_ckpt", ["audio={song}", "ckpt={empty_ckpt}"], "empty.pt"),
    ("text_ckpt", ["audio={song}", "ckpt={text_ckpt}"], "model.pt"),
    ("seq2seq_head_from_a_file_without_one", ["audio={song}", "head=seq2seq", "ckpt={tiny}"], "seq2seq"),
    ("missing_recognizer", ["audio={song}", "instruments=auto", "recognizer={root}/none_rec.pt"], "none_rec.pt"),
    ("garbage_separator", ["audio={song}", "separate=true", "separator={garbage_ckpt}"], "garbage.pt"),
]


@pytest.mark.parametrize(("args", "message"), [c[1:] for c in TRANSCRIBE], ids=[c[0] for c in TRANSCRIBE])
def test_jointist_transcribe_refuses_bad_input(files, tiny_model_file, tmp_path, capsys, args, message):
    out = tmp_path / "out"
    fill = {**_fill(files, tmp_path), "tiny": str(tiny_model_file)}
    _assert_refused(transcribe.main, [f"out={out}", "progress=false", *_unless_given(args, "ckpt", str(tiny_model_file)),
                                      *_unless_given(args, "instruments", "[piano]"), *[a.format(**fill) for a in args]],
                    capsys, message)
    assert not out.exists() or not any(out.iterdir())


EVALUATE = [
    ("missing_data_root", ["data_root={root}/no_corpus"], "no_corpus"),
    ("missing_split", ["data_root={corpus}", "split=holdout"], "holdout"),
    ("split_without_tracks", ["data_root={empty_corpus}"], "empty_corpus"),
    ("unknown_instrument", ["data_root={corpus}", "instruments=[kazooo]"], "kazooo"),
    ("tune_decode_with_seq2seq", ["data_root={corpus}", "head=seq2seq", "tune_decode=true"], "tune_decode=true"),
    ("bad_threshold", ["data_root={corpus}", "decode.onset_threshold=1.5"], "onset_threshold"),
    ("garbage_ckpt", ["data_root={corpus}", "ckpt={garbage_ckpt}"], "garbage.pt"),
]


@pytest.mark.parametrize(("args", "message"), [c[1:] for c in EVALUATE], ids=[c[0] for c in EVALUATE])
def test_jointist_evaluate_refuses_bad_input(files, tiny_model_file, tmp_path, capsys, args, message):
    out = tmp_path / "eval"
    _assert_refused(evaluate.main, [f"out={out}", "progress=false", "split=test",
                                    *_unless_given(args, "ckpt", str(tiny_model_file)),
                                    *[a.format(**_fill(files, tmp_path)) for a in args]], capsys, message)
    assert not out.exists() or not any(out.iterdir())


TRAIN = [
    ("missing_data_root", ["data.root={root}/no_corpus"], "no_corpus"),
    ("resume_from_a_missing_checkpoint", ["data.root={corpus}", "ckpt_path={root}/none.ckpt"], "none.ckpt"),
    ("resume_from_a_garbage_checkpoint", ["data.root={corpus}", "ckpt_path={garbage_ckpt}"], "garbage.pt"),
    ("pretrained_from_a_garbage_file", ["data.root={corpus}", "task.pretrained={{transcriber: {garbage_ckpt}}}"],
     "garbage.pt"),
]


@pytest.mark.parametrize(("args", "message"), [c[1:] for c in TRAIN], ids=[c[0] for c in TRAIN])
def test_jointist_train_refuses_bad_input(files, tmp_path, capsys, args, message):
    out = tmp_path / "run"
    _assert_refused(train.main, [f"paths.output_dir={out}", "model=transcriber_tiny", "data.num_workers=0",
                                 "data.segment_s=1.0", "data.batch_size=2", "trainer.max_steps=1",
                                 *[a.format(**_fill(files, tmp_path)) for a in args]], capsys, message)
    assert not out.exists() or not any(p for p in out.rglob("*") if p.is_file() and p.suffix in (".ckpt", ".pt"))


SYNTH = [
    ("no_tracks", ["num_tracks=0"], "num_tracks"),
    ("negative_duration", ["duration_s=-5"], "duration_s"),
    ("negative_split_fraction", ["splits={{train: 0.9, validation: -0.1, test: 0.1, test_style: 0.0}}"], "splits"),
    ("reserved_soundfont", ["soundfonts.train=[MuseScore_General.sf2]"], "MuseScore"),
]


@pytest.mark.parametrize(("args", "message"), [c[1:] for c in SYNTH], ids=[c[0] for c in SYNTH])
def test_jointist_synth_refuses_bad_input(tmp_path, capsys, args, message):
    root = tmp_path / "corpus"
    _assert_refused(synth.main, [f"root={root}", "duration_s=2", "num_tracks=2", "progress=false",
                                 *[a.format() for a in args]], capsys, message)
    assert not root.exists() or not any(root.rglob("*.flac"))

