"""Timbre variation at render time: FluidSynth generators, EQ, saturation, gain and a synthetic room,
on the training split only, with exact mixes and the same songs (needs FluidSynth)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import yaml

from jointist.data.render import FluidSynthRenderer, resolve_soundfont
from jointist.data.synthetic import CorpusSpec, render_corpus
from jointist.data.timbre import (
    GENERATORS,
    Room,
    StemTimbre,
    TimbreSpec,
    apply_room,
    apply_stem_timbre,
    room_impulse_response,
)
from jointist.notes import NoteArray

SR = 16_000


def _level_db(audio: np.ndarray) -> float:
    return 10.0 * np.log10(np.mean(np.asarray(audio, np.float64) ** 2))


def _centroid_hz(audio: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(audio))
    return float((spectrum * np.fft.rfftfreq(len(audio), 1 / SR)).sum() / spectrum.sum())


def test_generator_offsets_darken_soften_and_shorten_a_piano():
    """Two piano notes (0.2-0.8 s, 1.0-1.6 s): a filter 2400 cents lower darkens them, an attack
    2400 timecents slower (x4) takes 5 dB out of the first 30 ms after an onset, a release
    2400 timecents shorter (x1/4) leaves less sound between 0.85 and 1.0 s."""
    renderer, font = FluidSynthRenderer(), resolve_soundfont("FluidR3_GM.sf2")
    notes = NoteArray.from_arrays([0.2, 1.0], [0.8, 1.6], [60, 67], [100, 100])

    def render(**offsets: float) -> np.ndarray:
        wave = renderer.render(notes, program=0, is_drum=False, soundfont=font, duration_s=2.0,
                               generators={GENERATORS[k]: v for k, v in offsets.items()})
        assert wave is not None and wave.shape == (2 * SR,)
        return wave

    plain = render()
    assert np.array_equal(plain, render())  # no offsets: the preset's own sound, deterministic
    assert _centroid_hz(render(filter_cutoff=-2400)) < 0.6 * _centroid_hz(plain)
    onset = slice(int(0.2 * SR), int(0.23 * SR))
    assert _level_db(render(attack=2400)[onset]) < _level_db(plain[onset]) - 3.0
    tail = slice(int(0.85 * SR), int(1.0 * SR))
    assert _level_db(render(release=-2400)[tail]) < _level_db(plain[tail]) - 6.0
    assert _level_db(render(reverb_send=300)[tail]) > _level_db(plain[tail])


def test_eq_shelves_and_peak_change_the_levels_of_their_bands():
    t = np.arange(SR) / SR
    for hz, timbre, expected_db in [
        (60.0, StemTimbre(low_shelf_db=6.0), 6.0),      # deep in the low shelf
        (6000.0, StemTimbre(low_shelf_db=6.0), 0.0),    # far above it
        (7000.0, StemTimbre(high_shelf_db=-6.0), -6.0),
        (100.0, StemTimbre(high_shelf_db=-6.0), 0.0),
        (1000.0, StemTimbre(peak_hz=1000.0, peak_db=4.0, peak_q=1.0), 4.0),  # the peak's centre
        (1000.0, StemTimbre(gain_db=-3.0), -3.0),
    ]:
        sine = 0.1 * np.sin(2 * np.pi * hz * t).astype(np.float32)
        out = apply_stem_timbre(sine, timbre, SR)
        steady = slice(SR // 2, SR)
        assert _level_db(out[steady]) - _level_db(sine[steady]) == pytest.approx(expected_db, abs=0.4), (hz, timbre)


def test_saturation_keeps_the_peak_and_adds_odd_harmonics():
    t = np.arange(SR) / SR
    sine = 0.3 * np.sin(2 * np.pi * 200.0 * t).astype(np.float32)
    out = apply_stem_timbre(sine, StemTimbre(drive_db=12.0), SR)
    assert np.abs(out).max() == pytest.approx(0.3, rel=1e-4)
    spectrum = np.abs(np.fft.rfft(out))
    assert spectrum[600] > 0.05 * spectrum[200] and np.abs(np.fft.rfft(sine))[600] < 1e-3 * spectrum[200]


def test_room_decays_by_60_db_in_rt60_and_keeps_the_mix_the_sum_of_its_stems():
    room = Room(rt60_s=0.5, wet=0.3, seed=4)
    ir = room_impulse_response(room, SR)
    assert len(ir) == int(round(0.6 * SR)) and np.sum(ir ** 2) == pytest.approx(1.0)
    early, late = ir[int(0.05 * SR): int(0.1 * SR)], ir[int(0.5 * SR): int(0.55 * SR)]
    assert _level_db(early) - _level_db(late) == pytest.approx(60.0 * 0.45 / 0.5, abs=8.0)  # exponential decay
    rng = np.random.default_rng(0)
    stems = {0: rng.standard_normal(SR).astype(np.float32), 3: rng.standard_normal(SR).astype(np.float32)}
    wet = apply_room(stems, room, SR)
    together = apply_room({0: stems[0] + stems[3]}, room, SR)[0]
    np.testing.assert_allclose(wet[0] + wet[3], together, atol=1e-4)
    assert _level_db(wet[0]) - _level_db(stems[0]) == pytest.approx(10 * np.log10(1.3), abs=0.3)


SPEC = CorpusSpec(num_tracks=3, duration_s=4.0, seed=11, splits={"train": 0.67, "test": 0.33},
                  styles={"train": {"pop": 1.0}, "test": {"pop": 1.0}})


def test_the_training_split_is_varied_and_the_test_split_is_not(tmp_path):
    varied_spec = CorpusSpec(**{**SPEC.to_dict(), "tempo_bpm_range": (60.0, 180.0),
                                "timbre": TimbreSpec(controllers_p=1.0, eq_p=1.0, room_p=1.0)})
    plain, varied = tmp_path / "plain", tmp_path / "varied"
    render_corpus(plain, SPEC, workers=1, progress=False)
    render_corpus(varied, varied_spec, workers=1, progress=False)
    assert yaml.safe_load((varied / "corpus.yaml").read_text())["timbre"]["splits"] == ["train"]
    assert "timbre" not in yaml.safe_load((plain / "corpus.yaml").read_text())  # older corpora resume as they were
    assert all(r.skipped for r in render_corpus(varied, varied_spec, workers=1, progress=False))
    for track in sorted(varied.glob("*/Track*")):
        twin = plain / track.relative_to(varied)
        for midi in sorted(track.rglob("*.mid")):  # the same songs
            assert midi.read_bytes() == (twin / midi.relative_to(track)).read_bytes()
        meta = yaml.safe_load((track / "metadata.yaml").read_text())
        mix = sf.read(track / "mix.flac", dtype="int16")[0].astype(np.int32)
        stems = [sf.read(p, dtype="int16")[0].astype(np.int32) for p in sorted((track / "stems").glob("*.flac"))]
        assert np.array_equal(np.sum(stems, axis=0), mix)  # still exactly the sum of its stems
        same = np.array_equal(mix, sf.read(twin / "mix.flac", dtype="int16")[0].astype(np.int32))
        if track.parent.name == "train":
            assert not same and meta["jointist"]["room"]["rt60_s"] > 0.0
            assert all(set(GENERATORS) <= set(stem["timbre"]) and "eq_db" in stem["timbre"]
                       for stem in meta["stems"].values() if stem["audio_rendered"])
        else:
            assert same and "room" not in meta["jointist"]
            assert not any("timbre" in stem for stem in meta["stems"].values())
    again = tmp_path / "again"  # the same settings give the same audio
    render_corpus(again, varied_spec, workers=1, progress=False)
    first = "train/Track00001/mix.flac"
    assert np.array_equal(sf.read(varied / first)[0], sf.read(again / first)[0])


def test_bad_timbre_settings_are_refused_by_name(tmp_path, monkeypatch, capsys):
    from jointist.cli import synth
    from tests.conftest import run_command

    for kwargs, message in [({"eq_p": 2.0}, "timbre.eq_p"), ({"gain_db": -1}, "timbre.gain_db"),
                            ({"attack": (10.0, -10.0)}, "timbre.attack"), ({"room_rt60_s": (0.0, 1.0)}, "room_rt60_s")]:
        with pytest.raises(ValueError, match=message):
            TimbreSpec(**kwargs)
    assert TimbreSpec(splits="train").splits == ("train",)
    with pytest.raises(ValueError, match="timbre.splits names split.s. trian the corpus does not have"):
        CorpusSpec(num_tracks=2, duration_s=4.0, timbre=TimbreSpec(splits=("trian",)))
    monkeypatch.chdir(tmp_path)
    status = run_command(synth.main, f"root={tmp_path / 'c'}", "num_tracks=1", "duration_s=3", "+timbre.loudness=3",
                         "progress=false")
    assert status == 2 and "unknown timbre setting(s) loudness; valid:" in capsys.readouterr().out
    assert not (tmp_path / "c").exists()


def test_the_command_varies_only_the_splits_it_is_told_to(tmp_path, monkeypatch):
    from jointist.cli import synth
    from tests.conftest import run_command

    monkeypatch.chdir(tmp_path)
    for name, extra in (("plain", []), ("varied", ["timbre.splits=[train]"])):
        assert run_command(synth.main, f"root={tmp_path / name}", "num_tracks=1", "duration_s=3", "splits={train: 1.0}",
                           "progress=false", "stats=false", *extra) == 0
    assert "timbre" not in yaml.safe_load((tmp_path / "plain" / "corpus.yaml").read_text())  # off by default
    assert yaml.safe_load((tmp_path / "varied" / "corpus.yaml").read_text())["timbre"]["splits"] == ["train"]
    meta = yaml.safe_load((tmp_path / "varied" / "train" / "Track00001" / "metadata.yaml").read_text())
    assert all("timbre" in stem for stem in meta["stems"].values() if stem["audio_rendered"])

