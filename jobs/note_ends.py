"""Train the note-end chooser (:mod:`jointist.note_ends`) on a transcriber's decoded notes.

The posteriorgrams of the training and validation songs, told their true instruments, come from a
cache folder per split (``jointist.evaluation.posteriorgrams_of_split``, with the model file's
note-onset verifier applied when it has one); they are decoded with the model's settings, and every
pitched note shorter than ``HORIZON`` frames gets its candidate ends. The notes whose onset matches a
reference note train the network (a softmax over each note's candidates, the loss being minus the
log of the mass on the candidates within mir_eval's offset tolerance); the validation songs choose
the epoch (highest share of matched notes ended within tolerance). The model file is written with
the chooser added (role ``ender``)::

    python jobs/note_ends.py train --model jointist/weights/jointist.pt \\
        --train data/refine:train:pg_cache/offset/refine_train --val data/styles:validation:pg_cache/offset/validation \\
        --out eval/ender/model.pt

``report`` compares the tracker's ends with the chosen ones on cached splits (flat, instrument-wise
and multi-instrument note F1, onset / onset+offset), ``--model`` against ``--base``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from jointist.cached_fit import corpora_label, split_spec
from jointist.evaluation import posteriorgrams_of_split


def candidates_of(spec: str, transcriber, *, max_tracks: int | None, skip: int = 0, progress: bool = True):
    """Features, masks, classes, labels and whether matched of every decoded note's candidate ends."""
    from tqdm import tqdm

    from jointist.constants import FRAMES_PER_SECOND
    from jointist.evaluation import _offsets_of
    from jointist.note_ends import end_labels, song_candidates
    from jointist.notes import NoteArray
    from jointist.postprocess import decode_tracks, note_hold
    from jointist.results import Posteriorgram

    root, split, cache = split_spec(spec)
    songs = posteriorgrams_of_split(transcriber, root, split, max_tracks=max_tracks, skip=skip, cache=cache,
                                    progress=progress)
    parts: list[tuple[np.ndarray, ...]] = []
    for song in tqdm(songs, desc=f"candidate ends of {split}", unit="track", disable=not progress):
        reference, classes, offsets = song[1], list(song[2]), _offsets_of(song)
        notes = decode_tracks(song[3], song[4], classes, config=transcriber.decode, scale=Posteriorgram.SCALE,
                              offsets=offsets)
        for c, _, cands in song_candidates(notes, song[4], offsets, classes, fps=FRAMES_PER_SECOND,
                                           hold=note_hold(transcriber.decode), scale=Posteriorgram.SCALE):
            labels, matched = end_labels(cands, reference.get(c, NoteArray.empty()), fps=FRAMES_PER_SECOND)
            parts.append((cands.features, cands.mask, np.full(len(cands), c, np.int64), labels, matched))
    features, mask, klass, labels, matched = (np.concatenate(column) for column in zip(*parts))
    return len(songs), features, mask, klass, labels, matched


def _loss(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Minus the log of each note's softmax mass on its right candidates, averaged."""
    right = scores.masked_fill(labels <= 0, float("-inf"))
    return (torch.logsumexp(scores, dim=1) - torch.logsumexp(right, dim=1)).mean()


def _hits(model, data: tuple[np.ndarray, ...]) -> float:
    """Share of the matched notes whose chosen candidate ends within tolerance."""
    features, mask, klass, labels, matched = data
    with torch.no_grad():
        scores = model(torch.from_numpy(features), torch.from_numpy(klass), torch.from_numpy(mask))
    pick = scores.argmax(dim=1).numpy()
    return float(labels[np.arange(len(pick)), pick][matched].mean())


def fit(model, train_set, val_set, *, epochs: int, batch: int, lr: float):
    """Train ``model`` (a NoteEnder) on the matched notes that have a right candidate, keep the epoch
    whose validation notes end within tolerance most often; returns the curve (epoch, train loss,
    validation share) and that share."""
    from jointist.cached_fit import fit_keep_best

    features, mask, klass, labels, matched = train_set
    usable = matched & (labels.sum(axis=1) > 0)
    model.fit_normalisation(features[usable], mask[usable])
    return fit_keep_best(model, [torch.from_numpy(np.ascontiguousarray(a[usable])) for a in (features, klass, mask, labels)],
                         lambda m, t: _loss(m(t[0], t[1], t[2]), t[3]), lambda m: _hits(m, val_set),
                         epochs=epochs, batch=batch, lr=lr, higher_is_better=True,
                         label="validation notes ended within tolerance")


def train(args: argparse.Namespace) -> None:
    from jointist.atomic import atomic_path
    from jointist.models.note_ends import NoteEnder
    from jointist.models.serialize import load_models, save_models
    from jointist.pipeline import Transcriber

    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    transcriber = Transcriber(args.model, progress=False)
    t0 = time.time()
    parts = [candidates_of(spec, transcriber, max_tracks=args.max_tracks, skip=args.skip) for spec in args.train]
    n_train = sum(part[0] for part in parts)
    train_set = [np.concatenate(column) for column in list(zip(*parts))[1:]]
    n_val, *val_set = candidates_of(args.val, transcriber, max_tracks=None)
    for name, n_songs, (_, mask, _, labels, matched) in (("train", n_train, train_set), ("validation", n_val, val_set)):
        print(f"{name}: {len(mask)} notes of {n_songs} songs, {mask.sum(axis=1).mean():.1f} candidates a note, "
              f"{matched.mean():.3f} matched; of those, ended within tolerance by the tracker "
              f"{labels[matched, 0].mean():.4f}, by the best candidate {labels[matched].max(axis=1).mean():.4f}",
              flush=True)
    print(f"features in {time.time() - t0:.0f} s", flush=True)
    model = NoteEnder(hidden=args.hidden, embedding=args.embedding)
    curve, best_share = fit(model, tuple(train_set), tuple(val_set), epochs=args.epochs, batch=args.batch, lr=args.lr)
    models = load_models(transcriber.model_path)
    card = model.card(trained_steps=args.epochs * -(-len(train_set[0]) // args.batch),
                      training_data=f"decoded notes of {n_train} songs of {corpora_label(args.train)} (from song {args.skip})",
                      notes=f"note-end chooser; validation notes ended within tolerance {best_share:.4f}")
    models["ender"] = (model.eval(), card)
    out = save_models(models, args.out)
    with atomic_path(Path(args.out).with_suffix(".curve.tsv")) as tmp:
        tmp.write_text("epoch\ttrain_loss\tvalidation_within_tolerance\n"
                       + "".join(f"{e}\t{t:.5f}\t{v:.5f}\n" for e, t, v in curve))
    print(f"wrote {out} (validation notes ended within tolerance {best_share:.4f})")


def report(args: argparse.Namespace) -> None:
    from jointist.evaluation import offset_error_table, split_report
    from jointist.pipeline import Transcriber

    rows = []
    for spec in args.splits:
        root, split, cache = split_spec(spec)
        for label, path in (("base", args.base), ("model", args.model)):
            if path is None:
                continue
            transcriber = Transcriber(path, progress=False)
            songs = posteriorgrams_of_split(transcriber, root, split, cache=cache, max_tracks=args.max_tracks)
            r = split_report(songs, transcriber.decode, ender=transcriber.ender)
            rows.append(f"| {split} | {label}{' (chosen ends)' if transcriber.ender is not None else ''} | "
                        f"{r.flat['onset']:.3f} / {r.flat['offset']:.3f} | {r.instrumentwise['onset']:.3f} | "
                        f"{r.multi_instrument['onset']:.3f} / {r.multi_instrument['offset']:.3f} |")
            print(rows[-1], flush=True)
            if args.offsets:
                print(offset_error_table(f"{split}, {label}", songs, transcriber.decode, ender=transcriber.ender),
                      flush=True)
    print("\n| split | decoding | flat | instrument-wise | multi-instrument |\n|---|---|---:|---:|---:|")
    print("\n".join(rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train a note-end chooser and write the model file with it")
    p.add_argument("--model", default=None, help="model file with the transcriber (default: the shipped one)")
    p.add_argument("--train", required=True, nargs="+", help="root:split:cache of the training songs (one or more corpora)")
    p.add_argument("--val", required=True, help="root:split:cache of the validation songs")
    p.add_argument("--out", required=True)
    p.add_argument("--max-tracks", type=int, default=None, help="training songs used per corpus (default: all)")
    p.add_argument("--skip", type=int, default=0, help="leave out each training split's first songs")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--embedding", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=train)
    p = sub.add_parser("report", help="note F1 of cached splits, the tracker's ends against the chosen ones")
    p.add_argument("splits", nargs="+", help="root:split:cache")
    p.add_argument("--model", required=True)
    p.add_argument("--base", default=None)
    p.add_argument("--max-tracks", type=int, default=None)
    p.add_argument("--offsets", action="store_true",
                   help="also where the onset-matched notes end: within mir_eval's tolerance, early or late, per instrument")
    p.set_defaults(run=report)
    args = parser.parse_args(argv)
    args.run(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
