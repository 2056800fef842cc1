"""Write the notebooks of this folder from the cells below (one source for the cells they share).

    python notebooks/make_notebooks.py          # rewrites notebooks/NN_*.ipynb, without outputs

Edit the cells here, not in Jupyter, then run this script: ``tests/test_notebooks.py`` checks that
every committed notebook is exactly what this script writes (so none carries outputs or execution
counts) and executes each one on a tiny corpus.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent

SETUP = '''\
import os
from pathlib import Path

# Relative paths are relative to this folder (notebooks/), where Jupyter runs the notebook.
DATA = Path(os.environ.get("JOINTIST_NOTEBOOK_DATA", "../data/synth"))  # a Slakh2100-format corpus
OUT = Path(os.environ.get("JOINTIST_NOTEBOOK_OUT", "../outputs/notebooks"))  # what the notebooks write
TINY = os.environ.get("JOINTIST_NOTEBOOK_TINY", "0") not in ("", "0")  # CI: tiny sizes, seconds per cell
print(f"data: {DATA.resolve()}  outputs: {OUT.resolve()}  tiny: {TINY}")'''

CORPUS = '''\
from jointist.data.synthetic import CorpusSpec, render_corpus

if not any((DATA / split).is_dir() for split in ("train", "validation", "test")):
    # No corpus there yet: render a small one (FluidSynth and the GM SoundFonts of .ci/install.sh).
    if TINY:  # one 6 s song per split, 2 to 4 instruments each: a few seconds
        spec = CorpusSpec(num_tracks=3, duration_s=6.0, splits={"train": 1, "validation": 1, "test": 1},
                          min_stems=2, max_stems=4)
    else:  # 20 songs of 30 s over the default splits: a minute or two
        spec = CorpusSpec(num_tracks=20, duration_s=30.0)
    render_corpus(DATA, spec, workers=1 if TINY else None, progress=False)
    print(f"rendered {spec.num_tracks} songs into {DATA}")'''

INTRO_DATA = (
    "The corpus is `$JOINTIST_NOTEBOOK_DATA` (default: the repository's `data/synth`, e.g. from "
    "`jointist-synth root=data/synth num_tracks=200 duration_s=30`, or a Slakh2100 download); when it holds no "
    "corpus, the second cell renders a small one there. `JOINTIST_NOTEBOOK_TINY=1` shrinks everything to seconds "
    "(CI runs every notebook that way). Files are written under `$JOINTIST_NOTEBOOK_OUT` (default "
    "`outputs/notebooks`)."
)

NOTEBOOKS: dict[str, list[tuple[str, str]]] = {
    "01_corpus": [
        ("markdown", f"""\
# 1. The corpus

What a model learns from: a synthetic multitrack corpus in the Slakh2100 layout, rendered by
`jointist-synth` (`jointist.data.synthetic.render_corpus`), its statistics (`jointist.data.stats`), and one
track's notes as the piano rolls the transcriber is trained on.

{INTRO_DATA}"""),
        ("code", SETUP),
        ("code", CORPUS),
        ("markdown", """\
## Statistics

Per split: tracks, hours, stems per song, notes per second, polyphony, and how many stems each of the
39 instrument classes has; `jointist-synth` prints the same report (the histogram as a table)."""),
        ("code", '''\
from IPython.display import Markdown, display

from jointist.data.stats import corpus_stats, format_stats

stats = corpus_stats(DATA)
assert stats and all(s.tracks > 0 for s in stats), f"no tracks in {DATA}"
summary, class_histogram = format_stats(stats).split("\\n\\n", 1)  # the histogram is plotted below
display(Markdown(summary))'''),
        ("code", '''\
import matplotlib.pyplot as plt
import numpy as np

from jointist.instruments import INSTRUMENTS

played = [inst for inst in INSTRUMENTS if any(s.stems_per_class[inst.index] for s in stats)]
x = np.arange(len(played))
width = 0.8 / len(stats)
fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(played) + 2), 3.5))
for k, s in enumerate(stats):
    ax.bar(x + k * width, [s.stems_per_class[inst.index] for inst in played], width, label=s.split)
ax.set_xticks(x + 0.4 - width / 2, [inst.name for inst in played], rotation=60, ha="right")
ax.set_ylabel("stems")
ax.set_title("Stems per instrument class")
ax.legend()
plt.show()'''),
        ("markdown", """\
## One track

A track folder holds `mix.flac`, one FLAC and one MIDI file per stem and `metadata.yaml`; `load_index`
reads them into `TrackInfo`s (stems mapped to the 39 classes, notes as `NoteArray`s)."""),
        ("code", '''\
from jointist.data.slakh import load_index
from jointist.instruments import by_index

track = load_index(DATA, "train")[0]
print(f"{track.track_id}: {track.duration_s:.1f} s, style {track.style}, tempo {track.tempo_bpm} bpm")
for stem in track.stems:
    print(f"  {stem.stem_id}: program {stem.program:3d} -> {by_index(stem.instrument).name:24s} {len(stem.notes)} notes")'''),
        ("markdown", """\
A training example is a window of the track (10 s, or the whole track when shorter): the mixture and
the notes of each class, from which `notes_to_rolls` builds the onset and frame targets at 100 frames
per second (drums: onsets only)."""),
        ("code", '''\
from IPython.display import Audio

from jointist.constants import FRAMES_PER_SECOND, MIN_MIDI, SAMPLE_RATE
from jointist.data.slakh import SlakhDataset
from jointist.data.targets import notes_to_rolls

window_s = min(10.0, track.duration_s)
example = SlakhDataset(DATA, "train", segment_s=window_s, random=False, load_stems=False)[0]
classes = sorted(c for c, notes in example.notes.items() if len(notes))
assert classes, "the window has no notes"
num_frames = int(window_s * FRAMES_PER_SECOND) + 1
fig, axes = plt.subplots(len(classes) + 1, 1, figsize=(12, 1.2 + 1.8 * len(classes)), sharex=True)
axes[0].plot(np.arange(len(example.mix)) / SAMPLE_RATE, example.mix, linewidth=0.3)
axes[0].set_ylabel("mixture")
for ax, c in zip(axes[1:], classes):
    rolls = notes_to_rolls(example.notes[c], num_frames=num_frames, is_drum=by_index(c).is_drum)
    ax.imshow(rolls.frame.T, origin="lower", aspect="auto", cmap="Greys", interpolation="nearest",
              extent=(0, num_frames / FRAMES_PER_SECOND, MIN_MIDI - 0.5, MIN_MIDI + 87.5))
    ax.set_ylabel(by_index(c).name, rotation=0, ha="right")
axes[-1].set_xlabel("time (s)")
fig.suptitle(f"{example.track_id} from {example.start_s:.1f} s: frame targets per class")
plt.show()
display(Audio(example.mix, rate=SAMPLE_RATE))'''),
    ],
    "02_transcribe": [
        ("markdown", f"""\
# 2. Transcribing a clip

A clip of a test song through the Python API: `jointist.transcribe` with the shipped model
(`jointist/weights/jointist.pt`, loaded by default), whose recognizer picks the instruments
(`instruments="auto"`); the result's posteriorgrams and notes next to the true notes; then
`jointist.export.write_outputs` (MIDI, JSON, piano-roll PNGs from `jointist.plots`).

{INTRO_DATA}"""),
        ("code", SETUP),
        ("code", CORPUS),
        ("code", '''\
from IPython.display import Audio, Image, Markdown, display

from jointist.audio.io import load_audio
from jointist.constants import SAMPLE_RATE
from jointist.data.slakh import load_index

CLIP_S = 6.0 if TINY else 20.0
track = load_index(DATA, "test")[0]
audio = load_audio(track.mix_path)[: int(CLIP_S * SAMPLE_RATE)]  # mono float32 at 16 kHz
truth = {c: notes.starting_within(0.0, CLIP_S) for c, notes in track.notes_by_class().items()}
print(f"{track.track_id}: the first {len(audio) / SAMPLE_RATE:.1f} s")
display(Audio(audio, rate=SAMPLE_RATE))'''),
        ("code", '''\
import jointist

result = jointist.transcribe(audio, instruments="auto")  # or instruments=["piano", "bass"], or a file path
print("detected:", ", ".join(f"{name} ({p:.2f})" for name, p in result.detected.items()) or "nothing")
assert sum(len(t.notes) for t in result.tracks) > 0, "the transcription has no notes"'''),
        ("markdown", """\
Each `InstrumentResult` holds the notes (`NoteArray`) and the onset and frame posteriorgrams
(frames, 88). Against the clip's true notes (`jointist.metrics.evaluate_piece`, mir_eval's note F1 with
50 ms onsets):"""),
        ("code", '''\
from jointist.instruments import INSTRUMENTS
from jointist.metrics import evaluate_piece

piece = evaluate_piece(track.track_id, truth, result.notes())
rows = ["| instrument | true notes | transcribed | onset F1 |", "|---|---:|---:|---:|"]
for c in sorted(set(truth) | set(result.notes())):
    counts = piece.onset.get(c)
    f1 = f"{counts.f1:.2f}" if counts is not None and (counts.n_ref or counts.n_est) else "n/a"
    rows.append(f"| {INSTRUMENTS[c].name} | {len(truth.get(c, []))} | {len(result.notes().get(c, []))} | {f1} |")
display(Markdown("\\n".join(rows) + f"\\n\\nAll instruments together (flat): onset F1 {piece.flat_onset.f1:.2f}"))'''),
        ("code", '''\
import matplotlib.pyplot as plt

from jointist.constants import MIN_MIDI

fig, axes = plt.subplots(len(result.tracks), 1, figsize=(12, 2.2 * len(result.tracks)), sharex=True, squeeze=False)
for ax, t in zip(axes[:, 0], result.tracks):
    ax.imshow(t.frame.probabilities().T, origin="lower", aspect="auto", cmap="Greys", vmin=0, vmax=1,
              extent=(0, t.frame.duration_s, MIN_MIDI - 0.5, MIN_MIDI + 87.5))
    ref = truth.get(t.instrument.index)
    if ref is not None:
        ax.scatter(ref.onset_s, ref.pitch, s=14, facecolors="none", edgecolors="tab:blue", label="true onsets")
    ax.scatter(t.notes.onset_s, t.notes.pitch, s=5, color="tab:red", label="transcribed onsets")
    ax.set_ylabel(t.instrument.name)
axes[0, 0].legend(loc="upper right", fontsize=7)
axes[-1, 0].set_xlabel("time (s)")
fig.suptitle("Frame posteriorgram (grey), true (blue) and transcribed (red) onsets")
plt.show()'''),
        ("markdown", """\
`write_outputs` writes what `jointist-transcribe` writes: one MIDI track per instrument (drums on
channel 10), the notes as JSON, and a piano roll per instrument (`jointist.plots.plot_pianoroll`: the
frame posteriorgram in grey, the notes outlined in red)."""),
        ("code", '''\
from jointist.export import write_outputs
from jointist.midi import read_midi

written = write_outputs(result, OUT / "transcribe", name=track.track_id)
for kind, path in written.items():
    print(f"{kind:28s} {path}")
print({INSTRUMENTS[c].name: len(notes) for c, notes in read_midi(written["midi"]).items()})
for kind, path in written.items():
    if kind.startswith("pianoroll/"):
        display(Image(filename=str(path)))'''),
    ],
    "03_training_curves": [
        ("markdown", f"""\
# 3. Training curves

`jointist-train` logs its losses and validation scores to TensorBoard (`<run>/tensorboard`). This
notebook trains the tiny transcriber (`conf/model/transcriber_tiny.yaml`) for a few steps with
`jointist.cli.train.train` on a configuration composed as the command composes it, then reads the
scalars from the event files and plots them, as `jobs/plot_curves.py` does. Set
`JOINTIST_NOTEBOOK_RUN` to the output folder of a run of yours to plot its curves instead.

{INTRO_DATA}"""),
        ("code", SETUP),
        ("code", CORPUS),
        ("code", '''\
import shutil

from hydra import compose, initialize_config_dir

from jointist.cli import CONF_DIR
from jointist.cli.train import train

RUN = os.environ.get("JOINTIST_NOTEBOOK_RUN")  # a jointist-train output folder; unset: train one here
STEPS = 12 if TINY else 300
BATCH = 2

if RUN:
    run_dir = Path(RUN)
else:
    run_dir = OUT / "train_tiny"
    shutil.rmtree(run_dir, ignore_errors=True)  # a fresh run each time this cell runs
    overrides = [
        f"data.root='{DATA.resolve()}'", "model=transcriber_tiny", "data.segment_s=2.0", f"data.batch_size={BATCH}",
        "data.num_workers=0", f"data.train_examples_per_epoch={STEPS * BATCH}", f"paths.output_dir='{run_dir.resolve()}'",
        f"trainer.max_steps={STEPS}", f"trainer.val_check_interval={STEPS // 3}", "trainer.log_every_n_steps=1",
        "+trainer.enable_progress_bar=false", "+trainer.enable_model_summary=false",
    ]
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    result = train(cfg)
    print("model file:", result["model_file"])'''),
        ("markdown", """\
Every event file under the run folder is read (a resumed run writes one per call; a step logged
twice keeps its last value): tag -> (steps, values)."""),
        ("code", '''\
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def read_scalars(run: Path) -> dict[str, tuple[list[int], list[float]]]:
    """tag -> (steps, values) of every event file under ``run``, sorted by step (as jobs/plot_curves.py)."""
    merged: dict[str, dict[int, float]] = {}
    for events in sorted(run.rglob("events.out.tfevents.*"), key=lambda p: p.stat().st_mtime):
        acc = EventAccumulator(str(events), size_guidance={"scalars": 0})
        acc.Reload()
        for tag in acc.Tags().get("scalars", []):
            for event in acc.Scalars(tag):
                merged.setdefault(tag, {})[int(event.step)] = float(event.value)
    return {tag: (sorted(values), [values[s] for s in sorted(values)]) for tag, values in merged.items()}


scalars = read_scalars(run_dir)
assert len(scalars.get("train/loss", ((), ()))[0]) >= 2, f"no training loss curve in {run_dir}"
for tag, (steps, values) in sorted(scalars.items()):
    print(f"{tag:32s} {len(steps):4d} points, last {values[-1]:.4f} at step {steps[-1]}")'''),
        ("code", '''\
import matplotlib.pyplot as plt

wanted = ["train/loss", "val/loss", "val/note_f1_flat", "val/note_f1_instrument", "val/frame_f1", "val/map_macro",
          "val/sdr"]
tags = [t for t in wanted if t in scalars] or sorted(t for t in scalars if not t.startswith("lr-"))
cols = min(3, len(tags))
rows = (len(tags) + cols - 1) // cols
fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.2 * rows), squeeze=False)
for ax, tag in zip(axes.flat, tags):
    steps, values = scalars[tag]
    ax.plot(steps, values, marker="." if len(steps) < 40 else None)
    ax.set_title(tag)
    ax.set_xlabel("step")
    ax.grid(alpha=0.3)
for ax in list(axes.flat)[len(tags):]:
    ax.axis("off")
fig.suptitle(run_dir.name)
fig.tight_layout()
plt.show()'''),
    ],
    "04_evaluation": [
        ("markdown", f"""\
# 4. Evaluation

`jointist.evaluation` runs the same pipeline users run over a split's songs and scores the notes
against each track's MIDI: flat, piece-wise, instrument-wise and multi-instrument (MT3) note F1, frame
F1 and note-with-velocity F1. Here the shipped model transcribes the true instruments of each test song
(`instruments="gt"`, as `jointist-evaluate ... instruments=gt`); `write_report` writes the report as
JSON and markdown and the per-instrument F1 bar chart (`jointist.plots.plot_f1_bars`).

{INTRO_DATA}"""),
        ("code", SETUP),
        ("code", CORPUS),
        ("code", '''\
from IPython.display import Image, Markdown, display

from jointist.evaluation import evaluate_tracks, write_report
from jointist.pipeline import Transcriber

MAX_TRACKS = 1 if TINY else 20
transcriber = Transcriber(progress=False)  # the shipped model; Transcriber("model.pt") for one of yours
scores = evaluate_tracks(transcriber, DATA, "test", instruments="gt", max_tracks=MAX_TRACKS, progress=False)
report = scores.transcription
paths = write_report(report, OUT / "evaluation", meta={"model_file": str(transcriber.model_path), "split": "test"})
assert report.pieces > 0 and 0.0 <= report.flat["onset"] <= 1.0, report.flat
display(Markdown(report.to_markdown()))'''),
        ("code", '''\
print("\\n".join(f"{kind:8s} {path}" for kind, path in paths.items()))
display(Image(filename=str(paths["chart"])))'''),
        ("markdown", """\
Per song: each `PieceScores` holds matched, reference and estimated note counts per class and over
all instruments (flat), from which precision, recall and F1 follow."""),
        ("code", '''\
import matplotlib.pyplot as plt
import numpy as np

names = [p.piece for p in scores.pieces]
x = np.arange(len(names))
fig, ax = plt.subplots(figsize=(max(5, 0.6 * len(names) + 2), 3.5))
for k, (label, counts) in enumerate((("onset", [p.flat_onset for p in scores.pieces]),
                                     ("onset+offset", [p.flat_offset for p in scores.pieces]),
                                     ("frame", [p.flat_frame for p in scores.pieces]))):
    ax.bar(x + (k - 1) * 0.27, [c.f1 for c in counts], 0.27, label=label)
ax.set_xticks(x, names, rotation=60, ha="right")
ax.set_ylim(0, 1)
ax.set_ylabel("flat F1")
ax.set_title("F1 per song, all instruments together")
ax.legend(fontsize=8)
plt.show()'''),
    ],
}


def build(name: str) -> nbformat.NotebookNode:
    """The notebook ``name`` without outputs, with stable cell ids (so the files only change when a cell does)."""
    nb = nbformat.v4.new_notebook()
    nb.nbformat, nb.nbformat_minor = 4, 5  # pinned: a newer nbformat must not rewrite every file
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for i, (kind, source) in enumerate(NOTEBOOKS[name]):
        cell = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
        cell.id = f"{name}-{i:02d}"
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def text(name: str) -> str:
    """The file contents of notebook ``name`` as this script writes them."""
    return nbformat.writes(build(name)) + "\n"


def main() -> int:
    for name in NOTEBOOKS:
        path = HERE / f"{name}.ipynb"
        path.write_text(text(name))
        print(f"wrote {path}")
    stale = sorted(p.name for p in HERE.glob("*.ipynb") if p.stem not in NOTEBOOKS)
    if stale:
        print(f"not written by this script (remove or add them here): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
