"""jobs/attribution.py: a note heard but written into another instrument's track is told apart from a
note not heard at all."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from tests.conftest import write_track


def test_notes_written_into_another_instruments_track_are_counted_there(tiny_model_file, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("attribution", Path(__file__).parents[1] / "jobs" / "attribution.py")
    job = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(job)  # type: ignore[union-attr]
    root = tmp_path / "corpus"
    piano = [(0.2, 0.6, 60), (0.8, 1.2, 62), (1.4, 1.8, 64), (2.0, 2.4, 65)]
    write_track(root / "test", "Track00001", {"S00": {"program": 0, "notes": piano},
                                              "S01": {"program": 33, "notes": [(0.5, 2.5, 40)]}}, duration_s=3.0)
    onset = np.zeros((301, 2, 88), np.uint8)  # classes 0 (piano) and 10 (bass): the posteriorgrams as cached
    frame = np.zeros_like(onset)
    for k, (start, end, pitch) in enumerate(piano):
        column = 0 if k < 2 else 1  # two notes in piano's track, one in bass's, the last nowhere
        if k < 3:
            onset[round(start * 100), column, pitch - 21] = 255
            frame[round(start * 100): round(end * 100), column, pitch - 21] = 255
    onset[50, 1, 40 - 21] = 255
    frame[50:250, 1, 40 - 21] = 255
    cache = tmp_path / "cache"
    cache.mkdir()
    np.savez_compressed(cache / "Track00001.npz", onset=onset, frame=frame, classes=np.array([0, 10]))
    assert job.main([str(root), "--split", "test", "--cache", str(cache), "--ckpt", str(tiny_model_file)]) == 0
    printed = capsys.readouterr().out
    assert "Piano                     4 0.500 0.250 (Bass 0.250) 0.250" in printed
    assert "Bass                      1 1.000 0.000 (-) 0.000" in printed
    assert "all pitched               5 0.600 0.200 0.200" in printed


def test_drum_hits_heard_as_another_drum_key_are_counted_there(tiny_model_file, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("attribution", Path(__file__).parents[1] / "jobs" / "attribution.py")
    job = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(job)  # type: ignore[union-attr]
    root = tmp_path / "corpus"
    ride = [(0.2 + 0.5 * i, 0.3 + 0.5 * i, 51) for i in range(4)]  # four ride hits
    write_track(root / "test", "Track00001", {"S00": {"program": 0, "notes": [(0.5, 1.0, 60)]},
                                              "S01": {"program": 0, "is_drum": True, "notes": ride}}, duration_s=2.5)
    onset = np.zeros((251, 2, 88), np.uint8)  # classes 0 (piano) and 38 (drums)
    frame = np.zeros_like(onset)
    onset[50, 0, 60 - 21] = 255
    frame[50:100, 0, 60 - 21] = 255
    for k, (start, _, _) in enumerate(ride[:3]):
        key = 51 if k == 0 else 42  # the first at its key, two heard as a closed hi-hat, the last missed
        onset[round(start * 100), 1, key - 21] = 255
    cache = tmp_path / "cache"
    cache.mkdir()
    np.savez_compressed(cache / "Track00001.npz", onset=onset, frame=frame, classes=np.array([0, 38]))
    assert job.main([str(root), "--split", "test", "--cache", str(cache), "--ckpt", str(tiny_model_file), "--drums"]) == 0
    printed = capsys.readouterr().out
    assert "4 hits (0.800 of all notes)" in printed
    assert "key  51      4      1 0.250 0.500 (42 0.500) 0.250" in printed
