"""Inference: one staged loop over the chunker's windows (recognize -> transcribe -> separate).

A walk through :meth:`Transcriber.transcribe_audio`:

1. the song (mono, 16 kHz) is cut by the shared :class:`~jointist.audio.chunker.Chunker` into 10 s
   windows overlapping by 1 s (``HOP_S`` = 9 s);
2. :func:`run_stages` sends the windows through the stages ``batch_size`` at a time. Each stage is a
   model behind its role protocol (:mod:`jointist.models.base`) and receives the window audio and
   the float outputs of the stages before it for the same windows (a separator reads the
   transcriber's frame posteriors there);
3. stage outputs are stitched once, by kind: one vector per window (the recognizer's class
   probabilities) or time-first frame outputs (onset and frame posteriors), of which the central
   part of each window is kept as compact uint8 codes and handed on in song order: notes are decoded
   from them as they arrive (:class:`~jointist.postprocess.TrackDecoder`), and the results keep them
   as :class:`~jointist.results.Posteriorgram` (max-pooled in time past 5 minutes,
   :class:`~jointist.results.PosteriorgramPool`); a file is read window by window
   (:class:`~jointist.audio.io.AudioFile`), so memory does not grow with the song's length;
4. with ``instruments="auto"`` a song-level decision is needed before any instrument can be
   transcribed: the recognizer stage runs first over the same windows, its window probabilities are
   aggregated over the song and compared with the thresholds of its model card, and the chosen
   instruments go through the transcription stages;
5. the notes go into a :class:`~jointist.results.Transcription`; :mod:`jointist.export` writes
   MIDI, JSON, piano rolls and stems.
"""

from __future__ import annotations

import abc
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
import torch

from jointist import recognition_calibration
from jointist.audio.chunker import Chunker, CrossfadeStitcher, Window
from jointist.audio.features import num_frames
from jointist.audio.io import AudioFile, Samples, audio_sample_rate, check_audio, peak_amplitude
from jointist.constants import FRAMES_PER_SECOND, HOP_S, N_PITCHES, SAMPLE_RATE, SEGMENT_S
from jointist.data.targets import class_rolls
from jointist.instruments import DRUMS, INSTRUMENTS, NUM_CLASSES, Instrument, parse_instruments
from jointist.models.base import ConditionedTranscriberModel, JointistModel, ModelCard, RecognizerModel, SeparatorModel
from jointist.models.drums import DrumTranscriber
from jointist.models.note_ends import NoteEnder
from jointist.models.serialize import CheckpointError, load_model, model_roles
from jointist.models.verifier import NoteVerifier
from jointist.notes import NoteArray
from jointist.postprocess import DecodeConfig, TrackDecoder
from jointist.recognition_calibration import SongDecision
from jointist.results import DEFAULT_MAX_FRAMES, InstrumentResult, Posteriorgram, PosteriorgramPool, Transcription
from jointist.runtime import reuse_heap

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_RECOGNIZER",
    "HEADS",
    "INPUT_PEAK",
    "Pipeline",
    "RecognizeStage",
    "Recognizer",
    "ScoreStage",
    "SeparateStage",
    "TokenTranscriber",
    "Stage",
    "StageOutput",
    "TranscribeStage",
    "Transcriber",
    "aggregate_windows",
    "input_gain",
    "load_transcriber",
    "run_stages",
    "transcribe",
]

log = logging.getLogger(__name__)

SHIPPED_SYSTEM = "jointist.pt"
"""The shipped system inside the package's ``weights`` folder: one model file with a recognizer, a
transcriber and a separator (each with its own card)."""
DEFAULT_MODEL = SHIPPED_SYSTEM
"""The file the shipped transcriber is read from."""
DEFAULT_RECOGNIZER = SHIPPED_SYSTEM
"""The file the shipped instrument recognizer is read from."""
DEFAULT_SEPARATOR = SHIPPED_SYSTEM
"""The file the shipped separator is read from."""

PathLike = str | os.PathLike[str]

INPUT_PEAK = 0.8
"""The peak ``|sample|`` a song is scaled to before any model hears it (None: as given).
``jointist-synth`` scales every mixture so that its peak is 0.8 (``CorpusSpec.mix_peak``), so the shipped
models never heard another level, and their log-magnitude features move with the level: a song 20 dB
quieter than that lost a third of its flat note F1 (README, "Input level"). One gain per song, from
the peak of the whole recording, keeps its dynamics; stems are scaled back to the recording's level."""


def check_input_peak(value: object) -> float | None:
    """``input_peak`` as a float in (0, 1], or None; a clear error otherwise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not 0.0 < float(value) <= 1.0:
        raise ValueError(f"input_peak={value!r}: give the peak level to scale songs to, in (0, 1] "
                         f"(the models were trained at {INPUT_PEAK}), or null to use the audio as given")
    return float(value)


def input_gain(audio: Samples, input_peak: float | None) -> float:
    """The gain that brings the song's peak to ``input_peak`` (1 for None)."""
    if input_peak is None:
        return 1.0
    peak = peak_amplitude(audio)
    if peak <= 0.0:  # silence is refused before this; nothing to scale
        return 1.0
    gain = input_peak / peak
    if abs(20.0 * np.log10(gain)) > 1.0:
        log.info("input peak %.1f dBFS: scaled by %+.1f dB to the level the models were trained at",
                 20.0 * np.log10(peak), 20.0 * np.log10(gain))
    return gain


def default_model_path(name: str = DEFAULT_MODEL) -> Path:
    return Path(str(resources.files("jointist") / "weights" / name))


def load_role(model: PathLike | None, *, role: str, default: str, device: str) -> tuple[JointistModel, ModelCard, Path]:
    """The ``role`` model of a model file (None: the shipped file ``default``), on ``device``."""
    path = Path(model) if model is not None else default_model_path(default)
    if model is None and not path.is_file():
        option = {"transcriber": "ckpt", "recognizer": "recognizer", "separator": "separator"}.get(role, role)
        raise CheckpointError(
            f"no shipped {role} in this installation ({path} is missing); pass a model file with {option}=... "
            "(a model.pt exported by jointist-train, e.g. experiment=separator_synth for a separator)"
        )
    loaded, card = load_model(path, role=role, map_location=device)
    return loaded.to(device), card, path


# -- the staged loop ------------------------------------------------------------------------------

@dataclass(frozen=True)
class StageOutput:
    """One output of a stage for a batch of windows.

    Attributes:
        value: a float tensor; ``window`` kind: (batch, ...) one value per window; ``frames`` kind:
            (batch, time, ...) time-first frame outputs (probabilities in [0, 1]).
        kind: ``window`` or ``frames``.
    """

    value: torch.Tensor
    kind: str


class Stage(Protocol):
    """A step of the pipeline: window audio (batch, samples), the earlier stages' outputs for the
    same windows, and where those windows lie in the song -> named outputs."""

    name: str

    def __call__(
        self, audio: torch.Tensor, previous: dict[str, StageOutput], windows: Sequence[Window]
    ) -> dict[str, StageOutput]: ...


class RecognizeStage:
    """The instrument recognizer: class probabilities (batch, 39) per window (``class_probs``)."""

    name = "recognize"

    def __init__(self, model: RecognizerModel) -> None:
        self.model = model

    def __call__(
        self, audio: torch.Tensor, previous: dict[str, StageOutput], windows: Sequence[Window] = ()
    ) -> dict[str, StageOutput]:
        return {"class_probs": StageOutput(torch.sigmoid(self.model(audio)).float(), "window")}


class _InstrumentStage:
    """What the per-instrument stages share: a model, the classes it runs for, and the groups of at
    most ``instruments_per_pass`` classes that one forward pass of its heads takes."""

    def __init__(self, model: Any, classes: Sequence[int], *, instruments_per_pass: int = 2) -> None:
        if instruments_per_pass < 1:
            raise ValueError(f"instruments_per_pass must be >= 1, got {instruments_per_pass}")
        self.model = model
        self.classes = [int(c) for c in classes]
        self.instruments_per_pass = instruments_per_pass

    def groups(self, batch: int, device: torch.device) -> Iterator[tuple[slice, torch.Tensor]]:
        """(slice of the K classes, their indices (batch, group size)) per forward pass."""
        classes = torch.tensor([self.classes], dtype=torch.long, device=device)
        for first in range(0, len(self.classes), self.instruments_per_pass):
            part = slice(first, first + self.instruments_per_pass)
            yield part, classes[:, part].expand(batch, -1)


class TranscribeStage(_InstrumentStage):
    """The conditioned transcriber for a fixed list of instrument classes: ``onset`` and ``frame``
    probabilities (batch, time, K, 88), ``velocity`` (velocity / 127) from a model with a velocity head,
    and ``offset`` probabilities from a model with an offset head.

    The shared features are computed once per window; the heads run ``instruments_per_pass``
    instruments at a time from them, which bounds memory for ``instruments="all"``.

    With a ``drummer`` (:class:`~jointist.models.drums.DrumTranscriber`), the ``Drums`` class comes
    from it instead of the transcriber: its onset probabilities (also the frame ones, the drum rule)
    and velocities, and no offsets.
    """

    name = "transcribe"

    model: ConditionedTranscriberModel

    def __init__(self, model: Any, classes: Sequence[int], *, instruments_per_pass: int = 2,
                 drummer: DrumTranscriber | None = None) -> None:
        super().__init__(model, classes, instruments_per_pass=instruments_per_pass)
        self.drum_slot = self.classes.index(DRUMS.index) if drummer is not None and DRUMS.index in self.classes else None
        self.drummer = drummer if self.drum_slot is not None else None
        if self.drum_slot is not None:  # the transcriber's heads run for the other classes only
            self.classes = [c for c in self.classes if c != DRUMS.index]

    def __call__(
        self, audio: torch.Tensor, previous: dict[str, StageOutput], windows: Sequence[Window] = ()
    ) -> dict[str, StageOutput]:
        parts: dict[str, list[torch.Tensor]] = {"onset": [], "frame": [], "velocity": [], "offset": []}
        if self.classes:
            features = self.model.features(audio)
            for _, group in self.groups(len(audio), audio.device):
                out = self.model.heads(features, group)
                parts["onset"].append(torch.sigmoid(out.onset))
                parts["frame"].append(torch.sigmoid(out.frame))
                velocity = getattr(out, "velocity", None)
                if velocity is not None:
                    parts["velocity"].append(torch.sigmoid(velocity))
                offset = getattr(out, "offset", None)
                if offset is not None:
                    parts["offset"].append(torch.sigmoid(offset))
        # (batch, K, time, 88) -> time first
        stacked = {name: torch.cat(value, dim=1) for name, value in parts.items() if value}
        if self.drummer is not None and self.drum_slot is not None:
            frames = next(iter(stacked.values())).shape[2] if stacked else num_frames(audio.shape[-1])
            onset, velocity = self.drummer.rolls(audio, frames)
            drums = {"onset": onset, "frame": onset, "velocity": velocity, "offset": torch.zeros_like(onset)}
            if not stacked:
                stacked = {name: value[:, None] for name, value in drums.items() if name != "offset"}
            else:
                j = self.drum_slot
                stacked = {name: torch.cat([value[:, :j], drums[name][:, None], value[:, j:]], dim=1)
                           for name, value in stacked.items()}
        return {name: StageOutput(value.permute(0, 2, 1, 3), "frames") for name, value in stacked.items()}


class SeparateStage(_InstrumentStage):
    """The separator for a fixed list of instrument classes: ``stems`` (batch, K, samples).

    Its features (the mixture's STFT, the shared encoder) are computed once per window; the heads
    run ``instruments_per_pass`` instruments at a time, each with its own frame posteriors from the
    transcription stage of the same window (``frame``, time first), when the model fuses them.
    """

    name = "separate"

    model: SeparatorModel

    def __call__(
        self, audio: torch.Tensor, previous: dict[str, StageOutput], windows: Sequence[Window] = ()
    ) -> dict[str, StageOutput]:
        frame = previous["frame"].value.permute(0, 2, 1, 3) if "frame" in previous else None  # (batch, K, time, 88)
        offsets = [w.start_frame for w in windows] or [0] * len(audio)
        grid = int(getattr(self.model, "grid_frames", 1))
        if len({o % grid for o in offsets}) > 1:  # windows on different pooling grids: one at a time
            parts = [self._separate(audio[i: i + 1], frame[i: i + 1] if frame is not None else None, offsets[i])
                     for i in range(len(audio))]
            return {"stems": StageOutput(torch.cat(parts), "audio")}
        return {"stems": StageOutput(self._separate(audio, frame, offsets[0]), "audio")}

    def _separate(self, audio: torch.Tensor, frame: torch.Tensor | None, offset: int) -> torch.Tensor:
        """Stems (batch, K, samples) of windows that share one pooling grid (window start ``offset``)."""
        features = self.model.features(audio, grid_offset=offset)
        stems = []
        for part, group in self.groups(len(audio), audio.device):
            stems.append(self.model.heads(features, group, frame[:, part] if frame is not None else None))
        return torch.cat(stems, dim=1).float()


class ScoreStage:
    """A known score in place of the transcription stage (score-informed separation): the ``onset``
    and ``frame`` rolls (batch, time, K, 88) of each window's slice of the score, the condition a
    separator trained with teacher forcing (``condition=roll``) saw. Rolls are drawn per window, so
    a long score costs no song-long arrays.

    Args:
        notes: class -> notes of the song.
        classes: the K classes, in order.
        total_frames: the song's frames; a window's frames past them stay empty.
    """

    name = "score"

    def __init__(self, notes: Mapping[int, NoteArray], classes: Sequence[int], *, total_frames: int) -> None:
        self.notes = {int(c): notes.get(int(c), NoteArray.empty()) for c in classes}
        self.classes = [int(c) for c in classes]
        self.total_frames = total_frames

    def __call__(
        self, audio: torch.Tensor, previous: dict[str, StageOutput], windows: Sequence[Window] = ()
    ) -> dict[str, StageOutput]:
        frames = num_frames(audio.shape[-1])
        starts = [w.start_frame for w in windows] or [0] * len(audio)
        value = {name: torch.zeros(len(audio), frames, len(self.classes), N_PITCHES) for name in ("onset", "frame")}
        for i, start in enumerate(starts):
            begin_s = start / FRAMES_PER_SECOND
            part = {c: n.window(begin_s, begin_s + frames / FRAMES_PER_SECOND) for c, n in self.notes.items()}
            onset, frame = class_rolls(part, self.classes, num_frames=frames)  # (K, frames, 88)
            inside = max(0, min(frames, self.total_frames - start))  # past the song's end: nothing
            value["onset"][i, :inside] = torch.from_numpy(onset[:, :inside]).permute(1, 0, 2)
            value["frame"][i, :inside] = torch.from_numpy(frame[:, :inside]).permute(1, 0, 2)
        return {name: StageOutput(v.to(audio.device), "frames") for name, v in value.items()}


class _ArraySink:
    """Collects stitched audio blocks into one preallocated (channels, samples) array."""

    def __init__(self, channels: int, samples: int) -> None:
        self.array = np.zeros((channels, samples), np.float32)
        self.filled = 0

    def __call__(self, block: np.ndarray) -> None:
        self.array[:, self.filled: self.filled + block.shape[1]] = block
        self.filled += block.shape[1]


def _release_free_memory() -> None:
    """Hand the allocator's free pages back to the system (glibc's ``malloc_trim``; elsewhere nothing).

    A window's activations are tens of megabytes each; between windows, small long-lived objects
    (notes, file buffers) land among the freed blocks, and glibc's heap would otherwise only grow
    over a long recording. Trimming once per window keeps peak memory independent of its length,
    for a few page faults per window."""
    global _malloc_trim
    if _malloc_trim is None:
        import ctypes
        import ctypes.util

        try:
            _malloc_trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError):  # not glibc
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim: Any = None


def run_stages(
    audio: Samples,
    stages: Iterable[Stage],
    *,
    chunker: Chunker,
    batch_size: int = 1,
    device: str | torch.device = "cpu",
    progress: bool = False,
    desc: str = "windows",
    audio_sinks: Mapping[str, Callable[[np.ndarray], None]] | None = None,
    frame_sink: Callable[[dict[str, np.ndarray]], None] | None = None,
    gain: float = 1.0,
) -> dict[str, np.ndarray]:
    """Run ``stages`` in order over every window of ``audio`` and stitch their outputs once.

    Args:
        gain: the stages hear every window scaled by it (:func:`input_gain`); their ``audio``
            outputs are scaled back by ``1 / gain``, to the level of ``audio``.
        audio_sinks: output name -> a callable that receives the stitched ``audio`` output as
            consecutive ``(channels, samples)`` blocks (e.g. :class:`~jointist.export.StemWriter`),
            so long songs never hold whole stems in memory.
        frame_sink: receives the ``frames`` outputs instead of the returned dict: per window, in
            song order, output name -> the window's kept frames (n, ...) as uint8 codes; together
            they are the stitched outputs, block after block.

    Returns:
        output name -> ``window`` outputs stacked (windows, ...) as float32; ``frames`` outputs
        (without a ``frame_sink``) stitched song-long (frames, ...) as uint8
        :class:`~jointist.results.Posteriorgram` codes; ``audio`` outputs without a sink
        cross-faded song-long (channels, samples) as float32.
    """
    from tqdm import tqdm

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    stages = list(stages)
    total = chunker.num_frames(len(audio))
    windows = chunker.windows(len(audio))  # positions only: each batch's samples are cut when it runs
    stitched: dict[str, np.ndarray] = {}
    per_window: dict[str, list[np.ndarray]] = {}
    stitchers: dict[str, CrossfadeStitcher] = {}
    in_memory: dict[str, _ArraySink] = {}
    sinks = dict(audio_sinks or {})
    with tqdm(total=len(windows), desc=desc, unit="window", disable=not progress) as bar, torch.inference_mode():
        for first in range(0, len(windows), batch_size):
            batch = windows[first: first + batch_size]
            x = torch.from_numpy(np.stack([chunker.segment(audio, window) for window in batch])).to(device)
            if gain != 1.0:
                x = x * gain
            outputs: dict[str, StageOutput] = {}
            for stage in stages:
                outputs.update(stage(x, outputs, batch))
            if frame_sink is not None:
                kept = {key: Posteriorgram.encode(out.value).cpu().numpy() for key, out in outputs.items() if out.kind == "frames"}
                for i, window in enumerate(batch):
                    frame_sink({key: codes[i, window.keep_from: window.keep_to] for key, codes in kept.items()})
            for key, out in outputs.items():
                if out.kind == "window":
                    per_window.setdefault(key, []).append(out.value.cpu().numpy())
                    continue
                if out.kind == "audio":
                    if key not in stitchers:
                        if key not in sinks:
                            in_memory[key] = _ArraySink(out.value.shape[1], len(audio))
                        stitchers[key] = CrossfadeStitcher(chunker, len(audio), sink=sinks.get(key) or in_memory[key])
                    pieces = out.value.cpu().numpy()
                    if gain != 1.0:
                        pieces = pieces / np.float32(gain)
                    for window, piece in zip(batch, pieces):
                        stitchers[key].add(window, piece)
                    continue
                if frame_sink is not None:
                    continue
                codes = Posteriorgram.encode(out.value).cpu().numpy()
                if key not in stitched:
                    stitched[key] = np.zeros((total, *codes.shape[2:]), np.uint8)
                for window, frames in zip(batch, codes):
                    chunker.place(stitched[key], window, frames)
            bar.update(len(batch))
            _release_free_memory()
    for stitcher in stitchers.values():
        stitcher.close()
    return {
        **stitched,
        **{key: np.concatenate(parts) for key, parts in per_window.items()},
        **{key: sink.array for key, sink in in_memory.items()},
    }


def aggregate_windows(probs: np.ndarray, method: str = "max") -> np.ndarray:
    """Song-level class probabilities from window probabilities (windows, classes): ``max``, ``mean``
    or ``top<k>`` (the mean of the k most probable windows), see
    :func:`jointist.recognition_calibration.aggregate_windows`."""
    return recognition_calibration.aggregate_windows(probs, method)


# -- the user-facing objects ----------------------------------------------------------------------

class Recognizer:
    """A loaded instrument recognizer: which classes play in a recording.

    A song's instruments are decided by the model card's
    :class:`~jointist.recognition_calibration.SongDecision`: its window probabilities aggregated
    (``aggregate``), compared with per-class ``thresholds``, and at least ``min_instruments`` and at
    most ``max_instruments`` classes kept (the most probable). Cards written before song-level
    calibration (``jobs/calibrate_recognizer.py``) have no bounds on the count: classes above
    threshold, as before.

    Args:
        model: model file holding a recognizer (None: the shipped recognizer).
        thresholds: per-class (39,) or one threshold (default: the model card's, else 0.5).
        aggregate: ``max``, ``mean`` or ``top<k>`` over windows (default: the model card's, else ``max``).
        input_peak: the peak level a song is scaled to before the model hears it (:data:`INPUT_PEAK`;
            None: as given).

    The count bounds are the card's; set ``min_instruments`` / ``max_instruments`` (None: no cap) on
    the object to change them.
    """

    def __init__(
        self,
        model: PathLike | None = None,
        *,
        device: str = "cpu",
        batch_size: int = 4,
        thresholds: np.ndarray | float | None = None,
        aggregate: str | None = None,
        window_s: float = SEGMENT_S,
        hop_s: float = HOP_S,
        progress: bool = False,
        input_peak: float | None = INPUT_PEAK,
    ) -> None:
        self.input_peak = check_input_peak(input_peak)
        self.model, self.card, self.model_path = load_role(model, role="recognizer", default=DEFAULT_RECOGNIZER, device=device)
        stored = np.asarray(self.card.thresholds or [0.5] * NUM_CLASSES, dtype=np.float64)
        chosen = np.asarray(thresholds if thresholds is not None else stored, np.float64)
        self.thresholds = np.broadcast_to(chosen, (NUM_CLASSES,))
        self.aggregate = aggregate or self.card.aggregate or "max"
        self.min_instruments: int = self.card.min_instruments
        self.max_instruments: int | None = self.card.max_instruments
        _ = self.decision  # a bad aggregate or count bound fails here, not on the first song
        self.device = device
        self.batch_size = batch_size
        self.progress = progress
        self.chunker = Chunker(window_s=window_s, hop_s=hop_s)

    @property
    def decision(self) -> SongDecision:
        """The rule that turns a song's window probabilities into its instruments."""
        return SongDecision(thresholds=tuple(self.thresholds), aggregate=self.aggregate,
                            min_instruments=self.min_instruments, max_instruments=self.max_instruments)

    def window_probabilities(self, audio: Samples) -> np.ndarray:
        """(windows, 39) class probabilities of each of the chunker's windows of a song."""
        out = run_stages(audio, [RecognizeStage(self.model)], chunker=self.chunker, batch_size=self.batch_size,
                         device=self.device, progress=self.progress, desc="recognizing",
                         gain=input_gain(audio, self.input_peak))
        return out["class_probs"]

    def decide(self, window_probs: np.ndarray) -> dict[int, float]:
        """The song's classes with their song-level probabilities, most likely first."""
        return self.decision.decide(window_probs)

    def recognize(self, audio: Samples) -> dict[int, float]:
        """Detected classes with their song-level probabilities, most likely first."""
        return self.decide(self.window_probabilities(audio))


class Pipeline(abc.ABC):
    """The inference pipeline of a transcription head (:class:`Transcriber`, :class:`TokenTranscriber`).

    What both heads share: the recognizer behind ``instruments="auto"``, the
    separator (loaded when first needed), the chunker of the staged loop, running stages with stems
    streamed to files, one result per instrument, score-informed separation and reading files."""

    model_path: Path

    def __init__(
        self,
        *,
        model: PathLike | None,
        device: str,
        batch_size: int,
        instruments_per_pass: int,
        window_s: float,
        hop_s: float,
        progress: bool,
        recognizer: Recognizer | PathLike | None,
        separator: PathLike | None,
        max_posteriorgram_frames: int | None = DEFAULT_MAX_FRAMES,
        input_peak: float | None = INPUT_PEAK,
    ) -> None:
        reuse_heap()  # the window buffers' pages are reused instead of mapped afresh (jointist.runtime)
        self.input_peak = check_input_peak(input_peak)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if instruments_per_pass < 1:
            raise ValueError(f"instruments_per_pass must be >= 1, got {instruments_per_pass}")
        self.device = device
        self.batch_size = batch_size
        self.instruments_per_pass = instruments_per_pass
        self.chunker = Chunker(window_s=window_s, hop_s=hop_s)
        self.progress = progress
        if max_posteriorgram_frames is not None and max_posteriorgram_frames < 1:
            raise ValueError(f"max_posteriorgram_frames must be >= 1 or None, got {max_posteriorgram_frames}")
        self.max_posteriorgram_frames = max_posteriorgram_frames
        roles = model_roles(self.model_path) if model is not None else {}
        if recognizer is None and "recognizer" in roles:
            recognizer = self.model_path
        if separator is None and "separator" in roles:
            separator = self.model_path
        self._recognizer = recognizer
        self._separator_path = separator
        self._separator: SeparatorModel | None = None

    @property
    def recognizer(self) -> Recognizer:
        if not isinstance(self._recognizer, Recognizer):
            self._recognizer = Recognizer(self._recognizer, device=self.device, batch_size=self.batch_size,
                                          window_s=self.chunker.window_frames / FRAMES_PER_SECOND,
                                          hop_s=self.chunker.hop_frames / FRAMES_PER_SECOND, progress=self.progress,
                                          input_peak=self.input_peak)
        return self._recognizer

    @property
    def separator(self) -> SeparatorModel:
        """The separator (loaded when first needed)."""
        if self._separator is None:
            loaded, _, _ = load_role(self._separator_path, role="separator", default=DEFAULT_SEPARATOR, device=self.device)
            if not isinstance(loaded, SeparatorModel):
                raise CheckpointError(f"{type(loaded).__name__} is not a separator")
            self._separator = cast(SeparatorModel, loaded)
        return self._separator

    @staticmethod
    def _mono(audio: Samples, source: str | None) -> Samples:
        """The checked mono float32 audio a head transcribes (clear errors for empty, silent,
        non-finite or multichannel arrays; an :class:`~jointist.audio.io.AudioFile` was checked
        when it was opened)."""
        if isinstance(audio, AudioFile):
            return audio
        audio = check_audio(np.asarray(audio, dtype=np.float32), source=source or "audio", allow_silence=False)
        if audio.ndim != 1:
            raise ValueError(f"audio must be mono (samples,), got shape {audio.shape}; use load_audio() for files")
        return audio

    def _instruments(
        self, audio: Samples, instruments: str | Sequence[str | int] | None
    ) -> tuple[list[Instrument], dict[str, float]]:
        """The requested instruments of a song, and (for ``"auto"``) what the recognizer detected."""
        if isinstance(instruments, str) and instruments.strip().lower() == "auto":
            found = self.recognizer.recognize(audio)
            detected = {INSTRUMENTS[c].name: p for c, p in found.items()}
            log.info("recognized: %s", ", ".join(f"{n} ({p:.2f})" for n, p in detected.items()) or "nothing")
            return [INSTRUMENTS[c] for c in sorted(found)], detected
        return parse_instruments(instruments), {}

    @abc.abstractmethod
    def transcribe_audio(
        self,
        audio: Samples,
        *,
        instruments: str | Sequence[str | int] | None = "auto",
        source: str | None = None,
        separate: bool = False,
        stems_dir: PathLike | None = None,
        stems_sample_rate: int = SAMPLE_RATE,
    ) -> Transcription:
        """Transcribe (and, with ``separate``, separate) mono 16 kHz audio: each head its own way."""

    def _run(
        self, audio: Samples, stages: list[Stage], chosen: Sequence[Instrument], *,
        stems_dir: PathLike | None, stems_sample_rate: int, decoder: TrackDecoder | None = None, desc: str | None = None,
    ) -> tuple[dict[str, np.ndarray], list[Path] | None, dict[str, PosteriorgramPool]]:
        """Run the stages over the song, with the frame outputs handed on window by window: the
        ``onset`` and ``frame`` posteriorgrams into bounded pools (returned), and every frame output
        to ``decoder``, which decodes notes as they arrive. With ``stems_dir``, stream the ``stems``
        output to ``<stems_dir>/<instrument>.wav`` (and return those paths) instead of keeping it in memory."""
        total = self.chunker.num_frames(len(audio))
        pools = {name: PosteriorgramPool(total, (len(chosen), N_PITCHES), max_frames=self.max_posteriorgram_frames)
                 for name in ("onset", "frame")}

        def frames(block: dict[str, np.ndarray]) -> None:
            for name, pool in pools.items():
                pool.push(block[name])
            if decoder is not None:
                decoder.push(block["onset"], block["frame"], block.get("velocity"), block.get("offset"))

        writer = None
        if stems_dir is not None:
            from jointist.export import StemWriter

            writer = StemWriter(stems_dir, [i.slug for i in chosen], sample_rate=stems_sample_rate)
        separating = any(isinstance(stage, SeparateStage) for stage in stages)
        try:
            out = run_stages(audio, stages, chunker=self.chunker, batch_size=self.batch_size, device=self.device,
                             progress=self.progress, desc=desc or ("separating" if separating else "transcribing"),
                             audio_sinks={"stems": writer} if writer is not None else None, frame_sink=frames,
                             gain=input_gain(audio, self.input_peak))
        except BaseException:
            if writer is not None:
                writer.abort()  # no half-written stems, no open files
            raise
        return out, writer.close() if writer is not None else None, pools

    @staticmethod
    def _results(
        chosen: Sequence[Instrument], notes: Mapping[int, NoteArray], out: Mapping[str, np.ndarray],
        pools: Mapping[str, PosteriorgramPool], stem_paths: list[Path] | None, stems_sample_rate: int,
    ) -> list[InstrumentResult]:
        """One result per instrument: its notes, posteriorgrams and stem (in memory or on disk)."""
        return [
            InstrumentResult(
                inst, notes[inst.index], pools["onset"].posteriorgram(j), pools["frame"].posteriorgram(j),
                stem=out["stems"][j] if "stems" in out else None,
                sample_rate=stems_sample_rate if stem_paths else SAMPLE_RATE,
                stem_path=stem_paths[j] if stem_paths else None,
            )
            for j, inst in enumerate(chosen)
        ]

    def separate_with_score(
        self,
        audio: Samples,
        score: Mapping[int, NoteArray] | Mapping[str, NoteArray],
        *,
        source: str | None = None,
        stems_dir: PathLike | None = None,
        stems_sample_rate: int = SAMPLE_RATE,
    ) -> Transcription:
        """Score-informed separation: one stem per instrument of ``score`` (instrument name or
        index -> its notes, e.g. from the song's MIDI), with the score's rolls as the separator's
        condition instead of a transcription. Each result carries the score's notes, the rolls as
        its posteriorgrams, and the stem (``stem``, or ``stem_path`` with ``stems_dir``)."""
        audio = self._mono(audio, source)
        chosen = parse_instruments(list(score))  # checks the names; an empty score is an error
        notes: dict[int, NoteArray] = {}
        for key, part in score.items():
            index = parse_instruments([key])[0].index
            if index in notes:
                raise ValueError(f"the score names {INSTRUMENTS[index].name} twice")
            notes[index] = part
        classes = [i.index for i in chosen]
        stages: list[Stage] = [ScoreStage(notes, classes, total_frames=self.chunker.num_frames(len(audio))),
                               SeparateStage(self.separator, classes, instruments_per_pass=self.instruments_per_pass)]
        out, stem_paths, pools = self._run(audio, stages, chosen, stems_dir=stems_dir, stems_sample_rate=stems_sample_rate)
        tracks = self._results(chosen, notes, out, pools, stem_paths, stems_sample_rate)
        return Transcription(len(audio) / SAMPLE_RATE, tracks, source=source)

    def transcribe_file(
        self,
        path: PathLike,
        *,
        instruments: str | Sequence[str | int] | None = "auto",
        separate: bool = False,
        stems_dir: PathLike | None = None,
        stems_sample_rate: int | str = SAMPLE_RATE,
    ) -> Transcription:
        """Transcribe a file (any soundfile format, resampled to 16 kHz), read window by window
        (:class:`~jointist.audio.io.AudioFile`): a recording of any length needs the same memory.

        Args:
            stems_sample_rate: with ``stems_dir``, the stems' rate: a number, or ``"input"`` for the
                file's own sample rate.
        """
        audio = AudioFile(path, allow_silence=False)
        rate = int(audio_sample_rate(path)) if stems_sample_rate == "input" else int(stems_sample_rate)
        return self.transcribe_audio(audio, instruments=instruments, source=str(path), separate=separate,
                                     stems_dir=stems_dir, stems_sample_rate=rate)


class Transcriber(Pipeline):
    """A loaded transcription model with its inference settings (load once, transcribe many).

    Args:
        model: a model file or jointist checkpoint holding a transcriber (None: the shipped model).
            When the file also holds a recognizer, ``instruments="auto"`` uses it.
        device: ``cpu``, ``cuda``, ...
        batch_size: windows per forward pass.
        instruments_per_pass: instruments transcribed together from one window's shared features;
            more are done in groups of this size, which bounds memory for ``instruments="all"``.
            The defaults (1 window, 2 instruments) keep every activation small enough for glibc to
            reuse its heap: bigger passes are up to 4x slower on a CPU (page faults of fresh mmaps),
            so raise them only on a GPU.
        decode: note decoding thresholds (default: the model card's).
        window_s, hop_s: chunking of long audio.
        progress: show a progress bar over windows.
        recognizer: a :class:`Recognizer` or a model file holding one, for ``instruments="auto"``
            (None: the model file's own recognizer if it has one, else the shipped recognizer,
            loaded when first needed).
        separator: a model file holding a separator, for ``separate=True`` (None: the model file's
            own separator if it has one, else the shipped separator, loaded when first needed).
        max_posteriorgram_frames: frames a result keeps per posteriorgram (None: all); a longer
            song's are max-pooled in time (:class:`~jointist.results.PosteriorgramPool`), so results
            stay small. Notes are always decoded at the full frame rate, while the windows are
            stitched.
        input_peak: the peak level each song is scaled to before the models hear it, one gain per
            song (:data:`INPUT_PEAK`, the level of the training mixtures; None: as given). Stems
            come back at the recording's own level.
        verify: use the model file's note-onset verifier (:mod:`jointist.verifier`) when it has
            one: it decides which onsets start notes, and its card's decoding thresholds (tuned for
            it) are the default ones; False: the transcriber's onsets and thresholds alone.
        choose_ends: use the model file's note-end chooser (:mod:`jointist.note_ends`) when it has
            one: it chooses where each decoded note ends among its candidate ends; False: the
            note trackers' ends.
        drums: use the model file's drum transcriber (:mod:`jointist.models.drums`, role
            ``drummer``) for the ``Drums`` track when it has one, with the drum onset threshold of
            its card (unless ``decode`` is given); False: the transcriber's own drums.
    """

    def __init__(
        self,
        model: PathLike | None = None,
        *,
        device: str = "cpu",
        batch_size: int = 1,
        instruments_per_pass: int = 2,
        decode: DecodeConfig | None = None,
        window_s: float = SEGMENT_S,
        hop_s: float = HOP_S,
        progress: bool = True,
        recognizer: Recognizer | PathLike | None = None,
        separator: PathLike | None = None,
        max_posteriorgram_frames: int | None = DEFAULT_MAX_FRAMES,
        input_peak: float | None = INPUT_PEAK,
        verify: bool = True,
        choose_ends: bool = True,
        drums: bool = True,
    ) -> None:
        loaded, self.card, self.model_path = load_role(model, role="transcriber", default=DEFAULT_MODEL, device=device)
        if not isinstance(loaded, ConditionedTranscriberModel):
            raise CheckpointError(f"{self.model_path}: {type(loaded).__name__} is not a conditioned transcriber")
        self.model: ConditionedTranscriberModel = cast(ConditionedTranscriberModel, loaded)
        self.verifier: NoteVerifier | None = None
        settings = self.card.decode
        if verify and "verifier" in model_roles(self.model_path):
            checker, checker_card = load_model(self.model_path, role="verifier")
            if not isinstance(checker, NoteVerifier):
                raise CheckpointError(f"{self.model_path}: {type(checker).__name__} is not a note verifier")
            self.verifier = checker
            settings = checker_card.decode or settings
        self.ender: NoteEnder | None = None
        if choose_ends and "ender" in model_roles(self.model_path):
            ender, _ = load_model(self.model_path, role="ender")
            if not isinstance(ender, NoteEnder):
                raise CheckpointError(f"{self.model_path}: {type(ender).__name__} is not a note-end chooser")
            self.ender = ender
        self.drummer: DrumTranscriber | None = None
        drum_rows = None
        if drums and "drummer" in model_roles(self.model_path):
            drummer, drummer_card = load_model(self.model_path, role="drummer", map_location=device)
            if not isinstance(drummer, DrumTranscriber):
                raise CheckpointError(f"{self.model_path}: {type(drummer).__name__} is not a drum transcriber")
            self.drummer = drummer.to(device)
            drum_rows = (drummer_card.decode or {}).get("class_thresholds")
        self.decode = decode or DecodeConfig(**(settings or {}))
        if decode is None and drum_rows:
            self.decode = self.decode.with_classes(drum_rows)
        super().__init__(model=model, device=device, batch_size=batch_size, instruments_per_pass=instruments_per_pass,
                         window_s=window_s, hop_s=hop_s, progress=progress, recognizer=recognizer, separator=separator,
                         max_posteriorgram_frames=max_posteriorgram_frames, input_peak=input_peak)

    def posteriorgrams(self, audio: Samples, instruments: Sequence[Instrument]) -> tuple[np.ndarray, np.ndarray]:
        """Song-long onset and frame probabilities as uint8 codes, (frames, K, 88) each."""
        out = self.all_posteriorgrams(audio, instruments)
        return out["onset"], out["frame"]

    def all_posteriorgrams(self, audio: Samples, instruments: Sequence[Instrument]) -> dict[str, np.ndarray]:
        """Every song-long output of the model as uint8 codes, (frames, K, 88) each: ``onset`` and
        ``frame``, and ``velocity`` and ``offset`` from a model with those heads."""
        stage = TranscribeStage(self.model, [i.index for i in instruments], instruments_per_pass=self.instruments_per_pass,
                                drummer=self.drummer)
        return run_stages(audio, [stage], chunker=self.chunker, batch_size=self.batch_size, device=self.device,
                          progress=self.progress, desc="transcribing", gain=input_gain(audio, self.input_peak))

    def transcribe_audio(
        self,
        audio: Samples,
        *,
        instruments: str | Sequence[str | int] | None = "auto",
        source: str | None = None,
        separate: bool = False,
        stems_dir: PathLike | None = None,
        stems_sample_rate: int = SAMPLE_RATE,
    ) -> Transcription:
        """Transcribe (and, with ``separate``, separate) mono 16 kHz audio for the requested
        instruments: ``"auto"`` (the default: the recognizer decides; its detections and probabilities
        are in ``detected``), names, indices, or ``"all"``.

        Args:
            separate: also run the separator: one stem per instrument, in ``InstrumentResult.stem``
                (16 kHz), or streamed to ``stems_dir/<instrument>.wav`` at ``stems_sample_rate``
                (then ``InstrumentResult.stem_path``), which keeps memory bounded for long files.
        """
        audio = self._mono(audio, source)
        chosen, detected = self._instruments(audio, instruments)
        if not chosen:
            return Transcription(len(audio) / SAMPLE_RATE, [], source=source, detected=detected)
        classes = [i.index for i in chosen]
        stages: list[Stage] = [TranscribeStage(self.model, classes, instruments_per_pass=self.instruments_per_pass,
                                               drummer=self.drummer)]
        if separate:
            stages.append(SeparateStage(self.separator, classes, instruments_per_pass=self.instruments_per_pass))
        # notes are decoded from the uint8 codes while the windows are stitched, one block at a time
        decoder = TrackDecoder(classes, config=self.decode, scale=Posteriorgram.SCALE, verifier=self.verifier,
                               ender=self.ender)
        out, stem_paths, pools = self._run(audio, stages, chosen, stems_dir=stems_dir if separate else None,
                                           stems_sample_rate=stems_sample_rate, decoder=decoder)
        tracks = self._results(chosen, decoder.finish(), out, pools, stem_paths, stems_sample_rate)
        return Transcription(len(audio) / SAMPLE_RATE, tracks, source=source, detected=detected)


class TokenTranscriber(Pipeline):
    """The seq2seq head (MT3's formulation) behind the same interface as :class:`Transcriber`.

    The song is cut into the model's segments (2.048 s, one after the other: hop = window), each
    segment is decoded greedily into token ids, ``batch_size`` segments at a time with a key/value
    cache, and the segments' tokens are decoded in order by the codec's state machine: a note still
    sounding at a segment's end continues through the next segment's tie section. Requested
    instruments restrict decoding (program tokens of other classes are never emitted); with a
    multi-channel model only the channels of the requested instruments are decoded. The notes go
    into the same results, MIDI writer and reports; their rolls are the posteriorgrams, and with
    ``separate`` the separator reads them as its condition (as it reads a score).

    Args:
        model: a model file holding a ``seq2seq`` model (None: the shipped file's).
        batch_size: segments decoded together.
        max_tokens: tokens per segment and stream (default: the model card's).
        recognizer, separator, window_s, hop_s, instruments_per_pass, max_posteriorgram_frames, input_peak: as
            for :class:`Transcriber` (the separator's and recognizer's windows).
    """

    def __init__(
        self,
        model: PathLike | None = None,
        *,
        device: str = "cpu",
        batch_size: int = 8,
        instruments_per_pass: int = 2,
        max_tokens: int | None = None,
        window_s: float = SEGMENT_S,
        hop_s: float = HOP_S,
        progress: bool = True,
        recognizer: Recognizer | PathLike | None = None,
        separator: PathLike | None = None,
        max_posteriorgram_frames: int | None = DEFAULT_MAX_FRAMES,
        input_peak: float | None = INPUT_PEAK,
    ) -> None:
        from jointist.tokens import Vocabulary, mt3_codec

        path = Path(model) if model is not None else default_model_path(DEFAULT_MODEL)
        if model is None and "seq2seq" not in model_roles(path):
            raise CheckpointError(f"the shipped model file {path} has no seq2seq head; pass one with ckpt=<model.pt> "
                                  "(jointist-train experiment=seq2seq_synth exports one)")
        loaded, self.card, self.model_path = load_role(path, role="seq2seq", default=DEFAULT_MODEL, device=device)
        self.model: Any = loaded
        settings = dict(self.card.decode or {})
        self.vocab = Vocabulary(mt3_codec(int(settings.get("num_velocity_bins", 1))))
        self.max_tokens = int(max_tokens or settings.get("max_tokens", 1024))
        self.channels = int(loaded.init_args.get("channels", 0))
        self.segment_samples = int(cast(Any, loaded).segment_samples)
        super().__init__(model=model, device=device, batch_size=batch_size, instruments_per_pass=instruments_per_pass,
                         window_s=window_s, hop_s=hop_s, progress=progress, recognizer=recognizer, separator=separator,
                         max_posteriorgram_frames=max_posteriorgram_frames, input_peak=input_peak)

    def segment_tokens(self, audio: Samples, classes: Sequence[int] | None) -> dict[int | None, list[list[int]]]:
        """Token ids per stream (None: the single stream; else the channel) and segment, with
        decoding restricted to ``classes`` (None: no restriction)."""
        from tqdm import tqdm

        from jointist.seq2seq import allowed_tokens, channels_for

        n = max(1, -(-len(audio) // self.segment_samples))
        gain = np.float32(input_gain(audio, self.input_peak))

        def segments(first: int, count: int) -> np.ndarray:  # (count, segment_samples), zero-padded past the end
            samples = np.asarray(audio[first * self.segment_samples: (first + count) * self.segment_samples], np.float32)
            samples = np.pad(samples, (0, count * self.segment_samples - len(samples))).reshape(count, self.segment_samples)
            return samples * gain if gain != 1 else samples

        allowed = torch.from_numpy(allowed_tokens(self.vocab, classes)).to(self.device)
        vocab_size = int(self.model.init_args["vocab_size"])
        if len(allowed) < vocab_size:  # ids past the codec's (MT3's rounding of the vocabulary) are never emitted
            allowed = torch.cat([allowed, torch.zeros(vocab_size - len(allowed), dtype=torch.bool, device=self.device)])
        streams: list[int | None] = [None] if not self.channels else list(
            channels_for(classes) if classes is not None else range(self.channels))
        out: dict[int | None, list[list[int]]] = {s: [] for s in streams}
        with tqdm(total=n, desc="transcribing (seq2seq)", unit="segment", disable=not self.progress) as bar, \
                torch.inference_mode():
            for first in range(0, n, self.batch_size):
                x = torch.from_numpy(segments(first, min(self.batch_size, n - first))).to(self.device)
                memory = self.model.encode(x)
                if self.channels:
                    k = len(streams)
                    channel = torch.tensor(streams, device=self.device).repeat(len(x))
                    ids = self.model.generate(x.repeat_interleave(k, 0), max_tokens=self.max_tokens, allowed=allowed,
                                              channel=channel, memory=memory.repeat_interleave(k, 0))
                    rows = ids.cpu().numpy().reshape(len(x), k, -1)
                    for j, stream in enumerate(streams):
                        out[stream].extend(row.tolist() for row in rows[:, j])
                else:
                    ids = self.model.generate(x, max_tokens=self.max_tokens, allowed=allowed, memory=memory)
                    out[None].extend(row.tolist() for row in ids.cpu().numpy())
                bar.update(len(x))
        return out

    def notes(self, audio: Samples, classes: Sequence[int] | None) -> tuple[dict[int, NoteArray], dict[str, int]]:
        """Class -> notes of a song (only ``classes`` when given), and the decoder's counts of
        invalid and dropped events."""
        from jointist.seq2seq import class_notes
        from jointist.tokens import decode_segments

        per_stream = self.segment_tokens(audio, classes)
        found = []
        counts = {"invalid_events": 0, "dropped_events": 0}
        end_s = len(audio) / SAMPLE_RATE
        for segments in per_stream.values():
            starts = [i * self.segment_samples / SAMPLE_RATE for i in range(len(segments))]
            notes, stats = decode_segments(segments, starts, self.vocab, end_s=end_s)
            found.extend(notes)
            for key in counts:
                counts[key] += int(getattr(stats, key, 0))
        # a segment padded past the song's end may still write notes there: they are cut at the end
        found = [n for n in found if n.onset_s < end_s]
        by_class = {c: NoteArray(n.onset_s, np.minimum(n.offset_s, end_s), n.pitch, n.velocity)
                    for c, n in class_notes(found).items()}
        if classes is not None:
            wanted = set(classes)
            by_class = {c: n for c, n in by_class.items() if c in wanted}
        return by_class, counts

    def transcribe_audio(
        self,
        audio: Samples,
        *,
        instruments: str | Sequence[str | int] | None = "auto",
        source: str | None = None,
        separate: bool = False,
        stems_dir: PathLike | None = None,
        stems_sample_rate: int = SAMPLE_RATE,
    ) -> Transcription:
        """As :meth:`Transcriber.transcribe_audio`; with ``instruments="all"`` the result holds the
        classes the head wrote notes for."""
        audio = self._mono(audio, source)
        every = isinstance(instruments, str) and instruments.strip().lower() == "all"
        chosen: list[Instrument]
        detected: dict[str, float]
        if every:
            chosen, detected = [], {}
        else:
            chosen, detected = self._instruments(audio, instruments)
            if not chosen:
                return Transcription(len(audio) / SAMPLE_RATE, [], source=source, detected=detected)
        notes, counts = self.notes(audio, None if every else [i.index for i in chosen])
        if counts["invalid_events"] or counts["dropped_events"]:
            log.info("seq2seq decoding: %d invalid and %d dropped events", counts["invalid_events"], counts["dropped_events"])
        if every:
            chosen = [INSTRUMENTS[c] for c in sorted(notes)]
            if not chosen:
                return Transcription(len(audio) / SAMPLE_RATE, [], source=source)
        score = {i.index: notes.get(i.index, NoteArray.empty()) for i in chosen}
        if separate:
            result = self.separate_with_score(audio, score, source=source, stems_dir=stems_dir,
                                              stems_sample_rate=stems_sample_rate)
            result.detected = detected
            return result
        # the notes' rolls are the posteriorgrams, drawn window by window into the bounded pools
        stage = ScoreStage(score, [i.index for i in chosen], total_frames=self.chunker.num_frames(len(audio)))
        out, _, pools = self._run(audio, [stage], chosen, stems_dir=None, stems_sample_rate=SAMPLE_RATE, desc="piano rolls")
        tracks = self._results(chosen, score, out, pools, None, SAMPLE_RATE)
        return Transcription(len(audio) / SAMPLE_RATE, tracks, source=source, detected=detected)


HEADS = ("onsets_frames", "seq2seq")
"""The transcription heads: onsets-and-frames (:class:`Transcriber`) and MT3's tokens
(:class:`TokenTranscriber`)."""


def load_transcriber(head: str = "onsets_frames", model: PathLike | None = None, **kwargs: Any) -> Pipeline:
    """The pipeline of a transcription head (``onsets_frames`` or ``seq2seq``) with its settings."""
    if head == "onsets_frames":
        return Transcriber(model, **kwargs)
    if head == "seq2seq":
        return TokenTranscriber(model, **kwargs)
    raise ValueError(f"head={head!r}: choose one of {', '.join(HEADS)}")


def transcribe(
    audio: PathLike | np.ndarray,
    *,
    instruments: str | Sequence[str | int] | None = "auto",
    model: PathLike | None = None,
    recognizer: PathLike | None = None,
    separator: PathLike | None = None,
    separate: bool = False,
    device: str = "cpu",
    batch_size: int = 4,
    progress: bool = False,
    head: str = "onsets_frames",
    input_peak: float | None = INPUT_PEAK,
) -> Transcription:
    """Transcribe a file path or a mono 16 kHz array: one note list per requested instrument
    (``"auto"``, the default, lets the instrument recognizer decide; or names, indices, ``"all"``); with
    ``separate=True`` also one 16 kHz stem per instrument (``InstrumentResult.stem``). The song is
    heard at the level the models were trained at (its peak scaled to ``input_peak``, see
    :data:`INPUT_PEAK`; None: as given).

    >>> result = transcribe("song.mp3", instruments=["piano", "bass"])   # doctest: +SKIP
    >>> jointist.export.write_outputs(result, "out", name="song")         # doctest: +SKIP
    """
    transcriber = load_transcriber(head, model, device=device, batch_size=batch_size, progress=progress,
                                   recognizer=recognizer, separator=separator, input_peak=input_peak)
    if isinstance(audio, np.ndarray):
        return transcriber.transcribe_audio(audio, instruments=instruments, separate=separate)
    return transcriber.transcribe_file(audio, instruments=instruments, separate=separate)
