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
