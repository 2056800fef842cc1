"""Tests of the song composer: determinism, stem counts, guest classes, ranges and MIDI-safe notes.

The golden hashes were taken with the single-module composer (``jointist/data/composer.py`` at cc483b4)
before it became a package: the same seed must still give the same notes and the same MIDI bytes.
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest

from jointist.data.composer import PITCH_RANGES, ROLES, Song, Stem, compose_song
from jointist.data.composer import classes as composer_classes
from jointist.data.composer.parts import GENERATORS, LEAD_ROLES
from jointist.data.composer.plan import roles_for_class
from jointist.data.composer.tables import (
    ACTIVITY,
    BASE_VELOCITY,
    FILL_ROLES,
    MAX_PER_ROLE,
    ROLE_CLASSES,
    ROLE_WINDOWS,
)
from jointist.data.synthetic import write_song_midi
from jointist.instruments import DRUMS, INSTRUMENTS, NUM_CLASSES
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


# ----- golden songs ----------------------------------------------------------------------------------------------------

_TRACK = {"min_stems": 4, "max_stems": 12, "tempo_bpm_range": (60.0, 180.0)}  # what synthetic.compose_track passes
GOLDEN: dict[str, tuple[object, dict, str, str]] = {
    # name: (rng seed, compose_song arguments, sha256 of the notes dump, sha256 of the MIDI bytes)
    "track_s0_n1": (
        [0, 1], {"duration_s": 30.0, "guest_class": 5, **_TRACK},
        "1403fb05cee92f9fb567aff5ba5c84e2dc8912a86acd96f274d6cd7375c8241a",
        "d8e7e7824a6e3c303d230101cdd89ce931d9e1fc5e7b5ba70f8123340fd7146a",
    ),
    "track_s0_n2": (
        [0, 2], {"duration_s": 30.0, "guest_class": 38, **_TRACK},
        "a399d4ee0f6e47653436c62e488cd06b265f17084824c931a0a165720029a31b",
        "876d6e88085aee2b86b8c3d83b487368535392673075c18725458381b331a99b",
    ),
    "track_s3_n17": (
        [3, 17], {"duration_s": 30.0, "guest_class": 17, **_TRACK},
        "dda27095a3541ebaf8ca097b4c7582450647f8bfd9ee6912c900c4afeb4638ef",
        "96650efd61f439315995cc2ecb00cadc1dca63e1b803022038feedf0ae051b7f",
    ),
    "track_s7_n40": (
        [7, 40], {"duration_s": 60.0, "guest_class": 16, **_TRACK},
        "8adfa39495b9495def9e1f48f1fd198df4bdfc36cf5b9b6a140d4768d381fe02",
        "9667a74b2d7a5dd672a89b925987da7f680ca3c89e225249cd901cf93803be32",
    ),
    "s1_d10": (
        1, {"duration_s": 10.0},
        "fbd4a12c11638bd2846b880d1e237f63b0f21dab3474a6eb52d26cde7bb647c2",
        "12efa055c5a671bd1513631fe361423198cb18eb3d2332110d04e273d7668a07",
    ),
    "s2_d4": (
        2, {"duration_s": 4.0, "guest_class": 36},
        "5fa7ddda168e1da3dfcfccd1c299d058f7e1f0032b67091f284200ed202a8805",
        "696ce233f2374018762f67828fd31293930f6f72cf83999d09a65703d6e2a90f",
    ),
    "s3_d0.5": (
        3, {"duration_s": 0.5, "guest_class": 21},
        "5d1f0f83bbfabaf89363eb14c227ab60160c79358f24e09ecf92ee019057940b",
        "f5973d29f2ea72eca74dabca27a0c94437fe7d09c7411551da57c3bda251ddf5",
    ),
    "s4_d45_slow": (
        4, {"duration_s": 45.0, "tempo_bpm_range": (60.0, 80.0), "guest_class": 28},
        "bff157592a19abc47b3f999bee9cfdc938aeaa75f404c3b29074a24f1ae01170",
        "1d925b554866c5d04273011c94b1cfc4bf19f3ec48f8294f063a5b8cafc12e27",
    ),
    "s5_d20_fast": (
        5, {"duration_s": 20.0, "tempo_bpm_range": (150.0, 180.0), "guest_class": 34},
        "5c1326b867eff2aa4f08d07d39915d2384dba0fa75950def2153f202300d7981",
        "fecac46247eb2aa37269e3d3016d85220b24b333c33a356a34d1f3f469ee2779",
    ),
    "s6_d90_max": (
        6, {"duration_s": 90.0, "min_stems": 12, "max_stems": 14, "guest_class": 37},
        "dbb6494b10b5a72e58f39ddabb6715f5f318b20d93a22d0561263fb88435307f",
        "2413235e6c70e9f2e4b44a99d20b1a5ce2777d0143ae7e7b582d18a416f7009d",
    ),
    "s11_d15_one": (
        11, {"duration_s": 15.0, "min_stems": 1, "max_stems": 1, "guest_class": 9},
        "028a7c26d2e782c6c3151b4d77aea4ca410af26509a62a64950f2a7307e70cfe",
        "737d71692e26bb2b961b489bd8dba312fa5893c237b3166a133b20cb4a366e11",
    ),
    "s12_d30_120": (
        12, {"duration_s": 30.0, "tempo_bpm_range": (120.0, 120.0), "guest_class": 0},
        "36d1d62c924f646c4590817ce7d4f441253439a16bfb5129ebc3aebd7bb4fe9e",
        "eceb08b2f398384540387e3fadec99a1df00894ee022d7ced829c28cc8902a03",
    ),
}
GOLDEN_MANY = "9cc0bf298ea0c0b65410fb9f53ee4803ff0271243ae694976d9bdde7d2fd5128"
"""sha256 over the notes dumps of the 100 songs of :func:`test_many_songs_match_golden_hash`."""


def _notes_sha256(song: Song) -> str:
    """sha256 of a canonical dump of the song: header, then per stem its identity and its note arrays."""
    h = hashlib.sha256()
    h.update(repr((song.tempo_bpm, song.beats_per_bar, song.key_name, song.duration_s, len(song.stems))).encode())
    for s in song.stems:
        h.update(repr((s.program, s.is_drum, s.role, len(s.notes))).encode())
        h.update(np.asarray(s.notes.onset_s, np.float64).tobytes())
        h.update(np.asarray(s.notes.offset_s, np.float64).tobytes())
        h.update(np.asarray(s.notes.pitch, np.int64).tobytes())
        h.update(np.asarray(s.notes.velocity, np.int64).tobytes())
    return h.hexdigest()


def _midi_sha256(song: Song) -> str:
    buf = io.BytesIO()
    write_song_midi(song.stems, tempo_bpm=song.tempo_bpm, path=None).write(buf)
    return hashlib.sha256(buf.getvalue()).hexdigest()


@pytest.mark.parametrize("name", list(GOLDEN))
def test_same_seed_gives_golden_notes_and_midi(name):
    seed, kwargs, notes_sha, midi_sha = GOLDEN[name]
    song = compose_song(np.random.default_rng(seed), **kwargs)
    # The notes first: a mismatch there means composition changed, a MIDI-only one means MIDI writing did.
    assert _notes_sha256(song) == notes_sha, "composition changed"
    assert _midi_sha256(song) == midi_sha, "MIDI writing changed (the notes did not)"


def test_many_songs_match_golden_hash():
    h = hashlib.sha256()
    for seed in range(100):
        song = compose_song(
            np.random.default_rng([seed, 2024]), duration_s=(8.0, 2.0, 20.0, 0.7)[seed % 4],
            guest_class=seed % 39 if seed % 5 else None, min_stems=1 + seed % 4, max_stems=4 + seed % 11,
        )
        h.update(_notes_sha256(song).encode())
    assert h.hexdigest() == GOLDEN_MANY


# ----- package structure -----------------------------------------------------------------------------------------------


def test_every_role_the_planner_can_choose_has_a_generator(corpus):
    fixed = {"drums", "bass", "chords", "melody"}  # the roles _choose_voices adds before filling the band
    guest_roles = {role for index in range(NUM_CLASSES) for role in roles_for_class(index)}
    plannable = fixed | set(FILL_ROLES) | set(ROLE_CLASSES) | guest_roles
    assert plannable <= set(GENERATORS)
    assert set(GENERATORS) == set(ROLES)
    assert LEAD_ROLES <= set(GENERATORS)
    for table in (ACTIVITY, BASE_VELOCITY, ROLE_WINDOWS, MAX_PER_ROLE, ROLE_CLASSES):
        assert set(table) == set(ROLES)
    # and the planner does choose every one of them
    assert {stem.role for _, stem in _all_stems(corpus)} == set(GENERATORS)


def test_class_constants_match_the_instrument_map():
    for inst in INSTRUMENTS:
        name = "DRUM_KIT" if inst.is_drum else inst.slug.upper()
        assert getattr(composer_classes, name) == inst.index, name


def test_ride_share_moves_the_time_keeping_to_the_ride_with_the_hi_hat_pedal():
    def drum_keys(share: float) -> dict[int, int]:
        counts: dict[int, int] = {}
        for seed in range(12):
            for stem in compose_song(np.random.default_rng([5, seed]), duration_s=20.0, ride_share=share).stems:
                if stem.is_drum:
                    for key in stem.notes.pitch.tolist():
                        counts[key] = counts.get(key, 0) + 1
        return counts

    plain, ride = drum_keys(0.0), drum_keys(1.0)
    assert plain.get(42, 0) > 3 * (plain.get(51, 0) + plain.get(59, 0))  # the grooves keep time on the hi-hat
    assert ride.get(51, 0) + ride.get(59, 0) > 3 * ride.get(42, 0) and ride.get(44, 0) > 50  # ride, pedal on 2 and 4
    assert ride.get(36, 0) + ride.get(35, 0) > 0.8 * (plain.get(36, 0) + plain.get(35, 0))  # the same kicks
