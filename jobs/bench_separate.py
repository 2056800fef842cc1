"""Benchmark of the whole pipeline: recognize + transcribe + separate.

    python jobs/bench_separate.py                          # the shipped models
    python jobs/bench_separate.py --separator outputs/separator_synth/<run>/model.pt

Prints:
1. the real-time factor of recognize + transcribe + separate on a 3-minute synthetic song with 6
   instruments (2 CPU threads by default), and of each stage alone (target: <= 0.25x real time);
2. peak memory (max RSS of a ``jointist-transcribe separate=true`` process) on a 30-minute file with
   6 instruments, stems streamed to disk.

Speed does not depend on the weights, only on the architecture (the shipped separator's is the
default, ``conf/model/separator.yaml``).
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
from bench_transcribe import bench_song  # the transcription benchmark's song and 6 instruments

from jointist.audio.io import write_audio
from jointist.pipeline import Transcriber


def timed(fn, repeats: int = 1) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", default=None, help="transcriber model file (default: the shipped one)")
    parser.add_argument("--separator", default=None, help="separator model file (default: the shipped one)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        transcriber = Transcriber(args.ckpt, device=args.device, progress=False, separator=args.separator)
        print(f"separator: {args.separator or 'shipped separator'}")
        audio, instruments = bench_song(Path(tmp))
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
                            f"instruments=[{','.join(map(str, instruments))}]",
                            *([f"ckpt={args.ckpt}"] if args.ckpt else []),
                            *([f"separator={args.separator}"] if args.separator else []),
                            "separate=true", f"out={out}", "plots=false", "progress=false", f"device={args.device}"],
                           check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": str(args.threads)})
            wall = time.perf_counter() - start
            peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            stems = sorted(p.name for p in (out / "stems").glob("*.wav"))
            print(f"memory: 30-minute file, 6 instruments, transcribe + separate (stems streamed to disk): peak RSS "
                  f"{peak_mb:.0f} MB, {wall:.0f} s ({wall / 1800:.3f}x real time); stems: {', '.join(stems)}")


if __name__ == "__main__":
    main()
