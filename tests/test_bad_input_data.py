"""Bad input data (issue 13): a corpus that carries code, a stale index, numbers read as instruments,
thresholds out of range, NaN in reports, clipped recordings. Each is refused, fixed or reported clearly."""

from __future__ import annotations

import json
import logging
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pretty_midi
import pytest
import soundfile as sf

from jointist.audio.io import clipped_fraction, load_audio
from jointist.cli import evaluate, transcribe
from jointist.cli.inference import instrument_request
from jointist.constants import SAMPLE_RATE
from jointist.data.slakh import load_index
from jointist.evaluation import write_recognition_report, write_report
from jointist.instruments import INSTRUMENTS, UnknownInstrumentError, by_name, parse_instruments
from jointist.metrics import RecognitionReport, evaluate_piece, summarise
from jointist.postprocess import DecodeConfig, DecodeConfigError
from tests.conftest import note_array, run_command, write_track

# -- 1. a cached index that would run code ------------------------------------------------------


class RunsCode:
    """Unpickling this calls ``call(*args)``."""

    def __init__(self, call: Any, *args: Any) -> None:
        self.call, self.args = call, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.call, self.args


def crafted_index(path: Path, marker: Path) -> Path:
    """An old-style index cache (a pickle) at ``path`` that creates ``marker`` when unpickled."""
    payload = {"fingerprint": "anything", "tracks": [RunsCode(os.system, f"touch '{marker}'"),
                                                     RunsCode(Path.touch, marker)]}
    path.write_bytes(pickle.dumps(payload))
    pickle.loads(path.read_bytes())  # the file is really crafted: unpickling it runs its code
    assert marker.exists()
    marker.unlink()
    return path


@pytest.mark.parametrize("name", [".jointist_index.pkl", ".jointist_index.npz"])
def test_a_crafted_index_cache_never_runs_and_the_tracks_are_right(hand_corpus, tmp_path, name):
    marker = tmp_path / "ran"
    crafted_index(hand_corpus / "train" / name, marker)
    for _ in range(2):  # built, then read from its own cache
        tracks = load_index(hand_corpus, "train")
        assert not marker.exists()
        assert [t.track_id for t in tracks] == ["Track00001", "Track00002"]
        assert [s.instrument for s in tracks[0].stems] == [0, 10, 38]
        assert tracks[0].stems[0].notes.pitch.tolist() == [60, 64, 67]
    with np.load(hand_corpus / "train" / ".jointist_index.npz", allow_pickle=False) as data:  # plain arrays only
        assert all(data[k].dtype != object for k in data.files)


def test_the_cached_index_equals_a_fresh_one(hand_corpus):
    meta_path = hand_corpus / "train" / "Track00001" / "metadata.yaml"
    meta_path.write_text(meta_path.read_text() + "tempo_bpm: 96.5\nkey_tonic: 7\nkey_mode: Dorian\nstyle: funk\n")
    fresh = load_index(hand_corpus, "train", use_cache=False)
    load_index(hand_corpus, "train")
    cached = load_index(hand_corpus, "train")
    assert [t.track_id for t in cached] == [t.track_id for t in fresh]
    for a, b in zip(cached, fresh, strict=True):
        assert (a.path, a.mix_path, a.duration_s, a.tempo_bpm, a.key_tonic, a.key_mode, a.style) == (
            b.path, b.mix_path, b.duration_s, b.tempo_bpm, b.key_tonic, b.key_mode, b.style)
        for s, t in zip(a.stems, b.stems, strict=True):
            assert (s.stem_id, s.program, s.is_drum, s.instrument, s.audio_path) == (
                t.stem_id, t.program, t.is_drum, t.instrument, t.audio_path)
            for field in ("onset_s", "offset_s", "pitch", "velocity"):
                assert np.array_equal(getattr(s.notes, field), getattr(t.notes, field))
                assert getattr(s.notes, field).dtype == getattr(t.notes, field).dtype
    assert (cached[0].tempo_bpm, cached[0].key_tonic, cached[0].key_mode, cached[0].style) == (96.5, 7, "dorian", "funk")


# -- 2. a stale index -------------------------------------------------------------------------------


def write_midi(path: Path, notes: list[tuple[float, float, int]], *, program: int = 0) -> None:
    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    inst = pretty_midi.Instrument(program=program)
    inst.notes = [pretty_midi.Note(100, p, on, off) for on, off, p in notes]
    pm.instruments.append(inst)
    pm.write(str(path))


def test_an_edited_midi_file_is_read_again(hand_corpus):
    assert load_index(hand_corpus, "train")[0].stems[0].notes.pitch.tolist() == [60, 64, 67]
    write_midi(hand_corpus / "train" / "Track00001" / "MIDI" / "S00.mid", [(0.5, 1.0, 72), (1.0, 1.5, 74), (2.0, 2.5, 76),
                                                                           (3.0, 3.5, 77)])
    assert load_index(hand_corpus, "train")[0].stems[0].notes.pitch.tolist() == [72, 74, 76, 77]
    assert load_index(hand_corpus, "train")[0].stems[0].notes.pitch.tolist() == [72, 74, 76, 77]  # and cached


def test_a_track_skipped_for_a_missing_midi_file_comes_back_when_it_appears(hand_corpus):
    midi = hand_corpus / "train" / "Track00002" / "MIDI" / "S00.mid"
    saved = midi.read_bytes()
    midi.unlink()
    assert [t.track_id for t in load_index(hand_corpus, "train")] == ["Track00001"]
    midi.write_bytes(saved)
    assert [t.track_id for t in load_index(hand_corpus, "train")] == ["Track00001", "Track00002"]


def test_a_new_track_folder_is_indexed(hand_corpus):
    load_index(hand_corpus, "train")
    write_track(hand_corpus / "train", "Track00003", {"S00": {"program": 33, "notes": [(0.1, 0.5, 40)]}}, duration_s=1.0)
    assert [t.track_id for t in load_index(hand_corpus, "train")][-1] == "Track00003"


# -- 3. numbers read as instruments -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "named"),
    [([1.5], "1.5"), ([True], "True"), ([False], "False"), (["-1"], "'-1'"), ([-1], "-1"), ([39], "39"), (["39"], "39"),
     ("[1.5]", "'1.5'"), (["1e3"], "'1e3'"), (["nan"], "'nan'"), ([2.0], "2.0"), ([None], "None")],
)
def test_numbers_that_are_not_class_indices_are_refused(value, named):
    with pytest.raises(UnknownInstrumentError) as err:
        parse_instruments(value)
    message = str(err.value)
    assert named in message and "0..38" in message
    for slug in ("piano", "electric_piano", "strings", "drums"):
        assert slug in message


def test_names_aliases_and_indices_still_work():
    assert [i.name for i in parse_instruments(["piano", "e-guitar", 10, "38", " 3 ", np.int64(0)])] == [
        "Piano", "Electric Guitar", "Bass", "Drums", INSTRUMENTS[3].name]
    assert [i.name for i in parse_instruments("[drums, 0]")] == ["Drums", "Piano"]
    assert len(parse_instruments("all")) == len(parse_instruments(["all"])) == 39
    assert by_name("Synth Brass 1") == by_name("Synth Brass 2")  # GM program names with digits are names
    assert instrument_request("auto") == "auto" and instrument_request("all") == "all"


def test_a_single_value_on_the_command_line_is_a_list_of_one():
    assert instrument_request(5) == [5] and instrument_request(True) == [True]
    with pytest.raises(UnknownInstrumentError, match="boolean"):
        parse_instruments(instrument_request(True))


def test_the_command_refuses_a_float_instrument_with_exit_status_2(tiny_model_file, song, tmp_path, capsys):
    out = tmp_path / "o"
    assert run_command(transcribe.main, f"audio={song}", "instruments=[1.5]", f"ckpt={tiny_model_file}", f"out={out}",
                       "progress=false") == 2
    captured = capsys.readouterr()
    assert "1.5" in captured.out and "Traceback" not in captured.out + captured.err


# -- 4. thresholds out of range -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("onset_threshold", 5, r"decode.onset_threshold must be in \[0, 1\].*got 5"),
        ("onset_threshold", -0.1, r"onset_threshold must be in \[0, 1\]"),
        ("frame_threshold", 1.01, r"frame_threshold must be in \[0, 1\]"),
        ("frame_threshold", float("nan"), r"frame_threshold must be in \[0, 1\]"),
        ("shared_onset_ratio", 2.0, r"shared_onset_ratio must be in \[0, 1\]"),
        ("min_note_s", -0.01, "min_note_s must be a duration >= 0"),
        ("drum_note_s", -1.0, "drum_note_s must be a duration >= 0"),
        ("onset_frames", 0, "onset_frames must be >= 1"),
        ("onset_frames", 1.5, "onset_frames must be an integer"),
        ("velocity", 0, "velocity must be a MIDI velocity in 1..127"),
        ("velocity", 128, "velocity must be a MIDI velocity in 1..127"),
        ("onset_threshold", "0.5", "onset_threshold must be a number"),
        ("onset_threshold", True, "onset_threshold must be a number"),
        ("class_thresholds", {"kazoo": [0.3, 0.2]}, "class_thresholds: unknown instrument 'kazoo'; valid names .*piano"),
        ("class_thresholds", {"piano": [0.3]}, r"class_thresholds.Piano must be \[onset, frame\]"),
        ("class_thresholds", {"bass": [0.3, 1.5]}, r"class_thresholds.Bass: the frame threshold must be in \[0, 1\], got 1.5"),
        ("class_thresholds", {"bass": [0.3, 0.2, 2]}, r"class_thresholds.Bass: the shared-onset ratio must be in \[0, 1\]"),
        ("class_thresholds", {"bass": [0.3, 0.2, None, 1.5]}, r"class_thresholds.Bass: the offset threshold must be in \[0, 1\] \(or null"),
        ("class_thresholds", {"bass": [None, 0.2]}, r"class_thresholds.Bass: the onset threshold must be in \[0, 1\], got None"),
        ("class_thresholds", {"piano": [0.3, 0.2], "Piano": [0.4, 0.2]}, "class_thresholds names Piano twice"),
        ("class_thresholds", "piano", "class_thresholds must map instrument names to"),
    ],
)
def test_decode_settings_out_of_range_are_refused(field, value, message):
    with pytest.raises(DecodeConfigError, match=message):
        DecodeConfig(**{field: value})
    assert issubclass(DecodeConfigError, ValueError)


def test_decode_settings_at_their_bounds_are_accepted():
    DecodeConfig(onset_threshold=0, frame_threshold=1, shared_onset_ratio=1.0, min_note_s=0, drum_note_s=0.0,
                 onset_frames=1, velocity=127)
    DecodeConfig(velocity=1, onset_frames=np.int64(3), onset_threshold=np.float32(0.3))


def test_the_commands_refuse_a_threshold_out_of_range_with_exit_status_2(tiny_model_file, song, tmp_path, capsys):
    out = tmp_path / "o"
    assert run_command(transcribe.main, f"audio={song}", "instruments=[piano]", f"ckpt={tiny_model_file}", f"out={out}",
                       "progress=false", "decode.onset_threshold=5") == 2
    captured = capsys.readouterr()
    assert "decode.onset_threshold must be in [0, 1]" in captured.out and "Traceback" not in captured.out + captured.err
    root = tmp_path / "corpus"
    write_track(root / "test", "Track00001", {"S00": {"program": 0, "notes": [(0.5, 1.0, 60)]}}, duration_s=2.0)
    assert run_command(evaluate.main, f"data_root={root}", f"ckpt={tiny_model_file}", f"out={tmp_path / 'eval'}",
                       "progress=false", "decode.frame_threshold=-0.5") == 2
    assert "decode.frame_threshold must be in [0, 1]" in capsys.readouterr().out


# -- 5. NaN in reports ------------------------------------------------------------------------------


def strict_loads(text: str) -> Any:
    def refuse(constant: str) -> None:
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_a_report_of_a_piece_without_reference_notes_is_strict_json(tmp_path):
    silent = evaluate_piece("silent", {}, {})
    only_predicted = evaluate_piece("extra", {}, {0: note_array([(0.5, 1.0, 60)])})
    report = summarise([silent, only_predicted])
    paths = write_report(report, tmp_path / "eval", meta={"bad": float("nan"), "inf": np.float32("inf")})
    doc = strict_loads(paths["json"].read_text())
    assert doc["piecewise"]["onset"] is None and doc["instrumentwise"]["offset"] is None
    assert doc["flat"]["onset"] == 0.0 and doc["bad"] is None and doc["inf"] is None
    assert doc["per_instrument"]["Piano"]["onset"] is None and doc["per_instrument"]["Piano"]["predicted_absent"] == 1
    markdown = paths["markdown"].read_text()
    assert "nan" not in markdown.lower() and "| n/a |" in markdown
    assert sum("n/a:" in line for line in markdown.splitlines()) == 1  # one line says what n/a means
    assert np.isnan(report.piecewise["onset"])  # the report itself keeps NaN for code that computes with it
    nothing = strict_loads(write_report(summarise([silent]), tmp_path / "nothing")["json"].read_text())
    assert nothing["flat"] == {"onset": None, "offset": None} and nothing["pieces"] == 1


def test_a_report_with_every_score_defined_has_no_na_note(tmp_path):
    piece = evaluate_piece("ok", {0: note_array([(0.5, 1.0, 60)])}, {0: note_array([(0.5, 1.0, 60)])})
    markdown = summarise([piece]).to_markdown()
    assert "n/a" not in markdown and "1.000" in markdown


def test_a_recognition_report_with_undefined_ap_is_strict_json(tmp_path):
    nan = float("nan")
    report = RecognitionReport(ap={"Piano": 1.0, "Bass": nan}, f1={"Piano": 1.0, "Bass": 0.0}, map_macro=1.0,
                               map_weighted=nan, f1_macro=1.0, f1_weighted=1.0, support={"Piano": 3, "Bass": 0})
    paths = write_recognition_report({"windows": report, "songs": report}, tmp_path / "rec")
    doc = strict_loads(paths["json"].read_text())
    assert doc["windows"]["ap"]["Bass"] is None and doc["songs"]["map_weighted"] is None
    assert doc["windows"]["ap"]["Piano"] == 1.0
    markdown = paths["markdown"].read_text()
    assert "nan" not in markdown.lower() and "| Bass | 0 | n/a | 0.000 |" in markdown and "n/a: undefined" in markdown


# -- 6. clipped input -------------------------------------------------------------------------------


def clipped_sine(duration_s: float, sample_rate: int, *, gain: float) -> np.ndarray:
    t = np.arange(int(duration_s * sample_rate)) / sample_rate
    return np.clip(gain * np.sin(2 * np.pi * 220 * t), -1.0, 1.0).astype(np.float32)


@pytest.mark.parametrize(("sample_rate", "subtype"), [(SAMPLE_RATE, "PCM_16"), (44_100, "PCM_24"), (SAMPLE_RATE, "FLOAT")])
def test_a_clipped_file_is_warned_about(tmp_path, caplog, sample_rate, subtype):
    path = tmp_path / "loud.wav"
    sf.write(path, clipped_sine(2.0, sample_rate, gain=3.0), sample_rate, subtype=subtype)
    with caplog.at_level(logging.WARNING, logger="jointist.audio.io"):
        load_audio(path)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and str(path) in warnings[0].getMessage() and "clipped" in warnings[0].getMessage()


def test_a_loud_but_unclipped_file_is_not_warned_about(tmp_path, caplog):
    path = tmp_path / "fine.wav"
    sine = clipped_sine(2.0, SAMPLE_RATE, gain=0.99)
    sine[:10] = 1.0  # a few full-scale samples (0.03%) are no clipping
    sf.write(path, sine, SAMPLE_RATE, subtype="FLOAT")
    with caplog.at_level(logging.WARNING, logger="jointist.audio.io"):
        load_audio(path)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert clipped_fraction(sine) == pytest.approx(10 / len(sine))
    assert clipped_fraction(np.zeros(0)) == 0.0


def test_the_command_prints_the_clipping_warning(tiny_model_file, tmp_path, capsys):
    path = tmp_path / "loud.wav"
    sf.write(path, clipped_sine(3.0, SAMPLE_RATE, gain=3.0), SAMPLE_RATE)
    assert run_command(transcribe.main, f"audio={path}", "instruments=[piano]", f"ckpt={tiny_model_file}",
                       f"out={tmp_path / 'o'}", "progress=false", "plots=false") == 0
    out = capsys.readouterr().out
    assert "loud.wav is clipped: 7" in out  # ~78% of the samples
