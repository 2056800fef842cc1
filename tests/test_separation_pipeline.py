"""Separation through the inference pipeline with tiny models: one stem per instrument, chunked
separation against one pass, stems streamed to WAV files (resampled on the way), ``jointist-transcribe
separate=true``, the separator a model file brings along, and the separation scores of an
evaluation (an oracle separator scores its references)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from jointist.audio.chunker import Chunker
from jointist.audio.features import num_frames
from jointist.audio.io import load_audio
from jointist.cli import transcribe
from jointist.constants import FRAMES_PER_SECOND, SAMPLE_RATE
from jointist.data.slakh import load_index
from jointist.data.targets import class_rolls
from jointist.evaluation import evaluate_tracks, reference_stems, write_report
from jointist.instruments import UnknownInstrumentError, by_name
from jointist.metrics import SeparationReport, evaluate_separation, whole_track_sdr_db
from jointist.midi import read_midi, write_midi
from jointist.models.serialize import load_model, save_model, save_models
from jointist.notes import NoteArray, NoteEvent
from jointist.pipeline import Transcriber
from tests.conftest import compose_config, perturb, run_command, sine_notes, tiny_model, write_track

PIANO_BASS = ["piano", "bass"]


@pytest.fixture(scope="module")
def separator_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny separator whose weights are perturbed enough that its masks depend on the audio, the
    instrument and the posteriorgram (a new one's masks are all close to 0.5)."""
    model = perturb(tiny_model("FiLMUNetSeparator"), 0.3).eval()
    return save_model(model, tmp_path_factory.mktemp("separator") / "separator.pt")


def busy_song(duration_s: float = 25.0) -> np.ndarray:
    """Sine notes all through the song over a little noise: every window has something to separate."""
    notes = [(t, t + 1.5, pitch) for t, pitch in zip(np.arange(0.0, duration_s - 1.5, 1.25), [40, 60, 64, 67, 45, 72] * 4)]
    noise = 0.01 * np.random.default_rng(0).standard_normal(int(duration_s * SAMPLE_RATE)).astype(np.float32)
    return sine_notes(notes, duration_s) + noise


def test_separate_returns_one_stem_per_instrument_as_long_as_the_input(tiny_model_file, separator_file):
    audio = busy_song(12.3)
    result = Transcriber(tiny_model_file, separator=separator_file, progress=False).transcribe_audio(
        audio, instruments=["piano", "bass", "drums"], separate=True)
    assert [t.instrument.name for t in result.tracks] == ["Piano", "Bass", "Drums"]
    for track in result.tracks:
        assert track.stem is not None and track.stem.shape == audio.shape and track.stem.dtype == np.float32
        assert track.sample_rate == SAMPLE_RATE and track.stem_path is None and np.isfinite(track.stem).all()
    stems = np.stack([t.stem for t in result.tracks])
    assert not np.allclose(stems[0], stems[1], atol=1e-3)  # the instrument changes the stem
    assert 0 < np.abs(stems).max() < 2 * np.abs(audio).max()
    without = Transcriber(tiny_model_file, separator=separator_file, progress=False).transcribe_audio(audio, instruments=["piano"])
    assert without.tracks[0].stem is None  # separation only when asked


def test_chunked_separation_equals_one_pass_away_from_the_window_edges(tiny_model_file, separator_file):
    """Windows of 10 s against one 30 s window over the whole 25 s song (batch norm in eval mode: no
    window sees another's statistics). The hop is the default 9 s rounded down to a multiple of the
    U-Net's pooling factor (2^levels frames), so every window shares the one pass's pooling grid."""
    audio = busy_song()
    levels = load_model(separator_file, role="separator")[0].levels
    hop_frames = 9 * FRAMES_PER_SECOND // 2**levels * 2**levels
    chunked = Transcriber(tiny_model_file, separator=separator_file, progress=False, window_s=10.0,
                          hop_s=hop_frames / FRAMES_PER_SECOND)
    whole = Transcriber(tiny_model_file, separator=separator_file, progress=False, window_s=30.0, hop_s=30.0)
    assert not chunked.separator.training and not whole.separator.training
    assert len(chunked.chunker.windows(len(audio))) == 3 and len(whole.chunker.windows(len(audio))) == 1
    a = chunked.transcribe_audio(audio, instruments=PIANO_BASS, separate=True)
    b = whole.transcribe_audio(audio, instruments=PIANO_BASS, separate=True)
    far = far_from_window_edges(chunked.chunker, len(audio))
    assert far.mean() > 0.5
    for ta, tb in zip(a.tracks, b.tracks):
        assert ta.stem.shape == tb.stem.shape == audio.shape
        assert np.abs(tb.stem - 0.5 * audio).max() > 0.02  # the masks really do something
        np.testing.assert_allclose(ta.stem[far], tb.stem[far], atol=1e-4)
        assert not np.allclose(ta.stem, tb.stem, atol=1e-4)  # the windows' edges do differ


def far_from_window_edges(chunker: Chunker, samples: int) -> np.ndarray:
    """Samples farther than the overlap from every start and end of the chunker's windows."""
    overlap = chunker.window_samples - chunker.hop_frames * chunker.hop_length
    keep = np.ones(samples, bool)
    for window in chunker.windows(samples):
        for edge in (window.start_sample, window.start_sample + chunker.window_samples):
            if 0 < edge < samples:
                keep[max(0, edge - overlap): edge + overlap] = False
    return keep


def test_chunked_separation_with_the_default_hop_equals_one_pass(tiny_model_file, separator_file):
    audio = busy_song()
    chunked = Transcriber(tiny_model_file, separator=separator_file, progress=False, window_s=10.0, hop_s=9.0)
    whole = Transcriber(tiny_model_file, separator=separator_file, progress=False, window_s=30.0, hop_s=30.0)
    a = chunked.transcribe_audio(audio, instruments=["piano"], separate=True).tracks[0].stem
    b = whole.transcribe_audio(audio, instruments=["piano"], separate=True).tracks[0].stem
    far = far_from_window_edges(chunked.chunker, len(audio))
    np.testing.assert_allclose(a[far], b[far], atol=1e-4)


def test_stems_streamed_to_a_folder_equal_the_stems_in_memory(tiny_model_file, separator_file, tmp_path):
    audio = busy_song(12.0)  # two windows, cross-faded
    transcriber = Transcriber(tiny_model_file, separator=separator_file, progress=False)
    in_memory = transcriber.transcribe_audio(audio, instruments=PIANO_BASS, separate=True)
    streamed = transcriber.transcribe_audio(audio, instruments=PIANO_BASS, separate=True, stems_dir=tmp_path / "stems")
    assert sorted(p.name for p in (tmp_path / "stems").iterdir()) == ["bass.wav", "piano.wav"]  # no temporary files left
    for memory, track in zip(in_memory.tracks, streamed.tracks):
        assert track.stem is None and track.stem_path == tmp_path / "stems" / f"{track.instrument.slug}.wav"
        info = sf.info(track.stem_path)
        assert (info.samplerate, info.channels, info.subtype, info.frames) == (SAMPLE_RATE, 1, "FLOAT", len(audio))
        wave, _ = sf.read(track.stem_path, dtype="float32")
        np.testing.assert_allclose(wave, memory.stem, atol=1e-7)
        assert len(track.notes) == len(memory.notes)  # the transcription is the same either way

    resampled = transcriber.transcribe_audio(audio, instruments=PIANO_BASS, separate=True, stems_dir=tmp_path / "hq",
                                             stems_sample_rate=44_100)
    for memory, track in zip(in_memory.tracks, resampled.tracks):
        assert track.sample_rate == 44_100
        wave, rate = sf.read(track.stem_path, dtype="float32")
        assert rate == 44_100 and abs(len(wave) - len(audio) * 44_100 / SAMPLE_RATE) <= 44.1  # within 1 ms
        # the same stem, resampled: compare it back at 16 kHz (away from the ends)
        back = np.interp(np.arange(len(audio)) / SAMPLE_RATE, np.arange(len(wave)) / 44_100, wave)
        assert np.abs(back - memory.stem)[1_000:-1_000].max() < 0.05 * np.abs(memory.stem).max()


def test_jointist_transcribe_separate_writes_a_stem_per_instrument(tiny_model_file, separator_file, song, tmp_path):
    out = tmp_path / "out"
    written = transcribe.run(compose_config("transcribe", f"audio={song}", "instruments=[piano,bass]", f"out={out}",
                                            f"ckpt={tiny_model_file}", f"separator={separator_file}", "separate=true",
                                            "progress=false", "plots=false"))
    assert written["stems/piano"] == out / "song.stems" / "piano.wav" and written["stems/bass"] == out / "song.stems" / "bass.wav"
    assert sorted(p.name for p in (out / "song.stems").iterdir()) == ["bass.wav", "piano.wav"]
    for name in ("piano", "bass"):
        info = sf.info(out / "song.stems" / f"{name}.wav")
        assert info.samplerate == SAMPLE_RATE and info.frames == 25 * SAMPLE_RATE


def test_separate_without_a_separator_names_the_option(tiny_model_file, song, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("jointist.pipeline.DEFAULT_SEPARATOR", "no_separator_here.pt")  # none shipped, whatever is installed
    out = tmp_path / "out"
    assert run_command(transcribe.main, f"audio={song}", "instruments=[piano]", f"out={out}", f"ckpt={tiny_model_file}",
                       "separate=true", "progress=false") == 2
    captured = capsys.readouterr()
    assert "no shipped separator" in captured.out and "separator=" in captured.out
    assert "Traceback" not in captured.out + captured.err and not out.exists()


def test_auto_separates_the_instruments_the_recognizer_finds(tiny_model_file, tiny_recognizer_file, separator_file):
    audio = busy_song(12.0)
    result = Transcriber(tiny_model_file, recognizer=tiny_recognizer_file, separator=separator_file,
                         progress=False).transcribe_audio(audio, instruments="auto", separate=True)
    assert set(result.detected) == {"Piano", "Bass"}
    assert [t.instrument.name for t in result.tracks] == ["Piano", "Bass"]
    assert all(t.stem is not None and t.stem.shape == audio.shape for t in result.tracks)


def test_a_model_file_with_a_separator_separates_with_it(tiny_model_file, separator_file, tmp_path):
    transcriber, t_card = load_model(tiny_model_file, role="transcriber")
    separator, s_card = load_model(separator_file, role="separator")
    both = save_models({"transcriber": (transcriber, t_card), "separator": (separator, s_card)}, tmp_path / "both.pt")
    audio = busy_song(12.0)
    own = Transcriber(both, progress=False).transcribe_audio(audio, instruments=PIANO_BASS, separate=True)
    given = Transcriber(tiny_model_file, separator=separator_file, progress=False).transcribe_audio(
        audio, instruments=PIANO_BASS, separate=True)
    for a, b in zip(own.tracks, given.tracks):
        np.testing.assert_array_equal(a.stem, b.stem)


# -- evaluation -------------------------------------------------------------------------------------

@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """Two 3 s test tracks, each a piano and a bass stem."""
    root = tmp_path / "corpus"
    for name, shift in (("Track00001", 0.0), ("Track00002", 0.3)):
        write_track(root / "test", name, {
            "S00": {"program": 0, "notes": [(0.5 + shift, 1.0 + shift, 60), (1.5, 2.0 + shift, 64)]},
            "S01": {"program": 33, "notes": [(0.2, 2.5 - shift, 40)]},
        }, duration_s=3.0)
    return root


def test_evaluation_scores_the_stems_per_true_instrument_and_reports_them(tiny_model_file, separator_file, corpus, tmp_path):
    transcriber = Transcriber(tiny_model_file, separator=separator_file, progress=False)
    scores = evaluate_tracks(transcriber, corpus, "test", separate=True, bss_eval=False, progress=False)
    separation = scores.separation
    assert isinstance(separation, SeparationReport) and separation.pieces == 2 and separation.sources == 4
    assert set(separation.per_instrument) == {"Piano", "Bass"}
    assert all(row["pieces"] == 2 and np.isfinite(row["sdr"]) for row in separation.per_instrument.values())
    assert [p.piece for p in scores.separation_pieces] == ["Track00001", "Track00002"]
    paths = write_report(scores.transcription, tmp_path / "report", separation=separation)
    assert paths["sdr_chart"] == tmp_path / "report" / "sdr_per_instrument.png" and paths["sdr_chart"].stat().st_size > 1000
    doc = json.loads((tmp_path / "report" / "report.json").read_text())
    assert set(doc["separation"]["per_instrument"]) == {"Piano", "Bass"} and doc["separation"]["pieces"] == 2
    assert "Piano" in doc["per_instrument"]  # the transcription report is still there
    assert evaluate_tracks(transcriber, corpus, "test", progress=False).separation is None  # only when asked


class OracleSeparator:
    """A test double of the separator protocol: it finds each window in the corpus's mixtures and
    returns the true stems of the requested classes for it (silence for a class the track lacks)."""

    def __init__(self, root: Path, split: str, chunker: Chunker) -> None:
        self.windows: dict[bytes, dict[int, np.ndarray]] = {}
        for track in load_index(root, split):
            mix = load_audio(track.mix_path, allow_silence=False)
            stems = reference_stems(track, num_samples=len(mix))
            for window in chunker.windows(len(mix)):
                self.windows[chunker.segment(mix, window).tobytes()] = {c: chunker.segment(s, window) for c, s in stems.items()}

    def features(self, audio: torch.Tensor, *, grid_offset: int = 0) -> list[dict[int, np.ndarray]]:
        return [self.windows[clip.numpy().tobytes()] for clip in audio]

    def heads(self, features: list[dict[int, np.ndarray]], instruments: torch.Tensor, posteriorgram: torch.Tensor | None) -> torch.Tensor:
        assert posteriorgram is not None and posteriorgram.shape[:2] == instruments.shape  # the transcriber's, per instrument
        silence = np.zeros(len(next(iter(features[0].values()))), np.float32)
        return torch.from_numpy(np.stack([[stems.get(int(c), silence) for c in row] for stems, row in zip(features, instruments)]))


def test_an_oracle_separator_scores_its_references(tiny_model_file, separator_file, corpus, monkeypatch):
    """Short windows (1 s, 0.75 s apart) so that the stems are cross-faded from several windows."""
    # the oracle knows each window by its exact samples, so the song is heard as given (no level scaling)
    transcriber = Transcriber(tiny_model_file, progress=False, window_s=1.0, hop_s=0.75, input_peak=None)
    oracle = OracleSeparator(corpus, "test", transcriber.chunker)
    monkeypatch.setattr(Transcriber, "separator", property(lambda self: oracle))
    scores = evaluate_tracks(transcriber, corpus, "test", separate=True, bss_eval=False, progress=False)
    assert set(scores.separation.per_instrument) == {"Piano", "Bass"}
    assert all(row["sdr"] > 60.0 for row in scores.separation.per_instrument.values()), scores.separation.per_instrument
    monkeypatch.undo()  # a real (untrained) separator is nowhere near
    real = Transcriber(tiny_model_file, separator=separator_file, progress=False, window_s=1.0, hop_s=0.75)
    untrained = evaluate_tracks(real, corpus, "test", separate=True, bss_eval=False, progress=False).separation
    assert untrained.sourcewise_db["sdr"] < 20.0


# -- score-informed separation ----------------------------------------------------------------------

class SpySeparator:
    """A test double of the separator protocol that records the posteriorgram each window brings and
    returns the window's audio for every instrument."""

    def __init__(self) -> None:
        self.seen: list[np.ndarray] = []

    def features(self, audio: torch.Tensor, *, grid_offset: int = 0) -> torch.Tensor:
        return audio

    def heads(self, features: torch.Tensor, instruments: torch.Tensor, posteriorgram: torch.Tensor | None) -> torch.Tensor:
        assert posteriorgram is not None
        self.seen.extend(posteriorgram.numpy())  # (K, frames, 88) per window
        return features[:, None].expand(-1, instruments.shape[1], -1)


def test_score_informed_separation_gives_each_window_its_slice_of_the_score(tiny_model_file, monkeypatch):
    """A piano note from 1.30 s to 1.60 s (frames 130-159) and a bass note from 0.20 s; windows of
    1 s, 0.75 s apart: the window starting at 0.75 s (frame 75) sees the piano onset at frame 55."""
    spy = SpySeparator()
    transcriber = Transcriber(tiny_model_file, progress=False, window_s=1.0, hop_s=0.75, instruments_per_pass=4)
    monkeypatch.setattr(Transcriber, "separator", property(lambda self: spy))
    audio = busy_song(3.0)
    score = {"piano": NoteArray.from_events([NoteEvent(1.30, 1.60, 60, 90)]),
             "bass": NoteArray.from_events([NoteEvent(0.20, 2.0, 40, 90)])}
    result = transcriber.separate_with_score(audio, score)
    assert [t.instrument.name for t in result.tracks] == ["Piano", "Bass"]
    assert all(t.stem.shape == audio.shape for t in result.tracks)
    assert result.tracks[0].notes is score["piano"]  # the score's own notes
    windows = transcriber.chunker.windows(len(audio))
    assert len(spy.seen) == len(windows) == 4 and [w.start_frame for w in windows[:2]] == [0, 75]
    classes = [by_name("piano").index, by_name("bass").index]
    onset, frame = class_rolls(dict(zip(classes, score.values())), classes, num_frames=num_frames(len(audio)))
    for window, seen in zip(windows, spy.seen):
        part = frame[:, window.start_frame: window.start_frame + seen.shape[1]]
        np.testing.assert_array_equal(seen[:, : part.shape[1]], part)
        assert not seen[:, part.shape[1]:].any()  # past the song's end: nothing
    piano_key = 60 - 21
    assert spy.seen[1][0, 55, piano_key] == 1 and spy.seen[1][0, 54, piano_key] == 0
    assert spy.seen[1][1, :, 40 - 21].all()  # the bass note holds through the whole window
    piano_frames = result.tracks[0].frame.probabilities()[:, piano_key]  # the score is the posteriorgram
    assert piano_frames[130:160].min() == 1.0 and piano_frames[:130].max() == piano_frames[160:].max() == 0.0


def test_stems_come_back_at_the_recordings_level(tiny_model_file, monkeypatch):
    """The separator hears each window scaled to the training level (peak 0.8), and its stems are
    scaled back: a separator that returns what it hears gives the quiet recording itself."""
    spy = SpySeparator()
    transcriber = Transcriber(tiny_model_file, progress=False, window_s=1.0, hop_s=0.75)
    monkeypatch.setattr(Transcriber, "separator", property(lambda self: spy))
    audio = busy_song(3.0)
    audio = audio * np.float32(0.02 / np.abs(audio).max())  # -34 dBFS peak
    heard: list[torch.Tensor] = []
    monkeypatch.setattr(spy, "features", lambda x, grid_offset=0: heard.append(x) or x)
    result = transcriber.separate_with_score(audio, {"piano": NoteArray.from_events([NoteEvent(0.5, 1.0, 60, 90)])})
    assert max(float(x.abs().max()) for x in heard) == pytest.approx(0.8, rel=1e-5)
    np.testing.assert_allclose(result.tracks[0].stem, audio, atol=1e-6)


def test_score_informed_stems_stream_to_wav_files_like_transcribed_ones(tiny_model_file, separator_file, tmp_path):
    transcriber = Transcriber(tiny_model_file, separator=separator_file, progress=False)
    audio = busy_song(4.0)
    score = {"bass": NoteArray.from_events([NoteEvent(0.5, 3.0, 40, 90)]),
             "piano": NoteArray.from_events([NoteEvent(1.0, 2.0, 64, 90)])}
    in_memory = transcriber.separate_with_score(audio, score)
    streamed = transcriber.separate_with_score(audio, score, stems_dir=tmp_path / "stems")
    assert [t.stem_path.name for t in streamed.tracks] == ["bass.wav", "piano.wav"]
    for mem, disk in zip(in_memory.tracks, streamed.tracks):
        assert disk.stem is None
        np.testing.assert_allclose(sf.read(disk.stem_path, dtype="float32")[0], mem.stem, atol=1e-6)


def test_score_informed_separation_refuses_an_empty_or_ambiguous_score(tiny_model_file, separator_file):
    transcriber = Transcriber(tiny_model_file, separator=separator_file, progress=False)
    audio = busy_song(2.0)
    notes = NoteArray.from_events([NoteEvent(0.5, 1.0, 60, 90)])
    with pytest.raises(ValueError, match="Piano twice"):
        transcriber.separate_with_score(audio, {"piano": notes, 0: notes})
    with pytest.raises(UnknownInstrumentError, match="empty"):
        transcriber.separate_with_score(audio, {})
    with pytest.raises(UnknownInstrumentError, match="kazoo"):
        transcriber.separate_with_score(audio, {"kazoo": notes})


def test_evaluation_can_condition_the_separator_on_the_true_score(tiny_model_file, corpus, monkeypatch):
    transcriber = Transcriber(tiny_model_file, progress=False)
    spy = SpySeparator()
    monkeypatch.setattr(Transcriber, "separator", property(lambda self: spy))
    scores = evaluate_tracks(transcriber, corpus, "test", separate=True, bss_eval=False, progress=False,
                             separate_from="score")
    assert scores.separation.pieces == 2 and set(scores.separation.per_instrument) == {"Piano", "Bass"}
    first = load_index(corpus, "test")[0]
    ref = first.notes_by_class()
    audio = load_audio(first.mix_path, allow_silence=False)
    _, frame = class_rolls(ref, sorted(ref), num_frames=num_frames(len(audio)))
    seen = spy.seen[0]  # one 10 s window over the 3 s track: the true rolls, then nothing
    np.testing.assert_array_equal(seen[:, : frame.shape[1]], frame)
    assert frame.any() and not seen[:, frame.shape[1]:].any()
    with pytest.raises(ValueError, match="separate_from"):
        evaluate_tracks(transcriber, corpus, "test", separate=True, separate_from="oracle")


def test_jointist_transcribe_with_a_score_separates_its_instruments(tiny_model_file, separator_file, song, tmp_path):
    score = write_midi({by_name("piano"): NoteArray.from_events([NoteEvent(1.0, 2.0, 64, 90)]),
                        by_name("bass"): NoteArray.from_events([NoteEvent(0.5, 3.0, 40, 90)])}, tmp_path / "song.mid")
    out = tmp_path / "out"
    args = [f"audio={song}", f"out={out}", f"ckpt={tiny_model_file}", f"separator={separator_file}",
            f"score={score}", "progress=false", "plots=false"]
    written = transcribe.run(compose_config("transcribe", *args))
    assert sorted(p.name for p in (out / "song.stems").iterdir()) == ["bass.wav", "piano.wav"]
    assert read_midi(written["midi"])[by_name("piano").index].onset_s.tolist() == [1.0]  # the score's MIDI
    transcribe.run(compose_config("transcribe", *args, "instruments=[bass]", f"out={tmp_path / 'bass'}"))
    assert [p.name for p in (tmp_path / "bass" / "song.stems").iterdir()] == ["bass.wav"]
    with pytest.raises(UnknownInstrumentError, match="has no Flute; it has Piano, Bass"):
        transcribe.run(compose_config("transcribe", *args, "instruments=[flute]"))
    with pytest.raises(FileNotFoundError, match="no such MIDI file"):
        transcribe.run(compose_config("transcribe", *args[:-3], f"score={tmp_path / 'none.mid'}"))


class CountingStems(dict):
    """A mapping of estimates that counts how often each one is read."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.reads: dict[int, int] = {}

    def __getitem__(self, key):
        self.reads[key] = self.reads.get(key, 0) + 1
        return super().__getitem__(key)


def test_separation_scores_read_each_estimate_once_and_keep_only_present_ones(corpus):
    """So a lazy mapping of stems on disk (StemFiles) holds one absent stem at a time."""
    track = load_index(corpus, "test")[0]
    mix = load_audio(track.mix_path)
    refs = reference_stems(track, num_samples=len(mix))
    estimates = {c: 0.5 * mix for c in range(39)}
    counting = CountingStems(estimates)
    lazy = evaluate_separation("x", refs, counting, mix, bss_eval=False)
    eager = evaluate_separation("x", refs, estimates, mix, bss_eval=False)
    assert counting.reads == {c: 1 for c in range(39)}
    assert {c: (v.sdr, v.sdri) for c, v in lazy.sources.items()} == {c: (v.sdr, v.sdri) for c, v in eager.sources.items()}
    assert lazy.absent_energy_db == eager.absent_energy_db
    assert len(lazy.absent_energy_db) == 39 - len(refs)


def test_evaluating_all_instruments_streams_their_stems_through_files(tiny_model_file, separator_file, corpus):
    transcriber = Transcriber(tiny_model_file, separator=separator_file, progress=False)
    scores = evaluate_tracks(transcriber, corpus, "test", instruments="all", separate=True, bss_eval=False, progress=False)
    assert scores.separation.absent["count"] == 2 * 37  # every class but piano and bass, in both tracks
    in_memory = transcriber.transcribe_audio(load_audio(load_index(corpus, "test")[0].mix_path),
                                             instruments=["piano", "bass"], separate=True)
    piano = scores.separation_pieces[0].sources[by_name("piano").index].sdr
    ref = reference_stems(load_index(corpus, "test")[0], num_samples=len(in_memory.tracks[0].stem))
    assert piano == pytest.approx(whole_track_sdr_db(ref[by_name("piano").index], in_memory.tracks[0].stem), abs=1e-3)
