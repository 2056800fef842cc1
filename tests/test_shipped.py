"""The transcriber shipped inside the package works right after install, with no flags but the audio."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from jointist.models.serialize import load_model
from jointist.models.transcriber import OnsetsFramesTranscriber
from jointist.pipeline import Transcriber, default_model_path
from tests.conftest import sine_notes


def test_shipped_model_is_packaged_small_and_self_describing():
    path = default_model_path()
    assert path.is_file() and path.stat().st_size < 30 * 2**20
    model, extra = load_model(path)
    assert isinstance(model, OnsetsFramesTranscriber)
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
