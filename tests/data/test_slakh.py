import numpy as np
import pytest
import yaml

from jointist.audio.io import AudioError
from jointist.constants import SAMPLE_RATE
from jointist.data.slakh import DatasetError, EpochSampler, SlakhDataset, collate_examples, load_index


def test_index_reads_rendered_stems_with_classes_and_notes(hand_corpus):
    tracks = load_index(hand_corpus, "train")
    assert [t.track_id for t in tracks] == ["Track00001", "Track00002"]
    first = tracks[0]
    assert [s.stem_id for s in first.stems] == ["S00", "S01", "S02"]  # S03 was not rendered
    assert [s.instrument for s in first.stems] == [0, 10, 38]
    assert first.instruments == [0, 10, 38]
    assert first.duration_s == pytest.approx(4.0)
    assert first.stems[0].notes.pitch.tolist() == [60, 64, 67]
    assert (hand_corpus / "train" / ".jointist_index.npz").is_file()


def test_index_cache_is_reused_and_refreshed(hand_corpus):
    load_index(hand_corpus, "train")
    cache = hand_corpus / "train" / ".jointist_index.npz"
    stamp = cache.stat().st_mtime_ns
    load_index(hand_corpus, "train")
    assert cache.stat().st_mtime_ns == stamp
    meta_path = hand_corpus / "train" / "Track00002" / "metadata.yaml"
    meta = yaml.safe_load(meta_path.read_text())
    meta["stems"]["S00"]["program_num"] = 0  # now a piano
    meta_path.write_text(yaml.safe_dump(meta) + "\n")
    assert load_index(hand_corpus, "train")[1].stems[0].instrument == 0


def test_window_returns_aligned_audio_and_notes(hand_corpus):
    ds = SlakhDataset(hand_corpus, "train", segment_s=2.0, random=False)
    assert ds.windows == [(0, 0.0), (0, 2.0), (1, 0.0), (1, 2.0)]
    ex = ds.example(0, 1.0)  # window 1.0 .. 3.0 s of Track00001
    assert ex.mix.shape == (2 * SAMPLE_RATE,)
    assert sorted(ex.stems) == sorted(ex.notes) == [0, 10, 38]
    piano = ex.notes[0]
    assert piano.onset_s.tolist() == pytest.approx([0.5, 0.5])  # the chord at 1.5 s
    assert piano.pitch.tolist() == [64, 67]
    assert ex.notes[10].onset_s.tolist() == pytest.approx([-0.75])  # bass started before the window
    assert ex.notes[38].onset_s.tolist() == pytest.approx([0.0, 1.0])
    # the piano stem is silent until its chord starts at 0.5 s into the window, then sounds
    rms = lambda a: float(np.sqrt(np.mean(a**2)))  # noqa: E731
    assert rms(ex.stems[0][: int(0.49 * SAMPLE_RATE)]) < 1e-4
    assert rms(ex.stems[0][int(0.51 * SAMPLE_RATE): int(1.4 * SAMPLE_RATE)]) > 0.05
    # the mixture is the sum of the class stems
    assert np.allclose(ex.mix, sum(ex.stems.values()), atol=1e-3)
    assert ex.present.nonzero()[0].tolist() == [0, 10, 38]


def test_absent_class_in_window_is_not_present(hand_corpus):
    ds = SlakhDataset(hand_corpus, "train", segment_s=1.0, random=False, load_stems=False)
    ex = ds.example(1, 0.0)  # Track00002's only note starts at 3.2 s
    assert ex.present.sum() == 0 and len(ex.notes[9]) == 0 and ex.stems == {}
    assert ds.example(1, 3.0).present.nonzero()[0].tolist() == [9]


def test_random_windows_are_reproducible_and_on_the_frame_grid(hand_corpus):
    a = SlakhDataset(hand_corpus, "train", segment_s=1.0, examples_per_epoch=8, seed=3)
    b = SlakhDataset(hand_corpus, "train", segment_s=1.0, examples_per_epoch=8, seed=3)
    c = SlakhDataset(hand_corpus, "train", segment_s=1.0, examples_per_epoch=8, seed=4)
    windows = [a.window(i) for i in range(8)]
    assert windows == [b.window(i) for i in range(8)] != [c.window(i) for i in range(8)]
    for _, start in windows:
        assert 0 <= start <= 3.0 and abs(start * 100 - round(start * 100)) < 1e-9
    sampler = EpochSampler(8)
    first = list(sampler)
    sampler.set_epoch(1)
    assert first == list(range(8)) and list(sampler) == list(range(8, 16))
    batch = collate_examples([a[i] for i in range(3)])
    assert batch.mix.shape == (3, SAMPLE_RATE) and batch.present.shape == (3, 39) and len(batch) == 3


def test_mix_from_stems_equals_sum(hand_corpus):
    ds = SlakhDataset(hand_corpus, "train", segment_s=2.0, random=False, mix_from_stems=True)
    ex = ds[0]
    assert np.array_equal(ex.mix, sum(ex.stems.values()))


def test_missing_root_and_split(tmp_path):
    with pytest.raises(DatasetError, match="does not exist.*jointist-synth"):
        load_index(tmp_path / "nowhere", "train")
    (tmp_path / "train").mkdir()
    with pytest.raises(DatasetError, match="validation.*does not exist.*found: train"):
        load_index(tmp_path, "validation")
    with pytest.raises(DatasetError, match="holds no TrackNNNNN"):
        load_index(tmp_path, "train")


def test_malformed_metadata(hand_corpus):
    (hand_corpus / "train" / "Track00001" / "metadata.yaml").write_text("stems: [unclosed\n")
    with pytest.raises(DatasetError, match="malformed metadata file .*Track00001"):
        load_index(hand_corpus, "train")
    (hand_corpus / "train" / "Track00001" / "metadata.yaml").write_text("UUID: 1\n")
    with pytest.raises(DatasetError, match="'stems' mapping"):
        load_index(hand_corpus, "train")


def test_missing_stem_file(hand_corpus):
    (hand_corpus / "train" / "Track00001" / "stems" / "S01.flac").unlink()
    with pytest.raises(DatasetError, match="stem S01 is marked audio_rendered but .*S01.flac is missing"):
        load_index(hand_corpus, "train")


def test_unreadable_audio_file(hand_corpus):
    ds = SlakhDataset(hand_corpus, "train", segment_s=1.0, random=False)
    (hand_corpus / "train" / "Track00001" / "stems" / "S00.flac").write_bytes(b"\x00garbage" * 64)
    with pytest.raises(AudioError, match="cannot read .*S00.flac"):
        ds.example(0, 0.0)
    (hand_corpus / "train" / "Track00002" / "mix.flac").write_bytes(b"junk")
    with pytest.raises(DatasetError, match="Track00002: unreadable mixture"):
        load_index(hand_corpus, "train", use_cache=False)


def test_unreadable_midi_file(hand_corpus):
    (hand_corpus / "train" / "Track00001" / "MIDI" / "S01.mid").write_bytes(b"MThd junk")
    with pytest.raises(DatasetError, match="cannot read MIDI file .*S01.mid"):
        load_index(hand_corpus, "train", use_cache=False)


def test_decoded_cache_gives_the_same_windows(hand_corpus, tmp_path):
    direct = SlakhDataset(hand_corpus, "train", segment_s=1.5, random=False)
    cached = SlakhDataset(hand_corpus, "train", segment_s=1.5, random=False, decode_cache=tmp_path / "dec")
    for index in range(len(direct)):
        a, b = direct[index], cached[index]
        assert np.allclose(a.mix, b.mix, atol=1 / 16384)
        assert sorted(a.stems) == sorted(b.stems)
        for c in a.stems:
            assert np.allclose(a.stems[c], b.stems[c], atol=1 / 16384)
    assert len(list((tmp_path / "dec").rglob("*.npy"))) == 2 + 3 + 1  # two mixes, four rendered stems
    again = SlakhDataset(hand_corpus, "train", segment_s=1.5, random=False, decode_cache="auto")
    assert np.allclose(again.example(0, 2.9).mix, direct.example(0, 2.9).mix, atol=1 / 16384)
    assert (hand_corpus / "train" / ".jointist_decoded").is_dir()
