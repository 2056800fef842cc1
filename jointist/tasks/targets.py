"""What a training clip asks of each role: which instruments it is trained on, and their targets.

Per clip a task trains ``k`` classes: up to ``max_present`` of the classes with notes in the window,
the rest absent classes with empty targets (negatives, so the models learn to stay silent for an
instrument that does not play). Both draws use probabilities ``p(c) ~ (count(c) + 1) ** (1 /
temperature)`` over the training set's stem counts (:func:`class_weights`): temperature 1 follows the
data, larger values flatten toward uniform. The transcription, separation and joint tasks share it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from jointist.data.slakh import Example, TrackInfo
from jointist.data.targets import class_target_rolls, notes_to_rolls
from jointist.instruments import NUM_CLASSES
from jointist.metrics import merge_pitched

__all__ = ["agnostic_rolls", "class_weights", "draw_instruments", "rolls_for", "rolls_with_velocity_for", "sample_instruments",
           "stems_for", "target_rolls_for"]


def class_weights(tracks: Sequence[TrackInfo], temperature: float) -> np.ndarray:
    """(39,) sampling weights ``(stems of the class + 1) ** (1 / temperature)``; ones without tracks."""
    counts = np.zeros(NUM_CLASSES)
    for track in tracks:
        for stem in track.stems:
            counts[stem.instrument] += 1
    return (counts + 1.0) ** (1.0 / temperature) if len(tracks) else np.ones(NUM_CLASSES)


def sample_instruments(
    rng: np.random.Generator,
    present: np.ndarray,
    *,
    k: int,
    max_present: int,
    class_weights: np.ndarray,
) -> np.ndarray:
    """Choose ``k`` distinct classes: up to ``max_present`` present ones, the rest absent.

    Args:
        present: (39,) multi-hot of the classes with notes in the clip.
        class_weights: (39,) positive sampling weights.
    """
    present_idx = np.flatnonzero(present > 0)
    absent_idx = np.flatnonzero(present <= 0)
    n_present = min(max_present, len(present_idx), k)
    chosen: list[int] = []
    if n_present:
        w = class_weights[present_idx] / class_weights[present_idx].sum()
        chosen += rng.choice(present_idx, size=n_present, replace=False, p=w).tolist()
    n_absent = k - n_present
    if n_absent:
        w = class_weights[absent_idx] / class_weights[absent_idx].sum()
        chosen += rng.choice(absent_idx, size=n_absent, replace=False, p=w).tolist()
    return np.asarray(chosen, dtype=np.int64)


def rolls_for(examples: list[Example], instruments: np.ndarray, *, frames: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Onset and frame targets (B, K, frames, 88) for the chosen classes of each clip."""
    onset, frame, _ = rolls_with_velocity_for(examples, instruments, frames=frames)
    return onset, frame


def rolls_with_velocity_for(
    examples: list[Example], instruments: np.ndarray, *, frames: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Onset, frame and velocity targets (B, K, frames, 88) for the chosen classes of each clip."""
    onset, frame, velocity, _ = target_rolls_for(examples, instruments, frames=frames)
    return onset, frame, velocity


def target_rolls_for(
    examples: list[Example], instruments: np.ndarray, *, frames: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Onset, frame, velocity and offset targets (B, K, frames, 88) for the chosen classes of each clip."""
    rolls = [class_target_rolls(ex.notes, instruments[i], num_frames=frames) for i, ex in enumerate(examples)]
    onset, frame, velocity, offset = (torch.from_numpy(np.stack([r[n] for r in rolls])) for n in range(4))
    return onset, frame, velocity, offset


def agnostic_rolls(examples: list[Example], *, frames: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Instrument-agnostic onset and frame targets (B, frames, 88): every pitched note of each clip."""
    onset = np.zeros((len(examples), frames, 88), np.float32)
    frame = np.zeros((len(examples), frames, 88), np.float32)
    for i, ex in enumerate(examples):
        pitched = merge_pitched(ex.notes)
        if len(pitched):
            rolls = notes_to_rolls(pitched, num_frames=frames)
            onset[i], frame[i] = rolls.onset, rolls.frame
    return torch.from_numpy(onset), torch.from_numpy(frame)

def draw_instruments(rng: np.random.Generator, examples: Sequence[Example], *, k: int, max_present: int,
                     class_weights: np.ndarray) -> np.ndarray:
    """(B, k) classes for a batch: :func:`sample_instruments` per clip."""
    return np.stack([sample_instruments(rng, ex.present, k=k, max_present=max_present, class_weights=class_weights)
                     for ex in examples])


def stems_for(examples: list[Example], instruments: np.ndarray, *, samples: int) -> torch.Tensor:
    """Target stems (B, K, samples) of the chosen classes; silence for classes absent from a clip."""
    b, k = instruments.shape
    out = np.zeros((b, k, samples), np.float32)
    for i, ex in enumerate(examples):
        if not ex.stems:
            raise ValueError("separation needs the stems: set data.load_stems=true")
        for j, c in enumerate(instruments[i]):
            stem = ex.stems.get(int(c))
            if stem is not None:
                out[i, j, : len(stem)] = stem[:samples]
    return torch.from_numpy(out)
