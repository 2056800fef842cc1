"""Transcription metrics as the papers define them (mir_eval underneath).

- Note F1: onset within 50 ms and same pitch ("onset"); plus offset within max(0.2 x duration,
  50 ms) ("onset+offset"). Drums are scored on onsets in both.
- Flat: all non-drum notes of a piece merged, instrument ignored; mean over pieces.
- Piece-wise: mean over a piece's instruments, then over pieces.
- Instrument-wise: per class, mean over the pieces containing it, then mean over classes.
  Both come in two forms: over ground-truth instruments only (the original Jointist code), and
  ``*_penalised``, where a class predicted (>= 1 note) but absent counts with F1 = 0.
- Multi-instrument F1 (MT3): onset, offset (drums: onset) and instrument must all match; counts are
  pooled over every instrument of every piece.
- Frame F1: active (frame, pitch) cells at 100 frames/s, pooled; per instrument and flat.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import librosa
import numpy as np

from jointist.constants import FRAMES_PER_SECOND
from jointist.data.targets import notes_to_rolls
from jointist.instruments import DRUMS, by_index
from jointist.notes import NoteArray

__all__ = [
    "Counts", "PieceScores", "RecognitionReport", "TranscriptionReport", "average_precision", "evaluate_piece",
    "match_counts", "merge_pitched", "recognition_scores", "summarise",
]

ONSET_TOLERANCE_S = 0.05
OFFSET_RATIO = 0.2
OFFSET_MIN_TOLERANCE_S = 0.05


@dataclass(frozen=True)
class Counts:
    """Matched, reference and estimated counts; precision/recall/F1 derive from them."""

    tp: int = 0
    n_ref: int = 0
    n_est: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.n_ref + other.n_ref, self.n_est + other.n_est)

    @property
    def precision(self) -> float:
        return self.tp / self.n_est if self.n_est else 0.0

    @property
    def recall(self) -> float:
        return self.tp / self.n_ref if self.n_ref else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else 0.0

    @property
    def empty(self) -> bool:
        return self.n_ref == 0 and self.n_est == 0


def _intervals(notes: NoteArray) -> tuple[np.ndarray, np.ndarray]:
    onset = np.maximum(notes.onset_s, 0.0)  # mir_eval rejects negative times (a window's frame 0 starts at -5 ms)
    offset = np.maximum(notes.offset_s, onset + 1e-3)  # and needs positive durations
    hz = librosa.midi_to_hz(notes.pitch.astype(np.float64))
    return np.stack([onset, offset], axis=1) if len(notes) else np.zeros((0, 2)), hz


def match_counts(ref: NoteArray, est: NoteArray, *, with_offset: bool) -> Counts:
    """Notes of ``est`` matched one-to-one to ``ref`` (mir_eval's bipartite matching)."""
    if len(ref) == 0 or len(est) == 0:
        return Counts(0, len(ref), len(est))
    import mir_eval

    ref_iv, ref_hz = _intervals(ref)
    est_iv, est_hz = _intervals(est)
    matches = mir_eval.transcription.match_notes(
        ref_iv, ref_hz, est_iv, est_hz, onset_tolerance=ONSET_TOLERANCE_S, pitch_tolerance=50.0,
        offset_ratio=OFFSET_RATIO if with_offset else None, offset_min_tolerance=OFFSET_MIN_TOLERANCE_S,
    )
    return Counts(len(matches), len(ref), len(est))


def _frame_counts(ref: NoteArray, est: NoteArray, *, is_drum: bool, num_frames: int) -> Counts:
    r = notes_to_rolls(ref, num_frames=num_frames, is_drum=is_drum).frame > 0
    e = notes_to_rolls(est, num_frames=num_frames, is_drum=is_drum).frame > 0
    return Counts(int(np.sum(r & e)), int(r.sum()), int(e.sum()))


@dataclass
class PieceScores:
    """Counts of one piece, per instrument class and flat."""

    piece: str
    onset: dict[int, Counts] = field(default_factory=dict)
    offset: dict[int, Counts] = field(default_factory=dict)  # drums: onset only
    frame: dict[int, Counts] = field(default_factory=dict)
    flat_onset: Counts = Counts()
    flat_offset: Counts = Counts()
    flat_frame: Counts = Counts()
    reference: tuple[int, ...] = ()  # classes with notes in the reference
    predicted: tuple[int, ...] = ()  # classes with notes in the estimate


def merge_pitched(tracks: Mapping[int, NoteArray]) -> NoteArray:
    """Every non-drum note of a piece in one array, instrument ignored (what flat F1 compares)."""
    return NoteArray.concatenate([n for c, n in tracks.items() if c != DRUMS.index])


def evaluate_piece(piece: str, reference: Mapping[int, NoteArray], estimate: Mapping[int, NoteArray]) -> PieceScores:
    """Score one piece: notes per class index for the reference and the estimate."""
    ref = {c: n for c, n in reference.items() if len(n)}
    est = {c: n for c, n in estimate.items() if len(n)}
    end_s = max([float(n.offset_s.max()) for n in (*ref.values(), *est.values())] + [0.0])
    num_frames = int(np.ceil(end_s * FRAMES_PER_SECOND)) + 2
    scores = PieceScores(piece, reference=tuple(sorted(ref)), predicted=tuple(sorted(est)))
    for c in sorted(set(ref) | set(est)):
        r, e = ref.get(c, NoteArray.empty()), est.get(c, NoteArray.empty())
        drum = c == DRUMS.index
        scores.onset[c] = match_counts(r, e, with_offset=False)
        scores.offset[c] = scores.onset[c] if drum else match_counts(r, e, with_offset=True)
        scores.frame[c] = _frame_counts(r, e, is_drum=drum, num_frames=num_frames)
    flat_ref, flat_est = merge_pitched(ref), merge_pitched(est)
    scores.flat_onset = match_counts(flat_ref, flat_est, with_offset=False)
    scores.flat_offset = match_counts(flat_ref, flat_est, with_offset=True)
    scores.flat_frame = _frame_counts(flat_ref, flat_est, is_drum=False, num_frames=num_frames)
    return scores


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


@dataclass
class TranscriptionReport:
    """Aggregates over pieces; every F1 has an ``onset`` and an ``offset`` (onset+offset) version."""

    pieces: int
    flat: dict[str, float]
    piecewise: dict[str, float]
    piecewise_penalised: dict[str, float]
    instrumentwise: dict[str, float]
    instrumentwise_penalised: dict[str, float]
    multi_instrument: dict[str, float]
    frame: dict[str, float]
    per_instrument: dict[str, dict[str, float]]  # class name -> {onset, offset, pieces, predicted_absent}

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)

    def to_markdown(self) -> str:
        lines = [
            f"Transcription over {self.pieces} pieces (note F1, mir_eval, 50 ms onsets)",
            "",
            "| metric | onset | onset+offset |",
            "|---|---:|---:|",
        ]
        for name, row in (
            ("flat (instrument-agnostic)", self.flat),
            ("piece-wise", self.piecewise),
            ("piece-wise, absent predicted = 0", self.piecewise_penalised),
            ("instrument-wise", self.instrumentwise),
            ("instrument-wise, absent predicted = 0", self.instrumentwise_penalised),
            ("multi-instrument (MT3, pooled)", self.multi_instrument),
        ):
            lines.append(f"| {name} | {row['onset']:.3f} | {row['offset']:.3f} |")
        lines += [
            "",
            f"Frame F1: instrument-wise pooled {self.frame['instrument']:.3f}, flat {self.frame['flat']:.3f}",
            "",
            "| instrument | pieces | onset F1 | onset+offset F1 | predicted but absent |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, row in self.per_instrument.items():
            lines.append(
                f"| {name} | {int(row['pieces'])} | {row['onset']:.3f} | {row['offset']:.3f} | {int(row['predicted_absent'])} |"
            )
        return "\n".join(lines)


def summarise(pieces: Sequence[PieceScores]) -> TranscriptionReport:
    """Aggregate piece scores into the flat, piece-wise, instrument-wise and MT3 numbers."""
    flat = {
        "onset": _mean([p.flat_onset.f1 for p in pieces if not p.flat_onset.empty]),
        "offset": _mean([p.flat_offset.f1 for p in pieces if not p.flat_offset.empty]),
    }
    piecewise, piecewise_pen = {}, {}
    for kind in ("onset", "offset"):
        per_piece, per_piece_pen = [], []
        for p in pieces:
            table = getattr(p, kind)
            gt = [table[c].f1 for c in p.reference]
            pen = [table[c].f1 for c in sorted(set(p.reference) | set(p.predicted))]
            if gt:
                per_piece.append(_mean(gt))
            if pen:
                per_piece_pen.append(_mean(pen))
        piecewise[kind], piecewise_pen[kind] = _mean(per_piece), _mean(per_piece_pen)

    classes = sorted({c for p in pieces for c in (*p.reference, *p.predicted)})
    per_instrument: dict[str, dict[str, float]] = {}
    inst, inst_pen = {"onset": [], "offset": []}, {"onset": [], "offset": []}  # type: ignore[var-annotated]
    for c in classes:
        row: dict[str, float] = {}
        for kind in ("onset", "offset"):
            gt = [getattr(p, kind)[c].f1 for p in pieces if c in p.reference]
            pen = [getattr(p, kind)[c].f1 for p in pieces if c in p.reference or c in p.predicted]
            row[kind] = _mean(gt)
            if gt:
                inst[kind].append(row[kind])
            inst_pen[kind].append(_mean(pen))
        row["pieces"] = sum(c in p.reference for p in pieces)
        row["predicted_absent"] = sum(c in p.predicted and c not in p.reference for p in pieces)
        per_instrument[by_index(c).name] = row

    pooled = {"onset": Counts(), "offset": Counts()}
    frame_pooled, flat_frame = Counts(), Counts()
    for p in pieces:
        for c in p.onset:
            pooled["onset"] = pooled["onset"] + p.onset[c]
            pooled["offset"] = pooled["offset"] + p.offset[c]
            frame_pooled = frame_pooled + p.frame[c]
        flat_frame = flat_frame + p.flat_frame
    return TranscriptionReport(
        pieces=len(pieces),
        flat=flat,
        piecewise=piecewise,
        piecewise_penalised=piecewise_pen,
        instrumentwise={k: _mean(v) for k, v in inst.items()},
        instrumentwise_penalised={k: _mean(v) for k, v in inst_pen.items()},
        multi_instrument={
            "onset": pooled["onset"].f1, "offset": pooled["offset"].f1,
            "precision": pooled["offset"].precision, "recall": pooled["offset"].recall,
        },
        frame={"instrument": frame_pooled.f1, "flat": flat_frame.f1},
        per_instrument=per_instrument,
    )


# -- instrument recognition --------------------------------------------------------------------


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the precision-recall curve as a step function, ``sum_k (R_k - R_{k-1}) * P_k`` over
    score thresholds: sklearn's ``average_precision_score`` of one class.

    NaN when there is no positive. AP is undefined then; sklearn would warn and return 0, which
    would pull macro mAP down for every class missing from the evaluation set. With NaN,
    :func:`recognition_scores` leaves such classes out of its means instead.

    Raises:
        ValueError: a score is NaN or infinite (sklearn refuses them).
    """
    from sklearn.metrics import average_precision_score

    labels = np.asarray(labels, dtype=bool)
    if not labels.any():
        return float("nan")
    return float(average_precision_score(labels, np.asarray(scores, dtype=np.float64)))


@dataclass
class RecognitionReport:
    """mAP and F1 over classes, macro (mean over classes with positives) and weighted by positives."""

    ap: dict[str, float]
    f1: dict[str, float]
    map_macro: float
    map_weighted: float
    f1_macro: float
    f1_weighted: float
    support: dict[str, int]

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)

    def to_markdown(self) -> str:
        lines = [
            f"Instrument recognition: mAP macro {self.map_macro:.3f}, weighted {self.map_weighted:.3f}; "
            f"F1 macro {self.f1_macro:.3f}, weighted {self.f1_weighted:.3f}",
            "",
            "| instrument | support | AP | F1 |",
            "|---|---:|---:|---:|",
        ]
        for name in self.ap:
            lines.append(f"| {name} | {self.support[name]} | {self.ap[name]:.3f} | {self.f1[name]:.3f} |")
        return "\n".join(lines)


def recognition_scores(labels: np.ndarray, probs: np.ndarray, thresholds: np.ndarray | float = 0.5) -> RecognitionReport:
    """AP and F1 per class from (items, classes) multi-hot labels and probabilities.

    Classes without a positive are left out of the reports and the means (AP is undefined for them), so
    ``map_macro`` is sklearn's macro ``average_precision_score`` over the columns that have positives,
    not over all 39 (sklearn scores a column without positives as 0).
    """
    labels = np.asarray(labels) > 0.5
    probs = np.asarray(probs, dtype=np.float64)
    predicted = probs >= np.broadcast_to(np.asarray(thresholds, dtype=np.float64), (probs.shape[1],))
    ap, f1, support = {}, {}, {}
    for c in range(labels.shape[1]):
        n_pos = int(labels[:, c].sum())
        if n_pos == 0:
            continue
        name = by_index(c).name
        counts = Counts(int(np.sum(labels[:, c] & predicted[:, c])), n_pos, int(predicted[:, c].sum()))
        ap[name], f1[name], support[name] = average_precision(labels[:, c], probs[:, c]), counts.f1, n_pos
    weights = np.asarray(list(support.values()), dtype=np.float64)
    ap_values, f1_values = np.asarray(list(ap.values())), np.asarray(list(f1.values()))
    return RecognitionReport(
        ap=ap, f1=f1, support=support,
        map_macro=_mean(list(ap_values)), map_weighted=float(np.average(ap_values, weights=weights)) if len(weights) else float("nan"),
        f1_macro=_mean(list(f1_values)), f1_weighted=float(np.average(f1_values, weights=weights)) if len(weights) else float("nan"),
    )
