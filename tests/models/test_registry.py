"""The model registry: every registered class rebuilds from its recorded arguments and round-trips
through a model file with identical outputs."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

import numpy as np
import pytest
import torch

import jointist.models
from jointist.models.base import MODEL_REGISTRY, ROLES, JointistModel
from jointist.models.serialize import load_model, save_model
from tests.conftest import perturb, tiny_config, tiny_model

MODEL_MODULES = [importlib.import_module(m.name) for m in pkgutil.walk_packages(jointist.models.__path__, "jointist.models.")]
BUILT_IN = sorted(name for name, cls in MODEL_REGISTRY.items() if cls.__module__.startswith("jointist."))


def example_inputs(model: JointistModel) -> tuple[torch.Tensor, ...]:
    """Inputs of a model's role: 1 s of noise; two instruments (and their frame posteriorgram) for the
    conditioned roles."""
    generator = torch.Generator().manual_seed(0)
    audio = torch.randn(2, 16_000, generator=generator)
    instruments = torch.tensor([[0, 38], [10, 3]])
    if model.role == "transcriber":
        return audio, instruments
    if model.role == "recognizer":
        return (audio,)
    if model.role == "separator":
        return audio, instruments, torch.rand(2, 2, 101, 88, generator=generator)
    if model.role == "seq2seq":  # audio and a decoder input of token ids
        return audio, torch.randint(3, 100, (2, 7), generator=generator)
    if model.role == "verifier":  # candidates' features, their instruments and rivals
        from jointist.verifier import FEATURES, NO_RIVAL

        return (torch.rand(5, len(FEATURES), generator=generator), torch.tensor([0, 3, 38, 10, 0]),
                torch.tensor([NO_RIVAL, 0, 1, 2, 3]))
    if model.role == "ender":  # candidate ends of notes, their instruments and the slots in use
        from jointist.note_ends import FEATURES as END_FEATURES
        from jointist.note_ends import KINDS

        mask = torch.rand(4, len(KINDS), generator=generator) > 0.3
        mask[:, 0] = True
        return torch.rand(4, len(KINDS), len(END_FEATURES), generator=generator), torch.tensor([0, 3, 38, 10]), mask
    if model.role == "drummer":
        return (audio,)
    raise NotImplementedError(f"give example inputs for the {model.role} role here")


def outputs(model: JointistModel, inputs: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
    """What a model's role offers the pipeline and the tasks (features once, heads per instrument)."""
    if model.role == "transcriber":
        audio, instruments = inputs
        features = model.features(audio)
        agnostic = model.agnostic(features)
        heads = [t for t in model.heads(features, instruments) if t is not None]  # None: a head the model lacks
        return [*heads, *(t for t in agnostic or () if t is not None)]
    if model.role == "separator":
        audio, *conditions = inputs
        return [model.heads(model.features(audio), *conditions)]
    if model.role == "drummer":  # onset and velocity logits, and the rolls the pipeline reads
        return [*model(*inputs), *model.rolls(*inputs)]
    return [model(*inputs)]


def test_every_built_in_model_class_is_registered_under_its_name():
    defined = {cls for module in MODEL_MODULES for cls in vars(module).values()
               if isinstance(cls, type) and issubclass(cls, JointistModel) and cls is not JointistModel}
    assert {cls.__name__: cls for cls in defined} == {name: MODEL_REGISTRY[name] for name in BUILT_IN}
    assert {"PitchwiseTranscriber", "OnsetsFramesTranscriber", "InstrumentRecognizer"} <= set(BUILT_IN)
    assert all(MODEL_REGISTRY[name].role in ROLES for name in BUILT_IN)


@pytest.mark.parametrize("class_name", BUILT_IN)
def test_every_registered_model_round_trips_through_a_model_file(class_name, tmp_path):
    model = perturb(tiny_model(class_name))
    inputs = example_inputs(model)
    with torch.no_grad():
        outputs(model, inputs)  # in training mode: batch-norm statistics move away from their initial values
    model.eval()
    card = model.card(trained_steps=7, training_data="noise", notes="round trip")
    loaded, loaded_card = load_model(save_model(model, tmp_path / "model.pt", card=card))
    assert type(loaded) is type(model) and not loaded.training
    assert loaded.init_args == model.init_args and loaded_card == card
    with torch.no_grad():
        for ours, theirs in zip(outputs(model, inputs), outputs(loaded, inputs), strict=True):
            assert torch.equal(ours, theirs)
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # written atomically: no temporary file left


def test_init_args_are_recorded_from_the_constructor_call_without_a_config():
    cls = MODEL_REGISTRY["PitchwiseTranscriber"]
    args = {k: v for k, v in tiny_config("PitchwiseTranscriber").items() if k != "_target_"}
    args["harmonics"] = tuple(args["harmonics"])  # what a caller may pass: tuples are recorded as lists
    args["film"] = "bias"
    model = cls(**args)
    defaults = {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items() if name != "self"}
    assert set(model.init_args) == set(defaults)  # every argument, the defaults included
    assert model.init_args["harmonics"] == list(args["harmonics"]) and model.init_args["film"] == "bias"
    assert model.init_args["n_classes"] == defaults["n_classes"]
    rebuilt = cls(**model.init_args)
    assert rebuilt.init_args == model.init_args
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in model.state_dict().items()}
    assert rebuilt.onset_branch.films[0].delta is None  # film="bias" really reached the constructor


def test_a_subclass_is_described_by_its_own_constructor(tmp_path):
    base = {k: v for k, v in tiny_config("PitchwiseTranscriber").items() if k != "_target_"}

    class NarrowHeads(MODEL_REGISTRY["PitchwiseTranscriber"]):  # type: ignore[misc,valid-type]
        def __init__(self, *, width: int = 2) -> None:
            super().__init__(**{**base, "head_channels": width})

    model = NarrowHeads(width=3)
    assert model.init_args == {"width": 3}  # not the arguments it handed to PitchwiseTranscriber
    assert MODEL_REGISTRY["NarrowHeads"] is NarrowHeads
    loaded, card = load_model(save_model(model, tmp_path / "narrow.pt"))
    assert type(loaded) is NarrowHeads and loaded.onset_out.in_channels == 3 and card.init_args == {"width": 3}


def test_arguments_that_a_model_file_cannot_hold_are_refused_when_the_model_is_built():
    args: dict[str, Any] = {k: v for k, v in tiny_config("PitchwiseTranscriber").items() if k != "_target_"}
    with pytest.raises(TypeError, match="plain values"):
        MODEL_REGISTRY["PitchwiseTranscriber"](**{**args, "harmonics": np.array([0.5, 1.0, 2.0])})
