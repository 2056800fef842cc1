"""Issue 13, items 8 and 10: bad command lines end in one specific message and exit status 2 (never a
traceback), leave nothing behind, and name the real cause (no CUDA, the output folder)."""

from __future__ import annotations

import pytest
import torch

from jointist.cli import synth, train, transcribe
from jointist.instruments import NUM_CLASSES
from jointist.models.serialize import CheckpointError, read_model_file, save_model
from tests.conftest import confident_recognizer, run_command


@pytest.fixture(scope="module")
def recognizer_only_file(tmp_path_factory):
    """A model file holding only a recognizer (no transcriber)."""
    model = confident_recognizer()
    card = model.card(thresholds=[0.5] * NUM_CLASSES, aggregate="max")
    return save_model(model, tmp_path_factory.mktemp("rec_only") / "rec.pt", card=card)


def _fails_cleanly(capsys, main, *args: str, message: str) -> str:
    assert run_command(main, *args) == 2, args
    printed = capsys.readouterr().out
    assert message in printed and "Traceback" not in printed, printed
    return printed


def test_a_model_file_of_the_wrong_kind_is_named(tiny_model_file, recognizer_only_file, song, tmp_path, capsys):
    out = tmp_path / "out"
    _fails_cleanly(capsys, transcribe.main, f"audio={song}", f"out={out}", f"ckpt={recognizer_only_file}",
                   "instruments=[piano]", "progress=false", message="holds no transcriber (it holds: recognizer)")
    _fails_cleanly(capsys, transcribe.main, f"audio={song}", f"out={out}", f"ckpt={tiny_model_file}",
                   f"recognizer={tiny_model_file}", "progress=false",
                   message="holds no recognizer (it holds: transcriber)")
    assert not out.exists()


@pytest.mark.parametrize(("extra", "message"), [
    ([], "audio= names no recording"),
    (["audio={song}", "batch_size=0"], "batch_size=0: give a whole number >= 1"),
    (["audio={song}", "batch_size=-2"], "batch_size=-2: give a whole number >= 1"),
    (["audio={song}", "hop_s=12"], "hop_s=12 with window_s=10.0: need 0 < hop_s <= window_s"),
    (["audio={song}", "hop_s=0.001"], "shorter than one frame"),
])
def test_bad_transcribe_arguments_exit_2(tiny_model_file, song, tmp_path, capsys, extra, message):
    out = tmp_path / "out"
    _fails_cleanly(capsys, transcribe.main, f"out={out}", f"ckpt={tiny_model_file}", "instruments=[piano]",
                   "progress=false", *[e.format(song=song) for e in extra], message=message)
    assert not out.exists()


def test_device_cuda_without_a_gpu_says_so(tiny_model_file, song, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "out"
    printed = _fails_cleanly(capsys, transcribe.main, f"audio={song}", f"out={out}", f"ckpt={tiny_model_file}",
                             "instruments=[piano]", "device=cuda", "progress=false",
                             message="device=cuda: CUDA is not available")
    assert "corrupt" not in printed and not out.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_reading_a_model_onto_cuda_without_a_gpu_is_not_called_corrupt(tiny_model_file):
    with pytest.raises(CheckpointError, match="CUDA is not available") as err:
        read_model_file(tiny_model_file, map_location="cuda")
    assert "corrupt" not in str(err.value)


def test_a_failed_write_names_the_output_folder(tiny_model_file, song, tmp_path, capsys, monkeypatch):
    def full_disk(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("jointist.export.write_outputs", full_disk)
    out = tmp_path / "out"
    _fails_cleanly(capsys, transcribe.main, f"audio={song}", f"out={out}", f"ckpt={tiny_model_file}",
                   "instruments=[piano]", "plots=false", "progress=false",
                   message=f"to the output folder out={out}: No space left on device")


def test_train_with_a_missing_data_root_names_it_and_leaves_no_run_folder(tmp_path, capsys):
    run_dir = tmp_path / "run"
    _fails_cleanly(capsys, train.main, f"data.root={tmp_path / 'nonexistent'}", "model=transcriber_tiny",
                   f"paths.output_dir={run_dir}", message=f"data root {tmp_path / 'nonexistent'} does not exist")
    assert not run_dir.exists()


@pytest.mark.parametrize(("arg", "message"), [
    ("num_tracks=0", "num_tracks must be >= 1, got 0"),
    ("duration_s=-1", "duration_s must be >= 2 s, got -1.0"),
])
def test_bad_synth_values_exit_2_with_corpus_specs_message(tmp_path, capsys, arg, message):
    root = tmp_path / "synth"
    _fails_cleanly(capsys, synth.main, arg, f"root={root}", "progress=false", message=message)
    assert not root.exists()
