"""jobs/offset_head.py: cells sampled from a corpus through a model's trunk, then an offset head
trained on them and written into a copy of the model file."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from jointist.models.serialize import load_model
from tests.conftest import write_track


def _job():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("offset_head", Path(__file__).parents[1] / "jobs" / "offset_head.py")
    job = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(job)  # type: ignore[union-attr]
    return job


def test_the_offset_head_job_samples_note_ends_and_trains_a_head_that_finds_them(tiny_model_file, tmp_path, capsys):
    job = _job()
    rng = np.random.default_rng(0)
    root = tmp_path / "corpus"
    for i in range(12):
        starts = np.sort(rng.uniform(0.1, 2.2, 4))
        notes = [(float(s), float(s + rng.uniform(0.2, 0.6)), int(rng.integers(48, 72))) for s in starts]
        write_track(root / "train", f"Track{i:05d}", {"S00": {"program": 0, "notes": notes}}, duration_s=3.0)
    cells = tmp_path / "cells"
    for shard in ("0/2", "1/2"):
        assert job.main(["cells", str(root), "--out", str(cells), "--shard", shard, "--model", str(tiny_model_file)]) == 0
    files = sorted(cells.glob("*.npz"))
    assert [f.stem for f in files] == [f"Track{i:05d}" for i in range(12)]  # every song once, no temporary left
    with np.load(files[0]) as z:
        ends = z["stratum"] == 0
        assert z["features"].dtype == np.float16 and z["features"].shape[1] == 8  # the tiny trunk's channels
        assert 1 <= ends.sum() <= 4 and set(z["cls"].tolist()) == {0}  # piano's note ends (one per note in range)
    out = tmp_path / "with_offsets.pt"
    assert job.main(["train", str(cells), "--out", str(out), "--model", str(tiny_model_file), "--epochs", "30",
                     "--batch", "64", "--lr", "1e-2"]) == 0
    printed = capsys.readouterr().out
    assert "held-out AP of ends" in printed and f"wrote {out}" in printed
    model, card = load_model(out, role="transcriber")
    base, base_card = load_model(tiny_model_file, role="transcriber")
    assert model.init_args["offset"] is True and card.decode == base_card.decode
    state = model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in base.state_dict().items())  # the rest of the model unchanged
    curve = __import__("json").loads(out.with_suffix(".curve.json").read_text())
    last = curve[-1]["mean_probability"]
    assert last["end"] > 2 * last["inside"]  # the head tells a note's end from its middle on held-out songs
    (cells / "Track00003.npz").write_bytes(b"not numpy")  # a damaged file is named, not a traceback
    with pytest.raises(SystemExit, match="Track00003.npz: not a readable cells file"):
        job.main(["train", str(cells), "--out", str(tmp_path / "again.pt"), "--model", str(tiny_model_file)])
