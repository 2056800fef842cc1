"""A synthetic multitrack corpus in the on-disk layout of Slakh2100.

Songs are composed as MIDI (:mod:`jointist.data.composer`) and every stem is rendered alone with
FluidSynth and a General MIDI SoundFont, then written exactly as Slakh2100 is released::

    root/corpus.yaml                  the generator's settings (for resuming and provenance)
    root/{train,validation,test}/TrackNNNNN/
        metadata.yaml                 per stem: program_num, is_drum, inst_class, audio_rendered, midi_saved, ...
        mix.flac                      the sum of the stems, sample for sample
        stems/SNN.flac                one rendered stem each
        MIDI/SNN.mid                  one MIDI file per stem
        all_src.mid                   all stems together

Each split draws SoundFonts from its own list, so the test split can be rendered with a SoundFont the
training split never heard. Every track depends only on ``(seed, track number)``: the corpus is the
same whatever the number of workers and the order they finish in. A track is written to a temporary
folder and renamed when complete, so a killed run leaves no half track and a rerun resumes.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import yaml

from jointist.audio.io import write_audio
from jointist.constants import SAMPLE_RATE
from jointist.data.composer import Song, Stem, compose_song
from jointist.data.composer.styles import STYLES
from jointist.data.render import FluidSynthRenderer, resolve_soundfont
from jointist.data.timbre import GENERATORS, TimbreSpec, apply_room, apply_stem_timbre, draw_timbre
from jointist.instruments import NUM_CLASSES
from jointist.midi import MIDI_RESOLUTION, gm_track_name, write_song_midi
from jointist.notes import NoteArray

__all__ = ["CorpusSpec", "TrackResult", "render_corpus", "render_track", "split_counts", "write_song_midi"]

log = logging.getLogger(__name__)

DEFAULT_SOUNDFONTS: dict[str, list[str]] = {
    "train": ["FluidR3_GM.sf2", "sf_GMbank.sf2"],
    "validation": ["FluidR3_GM.sf2", "sf_GMbank.sf2"],
    "test": ["TimGM6mb.sf2"],
    "test_style": ["TimGM6mb.sf2"],
}
"""Training and validation hear FluidR3 and csound's GM bank; the test splits a SoundFont neither uses."""

_SEEN_STYLES = {"pop": 0.4, "chorale": 0.12, "counterpoint": 0.1, "chamber": 0.14, "piano": 0.1, "orchestral": 0.14}
DEFAULT_STYLES: dict[str, dict[str, float]] = {
    "train": dict(_SEEN_STYLES),
    "validation": dict(_SEEN_STYLES),
    "test": dict(_SEEN_STYLES),
    "test_style": {"jazz": 1.0},
}
"""The share of each style per split: jazz is held out of training and validation, so ``test_style``
(rendered, like ``test``, with the unheard SoundFont) measures how a model meets a style it never saw."""


@dataclass(frozen=True)
class CorpusSpec:
    """Everything that determines a synthetic corpus (saved as ``corpus.yaml``)."""

    num_tracks: int
    duration_s: float
    seed: int = 0
    splits: dict[str, float] = field(
        default_factory=lambda: {"train": 0.8, "validation": 0.1, "test": 0.1, "test_style": 0.05}
    )
    soundfonts: dict[str, list[str]] = field(default_factory=lambda: {k: list(v) for k, v in DEFAULT_SOUNDFONTS.items()})
    styles: dict[str, dict[str, float]] = field(default_factory=lambda: {k: dict(v) for k, v in DEFAULT_STYLES.items()})
    sample_rate: int = SAMPLE_RATE
    min_stems: int = 4
    max_stems: int = 12
    tempo_bpm_range: tuple[float, float] = (60.0, 180.0)
    mix_peak: float = 0.8
    timbre: TimbreSpec | None = None
    """Timbre variation of the stems of some splits at render time (None: every stem as its preset sounds)."""
    ride_share: float = 0.0
    """Share of the pop drum parts that keep time on the ride cymbal, with the hi-hat pedal
    (:func:`~jointist.data.composer.parts.drums.play_drums`); 0: the grooves as they are."""

    def __post_init__(self) -> None:
        if self.num_tracks < 1:
            raise ValueError(f"num_tracks must be >= 1, got {self.num_tracks}")
        if self.duration_s < 2.0:
            raise ValueError(f"duration_s must be >= 2 s, got {self.duration_s}")
        if not 1 <= self.min_stems <= self.max_stems:
            raise ValueError(f"need 1 <= min_stems <= max_stems, got {self.min_stems}, {self.max_stems}")
        if not self.splits or any(f < 0 for f in self.splits.values()) or sum(self.splits.values()) <= 0:
            raise ValueError(f"splits must map names to non-negative fractions, got {self.splits}")
        missing = [name for name, frac in self.splits.items() if frac > 0 and not self.soundfonts.get(name)]
        if missing:
            raise ValueError(f"no SoundFonts listed for split(s) {missing}; set soundfonts.<split>=[...]")
        for split, weights in self.styles.items():
            unknown = sorted(set(weights) - set(STYLES))
            if unknown or any(w < 0 for w in weights.values()) or (weights and sum(weights.values()) <= 0):
                raise ValueError(
                    f"styles.{split} must map styles ({', '.join(STYLES)}) to non-negative weights, got {weights}"
                )
        if not 0.0 <= self.ride_share <= 1.0:
            raise ValueError(f"ride_share must be in [0, 1], got {self.ride_share}")
        if not 0 < self.mix_peak < 1:
            raise ValueError(f"mix_peak must be in (0, 1), got {self.mix_peak}")
        if isinstance(self.timbre, Mapping):  # as read back from corpus.yaml
            object.__setattr__(self, "timbre", TimbreSpec(**self.timbre))
        unknown_splits = sorted(set(self.timbre.splits) - set(self.splits)) if self.timbre is not None else []
        if unknown_splits:
            raise ValueError(f"timbre.splits names split(s) {', '.join(unknown_splits)} the corpus does not have "
                             f"(its splits: {', '.join(self.splits)})")

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["tempo_bpm_range"] = list(self.tempo_bpm_range)
        if self.timbre is None:
            del out["timbre"]  # so a corpus made before timbre variation existed resumes as it was
        else:
            out["timbre"] = self.timbre.to_dict()
        if not self.ride_share:
            del out["ride_share"]  # likewise for corpora made before it existed
        return out


@dataclass(frozen=True)
class TrackJob:
    split: str
    number: int  # global track number: the folder is Track{number:05d}
    index_in_split: int
    guest_class: int


@dataclass(frozen=True)
class TrackResult:
    """What rendering one track produced."""

    path: Path
    skipped: bool  # already complete on disk
    num_stems: int
    num_rendered: int


def split_counts(num_tracks: int, fractions: Mapping[str, float]) -> dict[str, int]:
    """Tracks per split by largest remainder, in the order the splits are given."""
    total = sum(fractions.values())
    exact = {name: num_tracks * frac / total for name, frac in fractions.items()}
    counts = {name: int(np.floor(value)) for name, value in exact.items()}
    order = sorted(exact, key=lambda name: (-(exact[name] - counts[name]), list(fractions).index(name)))
    for name in order[: num_tracks - sum(counts.values())]:
        counts[name] += 1
    return counts


def plan_tracks(spec: CorpusSpec) -> list[TrackJob]:
    """Assign track numbers and guest classes; the guests of a split cycle through all 39 classes
    in a seeded order, so any split of >= 39 tracks contains every class."""
    jobs: list[TrackJob] = []
    number = 1
    for split_index, (split, count) in enumerate(split_counts(spec.num_tracks, spec.splits).items()):
        order = np.random.default_rng([spec.seed, split_index, 39]).permutation(NUM_CLASSES)
        for i in range(count):
            jobs.append(TrackJob(split, number, i, int(order[i % NUM_CLASSES])))
            number += 1
    return jobs


def _snap(notes: NoteArray, tick_s: float, duration_s: float) -> NoteArray:
    """Snap times to the MIDI tick grid (what a reader of the written file gets back)."""
    last_tick = int(np.floor(duration_s / tick_s))
    onset = np.minimum(np.round(notes.onset_s / tick_s), last_tick - 1)
    offset = np.minimum(np.maximum(np.round(notes.offset_s / tick_s), onset + 1), last_tick)
    return NoteArray.from_arrays(onset * tick_s, offset * tick_s, notes.pitch, notes.velocity)


_RENDERER: FluidSynthRenderer | None = None


def _renderer(sample_rate: int) -> FluidSynthRenderer:
    global _RENDERER  # one per worker process
    if _RENDERER is None or _RENDERER.sample_rate != sample_rate:
        _RENDERER = FluidSynthRenderer(sample_rate=sample_rate)
    return _RENDERER


def draw_style(spec: CorpusSpec, job: TrackJob) -> str:
    """The style a track is written in: drawn with the split's weights (pop where the split lists none),
    from a stream of its own, so the song's other draws do not depend on the style table; the order
    the weights are listed in does not matter."""
    weights = spec.styles.get(job.split) or {"pop": 1.0}
    # in the composer's order, not the mapping's: a spec read back from corpus.yaml (keys sorted) draws alike
    names = [name for name in STYLES if weights.get(name, 0) > 0]
    p = np.array([weights[name] for name in names], np.float64)
    return names[int(np.random.default_rng([spec.seed, job.number, 2]).choice(len(names), p=p / p.sum()))]


def compose_track(spec: CorpusSpec, job: TrackJob) -> tuple[Song, list[Path]]:
    """The song of a track and the SoundFont drawn for each of its stems (deterministic)."""
    rng = np.random.default_rng([spec.seed, job.number])
    song = compose_song(
        rng, duration_s=spec.duration_s, guest_class=job.guest_class, min_stems=spec.min_stems,
        max_stems=spec.max_stems, tempo_bpm_range=(float(spec.tempo_bpm_range[0]), float(spec.tempo_bpm_range[1])),
        style=draw_style(spec, job), ride_share=spec.ride_share,
    )
    tick_s = 60.0 / (song.tempo_bpm * MIDI_RESOLUTION)
    stems = [
        Stem(program=s.program, is_drum=s.is_drum, role=s.role, notes=_snap(s.notes, tick_s, song.duration_s))
        for s in song.stems
    ]
    song = Song(song.tempo_bpm, song.beats_per_bar, song.key_name, song.duration_s, tuple(stems), song.style,
                song.tonic, song.rubato)
    fonts = [resolve_soundfont(name) for name in spec.soundfonts[job.split]]
    choice = rng.integers(0, len(fonts), size=len(stems))
    return song, [fonts[int(i)] for i in choice]


def render_track(spec: CorpusSpec, job: TrackJob, root: Path) -> TrackResult:
    """Compose, render and write one track folder (skipped when already complete)."""
    final = root / job.split / f"Track{job.number:05d}"
    if (final / "metadata.yaml").is_file():
        meta = yaml.safe_load((final / "metadata.yaml").read_text())
        stems_meta = meta.get("stems", {})
        return TrackResult(final, True, len(stems_meta), sum(bool(s.get("audio_rendered")) for s in stems_meta.values()))
    song, fonts = compose_track(spec, job)
    renderer = _renderer(spec.sample_rate)

    timbre = spec.timbre if spec.timbre is not None and job.split in spec.timbre.splits else None
    varied = timbre is not None
    timbres, room = draw_timbre(timbre, spec.seed, job.number, len(song.stems)) if timbre is not None else ([], None)

    audio: dict[int, np.ndarray] = {}
    used_font: dict[int, Path] = {}
    for i, (stem, font) in enumerate(zip(song.stems, fonts)):
        generators = {GENERATORS[k]: v for k, v in timbres[i].generators.items()} if varied else None
        # A SoundFont lacking the preset falls back to the split's other SoundFonts, in order.
        for candidate in [font, *[f for f in dict.fromkeys(resolve_soundfont(n) for n in spec.soundfonts[job.split]) if f != font]]:
            wave = renderer.render(
                stem.notes, program=stem.program, is_drum=stem.is_drum, soundfont=candidate, duration_s=song.duration_s,
                generators=generators,
            )
            if wave is not None and float(np.max(np.abs(wave), initial=0.0)) > 1e-6:
                audio[i], used_font[i] = wave, candidate
                break
    if not audio:
        raise RuntimeError(f"{final.name}: no stem produced sound with SoundFonts {spec.soundfonts[job.split]}")
    if varied:
        audio = {i: apply_stem_timbre(wave, timbres[i], spec.sample_rate) for i, wave in audio.items()}
        if room is not None:
            audio = apply_room(audio, room, spec.sample_rate)

    # One gain for every stem; quantise the stems, then sum the integers, so mix == sum of stems exactly.
    mix = np.sum(list(audio.values()), axis=0)
    gain = spec.mix_peak / max(float(np.max(np.abs(mix))), 1e-9)
    stems_i16 = {i: np.round(wave * gain * 32767.0).astype(np.int16) for i, wave in audio.items()}
    mix_i32 = np.sum([s.astype(np.int32) for s in stems_i16.values()], axis=0)
    if np.max(np.abs(mix_i32)) > 32767:  # impossible with mix_peak < 1 and < 2**15 * (1 - peak) stems
        raise RuntimeError(f"{final.name}: the integer mix overflows 16 bits")

    tmp = root / job.split / f".{final.name}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "stems").mkdir(parents=True)
    (tmp / "MIDI").mkdir()
    stems_meta = {}
    for i, stem in enumerate(song.stems):
        sid = f"S{i:02d}"
        write_song_midi([stem], tempo_bpm=song.tempo_bpm, path=tmp / "MIDI" / f"{sid}.mid")
        if i in stems_i16:
            write_audio(tmp / "stems" / f"{sid}.flac", stems_i16[i], sample_rate=spec.sample_rate)
        stems_meta[sid] = {
            "audio_rendered": i in stems_i16,
            "inst_class": stem.instrument.name,
            "is_drum": stem.is_drum,
            "midi_program_name": gm_track_name(stem.program, is_drum=stem.is_drum),
            "midi_saved": True,
            "plugin_name": used_font[i].name if i in used_font else None,
            "program_num": stem.program,
            "role": stem.role,
        }
        if varied and i in stems_i16:
            stems_meta[sid]["timbre"] = timbres[i].record()
    write_song_midi(song.stems, tempo_bpm=song.tempo_bpm, path=tmp / "all_src.mid")
    write_audio(tmp / "mix.flac", mix_i32.astype(np.int16), sample_rate=spec.sample_rate)
    metadata = {
        "UUID": f"{np.random.default_rng([spec.seed, job.number, 1]).integers(0, 2**63):016x}",
        "audio_dir": "stems",
        "midi_dir": "MIDI",
        "overall_gain": float(gain),
        # the song's style, initial tempo and key (read by the loader's remixing augmentation)
        "style": song.style,
        "tempo_bpm": float(song.tempo_bpm),
        "key_tonic": int(song.tonic),
        "key_mode": song.mode,
        "target_peak": spec.mix_peak,
        "stems": stems_meta,
        "jointist": {
            "generator": "jointist-synth",
            "seed": spec.seed,
            "track_number": job.number,
            "guest_class": job.guest_class,
            "tempo_bpm": float(song.tempo_bpm),
            "beats_per_bar": song.beats_per_bar,
            "key": song.key_name,
            "style": song.style,
            "rubato": song.rubato,
            "duration_s": float(song.duration_s),
            "sample_rate": spec.sample_rate,
        },
    }
    if varied:
        metadata["jointist"]["room"] = room.record() if room is not None else None  # type: ignore[index]
    (tmp / "metadata.yaml").write_text(yaml.safe_dump(metadata, sort_keys=True))
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    return TrackResult(final, False, len(song.stems), len(stems_i16))


def _work(args: tuple[CorpusSpec, TrackJob, Path]) -> TrackResult:
    return render_track(*args)


def render_corpus(
    root: str | os.PathLike[str], spec: CorpusSpec, *, workers: int | None = None, overwrite: bool = False,
    progress: bool = True,
) -> list[TrackResult]:
    """Render a whole corpus into ``root`` (resuming a previous run with the same spec).

    Raises:
        FileExistsError: ``root`` holds a corpus made with other settings (pass ``overwrite=True``).
    """
    root = Path(root)
    spec_file = root / "corpus.yaml"
    if spec_file.exists():
        previous = yaml.safe_load(spec_file.read_text())
        if previous != spec.to_dict():
            if not overwrite:
                raise FileExistsError(
                    f"{root} holds a corpus made with other settings ({spec_file}); choose another root or "
                    "pass overwrite=true to replace it"
                )
            for split in previous.get("splits", {}):
                shutil.rmtree(root / split, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    for name in spec.soundfonts.values():  # fail early on a missing or reserved SoundFont
        [resolve_soundfont(n) for n in name]
    spec_file.write_text(yaml.safe_dump(spec.to_dict(), sort_keys=True))

    jobs = [(spec, job, root) for job in plan_tracks(spec)]
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    from tqdm import tqdm

    bar = tqdm(total=len(jobs), desc="rendering tracks", unit="track", disable=not progress)
    results: list[TrackResult] = []
    try:
        if workers == 1:
            for item in jobs:
                results.append(_work(item))
                bar.update()
        else:
            context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
            with context.Pool(workers) as pool:
                for result in pool.imap_unordered(_work, jobs):
                    results.append(result)
                    bar.update()
    finally:
        bar.close()
    return sorted(results, key=lambda r: r.path.name)
