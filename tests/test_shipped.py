"""The models shipped inside the package work right after install, with no flags but the audio."""

from __future__ import annotations

import re

import numpy as np
import soundfile as sf

from jointist.instruments import by_name
from jointist.metrics import match_counts
from jointist.models.pitchwise import PitchwiseTranscriber
from jointist.models.recognizer import InstrumentRecognizer
from jointist.models.serialize import load_model, model_roles
from jointist.notes import NoteArray
from jointist.pipeline import DEFAULT_RECOGNIZER, Recognizer, Transcriber, default_model_path
from tests.conftest import model_config, note_array, sine_notes

MACHINE_PATH = re.compile(r"(?:^|[\s'\"(=:])(?:/|[A-Za-z]:\\)[\w.]")
"""An absolute path (POSIX or Windows) anywhere in a text."""


def plain_args(name: str) -> dict:
    return {k: v for k, v in model_config(name).items() if k != "_target_"}


def test_shipped_transcriber_is_packaged_small_with_a_clean_card():
    path = default_model_path()
    assert path.is_file() and path.stat().st_size < 30 * 2**20
    assert list(model_roles(path)) == ["transcriber"]
    model, card = load_model(path)
    assert isinstance(model, PitchwiseTranscriber)
    assert card.init_args == {"n_classes": 39, **plain_args("transcriber")}  # the default layout, conf/model/transcriber.yaml
    assert {"onset_threshold", "frame_threshold"} <= set(card.decode) and card.trained_steps > 0
    assert card.training_data and not MACHINE_PATH.search(repr(card))  # says what data, not where it lay


def test_shipped_transcriber_transcribes_a_file_with_default_settings(tmp_path):
    path = tmp_path / "clip.wav"
    notes = [(0.5, 1.5, 60), (1.0, 2.0, 64), (2.0, 3.0, 67)]
    sf.write(path, sine_notes(notes, 4.0), 16_000)
    result = Transcriber(progress=False).transcribe_file(path, instruments=["piano", "bass"])
    piano, bass = result.tracks
    assert (piano.instrument.name, bass.instrument.name) == ("Piano", "Bass")
    assert piano.frame.codes.shape == (401, 88)
    assert match_counts(note_array(notes), piano.notes, with_offset=False).tp == 3  # measured: 3 of 3, 2 extra
    assert len(bass.notes) < len(piano.notes)  # three piano-register sines are not a bass line


def test_shipped_transcriber_transcribes_a_piano_melody_in_an_unheard_soundfont():
    """A rendered C-major phrase (TimGM6mb: never heard in training): the shipped model must find
    its notes, and the piano track must be far closer to them than an unrelated instrument's."""
    from jointist.data.render import FluidSynthRenderer, resolve_soundfont

    pitches = [60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 60, 55]
    onsets = np.arange(len(pitches)) * 0.5 + 0.25
    notes = NoteArray.from_arrays(onsets, onsets + 0.4, pitches, np.full(len(pitches), 90))
    audio = FluidSynthRenderer().render(notes, program=0, is_drum=False, soundfont=resolve_soundfont("TimGM6mb.sf2"),
                                        duration_s=7.0)
    result = Transcriber(progress=False).transcribe_audio(audio, instruments=["piano", "flute"])
    found = result.notes()
    piano = match_counts(notes, found[0], with_offset=False)
    assert piano.f1 >= 0.7, (piano, found[0])  # measured: 12 of 12 found, 5 extra (F1 0.83)
    flute = match_counts(notes, found[by_name('flute').index], with_offset=False)
    assert flute.f1 < piano.f1


def test_shipped_recognizer_is_packaged_with_its_tuned_thresholds():
    path = default_model_path(DEFAULT_RECOGNIZER)
    assert path.is_file() and path.stat().st_size < 30 * 2**20
    model, card = load_model(path)
    assert isinstance(model, InstrumentRecognizer)
    assert card.init_args == {"n_classes": 39, **plain_args("recognizer")}
    assert len(card.thresholds) == 39 and 0 < min(card.thresholds) and max(card.thresholds) < 1
    assert len(set(card.thresholds)) > 1 and card.aggregate in ("max", "mean")  # tuned per class on validation
    assert card.trained_steps == 500  # the checkpoint of step 500 (best validation mAP)
    assert card.training_data and not MACHINE_PATH.search(repr(card))
    recognizer = Recognizer()
    assert np.array_equal(recognizer.thresholds, np.asarray(card.thresholds)) and recognizer.aggregate == card.aggregate
    assert recognizer.window_probabilities(sine_notes([(0.5, 3.0, 60)], 12.0)).shape == (2, 39)  # windows at 0 and 9 s
