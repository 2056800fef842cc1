"""Writing results: MIDI, the notes as JSON, piano rolls and stems, each file written atomically."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from jointist.export import notes_to_json, transcription_json, write_outputs
from jointist.instruments import by_name
from jointist.midi import read_midi
from jointist.notes import NoteArray
from jointist.results import InstrumentResult, Posteriorgram, Transcription

PIANO = NoteArray.from_arrays([0.5, 1.23456], [1.0, 1.5], [60, 64], [90, 100])
BASS = NoteArray.from_arrays([0.25], [1.75], [40])


def result(*, stem: bool = False, detected: dict[str, float] | None = None) -> Transcription:
    frame = Posteriorgram(np.full((201, 88), 128, np.uint8))
    tracks = [InstrumentResult(by_name("piano"), PIANO, frame, frame, stem=np.full(32_000, 0.1, np.float32) if stem else None),
              InstrumentResult(by_name("bass"), BASS, frame, frame)]
    return Transcription(2.0, tracks, source="song.wav", detected=detected or {})


def test_notes_json_lists_each_instrument_with_its_program_and_notes():
    doc = json.loads(notes_to_json({10: BASS, 0: PIANO}, extra={"source": "x.wav"}))
    assert doc["source"] == "x.wav"
    assert [(i["name"], i["program"], i["is_drum"]) for i in doc["instruments"]] == [("Piano", 0, False), ("Bass", 32, False)]
    assert doc["instruments"][1]["notes"] == [{"onset_s": 0.25, "offset_s": 1.75, "pitch": 40, "velocity": 100}]
    assert doc["instruments"][0]["notes"][1]["onset_s"] == 1.2346  # times to 0.1 ms


def test_transcription_json_says_where_it_came_from_and_what_was_detected():
    doc = json.loads(transcription_json(result(detected={"Piano": 0.987654})))
    assert doc["source"] == "song.wav" and doc["duration_s"] == 2.0 and doc["detected"] == {"Piano": 0.9877}
    assert "detected" not in json.loads(transcription_json(result()))  # only with instruments=auto


def test_write_outputs_writes_midi_json_pianorolls_and_the_stems_there_are(tmp_path):
    written = write_outputs(result(stem=True), tmp_path / "out", name="song")
    assert sorted(written) == ["json", "midi", "pianoroll/bass", "pianoroll/piano", "stems/piano"]
    back = read_midi(written["midi"])
    assert sorted(back) == [0, 10] and back[0].pitch.tolist() == [60, 64] and back[0].velocity.tolist() == [90, 100]
    doc = json.loads(written["json"].read_text())
    assert [len(i["notes"]) for i in doc["instruments"]] == [2, 1]
    assert all(written[f"pianoroll/{slug}"].stat().st_size > 1000 for slug in ("piano", "bass"))
    stem, rate = sf.read(written["stems/piano"])
    assert rate == 16_000 and len(stem) == 32_000 and stem.max() == pytest.approx(0.1, abs=1e-3)
    files = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert files == ["pianoroll/bass.png", "pianoroll/piano.png", "song.json", "song.mid", "stems/piano.wav"]  # no temporaries


def test_write_outputs_without_plots_or_stems(tmp_path):
    written = write_outputs(result(stem=True), tmp_path, name="song", plots=False, stems=False)
    assert sorted(written) == ["json", "midi"] and not (tmp_path / "pianoroll").exists() and not (tmp_path / "stems").exists()


def test_a_stem_writer_that_is_aborted_leaves_no_file_behind(tmp_path):
    from jointist.export import StemWriter

    writer = StemWriter(tmp_path / "stems", ["piano", "bass"])
    writer(np.zeros((2, 1600), np.float32))
    writer.abort()
    assert list((tmp_path / "stems").iterdir()) == []
    done = StemWriter(tmp_path / "stems", ["piano"])
    done(np.full((1, 1600), 0.25, np.float32))
    assert [p.name for p in done.close()] == ["piano.wav"] and [p.name for p in (tmp_path / "stems").iterdir()] == ["piano.wav"]
