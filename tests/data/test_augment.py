from pathlib import Path

import numpy as np
import pytest
import yaml
from hydra.utils import instantiate

from jointist.constants import SAMPLE_RATE
from jointist.data.augment import (
    AugmentConfig,
    AugmentPlan,
    Remix,
    TrackCatalog,
    draw_plan,
    resample_span,
    shift_notes,
    shift_ratio,
    span_samples,
)
from jointist.data.datamodule import SlakhDataModule
from jointist.data.slakh import DatasetError, SlakhDataset, load_index
from tests.conftest import compose_config, note_array, write_track

OFF = dict(gain_p=0.0, drop_p=0.0, pitch_p=0.0, remix_p=0.0)
PIANO, ORGAN, BASS, DRUMS = 0, 5, 10, 38


def only(**kwargs: object) -> AugmentConfig:
    """Augmentation enabled with every probability 0 except those given."""
    return AugmentConfig(enabled=True, **{**OFF, **kwargs})  # type: ignore[arg-type]


def set_song(track: Path, **fields: object) -> None:
    meta_path = track / "metadata.yaml"
    meta = yaml.safe_load(meta_path.read_text())
    meta.update(fields)
    meta_path.write_text(yaml.safe_dump(meta))


def peak_hz(audio: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.fft.rfftfreq(len(audio), 1 / SAMPLE_RATE)[np.argmax(spectrum)])


def midi_hz(pitch: float) -> float:
    return 440.0 * 2 ** ((pitch - 69) / 12)


@pytest.fixture
def keyed_corpus(tmp_path: Path) -> Path:
    """Four 4 s tracks with tempo and key: A (C major, 120 bpm: piano 60, drums, an organ 107); B (D major,
    134.69 bpm = 120 * 55/49: piano and bass, a match for A transposed down 2 semitones); C (C major
    but 150 bpm) and D (C minor): never partners of A."""
    train = tmp_path / "keyed" / "train"
    a = write_track(train, "Track00001", {
        "S00": {"program": 0, "notes": [(1.0, 3.5, 60)]},
        "S01": {"program": 0, "is_drum": True, "notes": [(1.2, 1.3, 36), (2.2, 2.3, 38)]},
        "S02": {"program": 16, "notes": [(0.6, 1.5, 107)]},  # organ: leaves the piano range when shifted up 2
    })
    b = write_track(train, "Track00002", {
        "S00": {"program": 1, "notes": [(0.5, 1.5, 62), (2.0, 3.0, 66)]},
        "S01": {"program": 33, "notes": [(0.25, 3.0, 38)]},
    })
    c = write_track(train, "Track00003", {"S00": {"program": 0, "notes": [(0.5, 1.0, 64)]}})
    d = write_track(train, "Track00004", {"S00": {"program": 0, "notes": [(0.5, 1.0, 63)]}})
    set_song(a, tempo_bpm=120.0, key_tonic=0, key_mode="major", style="pop")
    set_song(b, tempo_bpm=120.0 * 55 / 49, key_tonic=2, key_mode="major", style="pop")
    set_song(c, tempo_bpm=150.0, key_tonic=0, key_mode="major", style="rock")
    set_song(d, tempo_bpm=120.0, key_tonic=0, key_mode="minor", style="jazz")
    return tmp_path / "keyed"


def dataset(root: Path, augment: AugmentConfig | None = None, **kwargs: object) -> SlakhDataset:
    options: dict = {"segment_s": 2.0, "examples_per_epoch": 8, "load_stems": True, **kwargs}
    return SlakhDataset(root, "train", augment=augment, **options)


# -- configuration ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    ({"gain_p": -0.1}, r"augment.gain_p must be a probability in \[0, 1\], got -0.1"),
    ({"remix_class_p": 1.5}, r"augment.remix_class_p must be a probability"),
    ({"pitch_semitones": [1, 3]}, r"pitch_semitones: 3 is not a shift of 1 to 2 semitones"),
    ({"pitch_semitones": [-3]}, r"pitch_semitones: -3 is not a shift"),
    ({"pitch_semitones": [0, 1]}, r"pitch_semitones: 0 is not a shift"),
    ({"pitch_semitones": [1.5]}, r"whole semitones, got 1.5"),
    ({"pitch_semitones": []}, r"pitch_semitones is empty but augment.pitch_p > 0"),
    ({"gain_db": [6.0, -6.0]}, r"gain_db must be a finite range \[low, high\] with low <= high"),
    ({"gain_db": [1.0]}, r"gain_db must be two numbers"),
    ({"remix_tempo_tolerance": -0.01}, r"remix_tempo_tolerance must be in \[0, 1\)"),
    ({"remix_max_semitones": 3}, r"remix_max_semitones must be an integer in 0..2"),
])
def test_config_validation_says_what_is_wrong(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AugmentConfig(enabled=True, **kwargs)


def test_config_lists_become_tuples():
    config = AugmentConfig(gain_db=[-3, 3], pitch_semitones=[1, -1])  # type: ignore[arg-type]
    assert config.gain_db == (-3.0, 3.0) and config.pitch_semitones == (1, -1) and not config.enabled


def test_data_config_is_off_by_default_and_one_switch_turns_it_on(keyed_corpus):
    for validation in ("validation", "test"):
        write_track(keyed_corpus / validation, "Track00010", {"S00": {"program": 0, "notes": [(0.5, 1.5, 60)]}})
    common = [f"data.root={keyed_corpus}", "data.segment_s=1.0", "data.num_workers=0", "data.batch_size=2",
              "data.train_examples_per_epoch=4"]
    off = instantiate(compose_config("train", *common).data, _convert_="object")
    off.setup("fit")
    assert isinstance(off.augment, AugmentConfig) and not off.augment.enabled
    assert off.datasets["train"].augment is None
    cfg = compose_config("train", *common, "data.augment.enabled=true", "data.augment.pitch_p=1.0")
    on = instantiate(cfg.data)  # without _convert_: the lists arrive as ListConfig and become tuples
    assert on.augment == AugmentConfig(enabled=True, pitch_p=1.0)
    on.setup("fit")
    assert on.datasets["train"].augment == on.augment and on.datasets["val"].augment is None
    batch = next(iter(on.train_dataloader()))
    assert batch.mix.shape == (2, SAMPLE_RATE)
    assert all(e.augmentation is not None and e.augmentation.semitones != 0 for e in batch.examples)


# -- pure functions --------------------------------------------------------------------------------

def test_shift_ratio_is_a_small_fraction_within_a_cent():
    for s in (-2, -1, 1, 2):
        r = shift_ratio(s)
        assert r.denominator <= 100 and abs(1200 * np.log2(float(r)) - 100 * s) < 0.2
    assert shift_ratio(0) == 1 and span_samples(160_000, 2) == 179_592


def test_shift_notes_moves_pitched_notes_and_divides_times():
    notes = note_array([(0.0, 1.0, 60), (0.5, 0.7, 107), (-0.2, 0.3, 20), (1.0, 2.0, 108)])
    r = float(shift_ratio(2))
    up = shift_notes(notes, 2, is_drum=False)
    # 107 and 108 leave the piano range and go; 20 (already outside) is kept as 22
    assert up.pitch.tolist() == [22, 62]
    assert up.onset_s.tolist() == pytest.approx([-0.2 / r, 0.0])
    assert up.offset_s.tolist() == pytest.approx([0.3 / r, 1.0 / r])
    drums = shift_notes(note_array([(0.5, 0.6, 36), (1.0, 1.1, 108)]), 2, is_drum=True)
    assert drums.pitch.tolist() == [36, 108] and drums.onset_s.tolist() == pytest.approx([0.5 / r, 1.0 / r])
    assert shift_notes(notes, 0, is_drum=False) is notes


def test_resampled_sine_rises_by_the_shift():
    n = 2 * SAMPLE_RATE
    for s in (-2, -1, 1, 2):
        span = span_samples(n, s)
        sine = 0.2 * np.sin(2 * np.pi * midi_hz(57) * np.arange(span) / SAMPLE_RATE).astype(np.float32)
        out = resample_span(sine, semitones=s, num_samples=n)
        assert out.shape == (n,) and out.dtype == np.float32
        assert peak_hz(out) == pytest.approx(midi_hz(57 + s), abs=1.0)


# -- augmented examples ----------------------------------------------------------------------------

def test_pitch_shift_moves_audio_and_labels_together(keyed_corpus):
    ds = dataset(keyed_corpus, only(pitch_p=1.0))
    r = float(shift_ratio(2))
    ex = ds.example(0, 0.5, plan=AugmentPlan(start_s=0.5, semitones=2))
    assert ex.mix.shape == ex.stems[PIANO].shape == (2 * SAMPLE_RATE,)
    # the piano sine (MIDI 60 from 1.0 s) now sounds at MIDI 62, from (1.0 - 0.5) / r s into the window
    piano = ex.stems[PIANO]
    onset = 0.5 / r
    assert peak_hz(piano) == pytest.approx(midi_hz(62), abs=1.0)
    assert np.abs(piano[: int((onset - 0.01) * SAMPLE_RATE)]).max() < 1e-3
    assert np.abs(piano[int((onset + 0.01) * SAMPLE_RATE): int((onset + 0.1) * SAMPLE_RATE)]).max() > 0.1
    assert ex.notes[PIANO].pitch.tolist() == [62]
    assert ex.notes[PIANO].onset_s.tolist() == pytest.approx([onset])
    assert ex.notes[PIANO].offset_s.tolist() == pytest.approx([3.0 / r])
    # drum notes keep their numbers; their times shrink too
    assert ex.notes[DRUMS].pitch.tolist() == [36, 38]
    assert ex.notes[DRUMS].onset_s.tolist() == pytest.approx([0.7 / r, 1.7 / r])
    # the organ's 107 leaves the piano range: its note goes, and with it the class's presence
    assert len(ex.notes[ORGAN]) == 0 and ex.present[ORGAN] == 0
    assert ex.present.nonzero()[0].tolist() == [PIANO, DRUMS]
    # the mixture (read from mix.flac) is shifted the same way as the stems
    assert np.allclose(ex.mix, sum(ex.stems[c] for c in sorted(ex.stems)), atol=2e-3)


def test_pitch_shift_down_reads_a_shorter_span(keyed_corpus):
    ds = dataset(keyed_corpus, only(pitch_p=1.0), load_stems=False)
    r = float(shift_ratio(-1))
    ex = ds.example(0, 0.3, plan=AugmentPlan(start_s=0.3, semitones=-1))
    assert ex.stems == {} and ex.notes[PIANO].pitch.tolist() == [59]
    assert ex.notes[PIANO].onset_s.tolist() == pytest.approx([0.7 / r])
    # the span is 2 * r = 1.89 s: the drum hit 1.9 s after the start is in a plain window, not in this one
    assert ex.notes[DRUMS].onset_s.tolist() == pytest.approx([0.9 / r])
    assert ds.example(0, 0.3).notes[DRUMS].onset_s.tolist() == pytest.approx([0.9, 1.9])


def test_shifted_window_start_moves_so_the_span_fits(keyed_corpus):
    ds = dataset(keyed_corpus, only(pitch_p=1.0, pitch_semitones=[2]), examples_per_epoch=32)
    for index in range(32):
        t, start = ds.window(index)
        plan = ds.plan(index, t, start)
        assert plan.semitones == 2 and plan.start_s <= start
        assert plan.start_s + 2.0 * float(shift_ratio(2)) <= 4.0 + 1e-9
        assert abs(plan.start_s * 100 - round(plan.start_s * 100)) < 1e-9


def test_gains_keep_the_mix_equal_to_the_sum_of_the_stems(keyed_corpus):
    ds = dataset(keyed_corpus, only(gain_p=1.0))
    plain = ds.example(0, 1.0)
    plan = AugmentPlan(start_s=1.0, gains_db=((PIANO, -6.0), (ORGAN, 0.0), (DRUMS, 3.0)))
    assert sorted(plain.stems) == [PIANO, ORGAN, DRUMS]
    ex = ds.example(0, 1.0, plan=plan)
    assert np.array_equal(ex.mix, np.sum([ex.stems[c] for c in sorted(ex.stems)], axis=0))
    for c, db in plan.gains_db:
        assert np.allclose(ex.stems[c], plain.stems[c] * 10 ** (db / 20), atol=1e-6)
    assert ex.notes.keys() == plain.notes.keys() and np.array_equal(ex.present, plain.present)
    # without load_stems the stems are decoded for the mix, then left out of the example
    mix_only = dataset(keyed_corpus, only(gain_p=1.0), load_stems=False).example(0, 1.0, plan=plan)
    assert mix_only.stems == {} and np.array_equal(mix_only.mix, ex.mix)


def test_dropped_classes_leave_notes_presence_and_mix(keyed_corpus):
    ds = dataset(keyed_corpus, only(drop_p=1.0))
    plain = ds.example(0, 1.0)
    ex = ds.example(0, 1.0, plan=AugmentPlan(start_s=1.0, dropped=(DRUMS,)))
    assert DRUMS not in ex.notes and DRUMS not in ex.stems and ex.present[DRUMS] == 0 and plain.present[DRUMS] == 1
    assert sorted(ex.stems) == sorted(ex.notes) == [PIANO, ORGAN]
    assert np.allclose(ex.mix, sum(plain.stems[c] for c in ex.stems), atol=1e-6)


def test_dropout_always_keeps_a_sounding_class(keyed_corpus):
    ds = dataset(keyed_corpus, only(drop_p=1.0, drop_class_p=1.0), examples_per_epoch=16)
    for index in range(16):
        ex = ds[index]
        t, _ = ds.window(index)
        classes = ds.tracks[t].instruments
        assert ex.augmentation is not None and len(ex.notes) == 1
        assert len(ex.augmentation.dropped) == len(classes) - 1
        if any(len(s.notes.window(ex.start_s, ex.start_s + 2.0)) for s in ds.tracks[t].stems):
            assert ex.present.sum() == 1  # the class that stays is one that sounds


def test_partners_match_key_mode_and_tempo(keyed_corpus):
    catalog = TrackCatalog.from_tracks(load_index(keyed_corpus, "train"))
    found, shifts = catalog.partners(0, semitones=0, tolerance=0.04, max_semitones=2)
    assert found.tolist() == [1] and shifts.tolist() == [-2]  # D major at 134.7 bpm, down 2: C major at 120
    found, shifts = catalog.partners(0, semitones=2, tolerance=0.04, max_semitones=2)
    assert found.tolist() == [1] and shifts.tolist() == [0]  # A shifted up to D major at 134.7 bpm
    assert catalog.partners(0, semitones=0, tolerance=0.04, max_semitones=1)[0].tolist() == []
    assert catalog.partners(0, semitones=-1, tolerance=0.04, max_semitones=2)[0].tolist() == []  # 113 vs 120 bpm
    # C (150 bpm) is within 25% of A
    assert catalog.partners(0, semitones=0, tolerance=0.26, max_semitones=2)[0].tolist() == [1, 2]


def test_tracks_without_tempo_and_key_are_never_remixed(hand_corpus):
    tracks = load_index(hand_corpus, "train")
    assert all(t.tempo_bpm is None and t.key_tonic is None and t.key_mode is None and t.style is None for t in tracks)
    ds = dataset(hand_corpus, only(remix_p=1.0))
    assert all(ds[i].augmentation.remix is None for i in range(8))  # type: ignore[union-attr]


def test_remixed_example_is_the_union_of_both_windows(keyed_corpus):
    ds = dataset(keyed_corpus, only(remix_p=1.0))
    # A shifted up 2 (D major, 134.7 bpm) with B as it is (D major, 134.7 bpm): piano and bass
    other = ds.example(1, 0.5)
    shifted = ds.example(0, 1.0, plan=AugmentPlan(start_s=1.0, semitones=2))
    ex = ds.example(0, 1.0, plan=AugmentPlan(start_s=1.0, semitones=2, remix=Remix(1, 0.5, 0, (PIANO, BASS))))
    assert sorted(ex.notes) == sorted(ex.stems) == [PIANO, ORGAN, BASS, DRUMS]
    # piano in both: notes merge, audio sums; the partner's bass comes in alone
    merged = np.concatenate([shifted.notes[PIANO].pitch, other.notes[PIANO].pitch])
    assert sorted(ex.notes[PIANO].pitch.tolist()) == sorted(merged.tolist()) == [62, 62, 66]
    assert np.allclose(ex.stems[PIANO], shifted.stems[PIANO] + other.stems[PIANO], atol=1e-6)
    assert np.array_equal(ex.notes[BASS].onset_s, other.notes[BASS].onset_s)
    assert np.allclose(ex.stems[BASS], other.stems[BASS], atol=1e-6)
    assert np.array_equal(ex.notes[DRUMS].pitch, shifted.notes[DRUMS].pitch)
    assert np.allclose(ex.mix, np.sum([ex.stems[c] for c in sorted(ex.stems)], axis=0), atol=1e-6)
    assert ex.present[BASS] == 1 and ex.present[PIANO] == 1


def test_transposed_partner_notes_follow_its_shift(keyed_corpus):
    ds = dataset(keyed_corpus, only(remix_p=1.0))
    r = float(shift_ratio(-2))
    ex = ds.example(0, 1.0, plan=AugmentPlan(start_s=1.0, remix=Remix(1, 0.4, -2, (PIANO,))))
    # A's piano (60 from 1.0 s: onset 0 here) and B's piano (62 at 0.5 s, 66 at 2.0 s) down 2 semitones
    assert ex.notes[PIANO].pitch.tolist() == [60, 60, 64]
    assert ex.notes[PIANO].onset_s.tolist() == pytest.approx([0.0, 0.1 / r, 1.6 / r])
    assert BASS not in ex.notes and BASS not in ex.stems
    partner = ex.stems[PIANO] - ds.example(0, 1.0).stems[PIANO]
    assert peak_hz(partner[int(0.2 * SAMPLE_RATE): int(1.2 * SAMPLE_RATE)]) == pytest.approx(midi_hz(60), abs=2.0)


def test_remix_draws_a_partner_through_getitem(keyed_corpus):
    ds = dataset(keyed_corpus, only(remix_p=1.0))
    for index in range(8):
        ex = ds[index]
        t, _ = ds.window(index)
        assert ex.augmentation is not None
        if t == 0:
            remix = ex.augmentation.remix
            assert remix is not None and remix.track_index == 1 and remix.semitones == -2 and remix.classes
            assert set(remix.classes) <= set(ex.notes)
        elif t == 1:
            assert ex.augmentation.remix is not None and ex.augmentation.remix.track_index == 0
        else:
            assert ex.augmentation.remix is None


def test_same_seed_and_index_give_the_same_example(keyed_corpus):
    config = AugmentConfig(enabled=True, gain_p=0.7, drop_p=0.5, pitch_p=0.7, remix_p=0.7)
    a, b = dataset(keyed_corpus, config, seed=3), dataset(keyed_corpus, config, seed=3)
    plans = []
    for index in (0, 5, 7):
        x, y = a[index], b[index]
        assert x.augmentation == y.augmentation and x.start_s == y.start_s
        assert np.array_equal(x.mix, y.mix) and x.stems.keys() == y.stems.keys()
        assert all(np.array_equal(x.stems[c], y.stems[c]) for c in x.stems)
        assert x.notes.keys() == y.notes.keys()
        assert all(np.array_equal(x.notes[c].onset_s, y.notes[c].onset_s) for c in x.notes)
        plans.append(x.augmentation)
    assert [a[i].augmentation for i in (0, 5, 7)] == plans  # again, in another order of calls
    other = dataset(keyed_corpus, config, seed=4)
    assert [other.plan(i, *other.window(i)) for i in range(8)] != [a.plan(i, *a.window(i)) for i in range(8)]


def test_window_draws_do_not_change_with_augmentation(keyed_corpus):
    plain, augmented = dataset(keyed_corpus), dataset(keyed_corpus, AugmentConfig(enabled=True))
    assert [plain.window(i) for i in range(8)] == [augmented.window(i) for i in range(8)]
    disabled = dataset(keyed_corpus, AugmentConfig(enabled=False, gain_p=1.0))
    assert disabled.augment is None and disabled[0].augmentation is None
    assert np.array_equal(disabled[0].mix, plain[0].mix)


def test_validation_and_test_windows_are_never_augmented(keyed_corpus):
    for split in ("validation", "test"):
        write_track(keyed_corpus / split, "Track00010", {"S00": {"program": 0, "notes": [(0.5, 1.5, 60)]}})
    everything = AugmentConfig(enabled=True, gain_p=1.0, drop_p=1.0, pitch_p=1.0, remix_p=1.0)
    dm = SlakhDataModule(keyed_corpus, segment_s=1.0, batch_size=2, num_workers=0, train_examples_per_epoch=4,
                         augment=everything)
    dm.setup()
    assert dm.datasets["train"].augment == everything
    assert dm.datasets["val"].augment is None and dm.datasets["test"].augment is None
    plain = SlakhDataset(keyed_corpus, "validation", segment_s=1.0, random=False, max_windows_per_track=2)
    for batch in dm.val_dataloader():
        for ex in batch.examples:
            assert ex.augmentation is None
            assert np.array_equal(ex.mix, plain.example(0, ex.start_s).mix)
    assert all(e.augmentation is not None for b in dm.train_dataloader() for e in b.examples)
    with pytest.raises(ValueError, match="only random .training. windows can be augmented"):
        SlakhDataset(keyed_corpus, "validation", random=False, augment=everything)


def test_draw_plan_is_a_function_of_the_generator(keyed_corpus):
    catalog = TrackCatalog.from_tracks(load_index(keyed_corpus, "train"))
    config = AugmentConfig(enabled=True, gain_p=1.0, drop_p=1.0, pitch_p=1.0, remix_p=1.0)
    plans = [draw_plan(config, np.random.default_rng([1, 2, 1]), track=0, start_s=1.0, catalog=catalog, segment_s=2.0)
             for _ in range(2)]
    assert plans[0] == plans[1]
    plan = plans[0]
    assert plan.semitones in (-2, -1, 1, 2) and plan.gains_db
    assert all(-6.0 <= g <= 6.0 for _, g in plan.gains_db)
    assert not set(plan.dropped) & {c for c, _ in plan.gains_db}


def test_song_fields_are_read_and_checked(keyed_corpus):
    tracks = load_index(keyed_corpus, "train")
    assert (tracks[1].tempo_bpm, tracks[1].key_tonic, tracks[1].key_mode, tracks[1].style) == (
        pytest.approx(134.6939, abs=1e-3), 2, "major", "pop")
    set_song(keyed_corpus / "train" / "Track00004", key_mode=3)
    with pytest.raises(DatasetError, match="Track00004.*key_mode must be the name of a mode .*got 3"):
        load_index(keyed_corpus, "train")
    set_song(keyed_corpus / "train" / "Track00004", key_mode="Dorian")
    assert load_index(keyed_corpus, "train")[3].key_mode == "dorian"
    set_song(keyed_corpus / "train" / "Track00004", key_mode="minor", key_tonic=12)
    with pytest.raises(DatasetError, match="key_tonic must be an integer pitch class 0-11"):
        load_index(keyed_corpus, "train")
    set_song(keyed_corpus / "train" / "Track00004", key_tonic=0, tempo_bpm="fast")
    with pytest.raises(DatasetError, match="tempo_bpm must be a number"):
        load_index(keyed_corpus, "train")
