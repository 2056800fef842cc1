"""What a transcriber layout would cost on the CPU, before any GPU time is spent training it.

Builds untrained pitch-wise transcribers (``conf/model/transcriber.yaml`` with each layout's
overrides), and times their posteriorgrams on the same noise (60 s, 6 instruments) in interleaved
rounds, so that a slow moment of a shared machine hits every layout alike. Prints each layout's best
time as a real-time factor and relative to the first layout (the shipped one by default). Decoding is
left out: an untrained model's notes are not a trained model's.

    python jobs/time_layouts.py                                     # the layouts below
    python jobs/time_layouts.py --layout 'trunk_channels=[24,80]' --layout 'dilations=[1,2,4,8,16,32]'
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from hydra.utils import instantiate

from jointist.instruments import INSTRUMENTS
from jointist.models.serialize import save_model
from jointist.pipeline import Transcriber

CONFIG = Path(__file__).resolve().parents[1] / "conf" / "model" / "transcriber.yaml"
DEFAULT_LAYOUTS = ["trunk_channels=[24,80]", "dilations=[1,2,4,8,16,32]",
                   "trunk_channels=[24,80] dilations=[1,2,4,8,16,32]", "trunk_channels=[32,96]"]
SIX = [38, 10, 9, 15, 7, 27]  # the speed benchmark's instruments (jobs/bench_transcribe.py)


def parse_layout(text: str) -> dict:
    """``'key=value key=value'`` (YAML values) -> overrides of the transcriber config."""
    out = {}
    for item in text.split():
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"layout item {item!r}: expected key=value")
        out[key] = yaml.safe_load(value)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layout", action="append", default=None,
                        help="overrides of conf/model/transcriber.yaml, e.g. 'trunk_channels=[24,80]' (repeatable)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    base = yaml.safe_load(CONFIG.read_text())
    layouts = [""] + (args.layout if args.layout is not None else DEFAULT_LAYOUTS)
    audio = (0.1 * np.random.default_rng(0).standard_normal(int(16000 * args.seconds))).astype(np.float32)
    instruments = [INSTRUMENTS[i] for i in SIX]
    transcribers, params = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, layout in enumerate(layouts):
            torch.manual_seed(0)
            model = instantiate({**base, **parse_layout(layout), "n_classes": len(INSTRUMENTS)}).eval()
            params[layout] = sum(p.numel() for p in model.parameters())
            path = save_model(model, Path(tmp) / f"layout{i}.pt")
            transcribers[layout] = Transcriber(model=path, progress=False)
            transcribers[layout].posteriorgrams(audio[:160000], instruments)  # warm-up
    best = {layout: float("inf") for layout in layouts}
    for _ in range(args.rounds):
        for layout, transcriber in transcribers.items():
            start = time.perf_counter()
            transcriber.posteriorgrams(audio, instruments)
            best[layout] = min(best[layout], time.perf_counter() - start)
    print(f"posteriorgrams of {args.seconds:.0f} s, 6 instruments, {args.threads} threads, best of {args.rounds} rounds")
    print("| layout | parameters | real-time factor | relative |")
    print("|---|---:|---:|---:|")
    for layout in layouts:
        print(f"| {layout or 'shipped (conf/model/transcriber.yaml)'} | {params[layout]:,} | "
              f"{best[layout] / args.seconds:.3f}x | {best[layout] / best['']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
