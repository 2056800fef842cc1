"""Where each instrument's notes go: found in its own track, written only into another instrument's, or missed.

Instrument-wise F1 counts a note only in the track of the instrument that plays it. This job tells
apart the two ways a note is lost there: the transcriber did not hear it at all, or it heard it and
gave it to another instrument of the song (a note is "found elsewhere" when its onset and pitch
match, within 50 ms, a note decoded for another instrument and no note of its own track). Per true
instrument (the most frequent first): its notes, the shares found in its own track, found only
elsewhere (and the two instruments that take most of them), and missed. True instruments are named,
as ``jointist-evaluate`` does by default; posteriorgrams are cached as by :func:`~jointist.evaluation.posteriorgrams_of_split`.

    python jobs/attribution.py data/styles --split test --style pop --cache pg_cache/shipped/test

``--drums`` adds the drum hits per GM drum key (a hit counts only at its key, in every note F1 that
counts drums, multi-instrument F1 among them): found at that key, heard only as another key, missed.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter


def _matched(ref, est) -> set[int]:  # type: ignore[no-untyped-def]
    """Indices of the notes of ``ref`` whose onset and pitch match a note of ``est`` (mir_eval, 50 ms)."""
    from jointist.metrics import match_pairs

    return {i for i, _ in match_pairs(ref, est, with_offset=False)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", help="a corpus root in Slakh2100's layout")
    parser.add_argument("--split", default="test")
    parser.add_argument("--style", default=None, help="only the songs of this style (the corpus's metadata)")
    parser.add_argument("--ckpt", default=None, help="a model file (default: the shipped transcriber)")
    parser.add_argument("--cache", default=None, help="a folder for the songs' posteriorgrams")
    parser.add_argument("--max-tracks", type=int, default=None)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--drums", action="store_true",
                        help="also the drum hits per GM drum key: found at their key, heard as another key, or missed")
    args = parser.parse_args(argv)

    import torch

    from jointist.data.slakh import load_index
    from jointist.evaluation import posteriorgrams_of_split
    from jointist.instruments import DRUMS, INSTRUMENTS
    from jointist.notes import NoteArray
    from jointist.pipeline import Transcriber
    from jointist.postprocess import decode_tracks
    from jointist.results import Posteriorgram

    torch.set_num_threads(args.threads)
    transcriber = Transcriber(args.ckpt, progress=False)
    styles = {t.track_id: t.style for t in load_index(args.corpus, args.split)}
    songs = [s for s in posteriorgrams_of_split(transcriber, args.corpus, args.split, max_tracks=args.max_tracks,
                                                cache=args.cache)
             if args.style is None or styles.get(s[0]) == args.style]
    if not songs:
        raise SystemExit(f"no songs of style {args.style!r} in {args.corpus} {args.split}")
    total: Counter[int] = Counter()
    own: Counter[int] = Counter()
    elsewhere: Counter[int] = Counter()
    taken_by: dict[int, Counter[int]] = {}
    drum_counts: dict[int, dict] = {}
    for song in songs:
        ref, classes = song[1], list(song[2])
        est = decode_tracks(song[3], song[4], classes, config=transcriber.decode, scale=Posteriorgram.SCALE,
                            offsets=song[5] if len(song) > 5 else None)
        for c, notes in ref.items():
            if c == DRUMS.index or not len(notes):
                continue
            total[c] += len(notes)
            mine = _matched(notes, est[c])
            own[c] += len(mine)
            lost = [i for i in range(len(notes)) if i not in mine]
            if not lost:
                continue
            rest = NoteArray(notes.onset_s[lost], notes.offset_s[lost], notes.pitch[lost], notes.velocity[lost])
            found: set[int] = set()
            for d in classes:
                if d in (c, DRUMS.index):
                    continue
                hits = _matched(rest, est[d])
                taken_by.setdefault(c, Counter())[d] += len(hits - found)
                found |= hits
            elsewhere[c] += len(found)
        drums_ref, drums_est = ref.get(DRUMS.index), est.get(DRUMS.index)
        if args.drums and drums_ref is not None and len(drums_ref):
            _drum_counts(drums_ref, drums_est if drums_est is not None else NoteArray.empty(), drum_counts)
    label = f"{args.split}{f', style {args.style}' if args.style else ''} ({len(songs)} songs)"
    print(f"where each instrument's notes go, {label}: notes, own track, only another track (which), missed")
    for c, n in total.most_common(args.top):
        others = ", ".join(f"{INSTRUMENTS[d].name} {k / n:.3f}" for d, k in taken_by.get(c, Counter()).most_common(2) if k)
        print(f"  {INSTRUMENTS[c].name:20s} {n:6d} {own[c] / n:.3f} {elsewhere[c] / n:.3f} ({others or '-'}) "
              f"{(n - own[c] - elsewhere[c]) / n:.3f}")
    n = sum(total.values())
    print(f"  {'all pitched':20s} {n:6d} {sum(own.values()) / n:.3f} {sum(elsewhere.values()) / n:.3f} "
          f"{(n - sum(own.values()) - sum(elsewhere.values())) / n:.3f}")
    if args.drums:
        pitched = sum(total.values())
        drums = sum(c["notes"] for c in drum_counts.values())
        print(f"drum hits by GM drum key, {label}: {drums} hits ({drums / max(drums + pitched, 1):.3f} of all notes): "
              "hits, decoded at that key (all), found at that key, heard only as another key (which), missed")
        for key, c in sorted(drum_counts.items(), key=lambda kv: -kv[1]["notes"])[: args.top]:
            n = c["notes"]
            if not n:
                continue
            instead = ", ".join(f"{k} {v / n:.3f}" for k, v in c["instead"].most_common(2))
            print(f"  key {key:3d} {n:6d} {c['decoded']:6d} {c['found'] / n:.3f} {c['elsewhere'] / n:.3f} "
                  f"({instead or '-'}) {(n - c['found'] - c['elsewhere']) / n:.3f}")
    return 0


def _drum_counts(ref, est, counts: dict) -> None:  # type: ignore[no-untyped-def]
    """Add a song's drum hits to ``counts`` (GM key -> hits, decoded hits at that key, hits found at
    their key, hits heard only as another key within 50 ms and which keys)."""
    import numpy as np

    def entry(key: int) -> dict:
        return counts.setdefault(key, {"notes": 0, "decoded": 0, "found": 0, "elsewhere": 0, "instead": Counter()})

    for key in np.unique(est.pitch):
        entry(int(key))["decoded"] += int((est.pitch == key).sum())
    found = _matched(ref, est)
    for i, (onset, key) in enumerate(zip(ref.onset_s, ref.pitch)):
        c = entry(int(key))
        c["notes"] += 1
        if i in found:
            c["found"] += 1
            continue
        near = (np.abs(est.onset_s - onset) <= 0.05) & (est.pitch != key)
        if near.any():
            c["elsewhere"] += 1
            c["instead"][int(est.pitch[near][np.argmin(np.abs(est.onset_s[near] - onset))])] += 1


if __name__ == "__main__":
    sys.exit(main())
