"""Where note offsets go wrong, and a pilot of a learned refiner of the transcriber's frame roll.

Multi-instrument F1 (MT3's: onset, offset and instrument) is the target the shipped transcriber
misses most. This job measures, for the notes whose onset is found, how often the offset is right,
early or late (mir_eval's tolerance: 50 ms or 20% of the note), per instrument, and why early notes
end; it scores decoders that bridge dips of the frame roll (closing gaps, a running median); then
it trains a small 1-D convolutional network on the shipped model's posteriorgrams of a training
corpus. Per instrument and key it reads the song's onset and frame probabilities, the strongest other pitched
instrument's at the same key, the key itself and the instrument (an embedding), over about 0.3 s
each side, and corrects the onset and frame logits (its last layer starts at zero: the identity).
Only the refined frame roll is used: onsets stay the transcriber's. Its frame threshold is chosen on
``--tune-split``; the test splits are then scored with the shipped model's shared settings, its
per-instrument table, and the refined frames.

Posteriorgrams are computed once per song (true instruments) and kept in ``--cache``.

    jointist-synth root=data/refine num_tracks=400 duration_s=30 seed=41 'splits={train: 1.0}'
    python jobs/frame_refiner.py data/refine data/styles --cache pg_cache/shipped

The cache holds one folder per corpus and split (``<cache>/<corpus folder name>/<split>``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

N_FEATURES = 5  # own onset, own frame, strongest other onset, strongest other frame, key / 88
FLOOR = 0.05  # keys whose onset and frame stay below this the whole song are left as they are


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("train_corpus", help="a corpus with a train split, rendered with training SoundFonts")
    parser.add_argument("corpus", help="the corpus of the tuning and test splits")
    parser.add_argument("--train-split", default="train")
    parser.add_argument("--tune-split", default="validation")
    parser.add_argument("--test-splits", nargs="+", default=["test", "test_style"])
    parser.add_argument("--cache", default=None, help="a folder for the songs' posteriorgrams (one per model)")
    parser.add_argument("--max-tracks", type=int, default=None)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--channels", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bridge-tracks", type=int, default=75, help="tuning songs the gap-bridging decoders are scored on")
    parser.add_argument("--save", default=None, help="write the refiner's state dict here")
    args = parser.parse_args()

    import dataclasses

    import torch

    from jointist.evaluation import posteriorgrams_of_split, split_report, split_score
    from jointist.pipeline import Transcriber

    torch.set_num_threads(1)
    start = time.time()
    transcriber = Transcriber(None, progress=False)
    shipped = transcriber.decode
    shared = dataclasses.replace(shipped, class_thresholds=None)

    def songs(corpus: str, split: str) -> list:
        cache = None if args.cache is None else Path(args.cache) / Path(corpus).name / split
        return posteriorgrams_of_split(transcriber, corpus, split, max_tracks=args.max_tracks, cache=cache)

    train = songs(args.train_corpus, args.train_split)
    x, y, c = _sequences(train)
    print(f"{len(train)} training songs, {len(x)} active (instrument, key) sequences ({time.time() - start:.0f} s)",
          flush=True)
    model = _train(x, y, c, steps=args.steps, channels=args.channels, seed=args.seed)
    if args.save:
        torch.save(model.state_dict(), args.save)

    def refined(cached: list) -> list:
        return [(tid, ref, classes, onset, _refine(model, onset, frame, classes)) for tid, ref, classes, onset, frame, *_ in cached]

    def line(cached: list, config) -> str:
        rep = split_report(cached, config)
        return (f"flat {rep.flat['onset']:.3f} / {rep.flat['offset']:.3f}, instrument-wise {rep.instrumentwise['onset']:.3f}, "
                f"multi-instrument {rep.multi_instrument['onset']:.3f} / {rep.multi_instrument['offset']:.3f}")

    tune = songs(args.corpus, args.tune_split)
    tune_refined = refined(tune)
    grid = {f: split_score(tune_refined, dataclasses.replace(shared, frame_threshold=f), "balanced")
            for f in (0.1, 0.2, 0.3, 0.4, 0.5)}
    best = max(grid, key=lambda f: grid[f])
    print(f"{args.tune_split} ({len(tune)} songs), balanced objective: shared settings {split_score(tune, shared, 'balanced'):.4f}, "
          f"per-instrument table {split_score(tune, shipped, 'balanced'):.4f}; refined frames at frame threshold "
          + ", ".join(f"{f}: {v:.4f}" for f, v in grid.items()) + f" (chosen: {best})", flush=True)
    with_refiner = dataclasses.replace(shared, frame_threshold=best)
    _bridging(tune[: args.bridge_tracks], shipped)
    _offset_table("shipped decoding", tune, shipped)
    _offset_table("refined frames", tune_refined, with_refiner)
    for split in args.test_splits:
        cached = songs(args.corpus, split)
        print(f"{split} ({len(cached)} songs)", flush=True)
        print(f"  shared settings:        {line(cached, shared)}", flush=True)
        print(f"  per-instrument table:   {line(cached, shipped)}", flush=True)
        print(f"  refined frames:         {line(refined(cached), with_refiner)}", flush=True)
    print(f"done in {time.time() - start:.0f} s")


def _features(onset, frame, classes):
    """The refiner's input (N, N_FEATURES, T) for every pitched instrument's active keys, and their (k, key)."""
    import numpy as np

    from jointist.instruments import DRUMS

    pitched = np.array([c != DRUMS.index for c in classes])
    on = onset.astype(np.float32) / 255.0
    fr = frame.astype(np.float32) / 255.0
    frames, _, keys = on.shape
    xs, where = [], []
    for k in np.flatnonzero(pitched):
        others = pitched.copy()
        others[k] = False
        other_on = on[:, others].max(axis=1) if others.any() else np.zeros((frames, keys), np.float32)
        other_fr = fr[:, others].max(axis=1) if others.any() else np.zeros((frames, keys), np.float32)
        for p in np.flatnonzero((np.maximum(on[:, k], fr[:, k]) >= FLOOR).any(axis=0)):
            xs.append(np.stack([on[:, k, p], fr[:, k, p], other_on[:, p], other_fr[:, p], np.full(frames, p / keys, np.float32)]))
            where.append((int(k), int(p)))
    return (np.stack(xs) if xs else np.zeros((0, N_FEATURES, frames), np.float32)), where


def _sequences(cached):
    """Inputs, onset and frame targets and classes of every active sequence of the songs."""
    import numpy as np
    import torch

    from jointist.data.targets import class_rolls

    xs, ys, cs = [], [], []
    for _, ref, classes, onset, frame, *_ in cached:
        x, where = _features(onset, frame, classes)
        if not where:
            continue
        roll_on, roll_fr = class_rolls(ref, classes, num_frames=onset.shape[0])
        xs.append(x)
        ys.append(np.stack([np.stack([roll_on[k, :, p], roll_fr[k, :, p]]) for k, p in where]))
        cs.append(np.array([classes[k] for k, _ in where]))
    return torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys)), torch.from_numpy(np.concatenate(cs))


def _model(channels: int):
    import torch
    from torch import nn

    class Refiner(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.instrument = nn.Embedding(39, channels)
            self.inp = nn.Conv1d(N_FEATURES, channels, 3, padding=1)
            self.layers = nn.ModuleList([nn.Conv1d(channels, channels, 3, padding=d, dilation=d) for d in (1, 2, 4, 8, 16, 1)])
            self.out = nn.Conv1d(channels, 2, 1)
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

        def forward(self, x: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
            h = torch.relu(self.inp(x) + self.instrument(classes)[:, :, None])
            for layer in self.layers:
                h = h + torch.relu(layer(h))
            return torch.logit(x[:, :2].clamp(1e-3, 1 - 1e-3)) + self.out(h)

    return Refiner()


def _train(x, y, c, *, steps: int, channels: int, seed: int, crop: int = 400, batch: int = 128):
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    model = _model(channels)
    opt = torch.optim.AdamW(model.parameters(), 2e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, 2e-3, total_steps=steps, pct_start=0.05)
    g = torch.Generator().manual_seed(seed)
    rows = torch.arange(batch)[:, None, None]
    for step in range(steps):
        i = torch.randint(len(x), (batch,), generator=g)
        span = torch.randint(x.shape[2] - crop, (batch,), generator=g)[:, None] + torch.arange(crop)[None]
        xb = x[i][rows, torch.arange(x.shape[1])[None, :, None], span[:, None, :]]
        yb = y[i][rows, torch.arange(2)[None, :, None], span[:, None, :]]
        loss = F.binary_cross_entropy_with_logits(model(xb, c[i]), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        schedule.step()
        if step % 500 == 0 or step == steps - 1:
            print(f"step {step}: loss {loss.item():.4f}", flush=True)
    return model.eval()


def _refine(model, onset, frame, classes):
    """The song's frame codes with the refined frame probabilities of its active keys."""
    import numpy as np
    import torch

    x, where = _features(onset, frame, classes)
    out = frame.copy()
    with torch.no_grad():
        for a in range(0, len(where), 512):
            part = where[a: a + 512]
            probs = torch.sigmoid(model(torch.from_numpy(x[a: a + 512]), torch.tensor([classes[k] for k, _ in part])))
            for (k, p), roll in zip(part, probs[:, 1].numpy()):
                out[:, k, p] = np.rint(roll * 255.0)
    return out


def _bridging(cached, config) -> None:
    """Decoders that bridge dips of the frame roll, with the shipped settings: gaps of up to g frames
    below an instrument's frame threshold closed, or a running median of g frames."""
    import numpy as np
    from scipy.ndimage import binary_closing, median_filter

    from jointist.evaluation import split_report
    from jointist.results import Posteriorgram

    def bridged(frame, classes, kind: str, g: int):
        out = frame.copy()
        for k, c in enumerate(classes):
            roll = frame[:, k]
            if kind == "median":
                out[:, k] = median_filter(roll, size=(g, 1), mode="nearest")
                continue
            active = roll >= config.for_class(c).frame_threshold * Posteriorgram.SCALE
            closed = binary_closing(np.pad(active, ((g, g), (0, 0))), structure=np.ones((g + 1, 1), bool))[g:-g]
            out[:, k] = np.where(closed & ~active, np.uint8(255), roll)
        return out

    print(f"gap bridging on {len(cached)} songs (flat onset+offset / multi-instrument onset+offset):")
    for kind, sizes in (("none", (0,)), ("closing", (2, 4, 8)), ("median", (3, 5, 9))):
        for g in sizes:
            songs = cached if kind == "none" else [(tid, ref, classes, on, bridged(fr, classes, kind, g))
                                                   for tid, ref, classes, on, fr, *_ in cached]
            rep = split_report(songs, config)
            print(f"  {kind} {g}: {rep.flat['offset']:.3f} / {rep.multi_instrument['offset']:.3f}", flush=True)


def _offset_table(label: str, cached, config) -> None:
    from jointist.evaluation import offset_error_table

    print(offset_error_table(label, cached, config))


if __name__ == "__main__":
    main()
