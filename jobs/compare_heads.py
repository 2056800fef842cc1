"""The two transcription heads on the same tracks: onsets and frames against seq2seq (MT3's tokens).

Each head transcribes every track's true instruments through its own pipeline (the user's path), and
the same metrics score it: flat, instrument-wise and multi-instrument note F1, the real-time factor
(wall time / audio time, on this machine's threads) and, for the seq2seq heads, the rate of
instrument swaps at segment boundaries (:func:`jointist.seq2seq.instrument_swaps`: a sustained note
heard on both sides of a boundary but given to another instrument after it).

    python jobs/compare_heads.py data/styles --split test --max-tracks 20 \\
        --onsets-frames shipped --seq2seq single=outputs/s2s/model.pt multi=outputs/s2s_mc/model.pt
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from jointist.audio.io import load_audio
from jointist.constants import SAMPLE_RATE
from jointist.data.slakh import load_index
from jointist.metrics import evaluate_piece, summarise
from jointist.pipeline import Pipeline, TokenTranscriber, Transcriber
from jointist.seq2seq import instrument_swaps


def score_head(name: str, pipeline: Pipeline, tracks: list, *, segment_s: float | None) -> dict:
    pieces, seconds, audio_s, swaps, chances = [], 0.0, 0.0, 0, 0
    for track in tracks:
        reference = track.notes_by_class()
        audio = load_audio(track.mix_path, allow_silence=False)
        start = time.perf_counter()
        result = pipeline.transcribe_audio(audio, instruments=sorted(reference))
        seconds += time.perf_counter() - start
        audio_s += len(audio) / SAMPLE_RATE
        estimate = result.notes()
        pieces.append(evaluate_piece(track.track_id, reference, estimate, velocity=False))
        if segment_s is not None:
            boundaries = np.arange(1, int(len(audio) / SAMPLE_RATE / segment_s) + 1) * segment_s
            s, c = instrument_swaps(reference, estimate, boundaries)
            swaps, chances = swaps + s, chances + c
    report = summarise(pieces)
    row = {"head": name, "tracks": len(tracks), "flat": report.flat["onset"], "flat_offset": report.flat["offset"],
           "instrumentwise": report.instrumentwise["onset"], "multi_instrument": report.multi_instrument["offset"],
           "rtf": seconds / audio_s}
    if segment_s is not None:
        row.update(swaps=swaps, swap_opportunities=chances, swap_rate=swaps / chances if chances else float("nan"))
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", help="a Slakh2100-format folder")
    parser.add_argument("--split", default="test")
    parser.add_argument("--max-tracks", type=int, default=20)
    parser.add_argument("--onsets-frames", default=None, help="model file of the onsets-and-frames head ('shipped': "
                        "the shipped one); left out: not compared")
    parser.add_argument("--seq2seq", nargs="*", default=[], help="NAME=model file of a seq2seq head")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=None, help="write the rows as JSON here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tracks = load_index(args.data, args.split)[: args.max_tracks]
    rows = []
    if args.onsets_frames:
        model = None if args.onsets_frames == "shipped" else args.onsets_frames
        rows.append(score_head("onsets and frames", Transcriber(model, progress=False), tracks, segment_s=None))
    for spec in args.seq2seq:
        name, _, path = spec.partition("=")
        pipeline = TokenTranscriber(path, progress=False)
        rows.append(score_head(f"seq2seq {name}", pipeline, tracks, segment_s=pipeline.segment_samples / SAMPLE_RATE))
    print(f"\n{len(tracks)} {args.split} tracks of {args.data}, true instruments, {args.threads} threads\n")
    print("| head | flat note F1 (onset / +offset) | instrument-wise | multi-instrument | real-time factor | swaps at boundaries |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        swap = f"{r['swaps']}/{r['swap_opportunities']} ({r['swap_rate']:.1%})" if "swaps" in r else "–"
        print(f"| {r['head']} | {r['flat']:.3f} / {r['flat_offset']:.3f} | {r['instrumentwise']:.3f} | "
              f"{r['multi_instrument']:.3f} | {r['rtf']:.3f} | {swap} |")
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
