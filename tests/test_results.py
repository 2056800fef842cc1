"""The result types: the posteriorgram's uint8 encoding, and what a transcription offers."""

from __future__ import annotations

import numpy as np
import pretty_midi
import pytest
import torch

from jointist.instruments import by_name
from jointist.notes import NoteArray
from jointist.results import InstrumentResult, Posteriorgram, Transcription


def test_posteriorgram_codes_give_back_the_probabilities_within_half_a_step():
    probabilities = np.random.default_rng(0).random((500, 88)).astype(np.float32)
    probabilities[0, :4] = [0.0, 1.0, 0.5 / 255, 254.5 / 255]  # the ends and two ties round up
    gram = Posteriorgram.from_probabilities(probabilities)
    assert gram.codes.dtype == np.uint8 and gram.codes.shape == (500, 88)
    assert gram.codes[0, :4].tolist() == [0, 255, 1, 255]
    back = gram.probabilities()
    assert back.dtype == np.float32 and np.abs(back - probabilities).max() <= 1 / 510 + 1e-7
    assert np.array_equal(Posteriorgram.encode(torch.from_numpy(probabilities)).numpy(), gram.codes)
    assert Posteriorgram.from_probabilities(back).codes.tolist() == gram.codes.tolist()  # decoding then encoding is exact


def test_posteriorgram_knows_its_length_and_refuses_other_dtypes():
    gram = Posteriorgram(np.zeros((250, 88), np.uint8), fps=50)
    assert gram.num_frames == 250 and gram.duration_s == 5.0
    with pytest.raises(TypeError, match="uint8"):
        Posteriorgram(np.zeros((10, 88), np.float32))


def track(name: str, notes: NoteArray, stem: np.ndarray | None = None) -> InstrumentResult:
    empty = Posteriorgram(np.zeros((10, 88), np.uint8))
    return InstrumentResult(by_name(name), notes, empty, empty, stem=stem)


def test_a_transcription_gives_notes_per_class_stems_per_name_and_a_midi_file(tmp_path):
    piano = NoteArray.from_arrays([0.5, 1.0], [0.9, 1.5], [60, 64])
    drums = NoteArray.from_arrays([0.25], [0.35], [36])
    result = Transcription(2.0, [track("drums", drums), track("piano", piano, stem=np.ones(100, np.float32))])
    assert list(result.notes()) == [38, 0] and result.notes()[0] is piano  # in the order they were requested
    assert list(result.stems()) == ["Piano"]
    pm = pretty_midi.PrettyMIDI(str(result.write_midi(tmp_path / "out" / "song.mid")))
    assert [(i.program, i.is_drum, len(i.notes)) for i in pm.instruments] == [(0, False, 2), (0, True, 1)]


def test_a_long_song_keeps_max_pooled_posteriorgrams_of_bounded_size():
    """Blocks of any size go in; a song that fits keeps every frame, a longer one is max-pooled by the
    smallest factor that fits, with its frame rate saying so."""
    from jointist.results import PosteriorgramPool

    rng = np.random.default_rng(1)
    codes = rng.integers(0, 256, (1003, 2, 88), dtype=np.uint8)
    full = PosteriorgramPool(1003, (2, 88), max_frames=2000)
    pooled = PosteriorgramPool(1003, (2, 88), max_frames=300)
    first = 0
    for n in (1, 250, 3, 500, 249):
        full.push(codes[first: first + n])
        pooled.push(codes[first: first + n])
        first += n
    assert full.factor == 1 and np.array_equal(full.posteriorgram(1).codes, codes[:, 1])
    gram = pooled.posteriorgram(0)
    assert pooled.factor == 4 and gram.codes.shape == (251, 88) and gram.fps == 25.0
    assert np.array_equal(gram.codes[10], codes[40:44, 0].max(axis=0))
    assert np.array_equal(gram.codes[-1], codes[1000:, 0].max(axis=0))  # the last row holds the last 3 frames
    assert gram.duration_s == pytest.approx(10.04)
    with pytest.raises(ValueError, match="more frames than announced"):
        pooled.push(codes[:1])
