"""The model contract: role protocols, a registry that records constructor arguments, model cards.

Every model of jointist is a plain ``nn.Module`` that subclasses :class:`JointistModel` and names its
role. Subclassing registers the class (``MODEL_REGISTRY``) and records the keyword arguments each
instance was built with (``init_args``), so a model file can rebuild it without Hydra and no model
keeps a hand-written copy of its own configuration.

The roles and what the pipeline and the tasks may call on a model of that role:

=============== ===========================================================================
``recognizer``  :class:`RecognizerModel`: audio (B, samples) -> logits (B, 39)
``transcriber`` :class:`ConditionedTranscriberModel`: ``features(audio)`` once per clip, then
                ``heads(features, instruments)`` per instrument, ``agnostic(features)`` or None
``separator``   :class:`SeparatorModel`: ``features(audio)`` once per clip, then
                ``heads(features, instruments, posteriorgram)`` -> stems per instrument
``seq2seq``     :class:`Seq2SeqModel`: audio segments -> token ids
``verifier``    :class:`~jointist.models.verifier.NoteVerifier`: features of a transcriber's candidate onsets
                -> P(note) (:mod:`jointist.verifier`)
``ender``       :class:`~jointist.models.note_ends.NoteEnder`: candidate ends of decoded notes -> the
                chosen one (:mod:`jointist.note_ends`)
``drummer``     :class:`~jointist.models.drums.DrumTranscriber`: audio (B, samples) -> onset and
                velocity logits per GM kit key; the pipeline's ``Drums`` track when present
=============== ===========================================================================

A :class:`ModelCard` travels with the weights: class, arguments, sample rate, hop, trained steps,
training data and the inference settings tuned on validation (decode or class thresholds).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple, Protocol, runtime_checkable

import torch
from torch import nn

from jointist.constants import HOP_LENGTH, SAMPLE_RATE
from jointist.note_ends import NoteEndChooser
from jointist.verifier import OnsetVerifier

__all__ = [
    "MODEL_REGISTRY",
    "ROLES",
    "ConditionedTranscriberModel",
    "JointistModel",
    "ModelCard",
    "RecognizerModel",
    "SeparatorModel",
    "Seq2SeqModel",
    "TranscriberOutput",
    "VerifierModel",
    "EnderModel",
    "DrummerModel",
    "model_class",
]

ROLES = ("recognizer", "transcriber", "separator", "seq2seq", "verifier", "ender", "drummer")
"""The roles a model can play; one model file holds at most one model per role."""

MODEL_REGISTRY: dict[str, type[JointistModel]] = {}
"""Class name -> class of every :class:`JointistModel` subclass that has been imported."""


class TranscriberOutput(NamedTuple):
    """Onset and frame logits, shaped (batch, instrument, time, 88) (or (batch, time, 88) agnostic),
    and, from a model with a velocity head, velocity logits of the same shape (sigmoid: velocity / 127);
    from a model with an offset head, offset logits of the same shape (sigmoid: a note ends here)."""

    onset: torch.Tensor
    frame: torch.Tensor
    velocity: torch.Tensor | None = None
    offset: torch.Tensor | None = None


@runtime_checkable
class RecognizerModel(Protocol):
    """Which instrument classes play in a clip."""

    def __call__(self, audio: torch.Tensor) -> torch.Tensor:
        """(batch, samples) -> (batch, 39) logits."""
        ...


@runtime_checkable
class ConditionedTranscriberModel(Protocol):
    """A transcriber whose instrument-independent work runs once per clip."""

    def features(self, audio: torch.Tensor) -> torch.Tensor:
        """(batch, samples) -> per-clip features, whatever the number of instruments."""
        ...

    def heads(self, features: torch.Tensor, instruments: torch.Tensor) -> TranscriberOutput:
        """Features and instrument indices (batch, K) -> logits (batch, K, time, 88)."""
        ...

    def agnostic(self, features: torch.Tensor) -> TranscriberOutput | None:
        """Instrument-agnostic logits (batch, time, 88) of every pitched note, or None without that head."""
        ...


@runtime_checkable
class SeparatorModel(Protocol):
    """A separator conditioned on an instrument and on the transcriber's frame posteriorgram, whose
    instrument-independent work (the mixture's STFT, a shared encoder) runs once per clip."""

    def features(self, audio: torch.Tensor, *, grid_offset: int = 0) -> Any:
        """(batch, samples) -> per-clip features (model-defined), whatever the number of instruments;
        ``grid_offset`` is the clip's first frame in the song (models that pool align to it)."""
        ...

    def heads(self, features: Any, instruments: torch.Tensor, posteriorgram: torch.Tensor | None) -> torch.Tensor:
        """Features, instrument indices (batch, K) and frame posteriors (batch, K, time, 88) in [0, 1]
        (None for a model without transcription fusion) -> stems (batch, K, samples)."""
        ...


@runtime_checkable
class Seq2SeqModel(Protocol):
    """An encoder-decoder emitting MIDI-like token ids."""

    def generate(self, audio: torch.Tensor, *, max_tokens: int) -> torch.Tensor:
        """(batch, samples) audio segments -> token ids (batch, <= max_tokens), greedy."""
        ...


@runtime_checkable
class DrummerModel(Protocol):
    """A drum transcriber: every GM kit key's onsets from the mixture, for the ``Drums`` track."""

    def rolls(self, audio: torch.Tensor, frames: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch, samples) -> onset probabilities and velocities (velocity / 127) on the 88-key axis
        (the key number is the GM drum number), (batch, frames, 88) each."""
        ...


VerifierModel = OnsetVerifier
"""Which candidate onsets of a transcriber start notes (:mod:`jointist.verifier`)."""

EnderModel = NoteEndChooser
"""Where each decoded note ends, among its candidate ends (:mod:`jointist.note_ends`)."""


ROLE_PROTOCOLS: dict[str, type] = {
    "recognizer": RecognizerModel,
    "transcriber": ConditionedTranscriberModel,
    "separator": SeparatorModel,
    "seq2seq": Seq2SeqModel,
    "verifier": VerifierModel,
    "ender": EnderModel,
    "drummer": DrummerModel,
}


def _plain(value: Any) -> Any:
    """Constructor arguments as plain, serialisable values (tuples become lists)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):  # lists, tuples, OmegaConf ListConfig
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item") and getattr(value, "shape", None) == ():  # NumPy / torch scalars
        return _plain(value.item())
    raise TypeError(f"model constructor arguments must be plain values, got {type(value).__name__}: {value!r}")


class JointistModel(nn.Module):
    """Base class of every jointist model: registers the subclass and records ``init_args``.

    Subclasses set ``role`` (one of :data:`ROLES`) and take keyword arguments of plain values.
    """

    role: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.role not in ROLES:
            raise TypeError(f"{cls.__name__}.role must be one of {ROLES}, got {cls.role!r}")
        known = MODEL_REGISTRY.get(cls.__name__)
        if known is not None and (known.__module__, known.__qualname__) != (cls.__module__, cls.__qualname__):
            raise TypeError(f"a model class named {cls.__name__} is already registered ({known.__module__}); "
                            "model files name classes, so names must be unique")
        MODEL_REGISTRY[cls.__name__] = cls
        init = cls.__dict__.get("__init__")
        if init is None:
            return
        signature = inspect.signature(init)
        variadic = [p.name for p in signature.parameters.values() if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        if variadic:
            raise TypeError(f"{cls.__name__}.__init__ takes *{variadic[0]}: a model file records named arguments only")

        @functools.wraps(init)
        def recording_init(self: JointistModel, *args: Any, **kw: Any) -> None:
            init(self, *args, **kw)
            if type(self).__init__ is recording_init:  # the constructor that built the object describes it
                bound = signature.bind(self, *args, **kw)
                bound.apply_defaults()
                arguments = dict(bound.arguments)
                arguments.pop("self")
                self._init_args = _plain(arguments)

        cls.__init__ = recording_init  # type: ignore[method-assign,assignment]

    @property
    def init_args(self) -> dict[str, Any]:
        """The keyword arguments this model was built with (plain values): ``type(m)(**m.init_args)``
        rebuilds it."""
        return dict(self.__dict__.get("_init_args", {}))

    def card(self, **fields: Any) -> ModelCard:
        """A :class:`ModelCard` describing this model, with optional extra fields."""
        return ModelCard(role=self.role, class_name=type(self).__name__, init_args=self.init_args, **fields)


def model_class(name: str) -> type[JointistModel]:
    """The registered class called ``name`` (``jointist.models`` imports, and so registers, every
    built-in model)."""
    if name not in MODEL_REGISTRY:
        raise KeyError(f"unknown model class {name!r}; known: {', '.join(sorted(MODEL_REGISTRY))}")
    return MODEL_REGISTRY[name]


@dataclass(frozen=True)
class ModelCard:
    """What a model file says about one model besides its weights.

    Attributes:
        role: one of :data:`ROLES`.
        class_name: the registered class; ``init_args`` its constructor's keyword arguments.
        sample_rate, hop_length: the audio the model expects (16 kHz, 160 samples per frame).
        trained_steps: optimiser steps behind these weights (None: unknown).
        training_data: a short description of the data it was trained on (no machine paths).
        decode: note-decoding thresholds (transcribers), see :class:`~jointist.postprocess.DecodeConfig`.
        thresholds: per-class decision thresholds (recognizers), 39 values, compared with the song
            probabilities (tuned on validation windows by training; on validation songs by
            ``jobs/calibrate_recognizer.py``).
        aggregate: how window probabilities become a song's (recognizers): ``max``, ``mean`` or
            ``top<k>`` (the mean of the k most probable windows).
        min_instruments, max_instruments: how many classes a song is given at least and at most
            (recognizers; the most probable ones; None: no cap). Together with ``thresholds`` and
            ``aggregate`` they make the :class:`~jointist.recognition_calibration.SongDecision`;
            the defaults (0, None) are the rule of cards written before they existed.
        notes: free text (how it was made).
    """

    role: str
    class_name: str
    init_args: dict[str, Any] = field(default_factory=dict)
    sample_rate: int = SAMPLE_RATE
    hop_length: int = HOP_LENGTH
    trained_steps: int | None = None
    training_data: str | None = None
    decode: dict[str, Any] | None = None
    thresholds: list[float] | None = None
    aggregate: str | None = None
    min_instruments: int = 0
    max_instruments: int | None = None
    notes: str = ""

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"model card role must be one of {ROLES}, got {self.role!r}")

    def replace(self, **changes: Any) -> ModelCard:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))  # type: ignore[no-any-return]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelCard:
        """A card from its dict; fields this version does not know (a newer jointist wrote the file)
        are ignored with a warning, so newer files still load."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            warnings.warn(f"ignoring model card fields this version of jointist does not know: {unknown}", stacklevel=2)
        return cls(**{k: v for k, v in data.items() if k in known})

    def build(self) -> JointistModel:
        """A freshly initialised model of this card's class and arguments."""
        model = model_class(self.class_name)(**self.init_args)
        if model.role != self.role:
            raise ValueError(f"{self.class_name} plays the role {model.role!r}, the card says {self.role!r}")
        return model
