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

Separation (one mono stem per instrument class; references are the true stems summed per class):

- SDR over the whole track (Jointist): ``10 log10(|s|^2 / |s - s_hat|^2)``, capped at
  :data:`SDR_CEILING_DB` (a perfect estimate gives the cap, not inf); undefined (NaN) when the
  reference is entirely silent.
- BSS Eval v4 (museval, images mode, time-invariant 512-tap filters over the whole track) SDR/SIR/SAR:
  median over 1 s frames (window = hop = 1 s, the trailing partial second dropped), all present
  sources of a piece evaluated together so that they are each other's interference. As in museval,
  a frame where any reference is all zeros is NaN for every source and left out of the median.
- Source-wise (mean over every (piece, class) source), piece-wise (mean over a piece's sources, then
  over pieces) and instrument-wise (per class, mean over pieces containing it, then over classes)
  means of each. A source whose metric is undefined is left out of the means and counted in
  ``SeparationReport.undefined``; NaN never enters a mean.
- Absent instruments (a stem predicted for a class whose reference is missing or silent): the energy
  of the predicted stem relative to the mixture, ``10 log10(|s_hat|^2 / |mix|^2)`` dB, floored at
  :data:`ENERGY_FLOOR_DB` (lower is better; a silent stem gives the floor).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import librosa
import numpy as np

from jointist.constants import FRAMES_PER_SECOND, SAMPLE_RATE
from jointist.data.targets import notes_to_rolls
from jointist.instruments import DRUMS, by_index
from jointist.notes import NoteArray
from jointist.recognition_calibration import set_scores

__all__ = [
    "Counts", "PieceScores", "RecognitionReport", "SeparationPieceScores", "SeparationReport", "SourceScores",
    "TranscriptionReport", "average_precision", "evaluate_piece", "evaluate_separation", "match_counts", "match_pairs",
    "finite_or_none", "merge_pitched", "oracle_irm", "recognition_scores", "summarise", "summarise_separation", "whole_track_sdr_db", "energy_re_mixture_db",
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


def match_pairs(ref: NoteArray, est: NoteArray, *, with_offset: bool) -> list[tuple[int, int]]:
    """``(ref index, est index)`` of the notes matched one-to-one (mir_eval's bipartite matching:
    onsets within 50 ms, pitches within 50 cents, and with ``with_offset`` offsets within 20% or 50 ms)."""
    if len(ref) == 0 or len(est) == 0:
        return []
    import mir_eval

    ref_iv, ref_hz = _intervals(ref)
    est_iv, est_hz = _intervals(est)
    return [(int(i), int(j)) for i, j in mir_eval.transcription.match_notes(
        ref_iv, ref_hz, est_iv, est_hz, onset_tolerance=ONSET_TOLERANCE_S, pitch_tolerance=50.0,
        offset_ratio=OFFSET_RATIO if with_offset else None, offset_min_tolerance=OFFSET_MIN_TOLERANCE_S,
    )]


def match_counts(ref: NoteArray, est: NoteArray, *, with_offset: bool) -> Counts:
    """Notes of ``est`` matched one-to-one to ``ref`` (mir_eval's bipartite matching)."""
    return Counts(len(match_pairs(ref, est, with_offset=with_offset)), len(ref), len(est))


def match_velocity_counts(ref: NoteArray, est: NoteArray) -> Counts:
    """Notes matched on onset, pitch and velocity (mir_eval's ``transcription_velocity``: estimated
    velocities are mapped onto the reference's scale by least squares over the onset matches, then
    must lie within 10% of its range); offsets are ignored."""
    if len(ref) == 0 or len(est) == 0:
        return Counts(0, len(ref), len(est))
    import mir_eval

    ref_iv, ref_hz = _intervals(ref)
    est_iv, est_hz = _intervals(est)
    matches = mir_eval.transcription_velocity.match_notes(
        ref_iv, ref_hz, ref.velocity.astype(np.float64), est_iv, est_hz, est.velocity.astype(np.float64),
        onset_tolerance=ONSET_TOLERANCE_S, pitch_tolerance=50.0, offset_ratio=None,
        offset_min_tolerance=OFFSET_MIN_TOLERANCE_S,
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
    velocity: dict[int, Counts] = field(default_factory=dict)  # onset, pitch and velocity
    flat_velocity: Counts = Counts()
    reference: tuple[int, ...] = ()  # classes with notes in the reference
    predicted: tuple[int, ...] = ()  # classes with notes in the estimate


def merge_pitched(tracks: Mapping[int, NoteArray]) -> NoteArray:
    """Every non-drum note of a piece in one array, instrument ignored (what flat F1 compares)."""
    return NoteArray.concatenate([n for c, n in tracks.items() if c != DRUMS.index])


def evaluate_piece(
    piece: str, reference: Mapping[int, NoteArray], estimate: Mapping[int, NoteArray], *, velocity: bool = True
) -> PieceScores:
    """Score one piece: notes per class index for the reference and the estimate (``velocity``: also
    the note-with-velocity matches)."""
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
        if velocity:
            scores.velocity[c] = match_velocity_counts(r, e)
    flat_ref, flat_est = merge_pitched(ref), merge_pitched(est)
    if velocity:
        scores.flat_velocity = match_velocity_counts(flat_ref, flat_est)
    scores.flat_onset = match_counts(flat_ref, flat_est, with_offset=False)
    scores.flat_offset = match_counts(flat_ref, flat_est, with_offset=True)
    scores.flat_frame = _frame_counts(flat_ref, flat_est, is_drum=False, num_frames=num_frames)
    return scores


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def _fmt_score(value: float, digits: int = 3) -> str:
    """A score for a markdown table; ``n/a`` when it is undefined (NaN)."""
    return f"{value:.{digits}f}" if np.isfinite(value) else "n/a"


def _explain_na(lines: list[str], note: str) -> str:
    """The lines joined, with ``note`` (one line saying what ``n/a`` means) after them when one shows n/a."""
    if any("n/a" in line for line in lines):
        lines = [*lines, "", note]
    return "\n".join(lines)


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
    velocity: dict[str, float] = field(default_factory=dict)  # note-with-velocity F1: flat, instrument, multi_instrument

    def to_dict(self) -> dict[str, object]:
        """Plain JSON types; an undefined score (NaN: no piece had the notes it needs) becomes None."""
        out: dict[str, object] = finite_or_none(dict(self.__dict__))
        return out

    def to_markdown(self) -> str:
        """Tables of the scores; an undefined one shows ``n/a``, explained below the tables."""
        f = _fmt_score
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
            lines.append(f"| {name} | {f(row['onset'])} | {f(row['offset'])} |")
        lines += [
            "",
            f"Frame F1: instrument-wise pooled {f(self.frame['instrument'])}, flat {f(self.frame['flat'])}",
            "",
            *([f"Note-with-velocity F1 (onset, pitch, velocity): flat {f(self.velocity['flat'])}, "
               f"instrument-wise {f(self.velocity['instrument'])}, multi-instrument {f(self.velocity['multi_instrument'])}",
               ""] if self.velocity else []),
            "| instrument | pieces | onset F1 | onset+offset F1 | predicted but absent |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, row in self.per_instrument.items():
            lines.append(
                f"| {name} | {int(row['pieces'])} | {f(row['onset'])} | {f(row['offset'])} | {int(row['predicted_absent'])} |"
            )
        return _explain_na(lines, "n/a: undefined, no piece had the reference (or predicted) notes this score "
                                  "needs, e.g. pieces without reference notes; report.json holds null")


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

    pooled = {"onset": Counts(), "offset": Counts(), "velocity": Counts()}
    frame_pooled, flat_frame = Counts(), Counts()
    for p in pieces:
        for c in p.onset:
            pooled["onset"] = pooled["onset"] + p.onset[c]
            pooled["offset"] = pooled["offset"] + p.offset[c]
            pooled["velocity"] = pooled["velocity"] + p.velocity.get(c, Counts())
            frame_pooled = frame_pooled + p.frame[c]
        flat_frame = flat_frame + p.flat_frame
    velocity = {} if not any(p.velocity for p in pieces) else {
        "flat": _mean([p.flat_velocity.f1 for p in pieces if not p.flat_velocity.empty]),
        "instrument": _mean([_mean([p.velocity[c].f1 for p in pieces if c in p.reference and c in p.velocity])
                             for c in classes if any(c in p.reference and c in p.velocity for p in pieces)]),
        "multi_instrument": pooled["velocity"].f1,
    }
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
        velocity=velocity,
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
    """mAP and F1 over classes, macro (mean over classes with positives) and weighted by positives;
    and the named sets of classes against the true ones: micro precision, recall and F1 over every
    (item, class) pair, and the means over items of each item's set precision, recall and F1
    (:func:`~jointist.recognition_calibration.set_scores`)."""

    ap: dict[str, float]
    f1: dict[str, float]
    map_macro: float
    map_weighted: float
    f1_macro: float
    f1_weighted: float
    support: dict[str, int]
    precision: float = float("nan")
    recall: float = float("nan")
    f1_micro: float = float("nan")
    set_f1: float = float("nan")
    set_precision: float = float("nan")
    set_recall: float = float("nan")
    named: float = float("nan")
    true: float = float("nan")

    def to_dict(self) -> dict[str, object]:
        """Plain JSON types; an undefined score (NaN: e.g. the AP of a class without positives) becomes None."""
        out: dict[str, object] = finite_or_none(dict(self.__dict__))
        return out

    def to_markdown(self) -> str:
        """The scores; an undefined one shows ``n/a``, explained below the table."""
        f = _fmt_score
        lines = [
            f"Instrument recognition: mAP macro {f(self.map_macro)}, weighted {f(self.map_weighted)}; "
            f"F1 macro {f(self.f1_macro)}, weighted {f(self.f1_weighted)}",
            "",
            f"Named sets: set F1 {f(self.set_f1)} (precision {f(self.set_precision)}, recall {f(self.set_recall)}, "
            f"mean per item); micro precision {f(self.precision)}, recall {f(self.recall)}, F1 {f(self.f1_micro)}; "
            f"{f(self.named, 1)} classes named vs {f(self.true, 1)} true per item",
            "",
            "| instrument | support | AP | F1 |",
            "|---|---:|---:|---:|",
        ]
        for name in self.ap:
            lines.append(f"| {name} | {self.support[name]} | {f(self.ap[name])} | {f(self.f1[name])} |")
        return _explain_na(lines, "n/a: undefined, no item had what this score needs (AP: a class without "
                                  "positives); the JSON report holds null")


def recognition_scores(
    labels: np.ndarray, probs: np.ndarray, thresholds: np.ndarray | float = 0.5, *, predicted: np.ndarray | None = None,
) -> RecognitionReport:
    """AP and F1 per class from (items, classes) multi-hot labels and probabilities, and the set scores.

    Classes without a positive are left out of the per-class reports and their means (AP is
    undefined for them), so ``map_macro`` is sklearn's macro ``average_precision_score`` over the
    columns that have positives, not over all 39 (sklearn scores a column without positives as 0).
    The set scores count every class, false positives of absent classes included.

    Args:
        predicted: (items, classes) booleans, the classes named per item when they are not simply
            ``probs >= thresholds`` (a song-level rule with bounds on the count, see
            :class:`~jointist.recognition_calibration.SongDecision`).
    """
    labels = np.asarray(labels) > 0.5
    probs = np.asarray(probs, dtype=np.float64)
    if predicted is None:
        predicted = probs >= np.broadcast_to(np.asarray(thresholds, dtype=np.float64), (probs.shape[1],))
    predicted = np.asarray(predicted, dtype=bool)
    if predicted.shape != probs.shape:
        raise ValueError(f"predictions of shape {predicted.shape} for probabilities of shape {probs.shape}")
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
    sets = set_scores(labels, predicted)
    return RecognitionReport(
        ap=ap, f1=f1, support=support,
        map_macro=_mean(list(ap_values)), map_weighted=float(np.average(ap_values, weights=weights)) if len(weights) else float("nan"),
        f1_macro=_mean(list(f1_values)), f1_weighted=float(np.average(f1_values, weights=weights)) if len(weights) else float("nan"),
        precision=sets.precision, recall=sets.recall, f1_micro=sets.f1, set_f1=sets.set_f1,
        set_precision=sets.set_precision, set_recall=sets.set_recall, named=sets.named, true=sets.true,
    )


# -- source separation -------------------------------------------------------------------------

SDR_CEILING_DB = 120.0
"""Whole-track SDR cap: the error energy is floored at ``|s|^2 * 1e-12``, so a perfect estimate scores
120 dB instead of inf. The floor is relative to the reference, so the metric stays scale invariant and
no realistic score is touched (an absolute epsilon such as MDX's ``1e-7`` would bias quiet stems)."""
ENERGY_FLOOR_DB = -120.0
"""Floor of the absent-instrument energy (a silent predicted stem) and the bound BSS Eval medians are
clipped to (museval gives +inf where a frame has no error)."""
BSS_FILTER_TAPS = 512  # museval's default distortion filter length
_DITHER_RE_MIXTURE = 1e-6  # -120 dB re the mixture's RMS; see evaluate_separation
SEPARATION_METRICS = ("sdr", "sdri", "bss_sdr", "bss_sir", "bss_sar")
_METRIC_TITLES = {"sdr": "SDR (whole track)", "sdri": "SDRi", "bss_sdr": "BSS SDR", "bss_sir": "BSS SIR",
                  "bss_sar": "BSS SAR"}


def _audio_1d(x: np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"{what} must be mono audio of shape (samples,), got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{what} contains NaN or infinite samples")
    return a


def whole_track_sdr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    """``10 log10(|s|^2 / |s - s_hat|^2)`` over the whole signal, the SDR the Jointist paper reports.

    NaN when the reference is entirely silent (undefined); at most :data:`SDR_CEILING_DB`.
    """
    s, e = np.asarray(reference, dtype=np.float64), np.asarray(estimate, dtype=np.float64)
    energy = float(np.sum(s**2))
    if energy == 0.0:
        return float("nan")
    error = max(float(np.sum((s - e) ** 2)), energy * 10 ** (-SDR_CEILING_DB / 10))
    return float(10 * np.log10(energy / error))


def energy_re_mixture_db(signal: np.ndarray, mixture: np.ndarray) -> float:
    """Energy of ``signal`` relative to ``mixture`` in dB, in [ENERGY_FLOOR_DB, -ENERGY_FLOOR_DB]."""
    energy = float(np.sum(np.asarray(signal, dtype=np.float64) ** 2))
    if energy == 0.0:
        return ENERGY_FLOOR_DB
    ratio = energy / max(float(np.sum(np.asarray(mixture, dtype=np.float64) ** 2)), 1e-30)
    return float(np.clip(10 * np.log10(ratio), ENERGY_FLOOR_DB, -ENERGY_FLOOR_DB))


@dataclass(frozen=True)
class SourceScores:
    """Scores of one (piece, class) source, dB; NaN where undefined or not computed.

    ``bss_frames`` counts the 1 s frames whose BSS Eval values entered the medians (0 when BSS Eval
    was off or no frame was defined).
    """

    sdr: float
    sdri: float = float("nan")  # whole-track SDR improvement: sdr minus the SDR of the mixture as the estimate
    bss_sdr: float = float("nan")
    bss_sir: float = float("nan")
    bss_sar: float = float("nan")
    bss_frames: int = 0


@dataclass
class SeparationPieceScores:
    """Separation scores of one piece.

    ``sources`` holds every class given a reference, silent ones included (their metrics are NaN and
    the summary counts them as undefined); ``absent_energy_db`` holds every class with a predicted stem
    but no reference energy.
    """

    piece: str
    sources: dict[int, SourceScores] = field(default_factory=dict)
    absent_energy_db: dict[int, float] = field(default_factory=dict)
    silent_reference: tuple[int, ...] = ()  # classes given an all-zero reference
    missing_estimate: tuple[int, ...] = ()  # present classes without a predicted stem (scored as silence)
    dithered: tuple[int, ...] = ()  # estimates with an all-zero 1 s frame, dithered for BSS Eval
    bss_evaluated: bool = False
    num_samples: int = 0


def _fit_length(x: np.ndarray, length: int) -> np.ndarray:
    if len(x) >= length:
        return x[:length]
    return np.concatenate([x, np.zeros(length - len(x))])


def _bss_eval_medians(
    references_x_samples: np.ndarray, estimates_x_samples: np.ndarray, frame_samples: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """museval BSS Eval v4 (images, time-invariant filters): per source SDR, SIR, SAR medians and the
    number of defined frames. Inputs are (sources, samples); outputs are (sources,)."""
    import warnings

    from museval import metrics as bss  # lazy: museval pulls pandas, musdb and stempeg

    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        sdr, _isr, sir, sar, _perm = bss.bss_eval(
            references_x_samples[..., None], estimates_x_samples[..., None], window=frame_samples, hop=frame_samples,
            compute_permutation=False, filters_len=BSS_FILTER_TAPS, framewise_filters=False,
            bsseval_sources_version=False,
        )
    frames = (~np.isnan(sdr)).sum(axis=1)  # NaN = frame skipped (a silent reference in it)

    def median(values: np.ndarray) -> np.ndarray:
        out = np.full(values.shape[0], np.nan)
        for j in range(values.shape[0]):
            v = values[j][~np.isnan(values[j])]
            if len(v):
                out[j] = np.clip(np.median(v), ENERGY_FLOOR_DB, -ENERGY_FLOOR_DB)
        return out

    return median(sdr), median(sir), median(sar), frames


def evaluate_separation(
    piece: str,
    references: Mapping[int, np.ndarray],
    estimates: Mapping[int, np.ndarray],
    mixture: np.ndarray,
    *,
    sample_rate: int = SAMPLE_RATE,
    bss_eval: bool = True,
) -> SeparationPieceScores:
    """Score one piece's predicted stems against the true stems (class index -> mono audio).

    Args:
        references: true stem per class, each as long as ``mixture``. A class whose stem is all zeros
            is undefined (NaN, counted apart by :func:`summarise_separation`) and, if predicted, absent.
        estimates: predicted stem per class. Padded with zeros or truncated to the mixture's length, as
            museval does. A present class without an estimate is scored as a silent estimate. Read one
            class at a time and kept only for present classes, so a lazy mapping (e.g.
            :class:`jointist.evaluation.StemFiles`) bounds memory when many absent classes are predicted.
        mixture: the input mix, for the absent-instrument energy.
        bss_eval: also run museval's BSS Eval v4 (slow: for 30 s of audio ~7 s with 4 sources, ~40 s with 8,
            on a 2-core CPU; the time grows with the cube of the number of sources).

    BSS Eval runs on all present sources together. museval refuses an entirely silent estimate and
    skips every source of a frame in which any estimate is all zeros (so a stem muted while its
    instrument plays would go unpenalised); an estimate with an all-zero frame is therefore given
    white-noise dither at -120 dB re the mixture's RMS first (listed in ``dithered``), which scores
    such frames as the silence they are (SDR ~ 0 dB) and changes no other value measurably.

    Raises:
        ValueError: audio that is not 1-D or not finite, or a reference whose length is not the mixture's.
    """
    mix = _audio_1d(mixture, "mixture")
    n = len(mix)
    refs = {c: _audio_1d(r, f"reference {c}") for c, r in references.items()}
    for c, r in refs.items():
        if len(r) != n:
            raise ValueError(f"reference {c} has {len(r)} samples, the mixture {n}")
    present = sorted(c for c, r in refs.items() if np.any(r != 0))
    silent = tuple(sorted(c for c in refs if c not in present))
    scores = SeparationPieceScores(
        piece, silent_reference=silent, missing_estimate=tuple(c for c in present if c not in estimates),
        bss_evaluated=bss_eval, num_samples=n,
    )
    est_present: dict[int, np.ndarray] = {}
    for c in sorted(estimates):  # one at a time: a lazy mapping (stems on disk) never holds them all
        estimate = _fit_length(_audio_1d(estimates[c], f"estimate {c}"), n)
        if c in present:
            est_present[c] = estimate
        else:
            scores.absent_energy_db[c] = energy_re_mixture_db(estimate, mix)
    est_present = {c: est_present.get(c, np.zeros(n)) for c in present}
    sdr = {c: whole_track_sdr_db(refs[c], est_present[c]) for c in present}
    sdri = {c: sdr[c] - whole_track_sdr_db(refs[c], mix) for c in present}

    bss: dict[int, tuple[float, float, float, int]] = {}
    if bss_eval and present and n:
        dithered = []
        rng = np.random.default_rng(0)
        level = _DITHER_RE_MIXTURE * max(float(np.sqrt(np.mean(mix**2))), 1e-6)
        frame_count = (n - sample_rate) // sample_rate + 1 if sample_rate < n else 1  # museval's Framing
        frame_len = min(sample_rate, n)
        for c in present:
            frames = est_present[c][: frame_count * frame_len].reshape(frame_count, frame_len)
            if np.any(np.all(frames == 0, axis=1)):
                est_present[c] = est_present[c] + level * rng.standard_normal(n)
                dithered.append(c)
        scores.dithered = tuple(dithered)
        medians = _bss_eval_medians(
            np.stack([refs[c] for c in present]), np.stack([est_present[c] for c in present]), sample_rate
        )
        for j, c in enumerate(present):
            bss[c] = (float(medians[0][j]), float(medians[1][j]), float(medians[2][j]), int(medians[3][j]))
    for c in present:
        b = bss.get(c, (float("nan"), float("nan"), float("nan"), 0))
        scores.sources[c] = SourceScores(sdr=sdr[c], sdri=sdri[c], bss_sdr=b[0], bss_sir=b[1], bss_sar=b[2],
                                         bss_frames=b[3])
    for c in silent:
        scores.sources[c] = SourceScores(sdr=float("nan"))
    scores.sources = dict(sorted(scores.sources.items()))
    return scores


def finite_or_none(value: Any) -> Any:
    """``value`` with every NaN or infinite float (in dicts, lists and tuples too) replaced by None and
    numpy scalars made plain: what strict JSON (``json.dumps(..., allow_nan=False)``) accepts."""
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _fmt_db(value: float) -> str:
    return f"{value:.2f}" if np.isfinite(value) else "–"


@dataclass
class SeparationReport:
    """Separation scores aggregated over pieces; every value is in dB unless its name says otherwise.

    ``sourcewise_db``, ``piecewise_db`` and ``instrumentwise_db`` map each metric (``sdr``: whole-track,
    ``bss_sdr``/``bss_sir``/``bss_sar``: museval medians) to its mean; ``undefined`` counts the sources
    left out of each metric's means (silent reference; for BSS Eval also no defined frame). BSS metrics
    are NaN when no piece was scored with BSS Eval. ``per_instrument`` maps the name of each class with
    a reference in some piece to its per-metric means and ``pieces``; ``absent`` summarises the energy of
    stems predicted for absent classes (``count``, ``mean_db``, ``median_db``, ``max_db``), and
    ``absent_per_instrument`` maps a class name to ``{"pieces": ..., "mean_db": ...}``.
    """

    pieces: int
    sources: int
    bss_pieces: int
    sourcewise_db: dict[str, float]
    piecewise_db: dict[str, float]
    instrumentwise_db: dict[str, float]
    undefined: dict[str, int]
    per_instrument: dict[str, dict[str, float]]
    absent: dict[str, float]
    absent_per_instrument: dict[str, dict[str, float]]

    def to_dict(self) -> dict[str, object]:
        """Plain JSON types; NaN (an empty mean) becomes None."""
        out: dict[str, object] = finite_or_none(dict(self.__dict__))
        return out

    def to_markdown(self) -> str:
        lines = [
            f"Separation over {self.pieces} pieces, {self.sources} sources "
            f"(BSS Eval v4 on {self.bss_pieces} pieces: median over 1 s frames); dB, higher is better",
            "",
            "| mean | " + " | ".join(_METRIC_TITLES[m] for m in SEPARATION_METRICS) + " |",
            "|---|" + "---:|" * len(SEPARATION_METRICS),
        ]
        for name, row in (
            ("source-wise", self.sourcewise_db), ("piece-wise", self.piecewise_db),
            ("instrument-wise", self.instrumentwise_db),
        ):
            lines.append(f"| {name} | " + " | ".join(_fmt_db(row[m]) for m in SEPARATION_METRICS) + " |")
        lines.append(
            "| undefined sources (left out) | " + " | ".join(str(self.undefined[m]) for m in SEPARATION_METRICS) + " |"
        )
        lines += [
            "",
            "| instrument | pieces | " + " | ".join(_METRIC_TITLES[m] for m in SEPARATION_METRICS) + " |",
            "|---|---:|" + "---:|" * len(SEPARATION_METRICS),
        ]
        for name, row in self.per_instrument.items():
            lines.append(
                f"| {name} | {int(row['pieces'])} | " + " | ".join(_fmt_db(row[m]) for m in SEPARATION_METRICS) + " |"
            )
        lines.append("")
        if self.absent["count"]:
            per_class = ", ".join(
                f"{name} {_fmt_db(row['mean_db'])} ({int(row['pieces'])})" for name, row in self.absent_per_instrument.items()
            )
            lines.append(
                f"Absent instruments: {int(self.absent['count'])} stems predicted for classes without reference energy; "
                f"energy re mixture mean {_fmt_db(self.absent['mean_db'])} dB, median {_fmt_db(self.absent['median_db'])} dB, "
                f"max {_fmt_db(self.absent['max_db'])} dB (lower is better; silence = {ENERGY_FLOOR_DB:.0f} dB). "
                f"Per class: {per_class}"
            )
        else:
            lines.append("Absent instruments: no stem predicted for a class without reference energy")
        return "\n".join(lines)


def _defined(values: Sequence[float]) -> list[float]:
    return [v for v in values if not np.isnan(v)]


def summarise_separation(pieces: Sequence[SeparationPieceScores]) -> SeparationReport:
    """Source-wise, piece-wise and instrument-wise means of each separation metric, plus absent energy."""
    bss_pieces = [p for p in pieces if p.bss_evaluated]
    sourcewise, piecewise, instrumentwise, undefined = {}, {}, {}, {}
    classes = sorted({c for p in pieces for c in p.sources if c not in p.silent_reference})
    per_class: dict[int, dict[str, float]] = {c: {} for c in classes}
    for m in SEPARATION_METRICS:
        scored = bss_pieces if m.startswith("bss_") else list(pieces)
        values = [getattr(s, m) for p in scored for s in p.sources.values()]
        sourcewise[m] = _mean(_defined(values))
        undefined[m] = len(values) - len(_defined(values))
        piecewise[m] = _mean(_defined([_mean(_defined([getattr(s, m) for s in p.sources.values()])) for p in scored]))
        for c in classes:
            per_class[c][m] = _mean(_defined([getattr(p.sources[c], m) for p in scored if c in p.sources]))
        instrumentwise[m] = _mean(_defined([per_class[c][m] for c in classes]))
    per_instrument = {}
    for c in classes:
        row = dict(per_class[c])
        row["pieces"] = sum(c in p.sources and c not in p.silent_reference for p in pieces)
        per_instrument[by_index(c).name] = row

    absent_values = [v for p in pieces for v in p.absent_energy_db.values()]
    absent = {
        "count": len(absent_values), "mean_db": _mean(absent_values),
        "median_db": float(np.median(absent_values)) if absent_values else float("nan"),
        "max_db": float(np.max(absent_values)) if absent_values else float("nan"),
    }
    absent_per_instrument = {}
    for c in sorted({c for p in pieces for c in p.absent_energy_db}):
        values = [p.absent_energy_db[c] for p in pieces if c in p.absent_energy_db]
        absent_per_instrument[by_index(c).name] = {"pieces": len(values), "mean_db": _mean(values)}
    return SeparationReport(
        pieces=len(pieces), sources=sum(len(p.sources) for p in pieces), bss_pieces=len(bss_pieces),
        sourcewise_db=sourcewise, piecewise_db=piecewise, instrumentwise_db=instrumentwise, undefined=undefined,
        per_instrument=per_instrument, absent=absent, absent_per_instrument=absent_per_instrument,
    )


def oracle_irm(stems: Mapping[int, np.ndarray], mixture: np.ndarray) -> dict[int, np.ndarray]:
    """Ideal ratio mask estimates, the ceiling of a mask-based separator.

    Each stem's mask ``|S_i| / sum_j |S_j|`` (STFT magnitudes: n_fft 1024, hop 160, Hann, as the
    separator's :class:`jointist.audio.features.STFT`) multiplies the mixture's STFT and is inverted
    with the mixture's phase. Where every stem is silent the masks share the bin equally, so the masks
    always sum to 1 and the estimates sum back to the mixture (up to the STFT round trip).

    Returns:
        class -> float32 estimate as long as ``mixture``.
    """
    import torch

    from jointist.audio.features import STFT

    mix = _audio_1d(mixture, "mixture")
    classes = sorted(stems)
    if not classes:
        return {}
    audio = np.stack([_fit_length(_audio_1d(stems[c], f"stem {c}"), len(mix)) for c in classes])
    stft = STFT().double()
    with torch.no_grad():
        mag = stft(torch.from_numpy(audio)).abs()  # (stems, frames, bins)
        total = mag.sum(dim=0, keepdim=True)
        masks = torch.where(total > 0, mag / total.clamp_min(1e-30), torch.full_like(mag, 1.0 / len(classes)))
        spec = stft(torch.from_numpy(mix))  # (1, frames, bins)
        out = stft.inverse(masks * spec, length=len(mix)).numpy().astype(np.float32)
    return {c: out[i] for i, c in enumerate(classes)}
