"""The floor and the ceiling of separation on a split: the mixture itself as every stem's estimate,
and an oracle ideal ratio mask computed from the true stems (n_fft 1024, hop 160, mixture phase).

    python jobs/separation_baselines.py --corpus data/synth10h --split test --bss-tracks 20

Prints the source-wise, piece-wise and instrument-wise SDR of both (whole-track SDR on every track;
museval's BSS Eval v4 on the first ``--bss-tracks`` tracks, since it takes seconds per track).
"""

from __future__ import annotations

import argparse

from tqdm import tqdm

from jointist.audio.io import load_audio
from jointist.data.slakh import load_index
from jointist.evaluation import reference_stems
from jointist.metrics import evaluate_separation, oracle_irm, summarise_separation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--max-tracks", type=int, default=None)
    parser.add_argument("--bss-tracks", type=int, default=20)
    args = parser.parse_args()

    tracks = load_index(args.corpus, args.split)[: args.max_tracks]
    floor, ceiling = [], []
    for i, track in enumerate(tqdm(tracks, desc=f"baselines on {args.split}", unit="track")):
        mix = load_audio(track.mix_path)
        refs = reference_stems(track, num_samples=len(mix))
        bss = i < args.bss_tracks
        floor.append(evaluate_separation(track.track_id, refs, {c: mix for c in refs}, mix, bss_eval=bss))
        ceiling.append(evaluate_separation(track.track_id, refs, oracle_irm(refs, mix), mix, bss_eval=bss))
    for name, pieces in (("mixture as the estimate (floor)", floor), ("oracle ideal ratio mask (ceiling)", ceiling)):
        print(f"### {name}: {len(tracks)} tracks of {args.split} (BSS Eval on the first {min(args.bss_tracks, len(tracks))})\n")
        print(summarise_separation(pieces).to_markdown() + "\n")


if __name__ == "__main__":
    main()
