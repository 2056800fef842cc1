"""Evaluate a transcriber on a Slakh2100-format split with the same pipeline users run."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from jointist.atomic import atomic_write_text
from jointist.audio.io import load_audio
from jointist.constants import FRAMES_PER_SECOND, MIN_MIDI, SAMPLE_RATE
from jointist.data.slakh import TrackInfo, load_index
from jointist.instruments import DRUMS, INSTRUMENTS, NUM_CLASSES, parse_instruments
from jointist.metrics import (
    PieceScores,
    RecognitionReport,
    SeparationPieceScores,
    SeparationReport,
    TranscriptionReport,
    evaluate_piece,
    evaluate_separation,
    finite_or_none,
    match_pairs,
    recognition_scores,
    summarise,
    summarise_separation,
)
from jointist.note_ends import NoteEndChooser
from jointist.notes import NoteArray
from jointist.pipeline import Pipeline, Recognizer, Transcriber
from jointist.plots import plot_f1_bars
from jointist.postprocess import DecodeConfig, decode_tracks
from jointist.recognition_calibration import SongDecision
from jointist.results import Posteriorgram
from jointist.verifier import OnsetVerifier, verified_onsets

__all__ = [
    "ClassThresholdChoice", "OffsetErrors", "RecognizedSongs", "SplitScores", "StemFiles", "evaluate_recognizer",
    "evaluate_split", "evaluate_tracks", "offset_error_table", "offset_errors", "posteriorgrams_of_split", "recognition_reports", "recognize_split", "reference_stems",
    "split_report", "split_score", "tune_class_offsets", "tune_class_thresholds", "tune_decode", "write_recognition_report", "write_report",
]

log = logging.getLogger(__name__)


@dataclass
class SplitScores:
    """What :func:`evaluate_tracks` measured on a split."""

    transcription: TranscriptionReport
    pieces: list[PieceScores]
    separation: SeparationReport | None = None
    separation_pieces: list[SeparationPieceScores] = field(default_factory=list)
    styles: dict[str, str] = field(default_factory=dict)  # track id -> style (corpora that record one)

    def by_style(self) -> dict[str, TranscriptionReport]:
        """The transcription report of each style's tracks (empty when the tracks record no style)."""
        groups: dict[str, list[PieceScores]] = {}
        for piece in self.pieces:
            if piece.piece in self.styles:
                groups.setdefault(self.styles[piece.piece], []).append(piece)
        return {style: summarise(pieces) for style, pieces in sorted(groups.items())}


def reference_stems(track: TrackInfo, *, num_samples: int) -> dict[int, np.ndarray]:
    """The true stems of a track summed per class, 16 kHz, ``num_samples`` long."""
    stems: dict[int, np.ndarray] = {}
    for stem in track.stems:
        wave = load_audio(stem.audio_path)[:num_samples]
        wave = np.pad(wave, (0, num_samples - len(wave)))
        stems[stem.instrument] = stems[stem.instrument] + wave if stem.instrument in stems else wave
    return stems


def evaluate_tracks(
    transcriber: Pipeline,
    root: str | os.PathLike[str],
    split: str = "test",
    *,
    instruments: str | Sequence[str | int] = "gt",
    max_tracks: int | None = None,
    progress: bool = True,
    separate: bool = False,
    bss_eval: bool = True,
    separate_from: str = "transcription",
) -> SplitScores:
    """Transcribe (and, with ``separate``, separate) every track's ``mix.flac`` and score it
    against the track's MIDI (and true stems).

    Args:
        instruments: ``gt`` transcribes each track's true instruments; ``all`` transcribes all 39
            classes (predictions for absent classes then count in the ``*_penalised`` numbers, and
            their stems in the absent-instrument energy); ``auto`` transcribes the classes the
            recognizer finds; or a fixed list of names.
        bss_eval: also museval's BSS Eval v4 (slow: seconds per track) next to the whole-track SDR.
        separate_from: what conditions the separator: ``transcription`` (the pipeline's own, as a
            user gets it) or ``score`` (the track's true MIDI: score-informed separation, the
            separator's ceiling when its transcription is perfect).
    """
    if separate_from not in ("transcription", "score"):
        raise ValueError(f"separate_from must be 'transcription' or 'score', got {separate_from!r}")
    from tqdm import tqdm

    tracks = load_index(root, split)[:max_tracks]
    fixed = None if instruments in ("gt", "all", "auto") else parse_instruments(instruments)
    pieces: list[PieceScores] = []
    separated: list[SeparationPieceScores] = []
    for track in tqdm(tracks, desc=f"evaluating {split}", unit="track", disable=not progress):
        with tempfile.TemporaryDirectory(prefix="jointist-stems-") if separate else nullcontext() as stems_dir:
            piece, separation = _evaluate_track(transcriber, track, instruments, fixed, separate=separate,
                                                bss_eval=bss_eval, separate_from=separate_from,
                                                stems_dir=Path(stems_dir) if stems_dir else None)
        pieces.append(piece)
        if separation is not None:
            separated.append(separation)
    styles = {t.track_id: t.style for t in tracks if t.style}
    return SplitScores(summarise(pieces), pieces, summarise_separation(separated) if separate else None, separated,
                       styles)


class StemFiles(Mapping[int, np.ndarray]):
    """Class index -> stem, read from its WAV file when asked for: an evaluation of many instruments
    (``instruments=all``) holds one predicted stem in memory at a time, not all of them."""

    def __init__(self, paths: Mapping[int, Path]) -> None:
        self.paths = dict(paths)

    def __getitem__(self, index: int) -> np.ndarray:
        return load_audio(self.paths[index])

    def __iter__(self) -> Iterator[int]:
        return iter(self.paths)

    def __len__(self) -> int:
        return len(self.paths)


def _evaluate_track(
    transcriber: Pipeline, track: TrackInfo, instruments: str | Sequence[str | int], fixed: list | None, *,
    separate: bool, bss_eval: bool, separate_from: str, stems_dir: Path | None,
) -> tuple[PieceScores, SeparationPieceScores | None]:
    """Transcription scores of one track and, with ``separate``, its separation scores (the predicted
    stems are streamed to ``stems_dir`` and read back one at a time)."""
    ref = track.notes_by_class()
    audio = load_audio(track.mix_path, allow_silence=False)
    if instruments == "gt":
        wanted: list = [INSTRUMENTS[c] for c in sorted(ref)]
    elif instruments == "all":
        wanted = list(INSTRUMENTS)
    elif instruments == "auto":
        wanted = [INSTRUMENTS[c] for c in sorted(transcriber.recognizer.recognize(audio))]
    else:
        wanted = fixed  # type: ignore[assignment]
    estimates: Mapping[int, np.ndarray] = {}
    if wanted:
        by_score = separate and separate_from == "score"
        transcribed = separate and not by_score
        result = transcriber.transcribe_audio(audio, instruments=[i.index for i in wanted], source=str(track.mix_path),
                                              separate=transcribed, stems_dir=stems_dir if transcribed else None)
        piece = evaluate_piece(track.track_id, ref, result.notes())
        if by_score:
            empty = NoteArray.empty()
            result = transcriber.separate_with_score(audio, {i.index: ref.get(i.index, empty) for i in wanted},
                                                     source=str(track.mix_path), stems_dir=stems_dir)
        estimates = StemFiles({t.instrument.index: t.stem_path for t in result.tracks if t.stem_path is not None})
    else:
        piece = evaluate_piece(track.track_id, ref, {})
    if not separate:
        return piece, None
    references = reference_stems(track, num_samples=len(audio))
    return piece, evaluate_separation(track.track_id, references, estimates, audio, bss_eval=bss_eval)


def evaluate_split(
    transcriber: Pipeline,
    root: str | os.PathLike[str],
    split: str = "test",
    *,
    instruments: str | Sequence[str | int] = "gt",
    max_tracks: int | None = None,
    progress: bool = True,
) -> tuple[TranscriptionReport, list[PieceScores]]:
    """Transcription scores of a split (:func:`evaluate_tracks` without separation)."""
    scores = evaluate_tracks(transcriber, root, split, instruments=instruments, max_tracks=max_tracks, progress=progress)
    return scores.transcription, scores.pieces


def _strict_json(doc: object) -> str:
    """``doc`` as strict JSON: an undefined score (NaN, infinite) is written ``null``, never a bare ``NaN``."""
    return json.dumps(finite_or_none(doc), indent=1, allow_nan=False)


def style_table(by_style: Mapping[str, TranscriptionReport]) -> str:
    """One markdown row of note F1 per style (onset / onset+offset)."""
    lines = ["| style | pieces | flat | piece-wise | instrument-wise | multi-instrument (MT3) | velocity (flat) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for style, r in by_style.items():
        lines.append(
            f"| {style} | {r.pieces} | {r.flat['onset']:.3f} / {r.flat['offset']:.3f} | {r.piecewise['onset']:.3f} | "
            f"{r.instrumentwise['onset']:.3f} | {r.multi_instrument['onset']:.3f} / {r.multi_instrument['offset']:.3f} | "
            f"{r.velocity.get('flat', float('nan')):.3f} |"
        )
    return "\n".join(lines)


def write_report(
    report: TranscriptionReport, out_dir: str | os.PathLike[str], *, meta: dict | None = None,
    separation: SeparationReport | None = None, by_style: Mapping[str, TranscriptionReport] | None = None,
) -> dict[str, Path]:
    """``report.json``, ``report.md`` and ``f1_per_instrument.png`` in ``out_dir``; with
    ``separation`` also its scores in the JSON (``separation``) and markdown, and ``sdr_per_instrument.png``;
    with ``by_style`` the reports of each style's tracks (``by_style`` in the JSON, a table in the markdown)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "markdown": out / "report.md"}
    doc = {**(meta or {}), **report.to_dict()}
    markdown = report.to_markdown()
    if by_style:
        doc["by_style"] = {style: {k: v for k, v in r.to_dict().items() if k != "per_instrument"}
                           for style, r in by_style.items()}
        markdown += "\n\nNote F1 per style (onset; onset / onset+offset where two)\n\n" + style_table(by_style)
    if separation is not None:
        doc["separation"] = separation.to_dict()
        markdown += "\n\n" + separation.to_markdown()
    for key, text in (("json", _strict_json(doc)), ("markdown", markdown)):
        atomic_write_text(paths[key], text + "\n")
    paths["chart"] = plot_f1_bars(report.per_instrument, out / "f1_per_instrument.png")
    if separation is not None:
        paths["sdr_chart"] = plot_f1_bars(
            separation.per_instrument, out / "sdr_per_instrument.png", title="SDR per instrument (dB)",
            keys=("sdr", "bss_sdr"), labels=("whole track", "BSS Eval v4 median"), ylabel="dB", ylim=None,
        )
    return paths


@dataclass
class RecognizedSongs:
    """The recognizer's window probabilities of a split's songs, with the truth.

    Attributes:
        track_ids: one per song.
        window_probs: per song, (windows, 39) probabilities of the recognizer's chunker windows.
        window_labels: per song, (windows, 39) multi-hot: a class is present in a window when one of
            its notes sounds there.
        song_labels: (songs, 39) multi-hot: a class is present in a song when it has notes.
    """

    track_ids: list[str]
    window_probs: list[np.ndarray]
    window_labels: list[np.ndarray]
    song_labels: np.ndarray


def recognize_split(
    recognizer: Recognizer,
    root: str | os.PathLike[str],
    split: str = "test",
    *,
    max_tracks: int | None = None,
    progress: bool = True,
) -> RecognizedSongs:
    """Window probabilities and true classes of every track of a split.

    Each track's mixture goes through the recognizer's own chunker (10 s windows, 9 s apart), as in
    :meth:`~jointist.pipeline.Recognizer.recognize`.
    """
    from tqdm import tqdm

    tracks = load_index(root, split)[:max_tracks]
    songs = RecognizedSongs([], [], [], np.zeros((len(tracks), NUM_CLASSES)))
    chunker = recognizer.chunker
    window_s = chunker.window_samples / SAMPLE_RATE
    for i, track in enumerate(tqdm(tracks, desc=f"recognizing {split}", unit="track", disable=not progress)):
        audio = load_audio(track.mix_path, allow_silence=False)
        notes = track.notes_by_class()
        windows = chunker.windows(len(audio))
        labels = np.zeros((len(windows), NUM_CLASSES))
        for j, window in enumerate(windows):
            start_s = window.start_sample / SAMPLE_RATE
            labels[j, [c for c, n in notes.items() if len(n.window(start_s, start_s + window_s))]] = 1
        songs.track_ids.append(track.track_id)
        songs.window_probs.append(recognizer.window_probabilities(audio))
        songs.window_labels.append(labels)
        songs.song_labels[i, [c for c, n in notes.items() if len(n)]] = 1
    return songs


def recognition_reports(
    songs: RecognizedSongs, decision: SongDecision, *, window_thresholds: np.ndarray | float | None = None,
) -> dict[str, RecognitionReport]:
    """Window-level and song-level :class:`~jointist.metrics.RecognitionReport` of a split.

    Song probabilities are the window probabilities aggregated by ``decision``, and a song's named
    classes are those ``decision`` gives it (bounds on the count included). Windows are named by
    ``window_thresholds`` (default: the decision's thresholds).
    """
    if not songs.track_ids:
        raise ValueError("no songs to score")
    thresholds = decision.thresholds if window_thresholds is None else window_thresholds
    song_probs = np.stack([decision.song_probabilities(p) for p in songs.window_probs])
    return {
        "windows": recognition_scores(np.concatenate(songs.window_labels), np.concatenate(songs.window_probs),
                                      np.asarray(thresholds, np.float64)),
        "songs": recognition_scores(songs.song_labels, song_probs, predicted=decision.select(song_probs)),
    }


def evaluate_recognizer(
    recognizer: Recognizer,
    root: str | os.PathLike[str],
    split: str = "test",
    *,
    max_tracks: int | None = None,
    progress: bool = True,
) -> dict[str, RecognitionReport]:
    """mAP, F1, precision and recall of the recognizer on the windows and songs users get with
    ``instruments=auto`` (:func:`recognize_split`, then :func:`recognition_reports` with the
    recognizer's song decision: its song report names exactly what
    :meth:`~jointist.pipeline.Recognizer.recognize` names)."""
    songs = recognize_split(recognizer, root, split, max_tracks=max_tracks, progress=progress)
    return recognition_reports(songs, recognizer.decision)


def write_recognition_report(reports: dict[str, RecognitionReport], out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """``recognition.json``, ``recognition.md`` and ``recognition_per_instrument.png`` (window level)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "recognition.json", "markdown": out / "recognition.md"}
    text = {
        "json": _strict_json({k: r.to_dict() for k, r in reports.items()}),
        "markdown": "\n\n".join(f"### {k}\n\n{r.to_markdown()}" for k, r in reports.items()),
    }
    for key, path in paths.items():
        atomic_write_text(path, text[key] + "\n")
    windows = reports["windows"]
    bars = {name: {"onset": windows.ap[name], "offset": windows.f1[name]} for name in windows.ap}
    paths["chart"] = plot_f1_bars(bars, out / "recognition_per_instrument.png", title="Recognition per instrument",
                                  labels=("AP", "F1"))
    return paths


ONSET_GRID = (0.1, 0.2, 0.3, 0.4, 0.5)
FRAME_GRID = (0.1, 0.2, 0.3, 0.4, 0.5)
SHARED_ONSET_GRID = (0.0, 0.5, 0.8, 1.0)
OFFSET_GRID: tuple[float | None, ...] = (None, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5)
"""Offset thresholds tried for a model with an offset head (None: offsets ignored)."""
TUNE_OBJECTIVES = ("balanced", "piecewise")


def tune_score(report: TranscriptionReport, objective: str) -> float:
    """What decode tuning maximises: ``balanced``, the mean of the flat onset F1, the instrument-wise
    onset F1 and the multi-instrument F1 (MT3's: onset, offset, instrument), the three numbers the
    project is measured by; or ``piecewise``, the piece-wise onset F1 alone (which tolerates a note
    written into two instruments' tracks)."""
    if objective == "balanced":
        return (report.flat["onset"] + report.instrumentwise["onset"] + report.multi_instrument["offset"]) / 3.0
    if objective == "piecewise":
        return report.piecewise["onset"]
    raise ValueError(f"tune objective must be one of {TUNE_OBJECTIVES}, got {objective!r}")


def tune_decode(
    transcriber: Transcriber,
    root: str | os.PathLike[str],
    split: str = "validation",
    *,
    max_tracks: int | None = 20,
    onset_grid: tuple[float, ...] = ONSET_GRID,
    frame_grid: tuple[float, ...] = FRAME_GRID,
    shared_onset_grid: tuple[float, ...] = SHARED_ONSET_GRID,
    offset_grid: tuple[float | None, ...] = OFFSET_GRID,
    objective: str = "balanced",
    per_class: bool = False,
    shared: bool = True,
    min_pieces: int = 5,
    progress: bool = True,
    choices: dict[str, ClassThresholdChoice] | None = None,
    cache: str | os.PathLike[str] | None = None,
) -> tuple[dict[str, Any], dict[tuple[float, float, float], float]]:
    """Onset and frame thresholds and the shared-onset ratio (see
    :func:`~jointist.postprocess.suppress_shared_onsets`) that maximise :func:`tune_score` (true
    instruments) on a split; with ``per_class``, then each instrument's own thresholds and ratio
    (:func:`tune_class_thresholds`, for instruments in at least ``min_pieces`` songs; ``choices`` is
    filled with what it chose per instrument). ``shared=False`` keeps the model's shared settings
    and tunes only per instrument (the grids then apply to the instruments alone). For a model with
    an offset head, the offset threshold (``offset_grid``) is chosen next, jointly with the shared
    frame threshold (``frame_grid``, even with ``shared=False``: where offsets end notes, the frame
    roll may hold them longer), before the per-instrument settings; with ``per_class``, each
    instrument's own offset threshold last (:func:`tune_class_offsets`), kept if the split's
    objective says so.

    Posteriorgrams are computed once per track (or read from ``cache``, see
    :func:`posteriorgrams_of_split`); only the note decoding is repeated per grid point.
    Use the validation split: thresholds chosen on the test split would flatter the test numbers.

    Returns:
        (best decode settings as a dict, the objective for every (onset, frame, ratio) triple).
    """
    import dataclasses

    if objective not in TUNE_OBJECTIVES:
        raise ValueError(f"tune objective must be one of {TUNE_OBJECTIVES}, got {objective!r}")
    cached = posteriorgrams_of_split(transcriber, root, split, max_tracks=max_tracks, progress=progress, cache=cache)
    base = dataclasses.replace(transcriber.decode, class_thresholds=None)
    scores: dict[tuple[float, float, float], float] = {}
    grids = (onset_grid, frame_grid, shared_onset_grid) if shared else (
        (base.onset_threshold,), (base.frame_threshold,), (base.shared_onset_ratio,))
    for on_t in grids[0]:
        for fr_t in grids[1]:
            for ratio in grids[2]:
                config = dataclasses.replace(base, onset_threshold=on_t, frame_threshold=fr_t, shared_onset_ratio=ratio)
                scores[(on_t, fr_t, ratio)] = split_score(cached, config, objective)
    best = max(scores, key=lambda k: scores[k])
    config = dataclasses.replace(base, onset_threshold=best[0], frame_threshold=best[1], shared_onset_ratio=best[2])
    if any(_offsets_of(song) is not None for song in cached):
        with_offsets = {(fr_t, off_t): split_score(cached, dataclasses.replace(config, frame_threshold=fr_t,
                                                                                offset_threshold=off_t), objective)
                        for fr_t in frame_grid for off_t in offset_grid}
        fr_t, off_t = max(with_offsets, key=lambda k: with_offsets[k])
        for (f, o), value in sorted(with_offsets.items(), key=lambda item: (item[0][0], item[0][1] or 0.0)):
            log.info("frame threshold %.2f, offset threshold %s: %s note F1 %.4f", f, o, objective, value)
        config = dataclasses.replace(config, frame_threshold=fr_t, offset_threshold=off_t)
    if per_class:
        # two tables: thresholds only (the shared ratio), and thresholds with each instrument's own ratio. Each
        # instrument was scored with the others at the shared settings, not at their own, so the split's
        # objective with every instrument at its chosen settings decides among them and no table at all
        candidates = {"shared settings": config}
        for label, ratios in (("per-instrument thresholds", None), ("per-instrument thresholds and ratios", shared_onset_grid)):
            found: dict[str, ClassThresholdChoice] = {}
            table = tune_class_thresholds(cached, config, onset_grid=onset_grid, frame_grid=frame_grid,
                                          shared_onset_grid=ratios, objective=objective, min_pieces=min_pieces,
                                          progress=progress, choices=found)
            if table:
                candidates[label] = dataclasses.replace(config, class_thresholds=table)
            if choices is not None and ratios is not None:
                choices.update(found)
        whole = {label: split_score(cached, candidate, objective) for label, candidate in candidates.items()}
        chosen = max(whole, key=lambda label: whole[label])
        if any(_offsets_of(song) is not None for song in cached):
            # then each instrument's offset threshold, with its frame threshold, on top of the chosen table
            found_offsets: dict[str, tuple[float, float | None, float, float]] = {}
            with_own = tune_class_offsets(cached, candidates[chosen], frame_grid=frame_grid, offset_grid=offset_grid,
                                          objective=objective, min_pieces=min_pieces, progress=progress,
                                          choices=found_offsets)
            for name, (fr_t, off_t, value, before) in sorted(found_offsets.items()):
                log.info("%s: frame %.2f offset %s: %s note F1 %.4f (its current settings %.4f)", name, fr_t, off_t,
                         objective, value, before)
            label = f"{chosen}, per-instrument offset thresholds"
            candidates[label] = dataclasses.replace(candidates[chosen], class_thresholds=with_own)
            whole[label] = split_score(cached, candidates[label], objective)
            chosen = max(whole, key=lambda label: whole[label])
        for label, value in whole.items():
            log.info("%s: %s note F1 %.4f%s", label, objective, value, " (chosen)" if label == chosen else "")
        config = candidates[chosen]
    return dataclasses.asdict(config), scores


def posteriorgrams_of_split(
    transcriber: Transcriber, root: str | os.PathLike[str], split: str, *, max_tracks: int | None = None,
    cache: str | os.PathLike[str] | None = None, progress: bool = False, skip: int = 0,
) -> list[tuple[str, dict[int, NoteArray], list[int], np.ndarray, np.ndarray, np.ndarray | None]]:
    """Per song of a split, ``(id, reference notes by class, classes, onset codes, frame codes, offset
    codes or None)``: the uint8 (T, K, 88) posteriorgrams of ``transcriber`` told the song's true
    instruments (offsets from a model with an offset head; onsets verified by the transcriber's
    note-onset verifier when it has one, :func:`verify_cached`, so that decoding them with its
    ``decode`` settings gives its notes), the input of :func:`split_score` and
    :func:`tune_class_thresholds` (which also take songs without the last item). With ``cache`` (a folder), each song's
    posteriorgrams are read from ``<id>.npz`` there, or computed and written atomically for later runs
    (the cache belongs to one model's transcriber and holds its onsets before any verifier: use one
    folder per transcriber). ``skip`` leaves out the split's first songs (those before ``max_tracks``
    are counted).

    Raises:
        ValueError: a cached file that cannot be read (it is named, and left in place).
    """
    from tqdm import tqdm

    folder = Path(cache) if cache is not None else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    songs = []
    for track in tqdm(load_index(root, split)[skip:][:max_tracks], desc=f"posteriorgrams of {split}", unit="track",
                      disable=not progress):
        ref = track.notes_by_class()
        classes = sorted(ref)
        stored = folder / f"{track.track_id}.npz" if folder is not None else None
        if stored is not None and stored.exists():
            try:
                with np.load(stored) as z:
                    onset, frame = z["onset"], z["frame"]
                    offsets = z["offset"] if "offset" in z.files else None
            except (OSError, ValueError, KeyError, EOFError) as err:
                raise ValueError(f"{stored}: not a readable posteriorgram cache file ({err}); delete it to "
                                 "compute it again") from err
        else:
            out = transcriber.all_posteriorgrams(load_audio(track.mix_path), [INSTRUMENTS[c] for c in classes])
            onset, frame, offsets = out["onset"], out["frame"], out.get("offset")
            if stored is not None:
                tmp = stored.with_suffix(".tmp.npz")
                arrays: dict[str, np.ndarray] = {"onset": onset, "frame": frame, "classes": np.array(classes)}
                if offsets is not None:
                    arrays["offset"] = offsets
                np.savez_compressed(tmp, **arrays)  # type: ignore[arg-type]
                os.replace(tmp, stored)
        songs.append((track.track_id, ref, classes, onset, frame, offsets))
    verifier = getattr(transcriber, "verifier", None)
    return songs if verifier is None else verify_cached(songs, verifier)


def verify_cached(cached: CachedSongs, verifier: OnsetVerifier) -> list[tuple[Any, ...]]:
    """Songs of :func:`posteriorgrams_of_split` with their onset codes replaced by the verifier's
    (:func:`~jointist.verifier.verified_onsets`): decoding them without a verifier gives the notes the
    verifier gives."""
    return [(*song[:3], verified_onsets(verifier, song[3], song[4], _offsets_of(song), song[2], scale=Posteriorgram.SCALE),
             *song[4:]) for song in cached]


CachedSongs = Sequence[tuple[Any, ...]]
"""Songs of :func:`posteriorgrams_of_split`: ``(id, reference notes by class, classes, onset codes,
frame codes[, offset codes or None])``."""


def _offsets_of(song: tuple[Any, ...]) -> np.ndarray | None:
    """The offset codes of a cached song, None for a model without an offset head (or a 5-tuple)."""
    return song[5] if len(song) > 5 else None


def split_report(cached: CachedSongs, config: DecodeConfig, *, ender: NoteEndChooser | None = None) -> TranscriptionReport:
    """The note F1 report of the songs of ``cached`` (uint8 posteriorgrams, see
    :func:`posteriorgrams_of_split`) decoded with ``config`` (and the note ends chosen by ``ender``)."""
    return summarise([
        evaluate_piece(song[0], song[1], decode_tracks(song[3], song[4], list(song[2]), config=config,
                                                       scale=Posteriorgram.SCALE, offsets=_offsets_of(song), ender=ender),
                       velocity=False)
        for song in cached])


def split_score(cached: CachedSongs, config: DecodeConfig, objective: str) -> float:
    """:func:`tune_score` of the songs of ``cached`` (uint8 posteriorgrams) decoded with ``config``."""
    return tune_score(split_report(cached, config), objective)


@dataclass(frozen=True)
class OffsetErrors:
    """Where the decoded notes of a split end, against their references (:func:`offset_errors`)."""

    errors: dict[int, np.ndarray]  # class -> (n, 2): offset error (s, estimate - reference) and tolerance per note
    causes: dict[str, int]  # why the early ones ended -> count

    def shares(self, classes: Sequence[int] | None = None) -> tuple[int, float, float, float]:
        """(notes, share within tolerance, early, late) over ``classes`` (None: every pitched class)."""
        parts = [self.errors[c] for c in (self.errors if classes is None else classes) if c in self.errors]
        if not parts:
            return 0, float("nan"), float("nan"), float("nan")
        err, tol = np.concatenate(parts).T
        return len(err), float(np.mean(np.abs(err) <= tol)), float(np.mean(err < -tol)), float(np.mean(err > tol))


def offset_errors(cached: CachedSongs, config: DecodeConfig, *, ender: NoteEndChooser | None = None) -> OffsetErrors:
    """For the notes whose onset matches (mir_eval, 50 ms), how far their offsets are from the reference
    against mir_eval's tolerance (50 ms or 20% of the note), per pitched class, and why the early ones
    ended: at an offset peak (a model with an offset head), at a second onset of the key inside the
    note, or where the frame roll fell (with the key quiet after, or a new note starting before the
    true end)."""
    errors: dict[int, list[tuple[float, float]]] = {}
    causes: dict[str, int] = {}
    for song in cached:
        ref, classes, onset, frame, offsets = song[1], list(song[2]), song[3], song[4], _offsets_of(song)
        est = decode_tracks(onset, frame, classes, config=config, scale=Posteriorgram.SCALE, offsets=offsets, ender=ender)
        for c, r in ref.items():
            e = est.get(c)
            if c == DRUMS.index or e is None or not len(r) or not len(e):
                continue
            ri, ei = np.stack([r.onset_s, r.offset_s], 1), np.stack([e.onset_s, e.offset_s], 1)
            pairs = match_pairs(r, e, with_offset=False)
            threshold = config.for_class(c).offset_threshold
            for i, j in pairs:
                err, tol = ei[j, 1] - ri[i, 1], max(0.05, 0.2 * (ri[i, 1] - ri[i, 0]))
                errors.setdefault(c, []).append((err, tol))
                if err >= -tol:
                    continue
                same = e.pitch == e.pitch[j]
                cell = (int(round(ei[j, 1] * FRAMES_PER_SECOND)), classes.index(c), int(e.pitch[j]) - MIN_MIDI)
                if offsets is not None and threshold and cell[0] < len(offsets) \
                        and offsets[cell] >= threshold * Posteriorgram.SCALE:
                    cause = "at an offset peak"
                elif (same & (np.abs(e.onset_s - ei[j, 1]) < 0.011)).any():
                    cause = "at a second onset inside the note"
                elif (same & (e.onset_s > ei[j, 1]) & (e.onset_s < ri[i, 1])).any():
                    cause = "frame roll fell, a new note starts before the true end"
                else:
                    cause = "frame roll fell, the key stays quiet"
                causes[cause] = causes.get(cause, 0) + 1
    return OffsetErrors({c: np.array(v) for c, v in errors.items()}, causes)


def offset_error_table(label: str, cached: CachedSongs, config: DecodeConfig, *, top: int = 8,
                       ender: NoteEndChooser | None = None) -> str:
    """:func:`offset_errors` as text: all pitched classes, then the ``top`` classes with the most notes."""
    found = offset_errors(cached, config, ender=ender)

    def row(name: str, classes: Sequence[int] | None) -> str:
        n, right, early, late = found.shares(classes)
        return f"  {name:16s} {n:6d} {right:.3f} {early:.3f} {late:.3f}"

    lines = [f"offsets of onset-matched notes, {label}: notes, within tolerance, early, late", row("all pitched", None)]
    lines += [row(INSTRUMENTS[c].name, [c]) for c in sorted(found.errors, key=lambda c: -len(found.errors[c]))[:top]]
    lines.append("  early ends: " + ", ".join(f"{cause} {n}" for cause, n in sorted(found.causes.items(), key=lambda kv: -kv[1])))
    return "\n".join(lines)


@dataclass(frozen=True)
class ClassThresholdChoice:
    """What :func:`tune_class_thresholds` chose for one instrument, and why."""

    onset: float
    frame: float
    ratio: float  # shared-onset ratio
    score: float  # the objective with this instrument at the chosen settings (the others at the shared ones)
    shared_score: float  # ... with every instrument at the shared settings
    pieces: int


class _ClassScorer:
    """The split's objective (:func:`tune_score`) with one instrument's notes decoded at candidate
    settings and every other instrument's as ``config`` decodes them (its per-instrument table
    included): an instrument's notes depend only on its own settings (suppression compares its onset
    probabilities with everyone's, whatever their thresholds), so only its share of the sums changes.
    ``balanced``: flat F1 sees the notes it writes into another instrument's place, instrument-wise F1
    its own notes, multi-instrument F1 its share of the pooled counts; ``piecewise``: its own mean
    onset F1."""

    def __init__(self, cached: CachedSongs, config: DecodeConfig, objective: str) -> None:
        from jointist.metrics import Counts, match_counts, merge_pitched

        if objective not in TUNE_OBJECTIVES:
            raise ValueError(f"tune objective must be one of {TUNE_OBJECTIVES}, got {objective!r}")
        self.cached, self.objective = cached, objective
        self.songs = []  # per song: references, notes decoded with config, flat counts
        for song in cached:
            ref, classes, onset, frame = song[1:5]
            scale = Posteriorgram.SCALE if np.asarray(onset).dtype == np.uint8 else 1.0
            est = decode_tracks(onset, frame, list(classes), config=config, scale=scale, offsets=_offsets_of(song))
            self.songs.append((ref, est, match_counts(merge_pitched(ref), merge_pitched(est), with_offset=False)))
        self.flat_songs = [flat for _, _, flat in self.songs if not flat.empty]
        self.flat_sum = sum(flat.f1 for flat in self.flat_songs)
        onset_f1: dict[int, list[float]] = {}  # class -> its per-song onset F1
        self.pooled_of: dict[tuple[int, int], Counts] = {}  # (song, class) -> its counts in MT3's pooled (onset+offset) F1
        for i, (ref, est, _) in enumerate(self.songs):
            for c in set(ref) | set(est):
                r, e = ref.get(c, NoteArray.empty()), est.get(c, NoteArray.empty())
                counts = match_counts(r, e, with_offset=False)
                if len(r):
                    onset_f1.setdefault(c, []).append(counts.f1)
                self.pooled_of[(i, c)] = counts if c == DRUMS.index else match_counts(r, e, with_offset=True)
        self.pooled = sum(self.pooled_of.values(), Counts())
        self.class_means = {c: float(np.mean(v)) for c, v in onset_f1.items()}
        self.instrument_sum = sum(self.class_means.values())
        self.pieces: dict[int, int] = {}  # class -> songs it plays in
        for song in cached:
            for c in song[2]:
                self.pieces[int(c)] = self.pieces.get(int(c), 0) + 1

    def items(self, classes: Sequence[int], ratio: float) -> dict[int, list[tuple[int, np.ndarray, np.ndarray, np.ndarray | None]]]:
        """Per class of ``classes`` and song it plays in: (song index, its onset codes with the cells
        that suppression at ``ratio`` drops zeroed, frame codes, offset codes or None)."""
        from jointist.postprocess import suppress_shared_onsets

        per_class: dict[int, list[tuple[int, np.ndarray, np.ndarray, np.ndarray | None]]] = {int(c): [] for c in classes}
        for i, song in enumerate(self.cached):
            classes_here, offsets = song[2], _offsets_of(song)
            onset, frame = np.asarray(song[3]), np.asarray(song[4])
            scale = Posteriorgram.SCALE if onset.dtype == np.uint8 else 1.0
            pitched = np.array([c != DRUMS.index for c in classes_here])
            kept = suppress_shared_onsets(onset.astype(np.float32) / scale, ratio, pitched=pitched) > 0
            onset = np.where(kept, onset, np.zeros((), onset.dtype))
            for k, c in enumerate(classes_here):
                if int(c) in per_class:
                    per_class[int(c)].append((i, onset[:, k], frame[:, k], None if offsets is None else offsets[:, k]))
        return per_class

    def scores(self, c: int, items: list[tuple[int, np.ndarray, np.ndarray, np.ndarray | None]],
               settings: dict[Any, DecodeConfig]) -> dict[Any, float]:
        """The objective with class ``c`` (its songs' ``items``, see :meth:`items`) decoded with each of
        ``settings`` (key -> settings without a table; suppression is already in ``items``)."""
        from jointist.metrics import Counts, match_counts, merge_pitched
        from jointist.postprocess import decode_notes

        drum = c == DRUMS.index
        scale = Posteriorgram.SCALE if items[0][1].dtype == np.uint8 else 1.0
        # this instrument's contribution at ``config``, replaced by each candidate's
        base_pooled = sum((self.pooled_of.get((i, c), Counts()) for i, *_ in items), Counts())
        others = {i: merge_pitched({k: n for k, n in self.songs[i][1].items() if k != c}) for i, *_ in items}
        out = {}
        for key, setting in settings.items():
            own_f1, own_pooled, flat_change = [], Counts(), 0.0
            for i, onset, frame, offsets in items:
                ref, _, flat = self.songs[i]
                r = ref.get(c, NoteArray.empty())
                mine = decode_notes(onset.astype(np.float32) / scale, frame.astype(np.float32) / scale,
                                    is_drum=drum, config=setting,
                                    offsets=None if offsets is None else offsets.astype(np.float32) / scale)
                counts = match_counts(r, mine, with_offset=False)
                if len(r):
                    own_f1.append(counts.f1)
                own_pooled = own_pooled + (counts if drum else match_counts(r, mine, with_offset=True))
                if not drum and self.objective == "balanced" and not flat.empty:
                    new = match_counts(merge_pitched(ref), NoteArray.concatenate([others[i], mine]), with_offset=False)
                    flat_change += new.f1 - flat.f1
            mean_own = float(np.mean(own_f1)) if own_f1 else 0.0
            if self.objective == "piecewise":
                out[key] = mean_own
                continue
            total = Counts(self.pooled.tp - base_pooled.tp + own_pooled.tp,
                           self.pooled.n_ref - base_pooled.n_ref + own_pooled.n_ref,
                           self.pooled.n_est - base_pooled.n_est + own_pooled.n_est)
            flat_mean = (self.flat_sum + flat_change) / max(len(self.flat_songs), 1)
            instrument = (self.instrument_sum - self.class_means.get(c, 0.0) + mean_own) / max(len(self.class_means), 1)
            out[key] = (flat_mean + instrument + total.f1) / 3.0
        return out


def tune_class_thresholds(
    cached: CachedSongs,
    config: DecodeConfig,
    *,
    onset_grid: tuple[float, ...] = ONSET_GRID,
    frame_grid: tuple[float, ...] = FRAME_GRID,
    shared_onset_grid: tuple[float, ...] | None = None,
    objective: str = "balanced",
    min_pieces: int = 5,
    progress: bool = True,
    choices: dict[str, ClassThresholdChoice] | None = None,
) -> dict[str, tuple[float, float, float]]:
    """Each instrument's own onset and frame thresholds and shared-onset ratio, on top of ``config``'s
    shared settings.

    ``cached`` holds, per song, ``(id, reference notes by class, classes, onset codes, frame codes)``
    with the (T, K, 88) uint8 posteriorgrams of :meth:`~jointist.pipeline.Transcriber.posteriorgrams`.
    Each instrument's settings are scored with every other instrument at the shared settings, by the
    split's whole :func:`tune_score` or by its own mean onset F1 (``piecewise``; see
    :class:`_ClassScorer`). Drums have onsets only and never compete, so only their onset threshold
    is tuned. Instruments in fewer than ``min_pieces`` songs, and those whose best is no better than
    the shared settings, keep the shared settings and are left out.

    Args:
        shared_onset_grid: ratios to try (None: only ``config.shared_onset_ratio``).
        choices: filled with every tuned instrument's :class:`ClassThresholdChoice` (a record to log).

    Returns:
        instrument name -> (onset, frame, ratio), for :attr:`DecodeConfig.class_thresholds`.
    """
    import dataclasses

    from tqdm import tqdm

    config = dataclasses.replace(config, class_thresholds=None)
    scorer = _ClassScorer(cached, config, objective)
    shared = (config.onset_threshold, config.frame_threshold, config.shared_onset_ratio)
    ratios = sorted({shared[2], *(shared_onset_grid or ())})
    tuned = [c for c, n in sorted(scorer.pieces.items()) if n >= min_pieces]
    score: dict[int, dict[tuple[float, float, float], float]] = {c: {} for c in tuned}
    steps = tqdm(total=len(tuned) * len(ratios), desc="per-instrument thresholds", unit="instrument",
                 disable=not progress)
    for ratio in ratios:
        per_class = scorer.items(tuned, ratio)
        for c in tuned:
            steps.update()
            drum = c == DRUMS.index
            if drum and ratio != shared[2]:
                continue
            grid = {shared[:2], *((on, shared[1] if drum else fr) for on in onset_grid for fr in frame_grid)}
            score[c].update(scorer.scores(c, per_class[c], {
                (on_t, fr_t, ratio): dataclasses.replace(config, onset_threshold=on_t, frame_threshold=fr_t)
                for on_t, fr_t in sorted(grid)}))
    steps.close()
    table: dict[str, tuple[float, float, float]] = {}
    for c in tuned:
        best = max(sorted(score[c]), key=lambda k: (score[c][k], k == shared))  # ties keep the shared settings
        name = INSTRUMENTS[c].name
        if choices is not None:
            choices[name] = ClassThresholdChoice(*best, score[c][best], score[c][shared], scorer.pieces[c])
        if best != shared:
            table[name] = best
    return table


def tune_class_offsets(
    cached: CachedSongs,
    config: DecodeConfig,
    *,
    frame_grid: tuple[float, ...] = FRAME_GRID,
    offset_grid: tuple[float | None, ...] = OFFSET_GRID,
    objective: str = "balanced",
    min_pieces: int = 5,
    progress: bool = True,
    choices: dict[str, tuple[float, float | None, float, float]] | None = None,
) -> tuple[tuple[str, float, float, float | None, float | None], ...] | None:
    """Each pitched instrument's own offset threshold, chosen with its frame threshold, on top of
    ``config`` and its per-instrument table (onset thresholds and ratios stay as they are): a decaying
    timbre's note ends are surer than a sustained one's, and where offsets end notes the frame roll
    may hold them longer. Each instrument is scored with every other instrument at its settings in
    ``config`` (:class:`_ClassScorer`); ties keep the instrument's current settings. ``cached`` must
    hold offset codes (a model with an offset head); an offset of None or 0 ignores offsets.

    Args:
        choices: filled with instrument name -> (frame, offset, objective at them, objective at the
            current settings) for every instrument tried.

    Returns:
        ``config``'s table with the changed instruments' frame and offset thresholds (a new entry,
        with the shared onset threshold and ratio, for an instrument it did not name), for
        :attr:`DecodeConfig.class_thresholds`.
    """
    import dataclasses

    from tqdm import tqdm

    if not any(_offsets_of(song) is not None for song in cached):
        raise ValueError("per-instrument offset thresholds need the posteriorgrams of a model with an offset head")
    scorer = _ClassScorer(cached, config, objective)
    tuned = [c for c, n in sorted(scorer.pieces.items()) if n >= min_pieces and c != DRUMS.index]
    table: dict[str, list[float | None]] = {
        str(entry[0]): [cast("float | None", x) for x in entry[1:]] for entry in config.class_thresholds or ()}
    by_ratio: dict[float, list[int]] = {}
    for c in tuned:
        by_ratio.setdefault(config.for_class(c).shared_onset_ratio, []).append(c)
    steps = tqdm(total=len(tuned), desc="per-instrument offset thresholds", unit="instrument", disable=not progress)
    for ratio, classes in sorted(by_ratio.items()):
        per_class = scorer.items(classes, ratio)
        for c in classes:
            steps.update()
            own = config.for_class(c)
            current = (own.frame_threshold, own.offset_threshold or None)
            grid = {current, *((fr, off or None) for fr in frame_grid for off in offset_grid)}
            score = scorer.scores(c, per_class[c], {
                key: dataclasses.replace(own, frame_threshold=key[0], offset_threshold=key[1]) for key in grid})
            # ties keep the current settings, then the current frame threshold
            best = max(sorted(score, key=lambda k: (k[0], k[1] or 0.0)),
                       key=lambda k: (score[k], k == current, k[0] == current[0]))
            name = INSTRUMENTS[c].name
            if choices is not None:
                choices[name] = (best[0], best[1], score[best], score[current])
            if best != current:
                entry = table.get(name, [own.onset_threshold, own.frame_threshold, None, None])
                # an offset of 0 ignores offsets for this instrument where the shared setting uses them
                entry[1], entry[3] = best[0], best[1] if best[1] is not None else (0.0 if config.offset_threshold else None)
                table[name] = entry
    steps.close()
    return cast("tuple[tuple[str, float, float, float | None, float | None], ...] | None",
                DecodeConfig(class_thresholds=table).class_thresholds)  # normalised
