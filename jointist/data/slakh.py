"""Slakh2100-format datasets: the real Slakh2100 as released, or a corpus rendered by jointist-synth.

A split folder holds ``TrackNNNNN/`` folders, each with ``metadata.yaml`` (per stem ``program_num``,
``is_drum``, ``inst_class``, ``audio_rendered``, ``midi_saved``), ``stems/SNN.flac``,
``MIDI/SNN.mid`` and ``mix.flac``. Stems that were not rendered are skipped. The index of a split
(paths, durations and every stem's notes) is built once and cached next to the data (or in
``~/.cache/jointist`` when the data folder is read-only) as ``.jointist_index.npz``: plain arrays (the
notes) and a JSON header (everything else), read with ``allow_pickle=False``, so a cache found in
someone else's corpus can hold no code. It is rebuilt when a track folder appears or goes, or when any
file the index read (``metadata.yaml``, each MIDI file, the audio files it checked) changes size or
modification time. Caches of older versions (``.jointist_index.pkl``) are never opened.

Besides the stems, ``metadata.yaml`` may hold the song's ``tempo_bpm`` (initial tempo), ``key_tonic``
(pitch class 0-11), ``key_mode`` (``major``, ``minor``, ``dorian``, ...) and ``style`` at its top level
(jointist-synth writes them; the real Slakh2100 has none): remixing (:mod:`jointist.data.augment`)
pairs tracks by tempo and key.

An example is a window of ``segment_s`` seconds: the mixture, the audio of each stem summed per
instrument class, the notes per class (times relative to the window) and the multi-hot of the classes
with notes in the window. Only the window is decoded from each file. Random (training) windows can be
augmented at load time (:class:`~jointist.data.augment.AugmentConfig`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch.utils.data import DistributedSampler

from jointist.atomic import atomic_path
from jointist.audio.io import AudioError, audio_duration_s, load_audio, read_segment
from jointist.constants import FRAMES_PER_SECOND, SAMPLE_RATE, SEGMENT_S
from jointist.data.augment import (
    AugmentConfig,
    AugmentPlan,
    TrackCatalog,
    apply_gains,
    draw_plan,
    merge_classes,
    resample_span,
    shift_notes,
    span_samples,
)
from jointist.instruments import DRUMS, NUM_CLASSES, by_program
from jointist.midi import MidiReadError, read_midi_notes
from jointist.notes import NoteArray

__all__ = [
    "DatasetError",
    "DecodedAudioCache",
    "EpochSampler",
    "Example",
    "ExampleBatch",
    "SlakhDataset",
    "StemInfo",
    "TrackInfo",
    "collate_examples",
    "load_index",
]

log = logging.getLogger(__name__)

INDEX_VERSION = 3
"""Version of the cached index. 2: TrackInfo has tempo_bpm, key_tonic, key_mode and style; 3: an .npz of
plain arrays with a JSON header instead of a pickle, and the stamp of every file read."""

_NOTE_FIELDS = (("onset_s", np.float64), ("offset_s", np.float64), ("pitch", np.int16), ("velocity", np.int16))
"""The arrays of the cached index: every stem's notes, concatenated (a stem holds a slice)."""

_AUGMENT_STREAM = 1
"""Third word of the seed of an example's augmentation draws (its window uses ``[seed, index]``)."""


class DatasetError(ValueError):
    """A data folder that is missing or does not follow the Slakh2100 layout; says what and where."""


@dataclass(frozen=True)
class StemInfo:
    stem_id: str
    program: int
    is_drum: bool
    instrument: int  # class index 0-38
    audio_path: Path
    notes: NoteArray


@dataclass(frozen=True)
class TrackInfo:
    track_id: str
    path: Path
    mix_path: Path
    duration_s: float
    stems: tuple[StemInfo, ...]
    tempo_bpm: float | None = None  # the song's initial tempo, when metadata.yaml gives it
    key_tonic: int | None = None  # pitch class 0-11 of the tonic
    key_mode: str | None = None  # "major", "minor", "dorian", ... (lower case)
    style: str | None = None

    @property
    def instruments(self) -> list[int]:
        """Classes of the rendered stems, sorted."""
        return sorted({s.instrument for s in self.stems})

    def notes_by_class(self) -> dict[int, NoteArray]:
        """The whole track's notes per class (stems of one class merged), song times."""
        parts: dict[int, list[NoteArray]] = {}
        for stem in self.stems:
            parts.setdefault(stem.instrument, []).append(stem.notes)
        return {c: NoteArray.concatenate(p) for c, p in sorted(parts.items())}


@dataclass
class Example:
    """One window of one track.

    Attributes:
        mix: (samples,) float32 mixture.
        stems: class index -> (samples,) float32 sum of that class's stems (every class of the track,
            also when it is silent in the window); empty when stems were not requested.
        notes: class index -> notes relative to the window start (every class of the track).
        present: (39,) float32 multi-hot of the classes with at least one note sounding in the window.
        augmentation: what was done to an augmented window (None: nothing); its dropped classes are
            absent from ``stems`` and ``notes``, a partner's classes are added to them.
    """

    track_id: str
    start_s: float
    mix: np.ndarray
    stems: dict[int, np.ndarray]
    notes: dict[int, NoteArray]
    present: np.ndarray
    augmentation: AugmentPlan | None = None


@dataclass
class ExampleBatch:
    """A collated batch: tensors for what stacks, lists for what does not."""

    mix: torch.Tensor  # (batch, samples)
    present: torch.Tensor  # (batch, 39)
    examples: list[Example] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.examples)

    def to(self, device: torch.device | str) -> ExampleBatch:
        """Move the tensors (Lightning calls this; notes and stems stay as numpy on the host)."""
        return ExampleBatch(self.mix.to(device), self.present.to(device), self.examples)


def collate_examples(examples: Sequence[Example]) -> ExampleBatch:
    return ExampleBatch(
        mix=torch.from_numpy(np.stack([e.mix for e in examples])),
        present=torch.from_numpy(np.stack([e.present for e in examples])),
        examples=list(examples),
    )


def _read_metadata(path: Path) -> dict:
    try:
        meta = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise DatasetError(f"malformed metadata file {path}: {err}") from err
    if not isinstance(meta, dict) or not isinstance(meta.get("stems"), dict):
        raise DatasetError(f"malformed metadata file {path}: expected a mapping with a 'stems' mapping")
    return meta


def _song_fields(meta: dict, meta_path: Path) -> dict:
    """The optional top-level ``tempo_bpm``, ``key_tonic``, ``key_mode`` and ``style`` (None when absent)."""
    def bad(name: str, expected: str) -> DatasetError:
        return DatasetError(f"malformed metadata file {meta_path}: {name} must be {expected}, got {meta[name]!r}")

    fields: dict = {"tempo_bpm": None, "key_tonic": None, "key_mode": None, "style": None}
    if meta.get("tempo_bpm") is not None:
        try:
            fields["tempo_bpm"] = float(meta["tempo_bpm"])
        except (TypeError, ValueError):
            raise bad("tempo_bpm", "a number") from None
        if not fields["tempo_bpm"] > 0 or not np.isfinite(fields["tempo_bpm"]):
            raise bad("tempo_bpm", "a positive number")
    if meta.get("key_tonic") is not None:
        tonic = meta["key_tonic"]
        if isinstance(tonic, bool) or not isinstance(tonic, int) or not 0 <= tonic <= 11:
            raise bad("key_tonic", "an integer pitch class 0-11")
        fields["key_tonic"] = tonic
    if meta.get("key_mode") is not None:
        if not isinstance(meta["key_mode"], str) or not meta["key_mode"].strip():
            raise bad("key_mode", "the name of a mode (major, minor, dorian, ...)")
        fields["key_mode"] = meta["key_mode"].strip().lower()
    if meta.get("style") is not None:
        fields["style"] = str(meta["style"])
    return fields


def _read_track(track_dir: Path, consulted: list[Path] | None = None) -> TrackInfo | None:
    """A track's info, None when it must be skipped; every file whose presence or content the result
    depends on is appended to ``consulted`` (the cached index is stale when one of them changes)."""
    consulted = [] if consulted is None else consulted
    meta_path = track_dir / "metadata.yaml"
    consulted.append(meta_path)
    meta = _read_metadata(meta_path)
    audio_dir = track_dir / str(meta.get("audio_dir") or "stems")
    midi_dir = track_dir / str(meta.get("midi_dir") or "MIDI")
    mix_path = track_dir / "mix.flac"
    consulted.append(mix_path)
    if not mix_path.is_file():
        raise DatasetError(f"{track_dir.name}: mixture file {mix_path} does not exist")
    stems: list[StemInfo] = []
    for stem_id, info in sorted(meta["stems"].items()):
        if not isinstance(info, dict):
            raise DatasetError(f"malformed metadata file {meta_path}: stem {stem_id} is not a mapping")
        if not info.get("audio_rendered", False):
            continue
        try:
            is_drum = bool(info["is_drum"])
            program = int(info["program_num"])
        except (KeyError, TypeError, ValueError) as err:
            raise DatasetError(f"malformed metadata file {meta_path}: stem {stem_id} lacks a valid {err}") from err
        audio_path = audio_dir / f"{stem_id}.flac"
        midi_path = midi_dir / f"{stem_id}.mid"
        consulted += [audio_path, midi_path]
        if not audio_path.is_file():
            raise DatasetError(f"{track_dir.name}: stem {stem_id} is marked audio_rendered but {audio_path} is missing")
        if not info.get("midi_saved", True) or not midi_path.is_file():
            log.warning("%s: stem %s has audio but no MIDI; skipping the track", track_dir.name, stem_id)
            return None
        instrument = by_program(min(max(program, 0), 127), is_drum=is_drum).index
        try:
            notes = read_midi_notes(midi_path)
        except MidiReadError as err:
            raise DatasetError(str(err)) from err
        stems.append(StemInfo(stem_id, program, is_drum, instrument, audio_path, notes))
    try:
        duration_s = audio_duration_s(mix_path)
    except AudioError as err:
        raise DatasetError(f"{track_dir.name}: unreadable mixture: {err}") from err
    return TrackInfo(track_dir.name, track_dir, mix_path, duration_s, tuple(stems), **_song_fields(meta, meta_path))


def _track_dirs(split_dir: Path) -> list[Path]:
    return sorted(p for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / "metadata.yaml").exists())


def _fingerprint(track_dirs: Sequence[Path]) -> str:
    """The index version and the names of the track folders (the files read are stamped apart)."""
    digest = hashlib.sha1(f"v{INDEX_VERSION}".encode())
    for d in track_dirs:
        digest.update(f"{d.name};".encode())
    return digest.hexdigest()


def _stamp(path: Path) -> list[int] | None:
    """[size, mtime_ns] of a file; None when it does not exist (or is not a file)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns] if stat.S_ISREG(st.st_mode) else None


def _cache_path(split_dir: Path) -> Path:
    local = split_dir / ".jointist_index.npz"
    if os.access(split_dir, os.W_OK):
        return local
    key = hashlib.sha1(str(split_dir.resolve()).encode()).hexdigest()[:16]
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "jointist" / f"index-{key}.npz"


def _write_cache(cache: Path, split_dir: Path, fingerprint: str, tracks: Sequence[TrackInfo],
                 consulted: Sequence[Path]) -> None:
    """The index as an .npz: the notes of every stem concatenated into plain arrays, and a JSON header
    (``header``, utf-8 bytes) with the rest; paths relative to the split folder."""
    def rel(path: Path) -> str:
        return os.path.relpath(path, split_dir)

    notes: list[NoteArray] = []
    entries = []
    start = 0
    for track in tracks:
        stems = []
        for stem in track.stems:
            stems.append({"stem_id": stem.stem_id, "program": stem.program, "is_drum": stem.is_drum,
                          "instrument": stem.instrument, "audio_path": rel(stem.audio_path),
                          "notes": [start, start + len(stem.notes)]})
            notes.append(stem.notes)
            start += len(stem.notes)
        entries.append({"track_id": track.track_id, "path": rel(track.path), "mix_path": rel(track.mix_path),
                        "duration_s": track.duration_s, "tempo_bpm": track.tempo_bpm, "key_tonic": track.key_tonic,
                        "key_mode": track.key_mode, "style": track.style, "stems": stems})
    header = {"version": INDEX_VERSION, "fingerprint": fingerprint,
              "files": [[rel(p), _stamp(p)] for p in dict.fromkeys(consulted)], "tracks": entries}
    arrays: dict[str, Any] = {  # Any: numpy's stubs take a ** of arrays for its allow_pickle keyword
        name: np.concatenate([getattr(n, name) for n in notes]).astype(dtype) if notes else np.zeros(0, dtype)
        for name, dtype in _NOTE_FIELDS
    }
    with atomic_path(cache) as tmp, tmp.open("wb") as f:
        np.savez(f, header=np.frombuffer(json.dumps(header).encode(), np.uint8), **arrays)


def _read_cache(cache: Path, split_dir: Path, fingerprint: str) -> list[TrackInfo] | None:
    """The cached index when it is up to date (None when it is stale). Never unpickles: any object
    array in the file makes ``np.load`` raise.

    Raises:
        Exception: a file that is not such an index (the caller rebuilds it).
    """
    with np.load(cache, allow_pickle=False) as data:
        header = json.loads(data["header"].tobytes().decode())
        if header.get("version") != INDEX_VERSION or header.get("fingerprint") != fingerprint:
            return None
        if any(_stamp(split_dir / name) != stamp for name, stamp in header["files"]):
            return None
        arrays = {name: np.asarray(data[name], dtype) for name, dtype in _NOTE_FIELDS}

    def stem_info(entry: dict) -> StemInfo:
        a, b = (int(i) for i in entry["notes"])
        notes = NoteArray(*(arrays[name][a:b] for name, _ in _NOTE_FIELDS))
        return StemInfo(str(entry["stem_id"]), int(entry["program"]), bool(entry["is_drum"]), int(entry["instrument"]),
                        split_dir / entry["audio_path"], notes)

    def track_info(t: dict) -> TrackInfo:
        return TrackInfo(
            str(t["track_id"]), split_dir / t["path"], split_dir / t["mix_path"], float(t["duration_s"]),
            tuple(stem_info(s) for s in t["stems"]),
            tempo_bpm=None if t["tempo_bpm"] is None else float(t["tempo_bpm"]),
            key_tonic=None if t["key_tonic"] is None else int(t["key_tonic"]),
            key_mode=None if t["key_mode"] is None else str(t["key_mode"]),
            style=None if t["style"] is None else str(t["style"]),
        )

    return [track_info(t) for t in header["tracks"]]


def load_index(root: str | os.PathLike[str], split: str, *, use_cache: bool = True) -> list[TrackInfo]:
    """Index a split (``root/split/Track*``), from the cache when it is up to date.

    Raises:
        DatasetError: the root or split folder is missing, holds no tracks, or a track is malformed.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(
            f"data root {root} does not exist; render a corpus with `jointist-synth root={root}` or point "
            "data.root (or $SLAKH2100_ROOT) at a Slakh2100 download"
        )
    split_dir = root / split
    if not split_dir.is_dir():
        found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        raise DatasetError(f"split folder {split_dir} does not exist (found: {', '.join(found) or 'nothing'})")
    track_dirs = _track_dirs(split_dir)
    if not track_dirs:
        raise DatasetError(f"{split_dir} holds no TrackNNNNN folders with a metadata.yaml")
    fingerprint = _fingerprint(track_dirs)
    cache = _cache_path(split_dir)
    if use_cache and cache.is_file():
        try:
            cached = _read_cache(cache, split_dir, fingerprint)
        except Exception as err:  # a corrupt or foreign cache is rebuilt
            log.warning("ignoring unreadable index cache %s (%s)", cache, err)
        else:
            if cached is not None:
                return cached
    consulted: list[Path] = []
    tracks = [t for t in (_read_track(d, consulted) for d in track_dirs) if t is not None]
    if use_cache:
        _write_cache(cache, split_dir, fingerprint, tracks, consulted)
    return tracks


class DecodedAudioCache:
    """Files decoded once (mono, resampled) into int16 ``.npy`` files that windows are sliced from.

    Decoding a 10 s FLAC window costs ~3-4 ms (and resampling 44.1 kHz Slakh audio more), so a loader
    that reads the mixture and ten stems per example is decode-bound. With this cache each file is
    decoded once, on first use, and every later window is a slice of a memory map (shared by all
    workers through the page cache). It costs 32 kB of disk per second of audio per file.
    """

    def __init__(self, folder: str | os.PathLike[str], *, sample_rate: int = SAMPLE_RATE, max_open: int = 512) -> None:
        self.folder = Path(folder)
        self.sample_rate = sample_rate
        self.max_open = max_open
        self._open: dict[Path, np.ndarray] = {}

    def _file(self, path: Path) -> Path:
        st = path.stat()
        key = hashlib.sha1(f"{path.resolve()}:{st.st_mtime_ns}:{st.st_size}:{self.sample_rate}".encode()).hexdigest()
        return self.folder / key[:2] / f"{key}.npy"

    def _array(self, path: Path) -> np.ndarray:
        if path not in self._open:
            cached = self._file(path)
            if not cached.is_file():
                audio = load_audio(path, sample_rate=self.sample_rate)
                cached.parent.mkdir(parents=True, exist_ok=True)
                tmp = cached.with_name(f"{cached.stem}.{os.getpid()}.tmp.npy")
                np.save(tmp, np.round(np.clip(audio, -1.0, 32767 / 32768) * 32768).astype(np.int16))
                os.replace(tmp, cached)
            if len(self._open) >= self.max_open:
                self._open.pop(next(iter(self._open)))
            self._open[path] = np.load(cached, mmap_mode="r")
        return self._open[path]

    def segment(self, path: Path, *, start_s: float, duration_s: float) -> np.ndarray:
        """Like :func:`read_segment`: ``duration_s`` seconds from ``start_s``, zero-padded at the end."""
        data = self._array(path)
        start = max(0, int(round(start_s * self.sample_rate)))
        n = int(round(duration_s * self.sample_rate))
        out = np.zeros(n, np.float32)
        piece = data[start:start + n]
        out[: len(piece)] = piece.astype(np.float32) / 32768.0
        return out


class SlakhDataset(torch.utils.data.Dataset):
    """Windows of a Slakh2100-format split.

    Args:
        root: the folder holding the split folders.
        split: ``train``, ``validation``, ``test`` (or any folder name).
        segment_s: window length in seconds.
        random: draw windows at random (training) instead of the fixed sequence of windows
            ``0, hop_s, 2 * hop_s, ...`` of every track (validation/test).
        examples_per_epoch: dataset length in random mode.
        hop_s: step between fixed windows (default: ``segment_s``).
        max_windows_per_track: cap on fixed windows per track.
        load_stems: decode each stem (for separation); transcription and recognition need only the mix.
        mix_from_stems: build the mixture as the sum of the stems instead of decoding ``mix.flac``.
        seed: the random windows depend only on ``(seed, index)``.
        decode_cache: folder for a :class:`DecodedAudioCache` (``"auto"``: ``.jointist_decoded``
            inside the split folder); None decodes every window from the audio files.
        augment: load-time augmentation of the random windows (see :mod:`jointist.data.augment`);
            its draws depend only on ``(seed, index)``. Fixed windows (``random=False``) cannot be
            augmented: validation and test see the data as it is.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str = "train",
        *,
        segment_s: float = SEGMENT_S,
        random: bool = True,
        examples_per_epoch: int = 1000,
        hop_s: float | None = None,
        max_windows_per_track: int | None = None,
        load_stems: bool = True,
        mix_from_stems: bool = False,
        sample_rate: int = SAMPLE_RATE,
        seed: int = 0,
        use_cache: bool = True,
        decode_cache: str | os.PathLike[str] | None = None,
        augment: AugmentConfig | None = None,
    ) -> None:
        if segment_s <= 0:
            raise ValueError(f"segment_s must be positive, got {segment_s}")
        if mix_from_stems and not load_stems:
            raise ValueError("mix_from_stems needs load_stems=True")
        if augment is not None and not isinstance(augment, AugmentConfig):
            raise TypeError(f"augment must be an AugmentConfig or None, got {type(augment).__name__}")
        if augment is not None and augment.enabled and not random:
            raise ValueError("only random (training) windows can be augmented; pass augment=None for fixed windows")
        self.root = Path(root)
        self.split = split
        self.segment_s = float(segment_s)
        self.random = random
        self.examples_per_epoch = int(examples_per_epoch)
        self.load_stems = load_stems
        self.mix_from_stems = mix_from_stems
        self.sample_rate = sample_rate
        self.seed = seed
        self.tracks = load_index(self.root, split, use_cache=use_cache)
        self.augment = augment if augment is not None and augment.enabled else None
        self.catalog = TrackCatalog.from_tracks(self.tracks) if self.augment is not None else None
        if decode_cache == "auto":
            decode_cache = _cache_path(self.root / split).parent / ".jointist_decoded"
        self.decoded = None if decode_cache is None else DecodedAudioCache(decode_cache, sample_rate=sample_rate)
        self.windows: list[tuple[int, float]] = []
        if not random:
            hop = float(hop_s or segment_s)
            for t, track in enumerate(self.tracks):
                starts = np.arange(0.0, max(track.duration_s - self.segment_s, 0.0) + 1e-9, hop)
                if max_windows_per_track is not None:
                    starts = starts[:max_windows_per_track]
                self.windows.extend((t, round(float(s), 2)) for s in starts)

    def __len__(self) -> int:
        return self.examples_per_epoch if self.random else len(self.windows)

    def window(self, index: int) -> tuple[int, float]:
        """(track index, start in seconds) of example ``index``; random windows start on the frame grid."""
        if not self.random:
            return self.windows[index]
        rng = np.random.default_rng([self.seed, index])
        t = int(rng.integers(len(self.tracks)))
        last_frame = int(max(self.tracks[t].duration_s - self.segment_s, 0.0) * FRAMES_PER_SECOND)
        return t, int(rng.integers(last_frame + 1)) / FRAMES_PER_SECOND

    def __getitem__(self, index: int) -> Example:
        t, start_s = self.window(int(index))
        if self.augment is None:
            return self.example(t, start_s)
        return self.example(t, start_s, plan=self.plan(int(index), t, start_s))

    def plan(self, index: int, track_index: int, start_s: float) -> AugmentPlan:
        """The augmentation of example ``index`` (window ``(track_index, start_s)``): a function of
        ``(seed, index)`` only."""
        if self.augment is None or self.catalog is None:
            raise ValueError("this dataset does not augment (augment is None or not enabled)")
        rng = np.random.default_rng([self.seed, index, _AUGMENT_STREAM])
        return draw_plan(self.augment, rng, track=track_index, start_s=start_s, catalog=self.catalog,
                         segment_s=self.segment_s, sounding=self._sounding)

    def _sounding(self, track_index: int, start_s: float, span_s: float) -> set[int]:
        return {s.instrument for s in self.tracks[track_index].stems if len(s.notes.window(start_s, start_s + span_s))}

    @property
    def num_samples(self) -> int:
        return int(round(self.segment_s * self.sample_rate))

    def _read(self, path: Path, start_s: float, duration_s: float | None = None) -> np.ndarray:
        duration_s = self.segment_s if duration_s is None else duration_s
        if self.decoded is not None:
            return self.decoded.segment(path, start_s=start_s, duration_s=duration_s)
        return read_segment(path, start_s=start_s, duration_s=duration_s, sample_rate=self.sample_rate)

    def _span_s(self, semitones: int) -> float:
        """Seconds read for a window shifted by ``semitones`` (``segment_s`` when not shifted)."""
        return span_samples(self.num_samples, semitones) / self.sample_rate if semitones else self.segment_s

    def _read_mix(self, track: TrackInfo, start_s: float, *, semitones: int = 0) -> np.ndarray:
        span = self._read(track.mix_path, start_s, self._span_s(semitones))
        return resample_span(span, semitones=semitones, num_samples=self.num_samples)

    def _read_window(
        self, track: TrackInfo, start_s: float, *, semitones: int = 0, classes: Sequence[int] | None = None,
        stems: bool = True,
    ) -> tuple[dict[int, np.ndarray], dict[int, NoteArray]]:
        """Class stems (when ``stems``) and class notes of a window of a track (only ``classes``, when
        given), pitch-shifted by ``semitones``."""
        n = self.num_samples
        span_s = self._span_s(semitones)
        chosen = [s for s in track.stems if classes is None or s.instrument in classes]
        audio: dict[int, np.ndarray] = {}
        if stems:
            for stem in chosen:
                wave = self._read(stem.audio_path, start_s, span_s)
                audio[stem.instrument] = audio[stem.instrument] + wave if stem.instrument in audio else wave
            if semitones:  # resampling is linear: once per class, not per stem
                audio = {c: resample_span(w, semitones=semitones, num_samples=n) for c, w in audio.items()}
        by_class: dict[int, list[NoteArray]] = {}
        for stem in chosen:
            by_class.setdefault(stem.instrument, []).append(stem.notes.window(start_s, start_s + span_s))
        notes = {
            c: shift_notes(NoteArray.concatenate(parts), semitones, is_drum=c == DRUMS.index)
            for c, parts in by_class.items()
        }
        return audio, notes

    def example(self, track_index: int, start_s: float, *, plan: AugmentPlan | None = None) -> Example:
        """The window of ``segment_s`` seconds starting at ``start_s`` of a track, augmented by ``plan``.

        With a plan that mixes stems (gains, dropout, a partner), the stems are decoded whatever
        ``load_stems`` says, the mixture is their sum, and they are dropped afterwards unless
        ``load_stems``. ``plan.start_s`` replaces ``start_s``.
        """
        track = self.tracks[track_index]
        semitones = 0
        if plan is not None:
            start_s, semitones = plan.start_s, plan.semitones
        from_stems = self.mix_from_stems or (plan is not None and plan.mixes_stems)
        stems, notes = self._read_window(track, start_s, semitones=semitones, stems=self.load_stems or from_stems)
        if plan is not None and plan.remix is not None:
            remix = plan.remix
            other_stems, other_notes = self._read_window(
                self.tracks[remix.track_index], remix.start_s, semitones=remix.semitones, classes=remix.classes
            )
            stems, notes = merge_classes(stems, notes, other_stems, other_notes)
        if plan is not None and plan.dropped:
            stems = {c: w for c, w in stems.items() if c not in plan.dropped}
            notes = {c: a for c, a in notes.items() if c not in plan.dropped}
        if plan is not None and plan.gains_db:
            stems = apply_gains(stems, plan.gains_db)
        if not from_stems:
            mix = self._read_mix(track, start_s, semitones=semitones)
        elif stems:
            if plan is not None:  # a stable order: classes ascending
                stems = dict(sorted(stems.items()))
            mix = np.sum(list(stems.values()), axis=0)
        else:
            mix = np.zeros(self.num_samples, np.float32)
        if not self.load_stems:
            stems = {}
        present = np.zeros(NUM_CLASSES, np.float32)
        for c, arr in notes.items():
            present[c] = float(len(arr) > 0)
        return Example(track.track_id, float(start_s), mix.astype(np.float32, copy=False), stems, notes, present,
                       augmentation=plan)


class EpochSampler(DistributedSampler[int]):
    """This process's share of ``epoch * n, ..., epoch * n + n - 1``: fresh random windows every epoch,
    reproducibly.

    Lightning calls ``set_epoch`` on the sampler at the start of each training epoch. Of ``num_replicas``
    processes, process ``rank`` takes positions ``rank, rank + num_replicas, ...`` of the epoch,
    ``ceil(n / num_replicas)`` of them (the last wrapping round to the epoch's first, as
    :class:`DistributedSampler` pads). Being a ``DistributedSampler``, it is not wrapped in Lightning's,
    which would deal the positions out in a shuffled order that a resumed run could not pick up.

    A run resumed in the middle of an epoch must not see that epoch's first windows again: Lightning
    restores how many batches it trained, but restarts the epoch's loader from its beginning and ends
    the epoch after the batches it still owes. So a sampler made with ``skip`` leaves out the first
    ``skip`` positions of this process's share the first time it is iterated at ``epoch``.

    Args:
        num_samples: windows per epoch, ``n``, all processes together.
        num_replicas: processes sharing the epoch.
        rank: this process.
        epoch: the epoch of the first iteration.
        skip: positions of this process's share of ``epoch`` already trained on, left out by the
            first iteration only (all of them, when more than the share).
    """

    def __init__(self, num_samples: int, *, num_replicas: int = 1, rank: int = 0, epoch: int = 0, skip: int = 0) -> None:
        # DistributedSampler.__init__ is not called: it reads a dataset and asks torch.distributed
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank must be in [0, {num_replicas}), got {rank}")
        self.epoch_size = num_samples
        self.num_replicas, self.rank, self.epoch = num_replicas, rank, epoch
        self.num_samples = -(-num_samples // num_replicas)  # this process's share
        self.total_size = self.num_samples * num_replicas
        self.shuffle, self.seed, self.drop_last = False, 0, False
        if skip < 0:
            raise ValueError(f"skip must be >= 0, got {skip}")
        self._skip: tuple[int, int] | None = (epoch, skip) if skip else None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        start = self.epoch * self.epoch_size
        share = [start + position % self.epoch_size for position in range(self.rank, self.total_size, self.num_replicas)]
        if self._skip is not None:
            epoch, skip = self._skip
            self._skip = None  # the resumed epoch only; any later pass is whole
            if epoch == self.epoch:
                share = share[skip:]
        return iter(share)

    def __len__(self) -> int:
        return self.num_samples
