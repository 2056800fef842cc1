"""The synthetic corpus: Slakh2100 layout, exact mixes, determinism, honest test split (needs FluidSynth)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import yaml

from jointist.data.render import ReservedSoundFontError, resolve_soundfont
from jointist.data.slakh import SlakhDataset, load_index
from jointist.data.synthetic import CorpusSpec, render_corpus, split_counts

SPEC = CorpusSpec(num_tracks=5, duration_s=6.0, seed=7, splits={"train": 0.6, "validation": 0.2, "test": 0.2},
                  styles={"train": {"pop": 1.0}, "validation": {"chorale": 1.0}, "test": {"jazz": 1.0}})


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    results = render_corpus(root, SPEC, workers=2, progress=False)
    return root, results


def test_layout_is_slakh2100(corpus):
    root, results = corpus
    assert split_counts(5, SPEC.splits) == {"train": 3, "validation": 1, "test": 1}
    assert [r.path.parent.name for r in results] == ["train"] * 3 + ["validation", "test"]
    assert [r.path.name for r in results] == [f"Track{i:05d}" for i in range(1, 6)]
    for result in results:
        track = result.path
        meta = yaml.safe_load((track / "metadata.yaml").read_text())
        assert (track / "mix.flac").is_file() and (track / "all_src.mid").is_file()
        # min_stems binds pop songs; the other styles write their own ensembles (a solo piano upwards)
        assert (4 if meta["style"] == "pop" else 1) <= len(meta["stems"]) <= 12
        for sid, stem in meta["stems"].items():
            assert {"program_num", "is_drum", "inst_class", "audio_rendered", "midi_saved"} <= set(stem)
            assert (track / "MIDI" / f"{sid}.mid").is_file()
            assert (track / "stems" / f"{sid}.flac").is_file() == stem["audio_rendered"]
    assert not list(root.rglob(".Track*"))  # no temporary folders left behind


def test_stems_sum_exactly_to_the_mix(corpus):
    root, results = corpus
    for result in results:
        mix, sr = sf.read(result.path / "mix.flac", dtype="int16")
        stems = [sf.read(p, dtype="int16")[0].astype(np.int32) for p in sorted((result.path / "stems").glob("*.flac"))]
        assert sr == 16_000 and len(mix) == 6 * sr
        assert np.array_equal(np.sum(stems, axis=0), mix.astype(np.int32))
        assert np.abs(mix).max() > 0.5 * 32767  # normalised to the configured peak


def test_test_split_uses_a_soundfont_training_never_hears(corpus):
    root, _ = corpus
    fonts = {}
    for split in ("train", "validation", "test"):
        fonts[split] = {
            stem["plugin_name"]
            for meta_path in (root / split).glob("Track*/metadata.yaml")
            for stem in yaml.safe_load(meta_path.read_text())["stems"].values()
            if stem["audio_rendered"]
        }
    assert fonts["test"] == {"TimGM6mb.sf2"}
    assert not fonts["train"] & fonts["test"]


def test_same_seed_same_bytes_other_seed_other_songs(corpus, tmp_path):
    root, _ = corpus
    again = tmp_path / "again"
    render_corpus(again, SPEC, workers=1, progress=False)
    for midi in sorted(root.rglob("*.mid")):
        assert midi.read_bytes() == (again / midi.relative_to(root)).read_bytes(), midi
    for flac in sorted(root.rglob("*.flac"))[:6]:
        assert np.array_equal(sf.read(flac)[0], sf.read(again / flac.relative_to(root))[0]), flac
    other = tmp_path / "other"
    render_corpus(other, CorpusSpec(**{**SPEC.to_dict(), "seed": 8, "tempo_bpm_range": (60.0, 180.0)}),
                  workers=1, progress=False)
    first = "train/Track00001/all_src.mid"
    assert (root / first).read_bytes() != (other / first).read_bytes()


def test_rerun_resumes_and_refuses_other_settings(corpus):
    root, _ = corpus
    assert all(r.skipped for r in render_corpus(root, SPEC, workers=1, progress=False))
    with pytest.raises(FileExistsError, match="other settings"):
        render_corpus(root, CorpusSpec(**{**SPEC.to_dict(), "seed": 1, "tempo_bpm_range": (60.0, 180.0)}),
                      progress=False)


def test_loader_notes_line_up_with_rendered_audio(corpus):
    root, _ = corpus
    ds = SlakhDataset(root, "train", segment_s=6.0, random=False)
    sounding = silent_before = 0
    for t, track in enumerate(ds.tracks):
        ex = ds.example(t, 0.0)
        for stem in track.stems:
            if stem.is_drum or len(stem.notes) == 0 or sum(s.instrument == stem.instrument for s in track.stems) > 1:
                continue
            first = float(ex.notes[stem.instrument].onset_s.min())
            audio = ex.stems[stem.instrument]
            after = audio[int(first * 16_000): int((first + 0.1) * 16_000)]
            assert np.abs(after).max() > 1e-3, (track.track_id, stem.stem_id)
            sounding += 1
            if first >= 0.05:  # nothing may sound before the first note
                assert np.abs(audio[: int((first - 0.02) * 16_000)]).max() < 1e-3, (track.track_id, stem.stem_id)
                silent_before += 1
    assert sounding >= 6 and silent_before >= 1


def test_reserved_and_missing_soundfonts():
    with pytest.raises(ReservedSoundFontError, match="reserved"):
        resolve_soundfont("MuseScore_General.sf2")
    with pytest.raises(FileNotFoundError, match="apt-get install"):
        resolve_soundfont("NoSuchBank.sf2")
    assert resolve_soundfont("TimGM6mb.sf2").is_file()
    with pytest.raises(ValueError, match="no SoundFonts listed"):
        CorpusSpec(num_tracks=2, duration_s=4.0, soundfonts={"train": ["TimGM6mb.sf2"]})


def test_ride_share_is_checked_and_saved_only_when_used():
    assert "ride_share" not in SPEC.to_dict()  # corpora made before the option resume as they were
    assert CorpusSpec(**{**SPEC.to_dict(), "ride_share": 0.7}).to_dict()["ride_share"] == 0.7
    with pytest.raises(ValueError, match="ride_share must be in"):
        CorpusSpec(**{**SPEC.to_dict(), "ride_share": 1.5})


def test_cli_renders_and_prints_statistics(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "jointist.cli.synth", f"root={tmp_path / 'c'}", "num_tracks=2", "duration_s=3",
         "splits={train: 0.5, test: 0.5}", "progress=false"],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    )
    assert "| train | 1 |" in out.stdout and "| test | 1 |" in out.stdout
    assert "Drums" in out.stdout
    assert len(load_index(tmp_path / "c", "test")) == 1


def test_corpus_statistics_per_style(corpus):
    from jointist.data.stats import corpus_stats, format_stats

    root, _ = corpus
    rows = {s.split: s for s in corpus_stats(root, by_style=True)}
    written = [f"{t.parent.name}/{yaml.safe_load((t / 'metadata.yaml').read_text())['style']}"
               for t in sorted(root.glob("*/Track*"))]
    assert {name: rows[name].tracks for name in rows} == {name: written.count(name) for name in set(written)}
    assert set(rows) == {"train/pop", "validation/chorale", "test/jazz"}
    assert rows["validation/chorale"].stems_per_song[1] >= 1 and rows["validation/chorale"].notes_per_second > 0
    report = format_stats(corpus_stats(root), list(rows.values()))
    assert "| validation/chorale | 1 |" in report
