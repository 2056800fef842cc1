"""Benchmark of the data pipeline: corpus rendering rate and loader throughput.

    python jobs/bench_data.py                       # 200 tracks of 30 s, the issue's target (< 10 min)
    python jobs/bench_data.py --num-tracks 20       # quicker look

Prints: wall time and rate of `render_corpus`, the time to build the split index, and 10 s examples
per second from one loader process (what one DataLoader worker delivers), with and without stems.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from jointist.data.slakh import SlakhDataset, load_index
from jointist.data.synthetic import CorpusSpec, render_corpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=None, help="corpus folder (default: a temporary folder)")
    parser.add_argument("--num-tracks", type=int, default=200)
    parser.add_argument("--duration-s", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--examples", type=int, default=200, help="loader examples to time")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = args.root or os.path.join(tmp, "synth")
        spec = CorpusSpec(num_tracks=args.num_tracks, duration_s=args.duration_s, seed=args.seed)
        start = time.perf_counter()
        results = render_corpus(root, spec, workers=args.workers, progress=False)
        render_s = time.perf_counter() - start
        made = sum(not r.skipped for r in results)
        stems = sum(r.num_rendered for r in results if not r.skipped)
        audio_s = made * args.duration_s
        print(f"render: {made} tracks x {args.duration_s:.0f} s ({stems} stems) in {render_s:.1f} s with "
              f"{args.workers} workers = {made / render_s * 60:.1f} tracks/min, "
              f"{audio_s / render_s:.1f}x real time (mix), {stems * args.duration_s / render_s:.0f}x (stem audio)")

        start = time.perf_counter()
        load_index(root, "train", use_cache=True)
        print(f"index: train split indexed in {time.perf_counter() - start:.2f} s (cached afterwards)")

        decoded = os.path.join(tmp, "decoded")
        for load_stems, cache in ((False, None), (True, None), (True, decoded)):
            ds = SlakhDataset(root, "train", segment_s=10.0, examples_per_epoch=args.examples,
                              load_stems=load_stems, mix_from_stems=False, seed=1, decode_cache=cache)
            if cache is not None:  # the one-off decoding pass, timed on its own
                start = time.perf_counter()
                for track in ds.tracks:
                    for path in [track.mix_path, *(s.audio_path for s in track.stems)]:
                        ds.decoded.segment(path, start_s=0.0, duration_s=0.1)
                print(f"decode cache: train split decoded once in {time.perf_counter() - start:.1f} s")
            ds[0]
            start = time.perf_counter()
            for i in range(args.examples):
                ds[i]
            rate = args.examples / (time.perf_counter() - start)
            what = ("mix + every stem" if load_stems else "mix only") + (", decode cache" if cache else ", FLAC")
            print(f"loader: {rate:.1f} examples/s per worker (10 s windows, {what}, notes and multi-hot)")


if __name__ == "__main__":
    main()
