"""Learning curves of training runs, read from their TensorBoard logs, as one PNG.

    python jobs/plot_curves.py OUT.png RUN_DIR [RUN_DIR ...] [--tags val/note_f1_flat val/loss ...]

Each RUN_DIR is a run's output folder (its ``tensorboard/`` event files, from every resumed call,
are read together; a step logged twice keeps its last value). One panel per tag, one line per run
that logged it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_TAGS = ("train/loss", "val/loss", "val/note_f1_flat", "val/note_f1_instrument", "val/multi_instrument_f1",
                "train/velocity_loss", "val/map_macro")


def read_scalars(run: Path, tags: list[str]) -> dict[str, tuple[list[int], list[float]]]:
    """tag -> (steps, values) of every event file under ``run``, sorted by step."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    merged: dict[str, dict[int, float]] = {}
    for events in sorted(run.rglob("events.out.tfevents.*"), key=lambda p: p.stat().st_mtime):
        acc = EventAccumulator(str(events), size_guidance={"scalars": 0})
        acc.Reload()
        for tag in set(tags) & set(acc.Tags().get("scalars", [])):
            for event in acc.Scalars(tag):
                merged.setdefault(tag, {})[int(event.step)] = float(event.value)
    return {tag: (sorted(values), [values[s] for s in sorted(values)]) for tag, values in merged.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", help="the PNG to write")
    parser.add_argument("runs", nargs="+", help="run output folders")
    parser.add_argument("--tags", nargs="+", default=list(DEFAULT_TAGS))
    args = parser.parse_args(argv)
    runs = {Path(r).name: read_scalars(Path(r), args.tags) for r in args.runs}
    tags = [t for t in args.tags if any(t in scalars for scalars in runs.values())]
    if not tags:
        print(f"error: none of {args.tags} was logged in {args.runs}", file=sys.stderr)
        return 2
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(3, len(tags))
    rows = (len(tags) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.4 * rows), squeeze=False)
    for ax, tag in zip(axes.flat, tags, strict=False):
        for name, scalars in runs.items():
            if tag in scalars:
                steps, values = scalars[tag]
                ax.plot(steps, values, label=name, marker="." if len(steps) < 40 else None)
        ax.set_title(tag)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(tags):]:
        ax.axis("off")
    fig.tight_layout()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp.png")
    fig.savefig(tmp, dpi=80)
    tmp.replace(out)  # written whole or not at all
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
