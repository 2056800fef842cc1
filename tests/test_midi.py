import hashlib

import mido
import numpy as np
import pytest

from jointist.data.composer import Stem
from jointist.instruments import DRUMS, by_index
from jointist.midi import (
    MidiReadError,
    read_midi,
    read_midi_notes,
    read_tracks,
    write_midi,
    write_song_midi,
)
from jointist.notes import NoteArray

# Times on the MIDI tick grid (1/1920 s at 120 bpm, 960 ticks per beat) and exact in binary, so a
# file read back gives exactly the notes written.
KNOWN = {
    0: NoteArray.from_arrays([0.0, 0.5, 0.5, 1.25], [0.5, 1.0, 2.0, 1.5], [60, 64, 67, 72], [100, 90, 80, 1]),
    10: NoteArray.from_arrays([0.25], [3.0], [40], [127]),
    DRUMS.index: NoteArray.from_arrays([1.0, 1.0, 2.0], [1.125, 1.125, 2.125], [36, 42, 38], [120, 64, 100]),
}


GOLDEN = {  # sha256 of the bytes the previous writer (postprocess.write_midi) produced for these tracks
    120.0: "60702eecb130dceea98bce925cd431e93b9f4c90024262a1392faef86960402f",
    97: "f25600e07e35c6601d1dd59c4f4de16e0702caf8ec6837c2b405e1df28c42acc",
}


def test_write_midi_bytes_equal_the_writer_it_replaced(tmp_path):
    """The shared writer gives exactly the bytes of the writer it replaced (so demo.mid keeps its hash)."""
    tracks = {
        DRUMS: NoteArray.from_arrays([0.0, 0.5, 0.5], [0.1, 0.6, 0.5], [36, 38, 42], [120, 80, 30]),  # a 0-length hit
        10: NoteArray.from_arrays([0.25], [2.5], [40], [100]),
        0: NoteArray.from_arrays([0.1234, 1.0, 1.0], [0.5, 1.7777, 1.0004], [60, 64, 65], [90, 30, 7]),  # < 1 ms note
        by_index(24): NoteArray.empty(),
    }
    for tempo in (120.0, 97):
        ours = write_midi(tracks, tmp_path / "ours.mid", tempo_bpm=tempo)
        assert hashlib.sha256(ours.read_bytes()).hexdigest() == GOLDEN[tempo]


def test_round_trip_gives_back_the_notes_written(tmp_path):
    path = write_midi(KNOWN, tmp_path / "out" / "song.mid")  # the folder is created
    back = read_midi(path)
    assert list(back) == [0, 10, DRUMS.index]
    for c, notes in KNOWN.items():
        for field in ("onset_s", "offset_s", "pitch", "velocity"):
            assert np.array_equal(getattr(back[c], field), getattr(notes, field)), (c, field)
    everything = read_midi_notes(path)
    assert np.array_equal(everything.pitch, NoteArray.concatenate(list(KNOWN.values())).pitch)
    assert [(t.program, t.is_drum, t.name) for t in read_tracks(path)] == [(0, False, "Piano"), (32, False, "Bass"), (0, True, "Drums")]
    channels = {msg.channel for track in mido.MidiFile(str(path)).tracks for msg in track if msg.type == "note_on"}
    assert 9 in channels and len(channels) == 3  # drums on channel 10


def test_read_midi_merges_tracks_of_one_class(tmp_path):
    stems = [
        Stem(program=0, is_drum=False, role="chords", notes=NoteArray.from_arrays([0.5], [1.0], [60])),
        Stem(program=1, is_drum=False, role="melody", notes=NoteArray.from_arrays([0.25, 0.5], [1.0, 1.0], [72, 59])),
        Stem(program=0, is_drum=True, role="drums", notes=NoteArray.from_arrays([0.0], [0.125], [36])),
    ]
    path = tmp_path / "song.mid"
    pm = write_song_midi(stems, tempo_bpm=120, path=path)
    assert [(i.program, i.is_drum, i.name) for i in pm.instruments] == [
        (0, False, "Acoustic Grand Piano"), (1, False, "Bright Acoustic Piano"), (0, True, "Drums"),
    ]
    back = read_midi(path)
    assert sorted(back) == [0, DRUMS.index]  # both pianos are class 0
    assert back[0].pitch.tolist() == [72, 59, 60] and back[0].onset_s.tolist() == [0.25, 0.5, 0.5]
    assert read_midi_notes(path).pitch.tolist() == [36, 72, 59, 60]
    assert write_song_midi(stems, tempo_bpm=120).instruments[2].name == "Drums"  # no path: nothing written


def test_unreadable_file_raises_a_value_error_naming_it(tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"MThd garbage")
    with pytest.raises(MidiReadError, match="cannot read MIDI file .*bad.mid"):
        read_midi(bad)
    with pytest.raises(ValueError, match="missing.mid"):
        read_midi_notes(tmp_path / "missing.mid")
