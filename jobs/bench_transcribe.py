"""Benchmark of transcription: speed, memory, and accuracy next to basic-pitch.

    python jobs/bench_transcribe.py --corpus data/synth10h --max-tracks 30 \
        --basic-pitch-python .venv-basic-pitch/bin/python      # (bash jobs/setup_basic_pitch.sh first)

Prints:
1. real-time factor of the transcriber on a 3-minute synthetic song with 6 instruments
   (2 CPU threads by default; on a GPU with --device cuda);
2. peak memory (max RSS of a jointist-transcribe process) on a 60-minute file (``--memory-minutes``), 6 instruments;
3. on the corpus' test split(s) (``--splits test test_style``: the unheard SoundFont, and with it a
   style training never heard): instrument-agnostic
   note F1 (onset; onset+offset; drums left out of the reference) and real-time factor of the
   shipped model and of basic-pitch, side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from jointist.audio.io import load_audio, write_audio
from jointist.data.slakh import load_index
from jointist.data.synthetic import CorpusSpec, render_corpus
from jointist.instruments import INSTRUMENTS
from jointist.metrics import evaluate_piece, summarise
from jointist.midi import read_midi
from jointist.notes import NoteArray
from jointist.pipeline import Transcriber
from jointist.postprocess import decode_tracks
from jointist.results import Posteriorgram

COMMON = [0, 10, 38, 9, 8, 33, 15, 1, 5, 24]


def six_instruments(classes: list[int]) -> list[int]:
    chosen = list(dict.fromkeys(classes))[:6]
    for c in COMMON:
        if len(chosen) == 6:
            break
        if c not in chosen:
            chosen.append(c)
    return chosen


def bench_song(folder: Path) -> tuple[np.ndarray, list[int]]:
    """The benchmark song: 3 minutes, 6 stems rendered with TimGM6mb (seed 11), and its 6 instruments."""
    spec = CorpusSpec(num_tracks=1, duration_s=180.0, seed=11, splits={"bench": 1.0},
                      soundfonts={"bench": ["TimGM6mb.sf2"]}, min_stems=6, max_stems=6)
    render_corpus(folder / "song", spec, workers=1, progress=False)
    track = load_index(folder / "song", "bench")[0]
    return load_audio(track.mix_path), six_instruments([s.instrument for s in track.stems])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", default=None, help="model file (default: the shipped transcriber)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--corpus", default=None, help="Slakh2100-format root whose test split is compared")
    parser.add_argument("--max-tracks", type=int, default=30)
    parser.add_argument("--basic-pitch-python", default=None, help="python of the basic-pitch environment")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of the speed benchmark (the median is printed)")
    parser.add_argument("--memory-minutes", type=int, default=60, help="length of the memory benchmark's file")
    parser.add_argument("--memory-instruments", default="six", choices=["six", "all"],
                        help="the benchmark song's 6 instruments, or all 39 classes")
    parser.add_argument("--skip-speed", action="store_true", help="only the accuracy comparison")
    parser.add_argument("--splits", nargs="+", default=["test"],
                        help="splits compared, each on its own (e.g. test test_style: the unheard style)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    transcriber = Transcriber(args.ckpt, device=args.device, progress=False)
    print(f"model: {transcriber.model_path} ({sum(p.numel() for p in transcriber.model.parameters()) / 1e6:.2f} M parameters)")

    with tempfile.TemporaryDirectory() as tmp:
        audio, instruments = bench_song(Path(tmp))
        if not args.skip_speed:
            transcriber.transcribe_audio(audio[: 10 * 16_000], instruments=instruments)  # warm-up
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                transcriber.transcribe_audio(audio, instruments=instruments)
                times.append(time.perf_counter() - start)
            elapsed = float(np.median(times))
            where = f"{args.threads} CPU threads" if args.device == "cpu" else args.device
            print(f"speed: 3-minute song, 6 instruments {instruments}: {elapsed:.1f} s on {where} = "
                  f"{elapsed / 180:.3f}x real time (median of {len(times)}; best {min(times) / 180:.3f}x)")
            # the note decoder's share: the same posteriorgrams decoded in the pipeline's 9 s blocks
            rolls = transcriber.all_posteriorgrams(audio, [INSTRUMENTS[c] for c in instruments])
            decode_times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                decode_tracks(rolls["onset"], rolls["frame"], instruments, config=transcriber.decode,
                              scale=Posteriorgram.SCALE, velocity=rolls.get("velocity"), offsets=rolls.get("offset"),
                              verifier=transcriber.verifier, ender=transcriber.ender, block_frames=900)
                decode_times.append(time.perf_counter() - start)
            helpers = [name for name, model in (("the verifier", transcriber.verifier),
                                                ("the note-end chooser", transcriber.ender)) if model is not None]
            print(f"  of which note decoding{' with ' + ' and '.join(helpers) if helpers else ''}: "
                  f"{float(np.median(decode_times)):.2f} s (median of {len(decode_times)})")

        if not args.skip_memory:
            long_path = Path(tmp) / "long.flac"
            write_audio(long_path, np.tile(audio, args.memory_minutes // 3))  # the 3-minute song, repeated
            out = Path(tmp) / "out"
            ckpt = str(transcriber.model_path)
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "jointist.cli.transcribe", f"audio={long_path}",
                            "instruments=all" if args.memory_instruments == "all" else
                            f"instruments=[{','.join(map(str, instruments))}]", f"ckpt={ckpt}", f"out={out}",
                            "plots=true", "progress=false", f"device={args.device}"], check=True, capture_output=True,
                           env={**os.environ, "OMP_NUM_THREADS": str(args.threads)})
            wall = time.perf_counter() - start
            peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            seconds = args.memory_minutes // 3 * 180
            count = "39" if args.memory_instruments == "all" else "6"
            print(f"memory: {seconds // 60}-minute file, {count} instruments: peak RSS {peak_mb:.0f} MB, {wall:.0f} s "
                  f"({wall / seconds:.3f}x real time, including start-up and writing MIDI)")

        for split in args.splits if args.corpus else []:
            tracks = load_index(args.corpus, split)[: args.max_tracks]
            audio_s = sum(t.duration_s for t in tracks)
            pieces, spent = [], 0.0
            for t in tracks:
                ref = t.notes_by_class()
                start = time.perf_counter()
                result = transcriber.transcribe_file(t.mix_path, instruments=sorted(ref))
                spent += time.perf_counter() - start
                pieces.append(evaluate_piece(t.track_id, ref, result.notes()))
            ours = summarise(pieces)
            rows = [("jointist (instruments named)", ours.flat["onset"], ours.flat["offset"], spent / audio_s)]
            if args.basic_pitch_python:
                out = Path(tmp) / f"bp-{split}"
                subprocess.run([args.basic_pitch_python, str(Path(__file__).with_name("basic_pitch_predict.py")), str(out),
                                *[str(t.mix_path) for t in tracks]], check=True, capture_output=True,
                               env={**os.environ, "OMP_NUM_THREADS": str(args.threads)})
                timings = json.loads((out / "timings.json").read_text())
                bp_pieces = []
                for t in tracks:
                    est = NoteArray.concatenate(list(read_midi(out / f"{t.track_id}.mid").values()))
                    ref = {c: n for c, n in t.notes_by_class().items() if c != 38}
                    bp_pieces.append(evaluate_piece(t.track_id, ref, {0: est}))
                bp = summarise(bp_pieces)
                rows.append(("basic-pitch 0.4.0 (no instruments)", bp.flat["onset"], bp.flat["offset"],
                             sum(timings.values()) / audio_s))
            print(f"\naccuracy: {len(tracks)} tracks of {split} ({audio_s / 60:.0f} min), "
                  "instrument-agnostic note F1 (drums left out):")
            print("| system | onset F1 | onset+offset F1 | real-time factor |\n|---|---:|---:|---:|")
            for name, on, off, rtf in rows:
                print(f"| {name} | {on:.3f} | {off:.3f} | {rtf:.3f} |")
            print(f"\njointist with instruments: instrument-wise onset F1 {ours.instrumentwise['onset']:.3f}, "
                  f"multi-instrument F1 {ours.multi_instrument['offset']:.3f}")


if __name__ == "__main__":
    main()
