"""Train the drum transcriber (:mod:`jointist.models.drums`, role ``drummer``) and measure what it changes.

``cache`` writes, per song of a split, the mixture's log-mel (float16, at the level the pipeline
hears it) and its drum hits (frame, kit key, velocity) to ``<cache>/<id>.npz``; ``train`` reads them
(computing what is missing) and fits the model on random crops of the songs: binary cross-entropy
of the onsets per kit key and, at the true onsets, squared error of the velocities. Each epoch the
validation songs choose a drum onset threshold (drum note F1: onset within 50 ms at the right GM
key, as every note F1 that counts drums) and the best epoch is kept. A training state is written
atomically after every epoch, so a killed run resumes where it stopped (``--resume``) and
``--minutes`` ends a run in time. The model file is the base model file with the drummer added; its
card carries the chosen threshold (the ``Drums`` row of its decode table, which the pipeline uses)::

    python jobs/drum_transcriber.py train --train data/refine:train:drum_cache/refine_train \\
        --val data/styles:validation:drum_cache/validation --out eval/drums/model.pt --minutes 50

``report`` compares drum note F1 per kit key and the transcription scores (flat, instrument-wise,
multi-instrument) of cached splits with the transcriber's own drums against the drummer's:
``root:split:pg_cache`` names a split with its posteriorgram cache (as ``jobs/note_ends.py``)::

    python jobs/drum_transcriber.py report data/styles:test:pg_cache/offset/test --model eval/drums/model.pt
"""

from __future__ import annotations

import argparse
import copy
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from jointist.cached_fit import corpora_label, split_spec

CROP_FRAMES = 400
THRESHOLDS = (0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6)
SHIFTS = (-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0)
"""Logit shifts per kit key tried by :func:`calibrate`."""


def song_entry(track, model) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    """The cached form of one song: log-mel of the mix as the pipeline hears it (float16) and its
    drum hits as (frame, kit index, velocity / 127) columns."""
    from jointist.audio.io import load_audio
    from jointist.data.targets import time_to_frame
    from jointist.instruments import DRUMS
    from jointist.models.drums import KIT_KEYS
    from jointist.pipeline import INPUT_PEAK, input_gain

    audio = load_audio(track.mix_path)
    audio = audio * np.float32(input_gain(audio, INPUT_PEAK))
    with torch.no_grad():
        mel = model.spectrogram(torch.from_numpy(audio)[None])[0].numpy().astype(np.float16)
    notes = track.notes_by_class().get(DRUMS.index)
    frames = np.zeros(0, np.int64)
    keys = np.zeros(0, np.int64)
    velocity = np.zeros(0, np.float32)
    if notes is not None and len(notes):
        index = {k: i for i, k in enumerate(KIT_KEYS)}
        known = np.array([int(p) in index for p in notes.pitch], bool)
        frames = time_to_frame(notes.onset_s[known])
        keys = np.array([index[int(p)] for p in notes.pitch[known]], np.int64)
        velocity = notes.velocity[known].astype(np.float32) / 127.0
        inside = (frames >= 0) & (frames < len(mel))
        frames, keys, velocity = frames[inside], keys[inside], velocity[inside]
    return {"mel": mel, "frames": frames, "keys": keys, "velocity": velocity}


def cached_songs(spec: str, model, *, max_tracks: int | None = None, drums_only: bool = False,
                 progress: bool = True) -> list[tuple[str, dict[str, np.ndarray]]]:  # type: ignore[no-untyped-def]
    """(id, entry) per song of ``root:split:cache``, read from the cache or computed and written
    atomically; ``drums_only`` keeps the songs with a drum part."""
    from tqdm import tqdm

    from jointist.atomic import atomic_path
    from jointist.data.slakh import load_index

    root, split, cache = split_spec(spec)
    folder = Path(cache)
    folder.mkdir(parents=True, exist_ok=True)
    tracks = load_index(root, split)
    if drums_only:
        tracks = [t for t in tracks if any(s.is_drum for s in t.stems)]
    out = []
    for track in tqdm(tracks[:max_tracks], desc=f"drum cache of {split}", unit="track", disable=not progress):
        stored = folder / f"{track.track_id}.npz"
        if stored.exists():
            try:
                with np.load(stored) as z:
                    entry = {k: z[k] for k in z.files}
            except Exception as err:  # noqa: BLE001 - any unreadable file gets the same message
                raise ValueError(f"{stored}: not a readable drum cache file ({err}); delete it to recompute") from err
        else:
            entry = song_entry(track, model)
            with atomic_path(stored) as tmp, open(tmp, "wb") as f:
                np.savez(f, **entry)
        out.append((track.track_id, entry))
    return out


def _batch(songs, rng: np.random.Generator, batch: int, n_keys: int, gain_db: float):  # type: ignore[no-untyped-def]
    """Random crops of CROP_FRAMES frames (a louder or quieter mix: the log-mel shifted by up to ``gain_db``)."""
    mels, onsets, vels = [], [], []
    for i in rng.integers(0, len(songs), batch):
        entry = songs[i][1]
        start = int(rng.integers(0, max(len(entry["mel"]) - CROP_FRAMES, 0) + 1))
        mel = entry["mel"][start: start + CROP_FRAMES].astype(np.float32)
        onset = np.zeros((CROP_FRAMES, n_keys), np.float32)  # the crop's hits only
        vel = np.zeros_like(onset)
        inside = (entry["frames"] >= start) & (entry["frames"] < start + len(mel))
        onset[entry["frames"][inside] - start, entry["keys"][inside]] = 1.0
        vel[entry["frames"][inside] - start, entry["keys"][inside]] = entry["velocity"][inside]
        if len(mel) < CROP_FRAMES:
            mel = np.pad(mel, ((0, CROP_FRAMES - len(mel)), (0, 0)), constant_values=float(mel.min()))
        mels.append(mel + np.float32(rng.uniform(-gain_db, gain_db) * np.log(10) / 10))
        onsets.append(onset)
        vels.append(vel)
    return (torch.from_numpy(np.stack(mels)), torch.from_numpy(np.stack(onsets)), torch.from_numpy(np.stack(vels)))


def learning_rate(step: int, total: int, peak: float) -> float:
    """A one-cycle schedule as a function of the step: linear warm-up over the first 5% of ``total``
    steps, then a cosine down to 1% of ``peak`` (a resumed run with more epochs stretches it)."""
    warm = max(total // 20, 1)
    if step < warm:
        return peak * (step + 1) / warm
    done = min((step - warm) / max(total - warm, 1), 1.0)
    return peak * (0.01 + 0.99 * 0.5 * (1.0 + np.cos(np.pi * done)))


def key_weights(songs, power: float, cap: float = 10.0) -> torch.Tensor:  # type: ignore[no-untyped-def]
    """Weights of the hits of each kit key in the onset loss: (most hits of any key / hits of this key)
    ** ``power``, at most ``cap`` (0: all 1), so that rarely hit pieces are not learned last."""
    from jointist.models.drums import KIT_KEYS

    hits = np.zeros(len(KIT_KEYS))
    for _, entry in songs:
        np.add.at(hits, entry["keys"], 1)
    weights = np.minimum((hits.max() / np.maximum(hits, 1.0)) ** power, cap) if hits.any() else np.ones(len(KIT_KEYS))
    return torch.tensor(weights, dtype=torch.float32)


def loss_of(model, mel: torch.Tensor, onset: torch.Tensor, velocity: torch.Tensor,  # type: ignore[no-untyped-def]
            weights: torch.Tensor | None = None) -> torch.Tensor:
    """Onset BCE per kit key (hits of key k weighted by ``weights[k]``) plus the squared velocity
    error at the true onsets."""
    on, vel = model.from_spectrogram(mel)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(on, onset, pos_weight=weights)
    hits = onset > 0
    if hits.any():
        loss = loss + ((torch.sigmoid(vel[hits]) - velocity[hits]) ** 2).mean()
    return loss


def drum_notes(probs: np.ndarray, threshold: float):  # type: ignore[no-untyped-def]
    """Drum hits decoded from onset probabilities (T, 88) as the pipeline decodes drums."""
    from jointist.postprocess import DecodeConfig, decode_notes

    return decode_notes(probs, probs, is_drum=True, config=DecodeConfig(onset_threshold=threshold, frame_threshold=0.0))


def _at_key(notes, key: int):  # type: ignore[no-untyped-def]
    """The notes of ``notes`` at one key."""
    from jointist.notes import NoteArray

    keep = notes.pitch == key
    return NoteArray(notes.onset_s[keep], notes.offset_s[keep], notes.pitch[keep], notes.velocity[keep])


def _reference(entry: dict[str, np.ndarray]):  # type: ignore[no-untyped-def]
    from jointist.constants import FRAMES_PER_SECOND
    from jointist.models.drums import KIT_KEYS
    from jointist.notes import NoteArray

    onset = entry["frames"] / FRAMES_PER_SECOND
    return NoteArray.from_arrays(onset, onset + 0.1, np.asarray(KIT_KEYS)[entry["keys"]],
                                 np.rint(entry["velocity"] * 127).astype(np.int64))


@torch.no_grad()
def drum_probs(model, entry: dict[str, np.ndarray]) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Onset probabilities (T, 88) of a cached song."""
    from jointist.constants import MIN_MIDI, N_PITCHES
    from jointist.models.drums import KIT_KEYS

    on, _ = model.from_spectrogram(torch.from_numpy(entry["mel"].astype(np.float32))[None])
    probs = np.zeros((len(entry["mel"]), N_PITCHES), np.float32)
    probs[:, np.asarray(KIT_KEYS) - MIN_MIDI] = torch.sigmoid(on[0]).numpy()
    return probs


def validate(model, songs, thresholds=THRESHOLDS) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(best threshold, drum note F1 pooled over the songs at it)."""
    from jointist.metrics import Counts, match_counts

    model.eval()
    counts = {t: Counts() for t in thresholds}
    for _, entry in songs:
        ref, probs = _reference(entry), drum_probs(model, entry)
        for t in thresholds:
            counts[t] = counts[t] + match_counts(ref, drum_notes(probs, t), with_offset=False)
    best = max(thresholds, key=lambda t: counts[t].f1)
    return best, counts[best].f1


def calibrate(model, songs, threshold: float, *, shifts=SHIFTS, min_hits: int = 30) -> dict[int, float]:  # type: ignore[no-untyped-def]
    """Fit ``model.calibration``: per kit key with at least ``min_hits`` hits in ``songs``, the logit
    shift (of ``shifts``) under which the hits decoded at ``threshold`` give the best drum note F1 of
    all keys pooled (coordinate ascent, keys taken in turn); other keys stay 0. Returns GM key ->
    shift of the keys that moved."""
    from jointist.constants import MIN_MIDI
    from jointist.metrics import Counts, match_counts
    from jointist.models.drums import KIT_KEYS

    model.calibration.zero_()
    counts: dict[float, dict[int, Counts]] = {float(s): {} for s in shifts}
    for _, entry in songs:
        ref = _reference(entry)
        probs = drum_probs(model, entry)
        kit = np.asarray(KIT_KEYS) - MIN_MIDI
        logits = np.log(np.clip(probs[:, kit], 1e-7, 1 - 1e-7)) - np.log1p(-np.clip(probs[:, kit], 1e-7, 1 - 1e-7))
        for shift in counts:
            shifted = np.zeros_like(probs)
            shifted[:, kit] = 1.0 / (1.0 + np.exp(-(logits + shift)))
            est = drum_notes(shifted, threshold)
            for key in KIT_KEYS:
                c = counts[shift].get(key, Counts()) + match_counts(_at_key(ref, key), _at_key(est, key),
                                                                    with_offset=False)
                counts[shift][key] = c
    chosen = {key: 0.0 for key in KIT_KEYS}
    tuned = [key for key in KIT_KEYS if counts[0.0][key].n_ref >= min_hits]

    def pooled(choice: dict[int, float]) -> float:
        return sum((counts[choice[k]][k] for k in KIT_KEYS), Counts()).f1

    for _ in range(3):  # coordinate ascent on the F1 of all keys' hits pooled (what the scores count)
        for key in tuned:
            chosen[key] = max(counts, key=lambda s: (pooled({**chosen, key: s}), -abs(s)))
    moved = {key: shift for key, shift in chosen.items() if shift != 0.0}
    for key, shift in moved.items():
        model.calibration[KIT_KEYS.index(key)] = shift
    return moved


def train(args: argparse.Namespace) -> None:
    from jointist.atomic import atomic_path
    from jointist.models.drums import KIT_KEYS, DrumTranscriber
    from jointist.models.serialize import load_models, save_models
    from jointist.pipeline import default_model_path

    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = DrumTranscriber(channels=args.channels, features=args.features, rnn_hidden=args.rnn_hidden)
    if args.init:  # go on from a trained drummer (its layout; the per-key shifts start again from 0)
        from jointist.models.serialize import load_model

        model, _ = load_model(args.init, role="drummer")
        model.calibration.zero_()
    songs = [song for spec in args.train for song in cached_songs(spec, model, max_tracks=args.max_tracks)]
    with_drums = [s for s in songs if len(s[1]["frames"])]
    without = [s for s in songs if not len(s[1]["frames"])]
    keep = int(round(args.no_drum_share / max(1.0 - args.no_drum_share, 1e-6) * len(with_drums)))
    songs = with_drums + [without[i] for i in rng.permutation(len(without))[:keep]]
    val = [s for spec in args.val for s in cached_songs(spec, model, drums_only=True)]
    hits = Counter(int(KIT_KEYS[k]) for _, e in with_drums for k in e["keys"])
    print(f"train: {len(songs)} songs ({len(with_drums)} with drums, {sum(hits.values())} hits; most hit keys "
          f"{', '.join(f'{k}: {n}' for k, n in hits.most_common(8))}); validation: {len(val)} songs with drums", flush=True)
    weights = key_weights(with_drums, args.key_weight) if args.key_weight else None
    if weights is not None:
        print("hits weighted by key: " + ", ".join(f"{k}: {w:.1f}" for k, w in zip(KIT_KEYS, weights.tolist())
                                                   if w > 1 and k in hits), flush=True)
    frames = sum(len(e["mel"]) for _, e in songs)
    steps_per_epoch = max(frames // (CROP_FRAMES * args.batch), 1)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    state_path = Path(args.out).with_suffix(".train.pt")
    epoch, best, curve = 0, None, []
    if args.resume and state_path.exists():
        state = torch.load(state_path, weights_only=False)
        for saved in (state["model"], (state["best"] or {}).get("model", {})):
            saved.setdefault("calibration", torch.zeros(len(KIT_KEYS)))  # states written before calibration
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        epoch, best, curve = state["epoch"], state["best"], state["curve"]
        rng = np.random.default_rng([args.seed, epoch])
        print(f"resumed after epoch {epoch} from {state_path}", flush=True)
    start = time.time()
    while epoch < args.epochs:
        model.train()
        total = 0.0
        for step in range(epoch * steps_per_epoch, (epoch + 1) * steps_per_epoch):
            for group in opt.param_groups:
                group["lr"] = learning_rate(step, args.epochs * steps_per_epoch, args.lr)
            loss = loss_of(model, *_batch(songs, rng, args.batch, len(KIT_KEYS), args.gain_db), weights)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        epoch += 1
        threshold, f1 = validate(model, val)
        curve.append((epoch, total / steps_per_epoch, f1, threshold))
        print(f"epoch {epoch}: train loss {total / steps_per_epoch:.4f}, validation drum F1 {f1:.4f} at {threshold} "
              f"({time.time() - start:.0f} s)", flush=True)
        if best is None or f1 > best["f1"]:
            best = {"f1": f1, "threshold": threshold, "epoch": epoch, "model": copy.deepcopy(model.state_dict())}
        with atomic_path(state_path) as tmp:
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "epoch": epoch, "best": best, "curve": curve}, tmp)
        if args.minutes and time.time() - start > args.minutes * 60 and epoch < args.epochs:
            print(f"stopping after {args.minutes} minutes; --resume goes on from epoch {epoch}", flush=True)
            break
    assert best is not None
    model.load_state_dict(best["model"])
    best["threshold"], best["f1"] = validate(model, val)  # the threshold again, on this version's grid
    calibrated = ""
    if args.calibrate:
        moved = calibrate(model, val, best["threshold"])
        threshold, f1 = validate(model, val)
        calibrated = (f"; per-key logit shifts on validation ({', '.join(f'{k}: {v:+g}' for k, v in moved.items()) or 'none'}): "
                      f"drum note F1 {best['f1']:.4f} at {best['threshold']} -> {f1:.4f} at {threshold}")
        print(calibrated[2:], flush=True)
        best["threshold"], best["f1"] = threshold, f1
    model.eval()
    models = load_models(args.model or default_model_path())
    card = model.card(trained_steps=best["epoch"] * steps_per_epoch,
                      training_data=f"{len(songs)} songs of {corpora_label(args.train)} ({len(with_drums)} with drums), "
                                    f"crops of {CROP_FRAMES} frames, gain +-{args.gain_db} dB"
                                    f"{f', hits weighted by key (power {args.key_weight})' if args.key_weight else ''}",
                      decode={"class_thresholds": [["Drums", best["threshold"], 0.1]]},
                      notes=f"drum transcriber{'' if not args.init else ', from a trained one'}; epoch {best['epoch']} of {epoch}; validation drum note F1 "
                            f"{best['f1']:.4f} at onset threshold {best['threshold']} ({corpora_label(args.val)}){calibrated}")
    models["drummer"] = (model, card)
    out = save_models(models, args.out)
    with atomic_path(Path(args.out).with_suffix(".curve.tsv")) as tmp:
        tmp.write_text("epoch\ttrain_loss\tvalidation_drum_f1\tthreshold\n"
                       + "".join(f"{e}\t{t:.5f}\t{v:.5f}\t{h}\n" for e, t, v, h in curve))
    print(f"wrote {out} (validation drum note F1 {best['f1']:.4f} at {best['threshold']}, epoch {best['epoch']})")


def report(args: argparse.Namespace) -> None:
    from jointist.data.slakh import load_index
    from jointist.evaluation import posteriorgrams_of_split, split_report
    from jointist.instruments import DRUMS
    from jointist.metrics import Counts, match_counts
    from jointist.pipeline import Transcriber
    from jointist.results import Posteriorgram

    plain = Transcriber(args.model, progress=False, drums=False)
    drummer = Transcriber(args.model, progress=False)
    if drummer.drummer is None:
        raise SystemExit(f"{args.model} holds no drum transcriber (role drummer)")
    rows = []
    for spec in args.splits:
        root, split, cache = split_spec(spec)
        songs = posteriorgrams_of_split(plain, root, split, cache=cache, max_tracks=args.max_tracks)
        swapped = []
        per_key: dict[str, dict[int, Counts]] = {"transcriber": {}, "drummer": {}}
        tracks = {t.track_id: t for t in load_index(root, split)}
        entries = dict(cached_songs(f"{root}:{split}:{args.drum_cache}/{split}", drummer.drummer, drums_only=True,
                                    max_tracks=None, progress=False)) if args.drum_cache else {}
        for song in songs:
            classes = list(song[2])
            if DRUMS.index not in classes:
                swapped.append(song)
                continue
            j = classes.index(DRUMS.index)
            entry = entries.get(song[0]) or song_entry(tracks[song[0]], drummer.drummer)
            probs = drum_probs(drummer.drummer, entry)
            onset = song[3].copy()
            frames = min(len(onset), len(probs))
            onset[:, j] = 0
            onset[:frames, j] = Posteriorgram.encode(torch.from_numpy(probs[:frames])).numpy()
            frame = song[4].copy()
            frame[:, j] = onset[:, j]
            swapped.append((song[0], song[1], song[2], onset, frame, *song[5:]))
            ref = song[1][DRUMS.index]
            for name, codes, config in (("transcriber", song[3], plain.decode), ("drummer", onset, drummer.decode)):
                threshold = config.for_class(DRUMS.index).onset_threshold
                est = drum_notes(codes[:, j].astype(np.float32) / Posteriorgram.SCALE, threshold)
                for key in np.union1d(np.unique(ref.pitch), np.unique(est.pitch)):
                    found = match_counts(_at_key(ref, key), _at_key(est, key), with_offset=False)
                    per_key[name][int(key)] = per_key[name].get(int(key), Counts()) + found
        for name, transcriber, data in (("transcriber's drums", plain, songs), ("drummer", drummer, swapped)):
            r = split_report(data, transcriber.decode, ender=transcriber.ender)
            drums = sum(per_key["transcriber" if name.startswith("transcriber") else "drummer"].values(), Counts())
            rows.append(f"| {split} | {name} | {drums.f1:.3f} | {r.flat['onset']:.3f} / {r.flat['offset']:.3f} | "
                        f"{r.instrumentwise['onset']:.3f} | {r.multi_instrument['onset']:.3f} / "
                        f"{r.multi_instrument['offset']:.3f} |")
            print(rows[-1], flush=True)
        refs = Counter({k: c.n_ref for k, c in per_key["drummer"].items()})
        print(f"drum note F1 per GM key, {split}: key, hits, transcriber, drummer")
        for key, n in refs.most_common(args.top):
            if n:
                old, new = per_key["transcriber"].get(key, Counts()), per_key["drummer"][key]
                print(f"  {key:3d} {n:6d} {old.f1:.3f} {new.f1:.3f}")
    print("\n| split | drums from | drum F1 | flat | instrument-wise | multi-instrument |\n|---|---|---:|---:|---:|---:|")
    print("\n".join(rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("cache", help="cache the log-mel and drum hits of splits' songs")
    p.add_argument("splits", nargs="+", help="root:split:cache")
    p.add_argument("--drums-only", action="store_true", help="only the songs with a drum part")
    p.set_defaults(run=lambda a: [cached_songs(s, _default_model(), drums_only=a.drums_only) for s in a.splits])
    p = sub.add_parser("train", help="train a drum transcriber and write the model file with it")
    p.add_argument("--model", default=None, help="the base model file (default: the shipped one)")
    p.add_argument("--train", required=True, nargs="+", help="root:split:cache of the training songs")
    p.add_argument("--val", required=True, nargs="+", help="root:split:cache of the validation songs (one or more corpora)")
    p.add_argument("--out", required=True)
    p.add_argument("--max-tracks", type=int, default=None, help="songs used per training corpus (default: all)")
    p.add_argument("--no-drum-share", type=float, default=0.2, help="share of the training songs without drums")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--gain-db", type=float, default=6.0)
    p.add_argument("--key-weight", type=float, default=0.0,
                   help="weight each key's hits by (most hits of a key / its hits) ** this, at most 10 (0: equal)")
    p.add_argument("--channels", type=int, nargs="+", default=[8, 16, 32])
    p.add_argument("--features", type=int, default=128)
    p.add_argument("--rnn-hidden", type=int, default=64)
    p.add_argument("--minutes", type=float, default=None, help="stop after the epoch that passes this (resume later)")
    p.add_argument("--resume", action="store_true", help="go on from the training state next to --out")
    p.add_argument("--init", default=None, help="start from this model file's drummer (its layout) instead of anew")
    p.add_argument("--no-calibrate", dest="calibrate", action="store_false",
                   help="leave the per-key logit shifts at 0 (default: fitted on the validation songs)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=train)
    p = sub.add_parser("report", help="drum and transcription scores of cached splits, transcriber's drums vs drummer")
    p.add_argument("splits", nargs="+", help="root:split:pg_cache (the transcriber's posteriorgram cache)")
    p.add_argument("--model", required=True, help="a model file with a drummer")
    p.add_argument("--drum-cache", default=None, help="a folder for the drum caches (<folder>/<split>)")
    p.add_argument("--max-tracks", type=int, default=None)
    p.add_argument("--top", type=int, default=12)
    p.set_defaults(run=report)
    args = parser.parse_args(argv)
    args.run(args)
    return 0


def _default_model():  # type: ignore[no-untyped-def]
    from jointist.models.drums import DrumTranscriber

    return DrumTranscriber()


if __name__ == "__main__":
    raise SystemExit(main())
