"""Train the note-onset verifier (:mod:`jointist.verifier`) on a transcriber's posteriorgrams.

The posteriorgrams of the training and validation songs, told their true instruments, come from a
cache folder per split (``jointist.evaluation.posteriorgrams_of_split``: computed with the model
file's transcriber where missing, read back otherwise). Candidates of the training songs train the
MLP; the validation songs' candidates choose the epoch (lowest loss). The model file is written with
the verifier added (role ``verifier``), its card's decoding at first the transcriber's; then tune the
thresholds for the verified onsets on validation songs::

    python jobs/note_verifier.py train --model jointist/weights/jointist.pt \\
        --train data/refine:train:pg_cache/offset/refine_train --val data/styles:validation:pg_cache/offset/validation \\
        --out eval/verifier/model.pt
    jointist-evaluate data_root=data/styles split=validation ckpt=eval/verifier/model.pt tune_decode=true \\
        tune_per_class=true tune_shared=true tune_cache=pg_cache/offset/validation out=eval/verifier/tuned

``cache`` only computes a split's posteriorgrams (``--skip`` and ``--max-tracks`` choose a shard,
one process per core). ``report`` compares the rules with the verifier on cached splits (flat, instrument-wise and
multi-instrument note F1), ``--model`` against ``--base``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from jointist.cached_fit import corpora_label, split_spec
from jointist.evaluation import posteriorgrams_of_split


def candidates_of(spec: str, transcriber, *, floor: float, max_tracks: int | None, skip: int = 0, progress: bool = True):
    """Features, own and rival classes and labels of every candidate of a split's songs."""
    from jointist.constants import FRAMES_PER_SECOND
    from jointist.results import Posteriorgram
    from jointist.verifier import candidate_features, candidate_labels

    root, split, cache = split_spec(spec)
    songs = posteriorgrams_of_split(transcriber, root, split, max_tracks=max_tracks, skip=skip, cache=cache,
                                    progress=progress)
    parts: list[tuple[np.ndarray, ...]] = []
    scale = Posteriorgram.SCALE
    for song in songs:
        _, reference, classes, onset, frame, offsets = song
        cands = candidate_features(onset.astype(np.float32) / scale, frame.astype(np.float32) / scale,
                                   None if offsets is None else offsets.astype(np.float32) / scale, classes, floor=floor)
        labels = candidate_labels(cands, reference, classes, fps=FRAMES_PER_SECOND)
        parts.append((cands.features, cands.own, cands.rival, labels))
    x, own, rival, y = (np.concatenate(column) for column in zip(*parts))
    return len(songs), x, own, rival, y


def fit(model, train_set: tuple[np.ndarray, ...], val_set: tuple[np.ndarray, ...], *, epochs: int, batch: int,
        lr: float) -> tuple[list[tuple[int, float, float]], float]:
    """Train ``model`` (a NoteVerifier) on (features, own, rival, labels), keep the epoch of lowest
    validation loss; returns the curve (epoch, train loss, validation loss) and that loss."""
    from jointist.cached_fit import fit_keep_best

    model.fit_normalisation(train_set[0])
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    vtensors = [torch.from_numpy(np.asarray(a)) for a in val_set]
    return fit_keep_best(model, [torch.from_numpy(np.asarray(a)) for a in train_set],
                         lambda m, t: bce(m(t[0], t[1], t[2]), t[3]),
                         lambda m: bce(m(*vtensors[:3]), vtensors[3]).item(),
                         epochs=epochs, batch=batch, lr=lr, higher_is_better=False, label="validation loss")


def train(args: argparse.Namespace) -> None:
    from jointist.atomic import atomic_path
    from jointist.models.serialize import load_models, save_models
    from jointist.models.verifier import NoteVerifier
    from jointist.pipeline import Transcriber

    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    transcriber = Transcriber(args.model, progress=False, verify=False)
    t0 = time.time()
    parts = [candidates_of(spec, transcriber, floor=args.floor, max_tracks=args.max_tracks, skip=args.skip)
             for spec in args.train]
    n_train = sum(part[0] for part in parts)
    x, own, rival, y = (np.concatenate(column) for column in list(zip(*parts))[1:])
    n_val, vx, vown, vrival, vy = candidates_of(args.val, transcriber, floor=args.floor, max_tracks=None)
    print(f"candidates: train {len(y)} from {n_train} songs ({y.mean():.3f} notes), validation {len(vy)} from {n_val} "
          f"songs ({vy.mean():.3f}); features in {time.time() - t0:.0f} s", flush=True)
    model = NoteVerifier(hidden=args.hidden, embedding=args.embedding, floor=args.floor)
    curve, best_loss = fit(model, (x, own, rival, y), (vx, vown, vrival, vy), epochs=args.epochs, batch=args.batch,
                           lr=args.lr)
    models = load_models(transcriber.model_path)
    if args.keep_decode and "verifier" in models:
        decode, decode_source = models["verifier"][1].decode, "the replaced verifier's thresholds"
    else:
        decode, decode_source = models["transcriber"][1].decode, "the transcriber's until tuned"
    card = model.card(trained_steps=args.epochs * -(-len(y) // args.batch),
                      training_data=f"candidate onsets of {n_train} songs of {corpora_label(args.train)} (from song {args.skip})",
                      decode=decode,
                      notes=f"note-onset verifier; validation loss {best_loss:.4f}; decode: {decode_source}")
    models["verifier"] = (model.eval(), card)
    out = save_models(models, args.out)
    with atomic_path(Path(args.out).with_suffix(".curve.tsv")) as tmp:
        tmp.write_text("epoch\ttrain_loss\tvalidation_loss\n" + "".join(f"{e}\t{t:.5f}\t{v:.5f}\n" for e, t, v in curve))
    print(f"wrote {out} (best validation loss {best_loss:.4f})")


def report(args: argparse.Namespace) -> None:
    from jointist.evaluation import split_report
    from jointist.pipeline import Transcriber

    rows = []
    for spec in args.splits:
        root, split, cache = split_spec(spec)
        for label, path in (("base", args.base), ("model", args.model)):
            if path is None:
                continue
            transcriber = Transcriber(path, progress=False)
            songs = posteriorgrams_of_split(transcriber, root, split, cache=cache, max_tracks=args.max_tracks)  # verified
            r = split_report(songs, transcriber.decode)
            rows.append(f"| {split} | {label}{' (verifier)' if transcriber.verifier is not None else ''} | "
                        f"{r.flat['onset']:.3f} / {r.flat['offset']:.3f} | {r.instrumentwise['onset']:.3f} | "
                        f"{r.multi_instrument['onset']:.3f} / {r.multi_instrument['offset']:.3f} |")
            print(rows[-1], flush=True)
    print("\n| split | decoding | flat | instrument-wise | multi-instrument |\n|---|---|---:|---:|---:|")
    print("\n".join(rows))


def cache(args: argparse.Namespace) -> None:
    from jointist.pipeline import Transcriber

    transcriber = Transcriber(args.model, progress=False, verify=False)
    root, split, folder = split_spec(args.split)
    songs = posteriorgrams_of_split(transcriber, root, split, cache=folder, max_tracks=args.max_tracks, skip=args.skip,
                                    progress=True)
    print(f"{len(songs)} songs of {root}/{split} cached in {folder}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train a verifier and write the model file with it")
    p.add_argument("--model", default=None, help="model file with the transcriber (default: the shipped one)")
    p.add_argument("--train", required=True, nargs="+", help="root:split:cache of the training songs (one or more corpora)")
    p.add_argument("--val", required=True, help="root:split:cache of the validation songs")
    p.add_argument("--out", required=True)
    p.add_argument("--max-tracks", type=int, default=None, help="training songs used per corpus (default: all)")
    p.add_argument("--skip", type=int, default=0,
                   help="leave out each training split's first songs (e.g. those another part of the model was fitted on)")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--embedding", type=int, default=8)
    p.add_argument("--floor", type=float, default=0.02)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep-decode", action="store_true",
                   help="give the new verifier the decoding thresholds of the model file's verifier (tuned for the one "
                        "it replaces) instead of the transcriber's")
    p.set_defaults(run=train)
    p = sub.add_parser("cache", help="only compute a split's posteriorgram cache (e.g. one shard per core)")
    p.add_argument("split", help="root:split:cache")
    p.add_argument("--model", default=None, help="model file with the transcriber (default: the shipped one)")
    p.add_argument("--skip", type=int, default=0, help="leave out the split's first songs")
    p.add_argument("--max-tracks", type=int, default=None, help="songs after those skipped (default: all)")
    p.set_defaults(run=cache)
    p = sub.add_parser("report", help="note F1 of cached splits, the rules against the verifier")
    p.add_argument("splits", nargs="+", help="root:split:cache")
    p.add_argument("--model", required=True)
    p.add_argument("--base", default=None)
    p.add_argument("--max-tracks", type=int, default=None)
    p.set_defaults(run=report)
    args = parser.parse_args(argv)
    args.run(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
