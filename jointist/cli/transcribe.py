"""``jointist-transcribe``: transcribe recordings into multitrack MIDI, piano rolls and JSON.

``audio=`` is one file, a folder (every wav, flac, ogg and mp3 file directly in it, sorted) or a list of
files and folders. Each recording writes under its own output name in ``out=`` (see
:mod:`jointist.export`): ``<name>.mid``, ``<name>.json``, ``<name>.pianoroll/<instrument>.png`` and,
separated, ``<name>.stems/<instrument>.wav``; the name is the file's stem, or its file name when two
inputs share a stem (``song.wav`` and ``song.flac`` write ``song.wav.*`` and ``song.flac.*``).

Every argument is checked before any audio or model is loaded: the instruments, the model files, the
inputs, that the output folder can be written (it is created when the first result is written), the
recognizer and separator that will be needed, and the results already in the folder: results written for another recording are not overwritten unless ``overwrite=true``. Then
the recordings are transcribed in order, one progress line each; one that cannot be read is
reported and the others still run, and the command exits with status 2 at the end.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import hydra
from omegaconf import DictConfig, ListConfig, OmegaConf

from jointist.cli import CONFIG_PATH

if TYPE_CHECKING:
    from jointist.export import OutputPaths
    from jointist.notes import NoteArray
    from jointist.pipeline import Pipeline
    from jointist.results import Transcription

log = logging.getLogger("jointist.transcribe")

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
"""The files of a folder given as ``audio=`` that are transcribed (case ignored)."""


class UsageError(ValueError):
    """An argument that cannot work, found before any audio or model is loaded; the message names it."""


class OutputWriteError(RuntimeError):
    """A result could not be written to the output folder; the message names the folder."""


class FailedInputs(RuntimeError):
    """Some of several recordings could not be transcribed (each was logged); the others were written."""

    def __init__(self, failed: dict[Path, str], written: dict[str, Path]) -> None:
        super().__init__(f"{len(failed)} of the recordings failed: {', '.join(str(p) for p in failed)}")
        self.failed = failed
        self.written = written


@dataclass(frozen=True)
class Job:
    """One recording to transcribe and where its results go."""

    audio: Path
    paths: OutputPaths


@dataclass(frozen=True)
class Plan:
    """A checked command line: the recordings, their outputs, and the score's notes with ``score=``."""

    jobs: list[Job]
    score: dict[int, NoteArray] | None = None


def audio_inputs(value: object) -> list[Path]:
    """``audio=`` as a list of files: a file, every audio file directly in a folder (sorted), or a
    list of files and folders, in the order given.

    Raises:
        FileNotFoundError: a path that does not exist.
        UsageError: no ``audio=``, or a folder without audio files.
    """
    items = list(value) if isinstance(value, (list, tuple, ListConfig)) else [value]
    if not items or any(item is None or str(item) == "" for item in items):
        raise UsageError("audio= names no recording: give a file, a folder or a list of them")
    files: list[Path] = []
    for item in items:
        path = Path(str(item))
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
            if not found:
                raise UsageError(f"audio={path}: the folder holds no {', '.join(AUDIO_SUFFIXES)} file")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise FileNotFoundError(f"audio file not found: {path}")
    return files


def check_output_folder(value: object) -> Path:
    """Make sure the folder ``out=`` names is, or can be created as, a folder a file can be written in,
    without creating it (it is created when the first result is written, so a run that fails before
    leaves nothing behind).

    Raises:
        UsageError: naming the folder, when it is a file, lies under a file, or cannot be written to.
    """
    if value is None or str(value) == "":
        raise UsageError("out= names no folder")
    folder = Path(str(value))
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"out={folder} is a file, not a folder: choose another out=")
    existing = next(p for p in (folder, *folder.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise UsageError(f"out={folder} cannot be created: {existing} is a file")
    try:  # a real write: permissions alone do not show a read-only file system
        with tempfile.TemporaryFile(dir=existing, prefix=".jointist-probe."):
            pass
    except OSError as err:
        raise UsageError(f"out={folder}: cannot write in {existing} ({err.strerror or err})") from err
    return folder


def _check_model_file(key: str, value: object) -> None:
    from jointist.models.serialize import CheckpointError

    if value is not None and not Path(str(value)).is_file():
        raise CheckpointError(f"checkpoint not found: {value} (the {key}= argument)")


def _check_role_available(role: str, given: object, ckpt: object) -> None:
    """A recognizer or separator that will be needed can be found: ``given``, else the model file's,
    else the shipped one (the order :class:`~jointist.pipeline.Transcriber` looks in)."""
    from jointist import pipeline
    from jointist.models.serialize import CheckpointError, model_roles

    if given is not None:
        return
    shipped = pipeline.default_model_path(pipeline.DEFAULT_RECOGNIZER if role == "recognizer" else pipeline.DEFAULT_SEPARATOR)
    if shipped.is_file() or (ckpt is not None and role in model_roles(str(ckpt))):
        return
    raise CheckpointError(f"no shipped {role} in this installation ({shipped} is missing) and ckpt= holds none; "
                          f"pass a model file with {role}=...")


def _check_stems_sample_rate(value: object) -> None:
    if value == "input":
        return
    try:
        rate = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        rate = 0
    if rate <= 0 or str(rate) != str(value).strip():
        raise UsageError(f"stems_sample_rate={value}: give a positive number of Hz or 'input'")


def plan(cfg: DictConfig) -> Plan:
    """Check every argument of ``cfg``, cheaply (no audio decoded, no model loaded): the instruments,
    the model files, the score, the recordings, their output names, the output folder (writable) and the
    results already in it.

    Raises:
        UsageError, FileNotFoundError, UnknownInstrumentError, CheckpointError, InferenceSettingError: naming
        the argument.
    """
    from jointist.cli.inference import check_inference_settings, instrument_request
    from jointist.export import OutputPaths, output_names
    from jointist.instruments import parse_instruments

    check_inference_settings(cfg)
    instruments = instrument_request(cfg.instruments)
    if instruments != "auto":
        parse_instruments(instruments)
    _check_model_file("ckpt", cfg.get("ckpt"))
    _check_model_file("recognizer", cfg.get("recognizer"))
    _check_model_file("separator", cfg.get("separator"))
    if instruments == "auto":
        _check_role_available("recognizer", cfg.get("recognizer"), cfg.get("ckpt"))
    if cfg.get("separate") or cfg.get("score"):
        _check_role_available("separator", cfg.get("separator"), cfg.get("ckpt"))
    _check_stems_sample_rate(cfg.get("stems_sample_rate", 16000))
    score = read_score(cfg.score, instruments) if cfg.get("score") else None
    inputs = audio_inputs(None if OmegaConf.is_missing(cfg, "audio") else cfg.audio)
    if score is not None and len(inputs) > 1:
        raise UsageError(f"score={cfg.score} is the score of one recording, but audio= names {len(inputs)}")
    try:
        names = output_names(inputs)
    except ValueError as err:
        raise UsageError(str(err)) from err
    folder = check_output_folder(cfg.out)
    jobs = [Job(audio, OutputPaths(folder, name)) for audio, name in zip(inputs, names)]
    if not cfg.get("overwrite"):
        conflicts = [c for c in (job.paths.conflict(job.audio) for job in jobs) if c is not None]
        if conflicts:
            raise UsageError("; ".join(conflicts) + ". Pass overwrite=true to replace, or choose another out=")
    return Plan(jobs, score)


def run(cfg: DictConfig) -> dict[str, Path]:
    """Check the arguments (:func:`plan`), then transcribe every recording and write its results.

    Returns:
        the files written, by kind (``midi``, ``json``, ``pianoroll/<slug>``, ``stems/<slug>``); with
        several recordings, by ``<name>/<kind>``.

    Raises:
        what :func:`plan` raises, before anything is loaded; with one recording, the error that stopped
        it; with several, :class:`FailedInputs` at the end when any failed.
    """
    from jointist.audio.io import AudioError
    from jointist.cli.inference import build_transcriber, instrument_request
    from jointist.instruments import UnknownInstrumentError

    checked = plan(cfg)
    transcriber = build_transcriber(cfg)
    instruments = instrument_request(cfg.instruments)
    many = len(checked.jobs) > 1
    written: dict[str, Path] = {}
    failed: dict[Path, str] = {}
    for i, job in enumerate(checked.jobs, 1):
        log.info("[%d/%d] %s -> %s.*", i, len(checked.jobs), job.audio, job.paths.folder / job.paths.name)
        try:
            files = transcribe_one(transcriber, cfg, job, instruments, score=checked.score)
        except (AudioError, FileNotFoundError, UnknownInstrumentError) as err:
            if not many:
                raise
            log.error("%s: %s", job.audio, err)
            failed[job.audio] = str(err)
            continue
        written.update({f"{job.paths.name}/{kind}" if many else kind: path for kind, path in files.items()})
    if failed:
        raise FailedInputs(failed, written)
    return written


def transcribe_one(
    transcriber: Pipeline, cfg: DictConfig, job: Job, instruments: str | list, *, score: dict[int, NoteArray] | None
) -> dict[str, Path]:
    """Transcribe (or, with a score, separate) one recording and write its results."""
    from jointist.export import write_outputs

    separate = bool(cfg.get("separate"))
    rate = cfg.get("stems_sample_rate", 16000)
    if score is not None:
        result = separate_by_score(transcriber, job.audio, score, stems_dir=job.paths.stems_dir, stems_sample_rate=rate)
    else:
        result = transcriber.transcribe_file(job.audio, instruments=instruments, separate=separate,
                                             stems_dir=job.paths.stems_dir if separate else None,
                                             stems_sample_rate=rate)
    try:
        written = write_outputs(result, job.paths.folder, name=job.paths.name, plots=cfg.plots, folders_per_name=True,
                                progress=bool(cfg.progress))
    except OSError as err:
        raise OutputWriteError(f"cannot write the results of {job.audio} to the output folder out={job.paths.folder}: "
                               f"{err.strerror or err}{f' ({err.filename})' if err.filename else ''}") from err
    if instruments == "auto":
        log.info("detected instruments: %s",
                 ", ".join(f"{name} (p={p:.2f})" for name, p in result.detected.items()) or "none")
    for track in result.tracks:
        log.info("%-22s %5d notes", track.instrument.name, len(track.notes))
    log.info("wrote %s", ", ".join(str(p) for p in written.values()))
    return written


def read_score(path: object, instruments: str | Sequence[str | int]) -> dict[int, NoteArray]:
    """The notes per class of the MIDI file ``score=``: its instruments, or those of them named."""
    from jointist.instruments import INSTRUMENTS, UnknownInstrumentError, parse_instruments
    from jointist.midi import read_midi

    score_path = Path(str(path))
    if not score_path.is_file():
        raise FileNotFoundError(f"score={score_path}: no such MIDI file")
    score = read_midi(score_path)
    if not score:
        raise UnknownInstrumentError(f"score={score_path} has no notes")
    if instruments not in ("all", "auto"):
        wanted = {i.index for i in parse_instruments(instruments)}
        missing = sorted(wanted - set(score))
        if missing:
            raise UnknownInstrumentError(
                f"score={score_path} has no {', '.join(INSTRUMENTS[c].name for c in missing)}; "
                f"it has {', '.join(INSTRUMENTS[c].name for c in score)}")
        score = {c: notes for c, notes in score.items() if c in wanted}
    return score


def separate_by_score(
    transcriber: Pipeline, audio_path: Path, score: dict[int, NoteArray], *, stems_dir: Path,
    stems_sample_rate: int | str,
) -> Transcription:
    """Score-informed separation: the notes of ``score`` (aligned with the recording) condition the
    separator in place of a transcription."""
    from jointist.audio.io import AudioFile, audio_sample_rate

    audio = AudioFile(audio_path, allow_silence=False)  # read window by window
    rate = int(audio_sample_rate(audio_path)) if stems_sample_rate == "input" else int(stems_sample_rate)
    return transcriber.separate_with_score(audio, score, source=str(audio_path), stems_dir=stems_dir,
                                           stems_sample_rate=rate)


@hydra.main(config_path=CONFIG_PATH, config_name="transcribe", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from jointist.audio.io import AudioError
    from jointist.cli.inference import InferenceSettingError
    from jointist.instruments import UnknownInstrumentError
    from jointist.midi import MidiReadError
    from jointist.models.serialize import CheckpointError
    from jointist.postprocess import DecodeConfigError

    try:
        run(cfg)
    except FailedInputs as err:
        log.error("%s", err)
        sys.exit(2)
    except (AudioError, FileNotFoundError, UnknownInstrumentError, CheckpointError, MidiReadError, UsageError,
            DecodeConfigError, InferenceSettingError, OutputWriteError) as err:
        log.error("%s", err)
        sys.exit(2)


if __name__ == "__main__":
    main()
