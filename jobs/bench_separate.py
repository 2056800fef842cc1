"""Benchmark of the whole pipeline: recognize + transcribe + separate.

    python jobs/bench_separate.py                          # shipped models (or an untrained default separator)
    python jobs/bench_separate.py --separator outputs/separator_synth/<run>/model.pt

Prints:
1. the real-time factor of recognize + transcribe + separate on a 3-minute synthetic song with 6
   instruments (2 CPU threads by default), and of each stage alone (target: <= 0.25x real time);
2. peak memory (max RSS of a ``jointist-transcribe separate=true`` process) on a 30-minute file with
   6 instruments, stems streamed to disk.

Speed does not depend on the weights: without a trained separator (``--separator`` or a shipped
one) the default architecture (``conf/model/separator.yaml``) is timed with fresh weights, and the
output says so.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from bench_transcribe import six_instruments  # the same 6 instruments as the transcription benchmark

from jointist.audio.io import load_audio, write_audio
from jointist.cli import CONF_DIR
from jointist.data.slakh import load_index
from jointist.data.synthetic import CorpusSpec, render_corpus
from jointist.models.serialize import save_model
from jointist.pipeline import DEFAULT_SEPARATOR, Transcriber, default_model_path


def separator_file(requested: str | None, folder: Path) -> tuple[str, str]:
    """(model file, description): the requested one, the shipped one, or the default architecture untrained."""
    if requested:
        return requested, requested
    shipped = default_model_path(DEFAULT_SEPARATOR)
    if shipped.is_file():
        return str(shipped), "shipped separator"
    from jointist.models.separator import FiLMUNetSeparator

    args = yaml.safe_load((Path(CONF_DIR) / "model" / "separator.yaml").read_text())
    args.pop("_target_")
    path = save_model(FiLMUNetSeparator(**args), folder / "separator_untrained.pt")
    return str(path), "default separator architecture, untrained (no shipped separator yet)"


def timed(fn, repeats: int = 1) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", default=None, help="transcriber model file (default: the shipped one)")
    parser.add_argument("--separator", default=None, help="separator model file (default: shipped, else untrained)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        separator, what = separator_file(args.separator, Path(tmp))
        transcriber = Transcriber(args.ckpt, device=args.device, progress=False, separator=separator)
        print(f"separator: {what}")
        spec = CorpusSpec(num_tracks=1, duration_s=180.0, seed=11, splits={"bench": 1.0},
                          soundfonts={"bench": ["TimGM6mb.sf2"]}, min_stems=6, max_stems=6)
        render_corpus(Path(tmp) / "song", spec, workers=1, progress=False)
        track = load_index(Path(tmp) / "song", "bench")[0]
        instruments = six_instruments([s.instrument for s in track.stems])
        audio = load_audio(track.mix_path)
        transcriber.transcribe_audio(audio[: 10 * 16_000], instruments=instruments, separate=True)  # warm-up
        recognize = timed(lambda: transcriber.recognizer.recognize(audio))
        transcribe = timed(lambda: transcriber.transcribe_audio(audio, instruments=instruments))
        both = timed(lambda: transcriber.transcribe_audio(audio, instruments=instruments, separate=True))
        where = f"{args.threads} CPU threads" if args.device == "cpu" else args.device
        total = recognize + both
        print(f"speed: 3-minute song, 6 instruments {instruments}, {where}:")
        print("| stage | seconds | real-time factor |\n|---|---:|---:|")
        for name, seconds in (("recognize", recognize), ("transcribe", transcribe),
                              ("separate (added to transcribe)", both - transcribe),
                              ("recognize + transcribe + separate", total)):
            print(f"| {name} | {seconds:.1f} | {seconds / 180:.3f} |")

        if not args.skip_memory:
            long_path = Path(tmp) / "long.flac"
            write_audio(long_path, np.tile(audio, 10))
            out = Path(tmp) / "out"
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "jointist.cli.transcribe", f"audio={long_path}",
                            f"instruments=[{','.join(map(str, instruments))}]", f"separator={separator}",
                            "separate=true", f"out={out}", "plots=false", "progress=false", f"device={args.device}"],
                           check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": str(args.threads)})
            wall = time.perf_counter() - start
            peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            stems = sorted(p.name for p in (out / "stems").glob("*.wav"))
            print(f"memory: 30-minute file, 6 instruments, transcribe + separate (stems streamed to disk): peak RSS "
                  f"{peak_mb:.0f} MB, {wall:.0f} s ({wall / 1800:.3f}x real time); stems: {', '.join(stems)}")


if __name__ == "__main__":
    main()
