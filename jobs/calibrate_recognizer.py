"""Calibrate a model file's instrument recognizer on whole songs and write a model file with the new rule.

The song-level decision (aggregation over windows, per-class thresholds, bounds on the number of
instruments; see :mod:`jointist.recognition_calibration`) is fitted on the VALIDATION split only and
stored on the recognizer's card; every other model of the file is copied unchanged. The song-level
scores before (the card's old rule) and after are printed for the validation split (in-sample after
calibration) and the test split (held out):

    python jobs/calibrate_recognizer.py jointist/weights/jointist.pt DATA_ROOT calibrated/jointist.pt
    python jobs/calibrate_recognizer.py model.pt DATA_ROOT out.pt --max-tracks 50 --report out.json

DATA_ROOT is a corpus in Slakh2100 layout (``validation/`` and ``test/`` track folders).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from jointist.atomic import atomic_write_text
from jointist.data.slakh import DatasetError
from jointist.evaluation import RecognizedSongs, recognition_reports, recognize_split
from jointist.metrics import RecognitionReport
from jointist.models.serialize import CheckpointError, load_models, save_models
from jointist.pipeline import Recognizer
from jointist.recognition_calibration import SongDecision, calibrate


def _row(split: str, rule: str, report: RecognitionReport) -> str:
    return (f"| {split} | {rule} | {report.set_f1:.3f} | {report.set_precision:.3f} | {report.set_recall:.3f} | "
            f"{report.precision:.3f} | {report.recall:.3f} | {report.f1_micro:.3f} | {report.named:.1f} / {report.true:.1f} | "
            f"{report.map_macro:.3f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="the model file holding the recognizer")
    parser.add_argument("data_root", help="corpus in Slakh2100 layout")
    parser.add_argument("out", help="the model file to write (every model of MODEL, the recognizer's card calibrated)")
    parser.add_argument("--max-tracks", type=int, default=None, help="at most this many songs per split")
    parser.add_argument("--split", default="validation", help="the split the rule is fitted on")
    parser.add_argument("--test-split", nargs="*", default=["test"],
                        help="the held-out split(s) it is reported on (e.g. test test_style; none: no report)")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds that choose the settings")
    parser.add_argument("--seed", type=int, default=0, help="assignment of songs to folds")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--report", default=None, help="also write the scores and the chosen rule as JSON here")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    try:
        recognizer = Recognizer(args.model, device=args.device)
        songs: dict[str, RecognizedSongs] = {}
        for split in dict.fromkeys(filter(None, (args.split, *args.test_split))):
            songs[split] = recognize_split(recognizer, args.data_root, split, max_tracks=args.max_tracks,
                                           progress=args.progress)
    except (CheckpointError, DatasetError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    fitted_on = songs[args.split]
    calibration = calibrate(fitted_on.window_probs, fitted_on.song_labels, folds=args.folds, seed=args.seed)
    rules: dict[str, SongDecision] = {"before": recognizer.decision, "after": calibration.decision}

    print(f"before: {rules['before'].describe()}")
    print(f"after:  {calibration.describe()}\n")
    print("| split | rule | set F1 | set P | set R | micro P | micro R | micro F1 | named / true | song mAP |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    scores: dict[str, dict[str, dict]] = {}
    for split, split_songs in songs.items():
        for name, rule in rules.items():
            report = recognition_reports(split_songs, rule)["songs"]
            scores.setdefault(split, {})[name] = {k: v for k, v in report.to_dict().items() if not isinstance(v, dict)}
            print(_row(f"{split} ({len(split_songs.track_ids)})", name, report))
    print(f"\n(after on {args.split} is in-sample; cross-validated set F1 there: {calibration.cross_validated_set_f1:.3f})")

    models = load_models(args.model)
    model, card = models["recognizer"]
    note = (f"song decision calibrated on {len(fitted_on.track_ids)} {args.split} songs of {Path(args.data_root).name} "
            f"(jobs/calibrate_recognizer.py): {calibration.describe()}")
    models["recognizer"] = (model, card.replace(**calibration.decision.card_fields(), notes=f"{card.notes}; {note}".strip("; ")))
    path = save_models(models, args.out)
    print(f"\nwrote {path}")
    if args.report:
        doc = {"model": str(args.model), "data": Path(args.data_root).name, "decision": calibration.decision.card_fields(),
               "cross_validated_set_f1": calibration.cross_validated_set_f1, "shrinkage": calibration.shrinkage,
               "global_threshold": calibration.global_threshold, "scores": scores}
        atomic_write_text(args.report, json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
