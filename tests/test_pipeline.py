"""Inference through the API with tiny models: the staged window loop, long audio, instrument groups,
``instruments="auto"``, evaluation on a split, clear errors. (The commands are in tests/cli.)"""

from __future__ import annotations

import json

import numpy as np
import pretty_midi
import pytest
import torch

import jointist
from jointist.audio.chunker import Chunker
from jointist.audio.io import AudioError, SilentAudioError
from jointist.evaluation import evaluate_split, write_report
from jointist.export import transcription_json
from jointist.instruments import INSTRUMENTS, UnknownInstrumentError, by_name
from jointist.models.serialize import CheckpointError, save_models
from jointist.notes import NoteArray
from jointist.pipeline import RecognizeStage, StageOutput, Transcriber, TranscribeStage, run_stages
from jointist.results import InstrumentResult, Posteriorgram, Transcription
from tests.conftest import confident_recognizer, perturb, sine_notes, tiny_model, write_track


def test_transcribe_api_returns_one_track_per_instrument(tiny_model_file, song, tmp_path):
    result = jointist.transcribe(song, instruments=["piano", "bass", "drums"], model=tiny_model_file)
    assert [t.instrument.name for t in result.tracks] == ["Piano", "Bass", "Drums"]
    assert result.duration_s == pytest.approx(25.0) and result.source == str(song) and result.detected == {}
    for track in result.tracks:
        assert isinstance(track.frame, Posteriorgram) and track.frame.codes.shape == (2501, 88)
        assert track.onset.codes.dtype == np.uint8 and track.frame.duration_s == pytest.approx(25.01)
        assert len(track.notes) > 0 and track.notes.offset_s.max() <= 25.02  # no note outlives the song
    midi = result.write_midi(tmp_path / "out.mid")
    pm = pretty_midi.PrettyMIDI(str(midi))
    assert [(i.program, i.is_drum) for i in pm.instruments] == [(0, False), (32, False), (0, True)]
    assert [len(i.notes) for i in pm.instruments] == [len(t.notes) for t in result.tracks]


def test_long_audio_windows_match_a_single_pass(tiny_model_file):
    transcriber = Transcriber(tiny_model_file, progress=False, batch_size=2, input_peak=None)  # the model hears the samples as given
    audio = sine_notes([(0.5, 2.0, 60), (12.0, 13.0, 64), (21.0, 23.0, 67)], 30.0)
    onset, frame = transcriber.posteriorgrams(audio, [by_name("piano")])
    assert frame.shape == (3001, 1, 88)
    # the stitched output equals the model's output on each window's central frames
    with torch.no_grad():
        window = torch.from_numpy(audio[144_000: 304_000])[None]
        direct = torch.sigmoid(transcriber.model(window, torch.tensor([[0]])).frame)[0, 0].numpy()
    expected = (direct[50:950] * 255 + 0.5).astype(np.uint8)  # window 2 starts at 9 s, keeps 9.5..18.5 s
    assert np.abs(frame[950:1850, 0].astype(int) - expected.astype(int)).max() <= 1


def test_notes_decoded_while_stitching_equal_decoding_the_whole_posteriorgram(tiny_model_file):
    """The pipeline decodes each window's frames as they are stitched and keeps a long song's
    posteriorgrams max-pooled: the notes are those of the song-long posteriorgrams decoded at once
    (held notes cross windows), and the kept posteriorgram is their max over 4 frames."""
    from jointist.postprocess import decode_tracks
    from jointist.results import Posteriorgram

    audio = sine_notes([(0.5, 12.0, 60), (8.7, 9.6, 64), (17.9, 19.3, 67), (21.0, 27.5, 45)], 30.0)
    wanted = [by_name("piano"), by_name("bass"), by_name("strings")]
    transcriber = Transcriber(tiny_model_file, progress=False, max_posteriorgram_frames=800)
    transcriber.model = perturb(transcriber.model)  # instruments that differ
    result = transcriber.transcribe_audio(audio, instruments=wanted)
    onset, frame = transcriber.posteriorgrams(audio, wanted)
    whole = decode_tracks(onset, frame, [i.index for i in wanted], config=transcriber.decode, scale=Posteriorgram.SCALE)
    assert sum(len(n) for n in whole.values()) > 10
    for j, track in enumerate(result.tracks):
        expected = whole[track.instrument.index]
        assert np.array_equal(track.notes.onset_s, expected.onset_s) and np.array_equal(track.notes.offset_s, expected.offset_s)
        assert np.array_equal(track.notes.pitch, expected.pitch)
        assert track.frame.codes.shape == (751, 88) and track.frame.fps == 25.0  # 3001 frames pooled by 4
        assert np.array_equal(track.frame.codes[:750], frame[:3000, j].reshape(750, 4, 88).max(axis=1))
        assert np.array_equal(track.onset.codes[-1], onset[3000, j])
    assert max(float((n.offset_s - n.onset_s).max()) for n in whole.values() if len(n)) > 9.0  # across a window edge


def test_a_file_is_transcribed_window_by_window_as_if_loaded_whole(tiny_model_file, tmp_path):
    """transcribe_file never holds the recording: it decodes each window from the file (a 44.1 kHz
    stereo file resampled there), and gives the notes of the whole file loaded at once."""
    import soundfile as sf

    from jointist.audio.io import load_audio

    mono = sine_notes([(0.5, 12.0, 60), (8.7, 9.6, 64), (17.9, 19.3, 67)], 25.0)
    t = np.arange(int(25.0 * 44100)) / 44100
    wave = np.interp(t, np.arange(len(mono)) / 16000, mono).astype(np.float32)
    path = tmp_path / "song.flac"
    sf.write(path, np.stack([wave, 0.5 * wave], 1), 44100)
    transcriber = Transcriber(tiny_model_file, progress=False)
    wanted = ["piano", "bass"]
    from_file = transcriber.transcribe_file(path, instruments=wanted)
    loaded = transcriber.transcribe_audio(load_audio(path), instruments=wanted, source=str(path))
    assert from_file.duration_s == loaded.duration_s == pytest.approx(25.0) and from_file.source == str(path)
    assert sum(len(t.notes) for t in loaded.tracks) > 0
    for a, b in zip(from_file.tracks, loaded.tracks):
        assert np.allclose(a.notes.onset_s, b.notes.onset_s) and np.allclose(a.notes.offset_s, b.notes.offset_s)
        assert np.abs(a.frame.codes.astype(int) - b.frame.codes.astype(int)).max() <= 1


def test_a_song_is_heard_at_the_training_level_whatever_its_own(tiny_model_file, tiny_recognizer_file, tmp_path):
    """The models only heard mixtures peaking at 0.8 (jointist-synth's level): a song 26 dB quieter
    gives the same posteriorgrams and notes as the same song at 0.8, read from an array or a file,
    and the recognizer's window probabilities do not move either; with ``input_peak=None`` the
    model hears the level as given, and (log features) its posteriorgrams change."""
    from jointist.audio.io import AudioFile, peak_amplitude, write_audio
    from jointist.pipeline import Recognizer

    song = sine_notes([(0.5, 2.0, 60), (3.0, 4.5, 64), (5.0, 7.0, 43)], 12.0)
    loud = song * np.float32(0.8 / np.abs(song).max())
    quiet = loud * np.float32(0.05)
    path = write_audio(tmp_path / "quiet.wav", quiet, subtype="FLOAT")
    assert peak_amplitude(AudioFile(path)) == pytest.approx(peak_amplitude(quiet)) == pytest.approx(0.04)
    wanted = [by_name("piano"), by_name("bass")]
    levelled = Transcriber(tiny_model_file, progress=False)
    levelled.model = perturb(tiny_model("PitchwiseTranscriber"), 0.3).eval()  # outputs that follow the audio
    with torch.no_grad():
        levelled.model.onset_out.bias.fill_(1.0)
        levelled.model.refine[-1].bias.fill_(1.0)
    as_given = Transcriber(tiny_model_file, progress=False, input_peak=None)
    as_given.model = levelled.model
    reference = levelled.posteriorgrams(loud, wanted)
    for heard in (levelled.posteriorgrams(quiet, wanted), levelled.posteriorgrams(AudioFile(path), wanted)):
        for got, expected in zip(heard, reference):
            assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1
    assert np.abs(as_given.posteriorgrams(quiet, wanted)[1].astype(int) - reference[1].astype(int)).max() > 10
    notes = [levelled.transcribe_audio(x, instruments=wanted).tracks for x in (loud, quiet)]
    assert [len(t.notes) for t in notes[0]] == [len(t.notes) for t in notes[1]] and len(notes[0][0].notes) > 0
    recognizers = [Recognizer(tiny_recognizer_file, input_peak=peak) for peak in (0.8, None)]
    for recognizer in recognizers:  # not saturated: its probabilities can move with the level
        recognizer.model = perturb(tiny_model("InstrumentRecognizer"), 0.2).eval()
    probs = [[r.window_probabilities(x) for x in (quiet, loud)] for r in recognizers]
    np.testing.assert_allclose(probs[0][0], probs[0][1], atol=1e-4)
    assert np.abs(probs[1][0] - probs[1][1]).max() > 1e-2
    for bad in (0.0, 1.5, -0.8, "loud", True):
        with pytest.raises(ValueError, match="input_peak"):
            Transcriber(tiny_model_file, input_peak=bad)


def test_instruments_in_groups_equal_one_pass(tiny_model_file):
    audio = sine_notes([(0.5, 2.0, 60), (3.0, 4.0, 45)], 12.0)
    wanted = [INSTRUMENTS[c] for c in (0, 5, 10, 20, 38)]
    model = perturb(Transcriber(tiny_model_file, progress=False).model)  # FiLM starts as the identity
    grouped = Transcriber(tiny_model_file, progress=False, instruments_per_pass=2)
    single = Transcriber(tiny_model_file, progress=False, instruments_per_pass=8)
    grouped.model = single.model = model
    a, b = grouped.posteriorgrams(audio, wanted), single.posteriorgrams(audio, wanted)
    assert a[0].shape == (1201, 5, 88)
    assert np.abs(a[0].astype(int) - b[0].astype(int)).max() <= 1 and np.abs(a[1].astype(int) - b[1].astype(int)).max() <= 1
    assert not np.array_equal(a[1][:, 0], a[1][:, 1])  # the rows really are different instruments


class ReadsThePosteriorgram:
    """A stage after the transcriber (where a separator goes): per window, the mean frame probability
    of each instrument, read from the transcriber's output for the same windows."""

    name = "separate"

    def __call__(self, audio: torch.Tensor, previous: dict[str, StageOutput], windows) -> dict[str, StageOutput]:
        assert [w.start_frame for w in windows] in ([0, 900], [1800])  # batches of 2 windows, 9 s apart
        frame = previous["frame"]
        assert frame.kind == "frames" and frame.value.shape[:2] == (len(audio), 1001)
        return {"mean_frame": StageOutput(frame.value.mean(dim=(1, 3)), "window")}


def test_stages_run_in_order_on_the_same_windows_and_are_stitched_by_kind(tiny_model_file):
    model = Transcriber(tiny_model_file, progress=False).model
    audio = sine_notes([(0.5, 2.0, 60)], 20.0)
    chunker = Chunker()
    stages = [RecognizeStage(confident_recognizer()), TranscribeStage(model, [0, 10]), ReadsThePosteriorgram()]
    out = run_stages(audio, stages, chunker=chunker, batch_size=2)
    windows = len(chunker.windows(len(audio)))
    assert windows == 3 and out["class_probs"].shape == (3, 39) and out["mean_frame"].shape == (3, 2)
    assert (out["class_probs"][:, [0, 10]] > 0.99).all() and (np.delete(out["class_probs"], [0, 10], axis=1) < 0.01).all()
    assert out["onset"].shape == out["frame"].shape == (2001, 2, 88) and out["frame"].dtype == np.uint8
    # the later stage saw the float frame probabilities of its own windows, before they were encoded
    first_window = out["frame"][:1001].astype(np.float32) / 255
    assert out["mean_frame"][0] == pytest.approx(first_window.mean(axis=(0, 2)), abs=1 / 255)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        run_stages(audio, stages, chunker=chunker, batch_size=0)


def test_api_errors(tiny_model_file, tmp_path):
    transcriber = Transcriber(tiny_model_file, progress=False)
    with pytest.raises(UnknownInstrumentError, match="valid names"):
        transcriber.transcribe_audio(np.ones(16_000, np.float32), instruments=["theremin"])
    with pytest.raises(SilentAudioError):
        transcriber.transcribe_audio(np.zeros(16_000, np.float32), instruments=["piano"])
    with pytest.raises(ValueError, match="mono"):
        transcriber.transcribe_audio(np.ones((2, 16_000), np.float32), instruments=["piano"])
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"not an mp3 at all" * 20)
    with pytest.raises(AudioError, match="cannot read"):
        transcriber.transcribe_file(bad, instruments=["piano"])
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(tiny_model_file.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="corrupt"):
        Transcriber(corrupt)
    with pytest.raises(CheckpointError, match="holds no transcriber"):
        Transcriber(save_models({"recognizer": (confident_recognizer(), confident_recognizer().card())}, tmp_path / "r.pt"))
    with pytest.raises(ValueError, match="instruments_per_pass must be >= 1"):
        Transcriber(tiny_model_file, instruments_per_pass=0)


def test_auto_runs_the_recognizer_then_transcribes_what_it_found(tiny_model_file, tiny_recognizer_file, song):
    result = jointist.transcribe(song, instruments="auto", model=tiny_model_file, recognizer=tiny_recognizer_file)
    assert [t.instrument.name for t in result.tracks] == ["Piano", "Bass"]
    assert set(result.detected) == {"Piano", "Bass"} and all(p > 0.99 for p in result.detected.values())
    assert json.loads(transcription_json(result))["detected"].keys() == {"Piano", "Bass"}
    # a user's list bypasses the recognizer
    named = jointist.transcribe(song, instruments=["drums"], model=tiny_model_file, recognizer="/nonexistent.pt")
    assert [t.instrument.name for t in named.tracks] == ["Drums"] and named.detected == {}


def test_a_file_with_a_recognizer_and_a_transcriber_needs_nothing_else_for_auto(tmp_path):
    transcriber = tiny_model()
    recognizer = confident_recognizer([38])  # only drums
    both = save_models({"transcriber": (transcriber, transcriber.card()), "recognizer": (recognizer, recognizer.card())},
                       tmp_path / "model.pt")
    result = Transcriber(both, progress=False).transcribe_audio(sine_notes([(0.5, 1.0, 60)], 3.0), instruments="auto")
    assert list(result.detected) == ["Drums"] and [t.instrument.name for t in result.tracks] == ["Drums"]


class Oracle:
    """A transcriber that answers with notes given per class (the evaluation only calls transcribe_audio)."""

    def __init__(self, notes: dict[int, NoteArray]) -> None:
        self.known = notes

    def transcribe_audio(self, audio: np.ndarray, *, instruments: list[int], source: str | None = None,
                         **options: object) -> Transcription:
        empty = Posteriorgram(np.zeros((1, 88), np.uint8))
        tracks = [InstrumentResult(INSTRUMENTS[c], self.known.get(c, NoteArray.empty()), empty, empty) for c in instruments]
        return Transcription(len(audio) / 16_000, tracks, source=source)


def test_evaluation_on_a_split_scores_what_the_transcriber_returns(tmp_path):
    root = tmp_path / "corpus"
    piano, drums = [(0.5, 1.0, 60), (1.5, 2.0, 64)], [(1.0, 1.1, 36)]
    write_track(root / "test", "Track00001", {
        "S00": {"program": 0, "notes": piano}, "S01": {"program": 0, "is_drum": True, "notes": drums},
    }, duration_s=3.0)
    truth = {0: NoteArray.from_arrays([0.5, 1.5], [1.0, 2.0], [60, 64]), 38: NoteArray.from_arrays([1.0], [1.1], [36])}
    perfect, pieces = evaluate_split(Oracle(truth), root, "test", instruments="gt", progress=False)
    assert pieces[0].reference == (0, 38) and perfect.pieces == 1
    assert perfect.flat["onset"] == perfect.instrumentwise["onset"] == 1.0
    no_drums, _ = evaluate_split(Oracle({0: truth[0]}), root, "test", instruments="gt", progress=False)
    assert no_drums.instrumentwise["onset"] == pytest.approx(0.5) and no_drums.per_instrument["Drums"]["onset"] == 0.0
    extra = {**truth, 10: NoteArray.from_arrays([0.2], [0.4], [40])}  # a bass note where there is no bass
    everything, _ = evaluate_split(Oracle(extra), root, "test", instruments="all", progress=False)
    assert everything.instrumentwise["onset"] == 1.0 > everything.instrumentwise_penalised["onset"]
    assert everything.per_instrument["Bass"]["predicted_absent"] == 1
    paths = write_report(everything, tmp_path / "eval")
    assert json.loads(paths["json"].read_text())["pieces"] == 1
    assert "multi-instrument" in paths["markdown"].read_text() and paths["chart"].stat().st_size > 1000


def test_a_splits_posteriorgrams_are_cached_per_song_and_read_back_unchanged(tiny_model_file, shared_mini_corpus, tmp_path):
    from jointist.evaluation import posteriorgrams_of_split, split_score
    from jointist.postprocess import DecodeConfig

    transcriber = Transcriber(tiny_model_file, progress=False)
    cache = tmp_path / "cache"
    first = posteriorgrams_of_split(transcriber, shared_mini_corpus, "train", cache=cache)
    assert [song[0] for song in first] == ["Track00001", "Track00002"]
    assert sorted(p.name for p in cache.iterdir()) == ["Track00001.npz", "Track00002.npz"]  # no temporary left
    tid, ref, classes, onset, frame, offsets = first[0]
    assert offsets is None  # a model without an offset head
    assert classes == sorted(ref) and onset.dtype == np.uint8 and onset.shape == frame.shape == (301, len(classes), 88)
    again = posteriorgrams_of_split(Transcriber(tiny_model_file, progress=False), shared_mini_corpus, "train", cache=cache,
                                    max_tracks=1)
    assert len(again) == 1 and np.array_equal(again[0][3], onset) and np.array_equal(again[0][4], frame)
    (cache / "Track00001.npz").write_bytes(b"")  # the cache is what is read: a song's file stands for its model
    with pytest.raises(ValueError, match="Track00001.npz: not a readable posteriorgram cache file"):
        posteriorgrams_of_split(transcriber, shared_mini_corpus, "train", cache=cache)
    fresh = posteriorgrams_of_split(transcriber, shared_mini_corpus, "train")
    assert split_score(fresh, DecodeConfig(), "balanced") == split_score(first, DecodeConfig(), "balanced")


def test_a_model_with_an_offset_head_ends_notes_where_it_says(tmp_path, shared_mini_corpus):
    """The offset head's probabilities travel with the posteriorgrams (and into a split's cache), and
    the notes decoded while the windows are stitched end at their peaks."""
    from jointist.evaluation import posteriorgrams_of_split, split_report
    from jointist.models.serialize import save_model
    from jointist.postprocess import DecodeConfig, decode_tracks

    model = perturb(tiny_model("PitchwiseTranscriber", offset=True), scale=0.2)
    with torch.no_grad():  # notes come out and last; offsets peak now and then
        model.onset_out.bias.fill_(2.0)
        model.refine[-1].bias.fill_(4.0)
        model.offset_out.bias.fill_(0.5)
    path = save_model(model, tmp_path / "offsets.pt", card=model.card(decode={"onset_threshold": 0.5,
                                                                             "frame_threshold": 0.5}))
    transcriber = Transcriber(path, progress=False)
    audio = sine_notes([(0.5, 12.0, 60), (8.7, 9.6, 64), (17.9, 19.3, 67)], 20.0)
    wanted = [by_name("piano"), by_name("bass")]
    out = transcriber.all_posteriorgrams(audio, wanted)
    assert sorted(out) == ["frame", "offset", "onset"] and out["offset"].shape == out["onset"].shape == (2001, 2, 88)
    plain = transcriber.transcribe_audio(audio, instruments=wanted)
    transcriber.decode = DecodeConfig(onset_threshold=0.5, frame_threshold=0.5, offset_threshold=0.5)
    ended = transcriber.transcribe_audio(audio, instruments=wanted)
    classes = [i.index for i in wanted]
    expected = decode_tracks(out["onset"], out["frame"], classes, config=transcriber.decode, scale=Posteriorgram.SCALE,
                             offsets=out["offset"])
    for track in ended.tracks:
        assert np.array_equal(track.notes.offset_s, expected[track.instrument.index].offset_s)
    shorter = sum(len(t.notes) for t in ended.tracks), sum(float((t.notes.offset_s - t.notes.onset_s).sum()) for t in ended.tracks)
    longer = sum(len(t.notes) for t in plain.tracks), sum(float((t.notes.offset_s - t.notes.onset_s).sum()) for t in plain.tracks)
    assert shorter[1] < longer[1]  # the same onsets, ended earlier
    cached = posteriorgrams_of_split(transcriber, shared_mini_corpus, "train", cache=tmp_path / "cache")
    again = posteriorgrams_of_split(transcriber, shared_mini_corpus, "train", cache=tmp_path / "cache")
    assert cached[0][5] is not None and np.array_equal(again[0][5], cached[0][5])
    with_offsets = split_report(again, transcriber.decode)
    without = split_report([song[:5] for song in again], transcriber.decode)
    assert with_offsets.flat != without.flat
