"""Tests of the song composer: determinism, stem counts, guest classes, ranges and MIDI-safe notes."""

from __future__ import annotations

import numpy as np
import pytest

from jointist.data.composer import PITCH_RANGES, ROLES, Song, Stem, compose_song
from jointist.instruments import DRUMS, NUM_CLASSES
from jointist.notes import NoteArray


def _song(seed: int, **kwargs) -> Song:
    kwargs.setdefault("duration_s", 30.0)
    return compose_song(np.random.default_rng(seed), **kwargs)


def _same(a: Song, b: Song) -> bool:
    if (a.tempo_bpm, a.beats_per_bar, a.key_name, a.duration_s, len(a.stems)) != (
        b.tempo_bpm, b.beats_per_bar, b.key_name, b.duration_s, len(b.stems)
    ):
        return False
    for x, y in zip(a.stems, b.stems, strict=True):
        if (x.program, x.is_drum, x.role) != (y.program, y.is_drum, y.role) or len(x.notes) != len(y.notes):
            return False
        for field in ("onset_s", "offset_s", "pitch", "velocity"):
            if not np.array_equal(getattr(x.notes, field), getattr(y.notes, field)):
                return False
    return True


@pytest.fixture(scope="module")
def corpus() -> list[Song]:
    """120 songs of mixed lengths, cycling the guest class through all 39 classes."""
    durations = (30.0, 10.0, 4.0, 60.0)
    return [
        _song(seed, duration_s=durations[seed % len(durations)], guest_class=seed % NUM_CLASSES) for seed in range(120)
    ]


def _all_stems(songs: list[Song]) -> list[tuple[Song, Stem]]:
    return [(song, stem) for song in songs for stem in song.stems]


def test_same_seed_same_song_and_different_seed_different_song():
    a, b = _song(7, guest_class=16), _song(7, guest_class=16)
    assert _same(a, b)
    assert not _same(a, _song(8, guest_class=16))
    # The song depends on the generator's state only, not on anything global.
    np.random.seed(123)
    c = _song(7, guest_class=16)
    assert _same(a, c)


def test_rng_is_advanced():
    rng = np.random.default_rng(5)
    first = compose_song(rng, duration_s=10.0)
    second = compose_song(rng, duration_s=10.0)
    assert not _same(first, second)


def test_song_fields(corpus):
    for song in corpus:
        assert song.beats_per_bar in (3, 4)
        tonic, mode = song.key_name.split(" ")
        assert mode in ("major", "minor", "dorian", "mixolydian")
        assert tonic[0] in "ABCDEFG"
        assert all(stem.role in ROLES for stem in song.stems)
        roles = [ROLES.index(stem.role) for stem in song.stems]
        assert roles == sorted(roles)


@pytest.mark.parametrize(("min_stems", "max_stems"), [(4, 12), (1, 1), (3, 5), (12, 12), (6, 14)])
def test_stem_count_bounds(min_stems, max_stems):
    counts = [
        len(_song(seed, duration_s=8.0, min_stems=min_stems, max_stems=max_stems).stems) for seed in range(40)
    ]
    assert min(counts) >= min_stems
    assert max(counts) <= max_stems


def test_typical_stem_count_and_common_roles():
    songs = [_song(seed, duration_s=8.0) for seed in range(150)]
    counts = np.array([len(song.stems) for song in songs])
    assert 6.5 <= counts.mean() <= 9.5
    assert counts.min() >= 4 and counts.max() <= 12
    with_drums = np.mean([any(s.is_drum for s in song.stems) for song in songs])
    with_bass = np.mean([any(s.role == "bass" for s in song.stems) for song in songs])
    assert 0.75 <= with_drums <= 0.95
    assert 0.8 <= with_bass <= 0.98
    # at most one drum kit per song
    assert all(sum(s.is_drum for s in song.stems) <= 1 for song in songs)


@pytest.mark.parametrize("guest", range(NUM_CLASSES))
def test_guest_class_is_present(guest):
    for seed in range(3):
        song = _song(seed, duration_s=10.0, guest_class=guest, min_stems=1, max_stems=12 if seed else 1)
        guests = [stem for stem in song.stems if stem.instrument.index == guest]
        assert guests, f"class {guest} missing"
        assert any(len(stem.notes) > 0 for stem in guests)
        if guest == DRUMS.index:
            assert all(stem.role == "drums" and stem.is_drum and stem.program == 0 for stem in guests)


def test_guest_roles_suit_the_class():
    expected = {21: {"bass"}, 14: {"bass"}, 17: {"hits"}, 36: {"hits"}, 37: {"hits"}, 28: {"melody"}, 16: {"arpeggio"}}
    for guest, roles in expected.items():
        for seed in range(4):
            song = _song(seed, duration_s=6.0, guest_class=guest)
            assert {stem.role for stem in song.stems if stem.instrument.index == guest} & roles


def test_every_class_appears_with_cycling_guests(corpus):
    seen = {stem.instrument.index for _, stem in _all_stems(corpus)}
    assert seen == set(range(NUM_CLASSES))


def test_pitch_and_velocity_ranges(corpus):
    for _, stem in _all_stems(corpus):
        notes = stem.notes
        assert len(notes) > 0
        if stem.is_drum:
            assert stem.program == 0
            assert notes.pitch.min() >= 35 and notes.pitch.max() <= 81
        else:
            low, high = PITCH_RANGES[stem.instrument.index]
            assert notes.pitch.min() >= max(low, 21) and notes.pitch.max() <= min(high, 108), stem
        assert notes.velocity.min() >= 1 and notes.velocity.max() <= 127
        if len(notes) >= 4:
            assert len(np.unique(notes.velocity)) > 1


def test_pitch_ranges_table():
    assert set(PITCH_RANGES) == set(range(NUM_CLASSES))
    for index, (low, high) in PITCH_RANGES.items():
        assert 21 <= low < high <= 108
        assert high - low >= 12 or index == DRUMS.index
    assert PITCH_RANGES[DRUMS.index] == (35, 81)


def test_note_times(corpus):
    for song, stem in _all_stems(corpus):
        notes = stem.notes
        assert notes.onset_s.min() >= 0.0
        assert notes.offset_s.max() <= song.duration_s
        assert np.all(notes.offset_s - notes.onset_s >= 0.03 - 1e-9)
        assert np.all(np.diff(notes.onset_s) >= 0)  # NoteArray order
        if stem.is_drum:
            assert np.all(notes.offset_s - notes.onset_s <= 0.1 + 1e-9)


def test_no_overlapping_same_pitch_notes(corpus):
    for _, stem in _all_stems(corpus):
        notes = stem.notes
        order = np.lexsort((notes.onset_s, notes.pitch))
        pitch, onset, offset = notes.pitch[order], notes.onset_s[order], notes.offset_s[order]
        same = pitch[1:] == pitch[:-1]
        assert np.all(onset[1:][same] >= offset[:-1][same]), (stem.role, stem.instrument.name)


def test_melody_lines_are_monophonic(corpus):
    checked = 0
    for _, stem in _all_stems(corpus):
        if stem.role == "melody" and len(stem.notes) > 1:
            assert np.all(stem.notes.onset_s[1:] >= stem.notes.offset_s[:-1] - 1e-9)
            checked += 1
    assert checked > 20


def _max_polyphony(notes: NoteArray) -> int:
    events = sorted([(t, 1) for t in notes.onset_s] + [(t, -1) for t in notes.offset_s], key=lambda e: (e[0], e[1]))
    level = best = 0
    for _, change in events:
        level += change
        best = max(best, level)
    return best


def test_chord_and_pad_stems_are_polyphonic(corpus):
    stems = [stem for _, stem in _all_stems(corpus) if stem.role in ("chords", "pad")]
    assert len(stems) > 30
    assert all(_max_polyphony(stem.notes) >= 2 for stem in stems)
    assert np.mean([_max_polyphony(stem.notes) >= 3 for stem in stems]) > 0.9


def test_repeated_notes_and_varied_rhythm(corpus):
    stems = [stem for _, stem in _all_stems(corpus) if stem.role in ("melody", "bass") and len(stem.notes) > 8]
    repeated = 0
    for stem in stems:
        repeated += int(np.any(np.diff(stem.notes.pitch) == 0))
        assert len(np.unique(stem.notes.pitch)) >= 2
    assert repeated > len(stems) // 3
    assert len(np.unique(np.round(np.concatenate([s.notes.offset_s - s.notes.onset_s for s in stems]), 2))) > 20


def test_drum_kit_pieces(corpus):
    drums = [stem for _, stem in _all_stems(corpus) if stem.is_drum]
    pitches = np.concatenate([stem.notes.pitch for stem in drums])
    assert np.isin([35, 36], pitches).any() and np.isin([38, 40, 37], pitches).any()
    assert np.isin([42, 44, 46, 51, 59], pitches).any()
    assert np.isin([49, 57], pitches).any()  # crashes at section starts
    assert np.isin([41, 43, 45, 47, 48, 50], pitches).any()  # tom fills


def test_instruments_drop_out():
    """Stems rest in some sections, so a 10 s window does not always hold every instrument."""
    incomplete = 0
    windows = 0
    for seed in range(30):
        song = _song(seed, duration_s=60.0)
        for start in (0.0, 20.0, 40.0):
            windows += 1
            present = [np.any((s.notes.onset_s >= start) & (s.notes.onset_s < start + 10.0)) for s in song.stems]
            incomplete += not all(present)
    assert incomplete >= windows // 4


def test_tempo_range():
    for seed in range(60):
        song = _song(seed, duration_s=4.0, tempo_bpm_range=(90.0, 100.0))
        assert 90.0 <= song.tempo_bpm <= 100.0
    tempi = [_song(seed, duration_s=4.0).tempo_bpm for seed in range(60)]
    assert min(tempi) >= 60.0 and max(tempi) <= 180.0
    assert max(tempi) - min(tempi) > 60.0
    assert _song(0, duration_s=4.0, tempo_bpm_range=(120.0, 120.0)).tempo_bpm == 120.0


def test_varied_keys_metres_and_modes():
    songs = [_song(seed, duration_s=4.0) for seed in range(80)]
    assert len({song.key_name.split()[0] for song in songs}) >= 9
    assert {song.key_name.split()[1] for song in songs} >= {"major", "minor"}
    assert {song.beats_per_bar for song in songs} == {3, 4}


def test_very_short_song():
    for seed in range(20):
        song = _song(seed, duration_s=0.5, guest_class=seed % NUM_CLASSES)
        for stem in song.stems:
            assert len(stem.notes) > 0
            assert stem.notes.offset_s.max() <= 0.5


def test_invalid_arguments():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError):
        compose_song(rng, duration_s=0.0)
    with pytest.raises(ValueError):
        compose_song(rng, duration_s=5.0, min_stems=5, max_stems=4)
    with pytest.raises(ValueError):
        compose_song(rng, duration_s=5.0, guest_class=39)
    with pytest.raises(ValueError):
        compose_song(rng, duration_s=5.0, tempo_bpm_range=(120.0, 100.0))


def test_stem_instrument_property():
    song = _song(3, guest_class=10)
    for stem in song.stems:
        assert stem.instrument.is_drum == stem.is_drum
        if not stem.is_drum:
            assert stem.program in stem.instrument.programs
