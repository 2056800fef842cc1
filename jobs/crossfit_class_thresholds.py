"""Is a per-instrument decoding table overfit to the songs it was tuned on? Cross-fitting on one split.

The split's songs are cut into two halves (even and odd songs). A table is tuned on each half
(``tune_class_thresholds`` with thresholds and shared-onset ratios, as ``jointist-evaluate
tune_decode=true tune_per_class=true tune_shared=false`` does) and scored on the other half against
the shared settings; then each instrument's own entry alone, so unstable instruments show.

Posteriorgrams are computed once per song with the model (true instruments) and can be kept in
``--cache`` (one uint8 npz per song) for later runs.

    python jobs/crossfit_class_thresholds.py data/styles --split validation --cache pg_cache/validation
"""

from __future__ import annotations

import argparse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", help="a corpus root in Slakh2100's layout")
    parser.add_argument("--split", default="validation")
    parser.add_argument("--max-tracks", type=int, default=None)
    parser.add_argument("--ckpt", default=None, help="a model file (default: the shipped transcriber)")
    parser.add_argument("--cache", default=None, help="a folder for the songs' posteriorgrams")
    parser.add_argument("--min-pieces", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import dataclasses

    import torch

    from jointist.evaluation import SHARED_ONSET_GRID, posteriorgrams_of_split, split_score, tune_class_thresholds
    from jointist.pipeline import Transcriber

    torch.set_num_threads(args.threads)
    transcriber = Transcriber(args.ckpt, progress=False)
    base = dataclasses.replace(transcriber.decode, class_thresholds=None)
    songs = posteriorgrams_of_split(transcriber, args.corpus, args.split, max_tracks=args.max_tracks, cache=args.cache)
    halves = [songs[0::2], songs[1::2]]

    def score(part: list, table: dict) -> float:
        return split_score(part, dataclasses.replace(base, class_thresholds=table or None), "balanced")

    tables = [tune_class_thresholds(half, base, shared_onset_grid=SHARED_ONSET_GRID, min_pieces=args.min_pieces,
                                    progress=False) for half in halves]
    print(f"{len(songs)} songs of {args.corpus} {args.split}; balanced objective (flat, instrument-wise, multi-instrument)")
    gains: dict[str, dict[int, float]] = {}
    for h, table in enumerate(tables):
        other = halves[1 - h]
        shared = score(other, {})
        print(f"tuned on half {h} ({len(table)} instruments), scored on half {1 - h}: "
              f"shared {shared:.4f}, table {score(other, table):.4f}", flush=True)
        for name, setting in table.items():
            gains.setdefault(name, {})[h] = score(other, {name: setting}) - shared
    print("\neach instrument's entry alone, scored on the other half (change of the objective):")
    for name, by_half in sorted(gains.items()):
        print(f"  {name:22s} " + "  ".join(f"half {h}: {g:+.4f} {tables[h][name]}" for h, g in sorted(by_half.items())))


if __name__ == "__main__":
    main()
