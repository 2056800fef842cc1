"""The transcriber shipped inside the package works right after install, with no flags but the audio."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from jointist.instruments import by_name
from jointist.metrics import match_counts
from jointist.models.pitchwise import PitchwiseTranscriber
from jointist.models.serialize import load_model
from jointist.notes import NoteArray
from jointist.pipeline import Transcriber, default_model_path
from tests.conftest import sine_notes


def test_shipped_model_is_packaged_small_and_self_describing():
    path = default_model_path()
    assert path.is_file() and path.stat().st_size < 30 * 2**20
    model, extra = load_model(path)
    assert isinstance(model, PitchwiseTranscriber)  # the default layout (conf/model/transcriber.yaml)
    assert {"onset_threshold", "frame_threshold"} <= set(extra["decode"])
    assert extra["trained_steps"] > 0


def test_shipped_model_transcribes_a_file_with_default_settings(tmp_path):
    path = tmp_path / "clip.wav"
    sf.write(path, sine_notes([(0.5, 1.5, 60), (1.0, 2.0, 64), (2.0, 3.0, 67)], 4.0), 16_000)
    result = Transcriber(progress=False).transcribe_file(path, instruments=["piano", "bass"])
    assert [t.instrument.name for t in result.tracks] == ["Piano", "Bass"]
    assert all(t.frame.shape == (401, 88) for t in result.tracks)
    for track in result.tracks:
        assert np.all((track.notes.pitch >= 21) & (track.notes.pitch <= 108))


def test_shipped_model_transcribes_a_piano_melody_in_an_unheard_soundfont():
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


def test_shipped_recognizer_is_packaged_with_its_thresholds():
    from jointist.models.recognizer import InstrumentRecognizer
    from jointist.pipeline import DEFAULT_RECOGNIZER, Recognizer

    path = default_model_path(DEFAULT_RECOGNIZER)
    assert path.is_file() and path.stat().st_size < 30 * 2**20
    model, extra = load_model(path)
    assert isinstance(model, InstrumentRecognizer)
    assert len(extra["thresholds"]) == 39 and extra["aggregate"] in ("max", "mean")
    recognizer = Recognizer()
    probs = recognizer.window_probabilities(sine_notes([(0.5, 3.0, 60)], 12.0))
    assert probs.shape == (2, 39) and np.all((probs >= 0) & (probs <= 1))
