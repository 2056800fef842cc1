"""Add an offset head to a trained transcriber and train it on the CPU, with the trunk frozen.

The shipped transcriber ends a third of its onset-matched notes outside mir_eval's offset tolerance
(README, "Where note offsets go wrong"), and its posteriorgrams do not hold the missing ends. An
offset head (``model.offset=true``: a FiLM-conditioned branch of 1x1 layers on the trunk's
features, without batch norm) reads the trunk instead. Each of its output cells depends on the
features of that cell only, so it trains on cells sampled from many songs as well as on whole
rolls: one trunk pass per song, then as many epochs over the sampled cells as wanted, in minutes.

    python jobs/offset_head.py cells data/offset_train --out offset_cells [--shard 0/2]  # trunk passes
    python jobs/offset_head.py train offset_cells --out model_offset.pt                  # the head
    python jobs/offset_head.py report data/styles --model model_tuned.pt --base jointist/weights/jointist.pt \
        --cache pg_cache/offset                                        # before and after, per split

``cells`` runs the base model (``--model``, the shipped one by default) over every song of the
corpus's ``train`` split, with the song-level input gain of inference, and keeps per pitched
instrument of the song: every cell where a note ends (the positives), the cells up to two frames
either side of an end, and samples of the cells inside notes, of the cells where the base model's
frame probability is >= 0.2 but no note sounds, and of the rest. ``train`` fits the head on them
(AdamW, cells of the last tenth of the songs held out for the loss and average precision it prints)
and writes a model file: the base model's weights, card and decoding settings, plus the head.
Its decoding is then tuned on validation songs with ``jointist-evaluate tune_decode=true`` (the
offset threshold with the frame threshold, then per instrument). ``report`` scores a model with the
head on each split (its posteriorgrams cached in ``--cache/<split>``) decoded three ways: with the
base model's decoding (the base model's notes: the head changes no onset or frame), with its own, and
with its own but offsets ignored; and where the onset-matched notes end, before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from jointist.audio.features import num_frames
from jointist.audio.io import load_audio
from jointist.data.slakh import load_index
from jointist.data.targets import notes_to_rolls
from jointist.instruments import DRUMS
from jointist.metrics import average_precision
from jointist.models.pitchwise import PitchwiseTranscriber
from jointist.models.serialize import load_model, save_model
from jointist.pipeline import INPUT_PEAK, default_model_path, input_gain

STRATA = ("end", "near end", "inside", "predicted", "other")
"""Cell kinds kept by ``cells``: a note's end frame (the positives), up to 2 frames from one, inside a
note, the base model's frame >= 0.2 where no note sounds, anywhere else."""
PER_END = {"inside": 6, "predicted": 3, "other": 1}
"""Cells kept per end cell of the instrument, for the sampled kinds."""


def _sample(rng: np.random.Generator, mask: np.ndarray, n: int) -> np.ndarray:
    """Up to ``n`` flat indices of the True cells of ``mask``, without replacement."""
    where = np.flatnonzero(mask)
    return where if len(where) <= n else rng.choice(where, size=n, replace=False)


def song_cells(model: PitchwiseTranscriber, audio: np.ndarray, notes: dict, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The sampled cells of one song: features (n, C) float16, class, stratum, key, frame."""
    frames = num_frames(len(audio))
    x = torch.from_numpy(audio * np.float32(input_gain(audio, INPUT_PEAK)))[None]
    classes = [c for c in sorted(notes) if c != DRUMS.index and len(notes[c])]
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("features", "cls", "stratum", "key", "frame")}
    if not classes:
        return {k: np.zeros(0) for k in out}
    with torch.no_grad():
        features = model.features(x)  # (1, C, T, 88)
        frame_prob = torch.sigmoid(model.heads(features, torch.tensor([classes])).frame)[0].numpy()  # (K, T, 88)
    features = features[0].permute(1, 2, 0).reshape(-1, features.shape[1]).numpy()  # (T * 88, C)
    t_total = features.shape[0] // 88
    for j, c in enumerate(classes):
        rolls = notes_to_rolls(notes[c], num_frames=frames)
        end = rolls.offset[:t_total] > 0
        n_end = int(end.sum())
        if n_end == 0:
            continue
        near = np.zeros_like(end)
        for shift in (-2, -1, 1, 2):
            near |= np.roll(end, shift, axis=0)
        near &= ~end
        inside = (rolls.frame[:t_total] > 0) & ~end & ~near
        predicted = (frame_prob[j, :t_total] >= 0.2) & ~inside & ~end & ~near
        other = ~(end | near | inside | predicted)
        picks = [np.flatnonzero(end.ravel()), np.flatnonzero(near.ravel()),
                 _sample(rng, inside.ravel(), PER_END["inside"] * n_end),
                 _sample(rng, predicted.ravel(), PER_END["predicted"] * n_end),
                 _sample(rng, other.ravel(), PER_END["other"] * n_end)]
        for s, idx in enumerate(picks):
            out["features"].append(features[idx].astype(np.float16))
            out["cls"].append(np.full(len(idx), c, np.uint8))
            out["stratum"].append(np.full(len(idx), s, np.uint8))
            out["key"].append((idx % 88).astype(np.uint8))
            out["frame"].append((idx // 88).astype(np.int32))
    return {k: np.concatenate(v) if v else np.zeros(0) for k, v in out.items()}


def cells(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    model, _ = load_model(args.model, role="transcriber")
    model.eval()
    shard, shards = (int(x) for x in args.shard.split("/"))
    tracks = load_index(args.root, "train")[: args.max_tracks][shard::shards]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.time()
    for i, track in enumerate(tracks):
        target = out / f"{track.track_id}.npz"
        if target.exists():
            continue
        rng = np.random.default_rng([args.seed, int("".join(ch for ch in track.track_id if ch.isdigit()) or 0)])
        song = song_cells(model, load_audio(track.mix_path), track.notes_by_class(), rng)
        tmp = target.with_suffix(".tmp.npz")
        np.savez(tmp, **song)
        os.replace(tmp, target)
        if (i + 1) % 10 == 0:
            print(f"shard {shard}: {i + 1}/{len(tracks)} songs, {time.time() - start:.0f} s", flush=True)


def _load_cells(folder: Path) -> tuple[list[str], list[dict[str, np.ndarray]]]:
    names = sorted(p.stem for p in folder.glob("*.npz") if not p.name.endswith(".tmp.npz"))
    songs = []
    for name in names:
        path = folder / f"{name}.npz"
        try:
            with np.load(path) as z:
                songs.append({k: z[k] for k in ("features", "cls", "stratum")})
        except (OSError, ValueError, KeyError, EOFError) as err:
            raise SystemExit(f"{path}: not a readable cells file ({err}); delete it and run `cells` again") from err
    return names, songs


def train(args: argparse.Namespace) -> None:
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    base, card = load_model(args.model, role="transcriber")
    if not isinstance(base, PitchwiseTranscriber):
        raise SystemExit(f"{args.model}: the offset head is a PitchwiseTranscriber switch, not {type(base).__name__}'s")
    model = PitchwiseTranscriber(**{**base.init_args, "offset": True, "offset_channels": args.channels,
                                    "offset_layers": args.layers})
    missing, unexpected = model.load_state_dict(base.state_dict(), strict=False)
    if unexpected or any(k.split(".")[0] not in ("offset_branch", "offset_out") for k in missing):
        raise SystemExit(f"{args.model}: weights do not fit (missing {missing}, unexpected {unexpected})")
    names, songs = _load_cells(Path(args.cells))
    if len(songs) < 10:
        raise SystemExit(f"{args.cells}: {len(songs)} songs of cells; run `cells` first")
    held = max(1, len(songs) // 10)

    def stack(part: list[dict[str, np.ndarray]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, np.ndarray]:
        feats = torch.from_numpy(np.concatenate([s["features"] for s in part]).astype(np.float32))
        cls = torch.from_numpy(np.concatenate([s["cls"] for s in part]).astype(np.int64))
        stratum = np.concatenate([s["stratum"] for s in part])
        return feats, cls, torch.from_numpy((stratum == 0).astype(np.float32)), stratum

    train_songs = songs[:-held][: args.max_songs]  # the held-out songs stay the same whatever the training set
    x_tr, c_tr, y_tr, _ = stack(train_songs)
    x_va, c_va, y_va, s_va = stack(songs[-held:])
    print(f"{len(train_songs)} songs, {len(x_tr)} training cells ({int(y_tr.sum())} ends); "
          f"{held} held-out songs, {len(x_va)} cells", flush=True)
    branch, head = model.offset_branch, model.offset_out
    assert branch is not None and head is not None
    params = list(branch.parameters()) + list(head.parameters())
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=1e-4)
    steps = args.epochs * (len(x_tr) // args.batch)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=steps, pct_start=0.05)
    pos_weight = torch.tensor(float(args.pos_weight))

    def logits(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        cond = torch.nn.functional.one_hot(c, model.n_classes).float()
        hidden = branch(branch.shared(x[:, :, None, None]), cond)
        return head(hidden)[:, 0, 0, 0]

    def evaluate() -> tuple[float, float, dict[str, float]]:
        with torch.no_grad():
            z = torch.cat([logits(x_va[i:i + 65536], c_va[i:i + 65536]) for i in range(0, len(x_va), 65536)])
        loss = float(torch.nn.functional.binary_cross_entropy_with_logits(z, y_va, pos_weight=pos_weight))
        p = torch.sigmoid(z).numpy()
        mean_by = {STRATA[s]: float(p[s_va == s].mean()) for s in range(len(STRATA)) if (s_va == s).any()}
        return loss, average_precision(y_va.numpy(), p), mean_by

    step = 0
    curve: list[dict] = []
    for epoch in range(args.epochs):
        order = torch.randperm(len(x_tr))
        for i in range(0, len(order) - args.batch + 1, args.batch):
            idx = order[i:i + args.batch]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits(x_tr[idx], c_tr[idx]), y_tr[idx],
                                                                        pos_weight=pos_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            step += 1
        held_loss, ap, mean_by = evaluate()
        curve.append({"epoch": epoch + 1, "step": step, "train_loss": loss.item(), "held_out_loss": held_loss,
                      "held_out_ap": ap, "mean_probability": mean_by})
        print(f"epoch {epoch + 1}: step {step}, train loss {loss.item():.4f}, held-out loss {held_loss:.4f}, "
              f"held-out AP of ends {ap:.3f}; mean probability "
              + ", ".join(f"{k} {v:.3f}" for k, v in mean_by.items()), flush=True)
    note = (f"offset head trained alone (jobs/offset_head.py, trunk frozen) on {len(train_songs)} songs' sampled cells, "
            f"{args.epochs} epochs; held-out AP of ends {curve[-1]['held_out_ap']:.3f}")
    out = save_model(model.eval(), args.out, card=card.replace(init_args=model.init_args,
                                                                 notes=f"{card.notes} {note}".strip()))
    Path(args.out).with_suffix(".curve.json").write_text(json.dumps(curve, indent=1))
    print(f"wrote {out}")


def report(args: argparse.Namespace) -> None:
    import dataclasses

    from jointist.evaluation import offset_error_table, posteriorgrams_of_split, split_report
    from jointist.pipeline import Transcriber

    torch.set_num_threads(args.threads)
    model, base = Transcriber(args.model, progress=False), Transcriber(args.base, progress=False)
    decodings = {"base model's decoding": base.decode, "own decoding": model.decode,
                 "own decoding, offsets ignored": dataclasses.replace(  # the shared and the instruments' own
                     model.decode, offset_threshold=None,
                     class_thresholds=tuple((*entry[:4], None) for entry in model.decode.class_thresholds or ()) or None)}
    for split in args.splits:
        songs = posteriorgrams_of_split(model, args.corpus, split, max_tracks=args.max_tracks,
                                        cache=Path(args.cache) / split if args.cache else None)
        print(f"{split} ({len(songs)} songs), note F1 onset / onset+offset: flat, instrument-wise, multi-instrument")
        for label, config in decodings.items():
            r = split_report(songs, config)
            print(f"  {label:30s} {r.flat['onset']:.3f} / {r.flat['offset']:.3f}  {r.instrumentwise['onset']:.3f}  "
                  f"{r.multi_instrument['onset']:.3f} / {r.multi_instrument['offset']:.3f}", flush=True)
        if split in args.offsets:
            for label in ("base model's decoding", "own decoding"):
                print(offset_error_table(f"{split}, {label}", songs, decodings[label]), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("cells", help="sample trunk features of a corpus's train split")
    p.add_argument("root")
    p.add_argument("--out", required=True)
    p.add_argument("--shard", default="0/1", help="i/n: every n-th song from the i-th")
    p.add_argument("--max-tracks", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=cells)
    p = sub.add_parser("train", help="fit the offset head on sampled cells and write a model file")
    p.add_argument("cells")
    p.add_argument("--out", required=True)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch", type=int, default=4096)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--pos-weight", type=float, default=1.0)
    p.add_argument("--channels", type=int, default=None, help="the head's width (default: the other heads')")
    p.add_argument("--layers", type=int, default=None, help="its conditioned layers (default: the other heads')")
    p.add_argument("--max-songs", type=int, default=None, help="train on the first N songs only (a data curve)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=train)
    p = sub.add_parser("report", help="note F1 and offset errors of a model with the head, before and after")
    p.add_argument("corpus")
    p.add_argument("--base", required=True, help="the model file the head was added to")
    p.add_argument("--splits", nargs="+", default=["validation", "test", "test_style"])
    p.add_argument("--offsets", nargs="*", default=["validation"], help="splits whose offset errors are printed")
    p.add_argument("--cache", default=None, help="a folder for the posteriorgrams, one subfolder per split")
    p.add_argument("--max-tracks", type=int, default=None)
    p.set_defaults(run=report)
    for p in sub.choices.values():
        p.add_argument("--model", default=str(default_model_path()), help="the base model file (the shipped one)")
        p.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    args.run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
