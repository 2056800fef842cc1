"""Model files: cards, several roles per file, Lightning checkpoints, version-1 files, and files that
would run code when unpickled (refused, and their code never runs)."""

from __future__ import annotations

import builtins
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from jointist.cli import evaluate, transcribe
from jointist.models.serialize import CheckpointError, load_model, load_models, model_roles, save_model, save_models
from jointist.pipeline import Transcriber
from jointist.postprocess import DecodeConfig
from jointist.tasks.transcription import TranscriptionTask
from tests.conftest import compose_train, confident_recognizer, perturb, run_command, tiny_model

V1 = Path(__file__).parent / "v1"  # written by the code of 5e60748^ (see v1/make_v1_files.py)


# -- files that run code when unpickled ---------------------------------------------------------

class RunsCode:
    """Unpickling this calls ``call(*args)``."""

    def __init__(self, call: Any, *args: Any) -> None:
        self.call, self.args = call, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.call, self.args


def crafted_file(folder: Path, suffix: str, how: str) -> tuple[Path, Path]:
    """A model file (``.pt``) or task checkpoint (``.ckpt``) that is valid in every other way and whose
    pickle creates a marker file when loaded; (file, marker)."""
    marker = folder / f"ran-{suffix[1:]}-{how}"
    payload_code = (RunsCode(os.system, f"touch '{marker}'") if how == "system"
                    else RunsCode(builtins.exec, f"open({str(marker)!r}, 'w').close()"))
    model = tiny_model()
    card = model.card(decode={"onset_threshold": 0.5})
    if suffix == ".pt":
        payload: dict[str, Any] = {"format": "jointist-model", "version": 2, "models": {
            "transcriber": {"card": {**card.to_dict(), "notes": payload_code}, "state_dict": model.state_dict()}}}
    else:
        payload = {"state_dict": {f"models.transcriber.{k}": v for k, v in model.state_dict().items()},
                   "jointist_models": {"transcriber": card.to_dict()}, "global_step": 3,
                   "hyper_parameters": {"seed": 0, "optimizer": payload_code}}
    path = folder / f"crafted{suffix}"
    torch.save(payload, path)
    return path, marker


@pytest.fixture(params=[(".pt", "system"), (".ckpt", "system"), (".pt", "exec"), (".ckpt", "exec")], ids="-".join)
def crafted(request, tmp_path) -> tuple[Path, Path]:
    path, marker = crafted_file(tmp_path, *request.param)
    torch.load(path, weights_only=False)  # a plain torch.load would run its code: the file is really crafted
    assert marker.exists()
    marker.unlink()
    return path, marker


def test_a_crafted_pickle_is_refused_and_its_code_never_runs(crafted):
    path, marker = crafted
    for read in (load_model, load_models, model_roles, Transcriber):
        with pytest.raises(CheckpointError, match="refusing to load .*unpickling them could run code"):
            read(path)
    with pytest.raises(CheckpointError, match="refusing to load"):
        TranscriptionTask({"transcriber": tiny_model()}, optimizer=torch.optim.Adam, pretrained={"transcriber": str(path)})
    assert not marker.exists()


def test_the_commands_refuse_a_crafted_pickle_with_exit_status_2(crafted, song, tiny_model_file, tmp_path, capsys):
    path, marker = crafted
    out = tmp_path / "out"
    common = [f"audio={song}", f"out={out}", "progress=false", "instruments=[piano]"]
    assert run_command(transcribe.main, *common, f"ckpt={path}") == 2
    assert run_command(transcribe.main, *common, "instruments=auto", f"ckpt={tiny_model_file}", f"recognizer={path}") == 2
    assert run_command(evaluate.main, f"data_root={tmp_path}", f"ckpt={path}", f"out={out}", "progress=false") == 2
    logged = capsys.readouterr().out
    assert logged.count(f"refusing to load {path}") == 3, logged
    assert not marker.exists() and not out.exists()


def test_resuming_training_from_a_crafted_checkpoint_runs_no_code(mini_corpus, tmp_path):
    from jointist.cli.train import train

    path, marker = crafted_file(tmp_path, ".ckpt", "system")
    cfg = compose_train(mini_corpus, tmp_path / "run", "trainer.max_steps=1", f"ckpt_path={path}", "~logger",
                        "~callbacks.lr_monitor")
    with pytest.raises(CheckpointError, match="refusing to resume .*trust_checkpoint=true"):
        train(cfg)
    assert not marker.exists()


# -- checkpoints and model files that load ------------------------------------------------------

def transcriber_outputs(model: torch.nn.Module, audio: torch.Tensor) -> list[torch.Tensor]:
    with torch.no_grad():
        return [t for t in model(audio, torch.tensor([[0, 38]])) if t is not None]  # None: no velocity head


def test_a_lightning_checkpoint_of_a_training_run_loads_without_unpickling(trained_run):
    last = trained_run["out"] / "checkpoints" / "last.ckpt"
    model, card = load_model(last)  # weights_only=True and an allow-list of plain types
    trusted = torch.load(last, weights_only=False)
    reference = tiny_model("PitchwiseTranscriber")  # the run's model=transcriber_tiny, weights from a full unpickle
    prefix = "models.transcriber."
    reference.load_state_dict({k[len(prefix):]: v for k, v in trusted["state_dict"].items() if k.startswith(prefix)})
    audio = torch.randn(1, 8_000)
    for ours, theirs in zip(transcriber_outputs(model, audio), transcriber_outputs(reference.eval(), audio), strict=True):
        assert torch.equal(ours, theirs)
    assert card.class_name == "PitchwiseTranscriber" and card.init_args == reference.init_args
    assert card.trained_steps == trusted["global_step"] == 2
    # the task's decode settings travel with the model
    assert DecodeConfig(**card.decode) == DecodeConfig(**trusted["hyper_parameters"]["decode"])


def test_one_file_holds_a_recognizer_and_a_transcriber(tmp_path):
    transcriber = perturb(tiny_model()).eval()
    recognizer = confident_recognizer()
    path = save_models({"recognizer": (recognizer, recognizer.card(thresholds=[0.3] * 39, aggregate="mean")),
                        "transcriber": (transcriber, transcriber.card(decode={"onset_threshold": 0.4}))}, tmp_path / "both.pt")
    assert {role: card.class_name for role, card in model_roles(path).items()} == {
        "recognizer": "InstrumentRecognizer", "transcriber": "PitchwiseTranscriber"}
    audio = torch.randn(1, 16_000)
    loaded, card = load_model(path, role="transcriber")
    assert card.decode == {"onset_threshold": 0.4}
    for ours, theirs in zip(transcriber_outputs(transcriber, audio), transcriber_outputs(loaded, audio), strict=True):
        assert torch.equal(ours, theirs)
    loaded, card = load_model(path, role="recognizer")
    assert card.thresholds == [0.3] * 39 and card.aggregate == "mean"
    with torch.no_grad():
        assert torch.equal(loaded(audio), recognizer(audio))
    assert set(load_models(path)) == {"recognizer", "transcriber"}
    with pytest.raises(CheckpointError, match=r"holds several models \(recognizer, transcriber\); say which with role="):
        load_model(path)
    only = save_model(transcriber, tmp_path / "only.pt")
    with pytest.raises(CheckpointError, match=r"holds no recognizer \(it holds: transcriber\)"):
        load_model(only, role="recognizer")
    with pytest.raises(ValueError, match="plays 'transcriber'"):
        save_models({"recognizer": (transcriber, transcriber.card())}, tmp_path / "wrong.pt")


@pytest.mark.parametrize(("file", "role", "expected"), [
    ("transcriber.pt", "transcriber", "transcriber"),
    ("recognizer.pt", "recognizer", "recognizer"),
    ("task.ckpt", "transcriber", "ckpt"),
])
def test_version_1_files_load_and_give_the_outputs_they_gave(file, role, expected):
    """Files written by the code before model cards (format 1: class, config, state_dict, extra) load,
    with their extra metadata on the card and the outputs that code computed (to float rounding:
    the tests run torch on one thread, the outputs were computed on two)."""
    known = np.load(V1 / "expected.npz")
    audio = torch.from_numpy(known["audio"])
    model, card = load_model(V1 / file)
    assert card.role == role and model.role == role
    with torch.no_grad():
        if role == "recognizer":
            np.testing.assert_allclose(model(audio).numpy(), known["recognizer_logits"], rtol=0, atol=1e-5)
            assert card.thresholds == [0.25] * 39 and card.aggregate == "mean" and card.trained_steps == 3
            return
        out = model(audio, torch.tensor([[0, 38]]))
        onset, frame = out.onset, out.frame
        assert out.velocity is None and out.offset is None  # version 1 had neither head
    np.testing.assert_allclose(onset.numpy(), known[f"{expected}_onset"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(frame.numpy(), known[f"{expected}_frame"], rtol=0, atol=1e-5)
    if file == "transcriber.pt":
        assert card.decode == {"onset_threshold": 0.3, "frame_threshold": 0.2} and card.trained_steps == 5
    else:
        assert card.decode is not None and card.decode["onset_threshold"] == 0.5  # the task's decode settings


def test_missing_corrupt_foreign_and_mismatched_files_raise_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_model(tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage" * 10)
    with pytest.raises(CheckpointError, match="corrupt"):
        load_model(bad)
    torch.save({"weights": torch.zeros(1)}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="does not describe a jointist model"):
        load_model(tmp_path / "foreign.pt")
    payload = torch.load(save_model(tiny_model(), tmp_path / "ok.pt"), weights_only=True)
    payload["models"]["transcriber"]["card"]["init_args"]["head_channels"] *= 2
    torch.save(payload, tmp_path / "mismatch.pt")
    with pytest.raises(CheckpointError, match="weights do not match the PitchwiseTranscriber configuration"):
        load_model(tmp_path / "mismatch.pt")
    payload["models"]["transcriber"]["card"]["class_name"] = "Theremin"
    torch.save(payload, tmp_path / "unknown.pt")
    with pytest.raises(CheckpointError, match="unknown model class 'Theremin'"):
        load_model(tmp_path / "unknown.pt")


def test_files_of_a_newer_jointist_load_or_say_so(tmp_path):
    """Unknown card fields are ignored with a warning; a newer file format asks for an upgrade."""
    model = tiny_model("InstrumentRecognizer")
    path = save_model(model, tmp_path / "model.pt")
    payload = torch.load(path, weights_only=True)
    payload["models"]["recognizer"]["card"]["calibration"] = [0.1, 0.2]
    torch.save(payload, tmp_path / "newer_card.pt")
    with pytest.warns(UserWarning, match="calibration"):
        loaded, card = load_model(tmp_path / "newer_card.pt")
    assert card.class_name == "InstrumentRecognizer" and loaded.init_args == model.init_args
    payload["version"] = 99
    torch.save(payload, tmp_path / "newer_format.pt")
    with pytest.raises(CheckpointError, match="newer jointist .*upgrade"):
        load_model(tmp_path / "newer_format.pt")
