from pathlib import Path

import numpy as np

from jointist.data.slakh import StemInfo, TrackInfo
from jointist.data.stats import _polyphony
from jointist.data.targets import notes_to_rolls, time_to_frame
from jointist.notes import NoteArray, NoteEvent


def test_rounding_rule_from_the_docstring():
    # a note at 1.234 s in a window starting at 1.0 s: frame 23; at 1.235 s: frame 24 (ties round up)
    assert time_to_frame(1.234 - 1.0) == 23
    assert time_to_frame(1.235 - 1.0) == 24
    assert time_to_frame(0.0) == 0
    assert time_to_frame(-0.004) == 0
    assert time_to_frame(-0.006) == -1



def test_corpus_statistics_put_notes_on_the_frames_of_the_targets():
    # Ties: 0.005 s and 0.015 s are exactly 0.5 and 1.5 frames in float64 and round up under any rule;
    # 0.145 s and 0.285 s are 14.4999... and 28.4999... frames in binary, which only the tolerance of
    # time_to_frame rounds up as the decimal times say. corpus_stats used to round them down.
    assert time_to_frame(np.array([0.005, 0.015, 0.145, 0.285])).tolist() == [1, 2, 15, 29]
    assert int(np.floor(0.145 * 100 + 0.5)) == 14  # the rule stats.py had, without the tolerance

    def stem(sid: str, notes: NoteArray, is_drum: bool = False) -> StemInfo:
        return StemInfo(sid, 0, is_drum, 38 if is_drum else 0, Path(f"{sid}.flac"), notes)

    first = NoteArray.from_arrays([0.005], [0.15], [60])  # frames 1..14
    second = NoteArray.from_arrays([0.145, 0.015], [0.285, 0.145], [62, 64])  # frames 15..28 and 2..14
    drums = NoteArray.from_arrays([0.145], [0.2], [36])  # drums do not count
    track = TrackInfo("T", Path("."), Path("mix.flac"), 0.5, (stem("S00", first), stem("S01", second), stem("S02", drums, True)))
    counts, peak = _polyphony(track)
    rolls = sum(notes_to_rolls(n, num_frames=52).frame.sum(axis=1) for n in (first, second))
    assert counts.tolist() == rolls[rolls > 0].tolist() == [1] + [2] * 13 + [1] * 14  # old rule: ... + [1] * 13
    assert peak == 2


def test_onset_frame_offset_and_velocity_rolls_of_known_notes():
    window_start = 1.0
    notes = NoteArray.from_events([
        NoteEvent(1.234, 1.5, 60, 127),   # onset 23, offset 50
        NoteEvent(1.235, 1.3, 62, 64),    # onset 24, offset 30
        NoteEvent(0.5, 1.2, 64, 80),      # started before the window: frames 0..19, no onset
        NoteEvent(10.998, 12.0, 108, 10),  # onset at the last frame (1000), runs past the end
        NoteEvent(2.0, 2.001, 21, 90),    # shorter than a frame: still one frame
        NoteEvent(3.0, 3.5, 20, 90),      # below A0: dropped
    ]).window(window_start, window_start + 10.0)
    rolls = notes_to_rolls(notes, num_frames=1001)
    assert rolls.onset.shape == (1001, 88)
    assert sorted(map(tuple, np.argwhere(rolls.onset))) == [(23, 39), (24, 41), (100, 0), (1000, 87)]
    assert sorted(map(tuple, np.argwhere(rolls.offset))) == [(20, 43), (30, 41), (50, 39), (100, 0)]
    assert np.flatnonzero(rolls.frame[:, 39]).tolist() == list(range(23, 50))
    assert np.flatnonzero(rolls.frame[:, 43]).tolist() == list(range(0, 20))
    assert np.flatnonzero(rolls.frame[:, 0]).tolist() == [100]
    assert np.flatnonzero(rolls.frame[:, 87]).tolist() == [1000]
    assert rolls.velocity[23, 39] == 1.0 and abs(rolls.velocity[24, 41] - 64 / 127) < 1e-6
    assert rolls.frame.sum() == 27 + 6 + 20 + 1 + 1


def test_repeated_notes_keep_separate_onsets():
    notes = NoteArray.from_arrays([0.10, 0.20], [0.20, 0.30], [60, 60])
    rolls = notes_to_rolls(notes, num_frames=50)
    assert np.flatnonzero(rolls.onset[:, 39]).tolist() == [10, 20]
    assert np.flatnonzero(rolls.frame[:, 39]).tolist() == list(range(10, 30))


def test_drum_rolls_are_onsets_only():
    notes = NoteArray.from_arrays([0.5, 0.5, 1.0], [0.6, 0.6, 1.1], [36, 42, 38])
    rolls = notes_to_rolls(notes, num_frames=201, is_drum=True)
    assert sorted(map(tuple, np.argwhere(rolls.onset))) == [(50, 15), (50, 21), (100, 17)]
    assert np.array_equal(rolls.frame, rolls.onset)
    assert not rolls.offset.any()
    assert rolls.stack().shape == (4, 201, 88)


def test_empty_notes_give_empty_rolls():
    rolls = notes_to_rolls(NoteArray.empty(), num_frames=10)
    assert not rolls.stack().any()
