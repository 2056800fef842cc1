"""Issue 13: bad inputs and outputs.

1. A MIDI file with more than 15 pitched tracks plays each with its own program (ports beyond 15).
2. Recordings sharing an output folder keep their own results; results of another recording are not
   overwritten unless ``overwrite=true``; ``audio=`` takes a folder or a list.
3. The output folder (and every other argument) is checked before any audio or model is loaded.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict

import mido
import pytest
import soundfile as sf

from jointist.cli import transcribe
from jointist.constants import SAMPLE_RATE
from jointist.export import OutputPaths, output_names
from jointist.instruments import DRUMS, INSTRUMENTS
from jointist.midi import assign_channels, read_midi, write_midi
from jointist.notes import NoteArray
from tests.conftest import run_command, sine_notes

# -- 1. MIDI channels and ports -------------------------------------------------------------------


def _programs_by_port_and_channel(path) -> tuple[dict[tuple[int, int], set[int]], dict[str, set[int]]]:
    """(port, channel) -> programs changed to there, and track name -> channels its notes use."""
    programs: dict[tuple[int, int], set[int]] = defaultdict(set)
    note_channels: dict[str, set[int]] = defaultdict(set)
    for track in mido.MidiFile(str(path)).tracks:
        port, name = 0, ""
        for msg in track:
            if msg.type == "midi_port":
                port = msg.port
            elif msg.type == "track_name":
                name = msg.name
            elif msg.type == "program_change":
                programs[(port, msg.channel)].add(msg.program)
            elif msg.type == "note_on":
                note_channels[name].add(msg.channel)
    return programs, note_channels


def test_all_39_instruments_each_play_their_own_program(tmp_path):
    tracks = {inst: NoteArray.from_arrays([0.5], [1.0], [60 if not inst.is_drum else 36]) for inst in INSTRUMENTS}
    path = write_midi(tracks, tmp_path / "all.mid")
    programs, note_channels = _programs_by_port_and_channel(path)
    assert sum(len(p) for p in programs.values()) == 39  # one (port, channel) per track
    assert all(len(p) == 1 for p in programs.values()), {k: v for k, v in programs.items() if len(v) > 1}
    assert note_channels[DRUMS.name] == {9}
    assert all(9 not in channels for name, channels in note_channels.items() if name != DRUMS.name)
    assert sorted(read_midi(path)) == list(range(39))  # every class reads back


def test_channel_assignment_is_pretty_midis_up_to_15_tracks_then_ports():
    assert assign_channels([False] * 3 + [True]) == [(0, 0), (0, 1), (0, 2), (0, 9)]
    slots = assign_channels([False] * 38 + [True])
    assert slots[8:11] == [(0, 8), (0, 10), (0, 11)] and slots[14:16] == [(0, 15), (1, 0)] and slots[-1] == (2, 9)
    assert len(set(slots)) == 39


# -- 2. output names and overwriting ----------------------------------------------------------------


def test_output_names_are_stems_unless_two_inputs_share_one(tmp_path):
    assert output_names([tmp_path / "song.wav", tmp_path / "song.flac", tmp_path / "other.mp3"]) == [
        "song.wav", "song.flac", "other"]
    assert output_names([tmp_path / "a" / "song.wav"]) == ["song"]
    with pytest.raises(ValueError, match="would both write song.wav"):
        output_names([tmp_path / "a" / "song.wav", tmp_path / "b" / "song.wav"])


def test_output_paths_know_whose_results_are_there(tmp_path):
    paths = OutputPaths(tmp_path, "song")
    assert paths.conflict(tmp_path / "song.wav") is None  # nothing there yet
    paths.json.write_text(json.dumps({"source": str(tmp_path / "song.wav")}))
    assert paths.conflict(tmp_path / "song.wav") is None
    assert "holds the results for" in paths.conflict(tmp_path / "song.flac")
    paths.json.unlink()
    paths.midi.write_bytes(b"MThd")
    assert "song.mid exists" in paths.conflict(tmp_path / "song.wav")


@pytest.fixture
def short_songs(tmp_path):
    """songs/song.wav and songs/song.flac (3 s each, different notes) and songs/notes.txt."""
    folder = tmp_path / "songs"
    folder.mkdir()
    sf.write(folder / "song.wav", sine_notes([(0.5, 1.0, 60)], 3.0), SAMPLE_RATE)
    sf.write(folder / "song.flac", sine_notes([(1.0, 2.0, 64)], 3.0), SAMPLE_RATE)
    (folder / "notes.txt").write_text("not audio")
    return folder


def args(model, *extra: str) -> list[str]:
    return ["instruments=[piano]", f"ckpt={model}", "progress=false", *extra]


def test_a_folder_of_recordings_writes_each_under_its_own_name(tiny_model_file, short_songs, tmp_path, capsys):
    out = tmp_path / "out"
    assert run_command(transcribe.main, f"audio={short_songs}", f"out={out}", *args(tiny_model_file)) == 0
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == ["song.flac.json", "song.flac.mid", "song.flac.pianoroll/piano.png",
                     "song.wav.json", "song.wav.mid", "song.wav.pianoroll/piano.png"]
    for name in ("song.flac", "song.wav"):
        assert json.loads((out / f"{name}.json").read_text())["source"] == str(short_songs / name)
    progress = [line for line in capsys.readouterr().out.splitlines() if "] " in line and "->" in line]
    assert len(progress) == 2 and "[1/2]" in progress[0] and "song.flac" in progress[0]  # sorted


def test_results_of_another_recording_are_kept_unless_overwrite(tiny_model_file, short_songs, tmp_path, capsys):
    out = tmp_path / "out"
    assert run_command(transcribe.main, f"audio={short_songs / 'song.wav'}", f"out={out}", *args(tiny_model_file)) == 0
    assert run_command(transcribe.main, f"audio={short_songs / 'song.wav'}", f"out={out}", *args(tiny_model_file)) == 0
    before = (out / "song.json").read_text()
    capsys.readouterr()
    # song.flac alone would also write song.*: refused, naming the file and the option
    assert run_command(transcribe.main, f"audio={short_songs / 'song.flac'}", f"out={out}", *args(tiny_model_file)) == 2
    printed = capsys.readouterr().out
    assert str(out / "song.json") in printed and "overwrite=true" in printed
    assert (out / "song.json").read_text() == before
    assert run_command(transcribe.main, f"audio={short_songs / 'song.flac'}", f"out={out}",
                       *args(tiny_model_file, "overwrite=true")) == 0
    assert json.loads((out / "song.json").read_text())["source"] == str(short_songs / "song.flac")


def test_a_bad_file_is_reported_and_the_others_still_run(tiny_model_file, short_songs, tmp_path, capsys):
    (short_songs / "broken.wav").write_bytes(b"RIFF garbage")
    out = tmp_path / "out"
    listed = f"audio=[{short_songs / 'broken.wav'},{short_songs / 'song.wav'}]"
    assert run_command(transcribe.main, listed, f"out={out}", *args(tiny_model_file, "plots=false")) == 2
    printed = capsys.readouterr().out
    assert "broken.wav" in printed and "1 of the recordings failed" in printed
    assert sorted(p.name for p in out.iterdir()) == ["song.json", "song.mid"]


# -- 3. arguments checked before anything is loaded ----------------------------------------------------


@pytest.fixture
def nothing_loads(monkeypatch):
    """Fail the test if a model or any audio is loaded."""
    def refuse(*_args, **_kwargs):
        raise AssertionError("loaded before the arguments were checked")

    monkeypatch.setattr("jointist.cli.inference.build_transcriber", refuse)
    monkeypatch.setattr("jointist.pipeline.Transcriber.__init__", refuse)
    monkeypatch.setattr("jointist.audio.io.load_audio", refuse)


def test_an_output_folder_that_is_a_file_fails_at_once(tiny_model_file, song, tmp_path, capsys, nothing_loads):
    taken = tmp_path / "results"
    taken.write_text("a file")
    for out in (taken, taken / "sub"):
        start = time.perf_counter()
        assert run_command(transcribe.main, f"audio={song}", f"out={out}", *args(tiny_model_file)) == 2
        assert time.perf_counter() - start < 5.0
        printed = capsys.readouterr().out
        assert f"out={out}" in printed and "Traceback" not in printed
    assert taken.read_text() == "a file"


def test_other_bad_arguments_fail_before_loading(tiny_model_file, short_songs, song, tmp_path, capsys, nothing_loads):
    out = tmp_path / "out"
    cases = [
        ([f"audio={tmp_path / 'empty'}"], "holds no"),
        ([f"audio=[{song},{tmp_path / 'missing.wav'}]"], "audio file not found"),
        ([f"audio={song}", "stems_sample_rate=fast"], "stems_sample_rate=fast"),
        ([f"audio={song}", f"separator={tmp_path / 'none.pt'}"], "checkpoint not found"),
        ([f"audio={short_songs / 'song.wav'}", f"score={tmp_path / 'none.mid'}"], "no such MIDI file"),
    ]
    (tmp_path / "empty").mkdir()
    for extra, message in cases:
        assert run_command(transcribe.main, f"out={out}", *args(tiny_model_file), *extra) == 2, extra
        assert message in capsys.readouterr().out, extra
    out.mkdir()
    (out / "song.json").write_text(json.dumps({"source": "elsewhere/song.wav"}))
    assert run_command(transcribe.main, f"audio={song}", f"out={out}", *args(tiny_model_file)) == 2
    assert "holds the results for elsewhere/song.wav" in capsys.readouterr().out


def test_write_outputs_with_folders_per_name_keeps_each_recordings_rolls_and_stems(tmp_path):
    import numpy as np

    from jointist.export import write_outputs
    from jointist.instruments import by_name
    from jointist.results import InstrumentResult, Posteriorgram, Transcription

    frame = Posteriorgram(np.zeros((100, 88), np.uint8))
    for name in ("a", "b"):
        piano = InstrumentResult(by_name("piano"), NoteArray.from_arrays([0.1], [0.5], [60]), frame, frame,
                                 stem=np.zeros(16_000, np.float32))
        written = write_outputs(Transcription(1.0, [piano], source=f"{name}.wav"), tmp_path, name=name,
                                folders_per_name=True)
        assert written["pianoroll/piano"] == tmp_path / f"{name}.pianoroll" / "piano.png"
        assert written["stems/piano"] == tmp_path / f"{name}.stems" / "piano.wav"
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert files == ["a.json", "a.mid", "a.pianoroll/piano.png", "a.stems/piano.wav",
                     "b.json", "b.mid", "b.pianoroll/piano.png", "b.stems/piano.wav"]
