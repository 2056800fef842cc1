"""The LightningDataModule over a Slakh2100-format folder (real Slakh2100 or a synthetic corpus)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.utilities.warnings import PossibleUserWarning
from torch.utils.data import DataLoader

from jointist.constants import SEGMENT_S
from jointist.data.augment import AugmentConfig
from jointist.data.slakh import EpochSampler, SlakhDataset, collate_examples

__all__ = ["SlakhDataModule"]


class SlakhDataModule(pl.LightningDataModule):
    """Random windows for training, fixed windows for validation and test.

    Args:
        root: folder holding ``train/``, ``validation/`` and ``test/``.
        segment_s: window length in seconds.
        batch_size: windows per batch.
        num_workers: loader processes.
        train_examples_per_epoch: random windows per training epoch.
        val_windows_per_track: fixed windows per validation/test track (None: all).
        load_stems: decode stem audio too (separation needs it).
        seed: seed of the random windows.
        decode_cache: a folder (or ``"auto"``) for audio decoded once into memory-mappable files;
            None decodes each window from the FLAC files (see :class:`DecodedAudioCache`).
        augment: load-time augmentation of the training windows (stem gains, stem dropout, pitch
            shift, remixing; see :mod:`jointist.data.augment`); validation and test windows are
            never augmented. None, or ``enabled=False``, turns it off.

    A checkpoint written while fitting records where training stands in the stream of training windows
    (:meth:`state_dict`), and a run resumed from it carries on from there, in the middle of an epoch
    too, instead of seeing the epoch's first windows again (see :class:`EpochSampler`).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        segment_s: float = SEGMENT_S,
        batch_size: int = 8,
        num_workers: int = 2,
        train_examples_per_epoch: int = 1000,
        val_windows_per_track: int | None = 2,
        load_stems: bool = False,
        mix_from_stems: bool = False,
        train_split: str = "train",
        val_split: str = "validation",
        test_split: str = "test",
        seed: int = 0,
        decode_cache: str | os.PathLike[str] | None = None,
        augment: AugmentConfig | None = None,
    ) -> None:
        super().__init__()
        self.root = Path(root)
        self.segment_s = segment_s
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.train_examples_per_epoch = train_examples_per_epoch
        self.val_windows_per_track = val_windows_per_track
        self.load_stems = load_stems
        self.mix_from_stems = mix_from_stems
        self.splits = {"fit": train_split, "validate": val_split, "test": test_split}
        self.seed = seed
        self.decode_cache = decode_cache
        self.augment = augment
        self.datasets: dict[str, SlakhDataset] = {}
        self._resume_at: tuple[int, int] | None = None  # (epoch, batches of it trained), from a checkpoint

    def _dataset(self, split: str, *, random: bool) -> SlakhDataset:
        return SlakhDataset(
            self.root, split, segment_s=self.segment_s, random=random,
            examples_per_epoch=self.train_examples_per_epoch, max_windows_per_track=self.val_windows_per_track,
            load_stems=self.load_stems, mix_from_stems=self.mix_from_stems, seed=self.seed,
            decode_cache=self.decode_cache, augment=self.augment if random else None,
        )

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit") and "train" not in self.datasets:
            self.datasets["train"] = self._dataset(self.splits["fit"], random=True)
        if stage in (None, "fit", "validate") and "val" not in self.datasets:
            self.datasets["val"] = self._dataset(self.splits["validate"], random=False)
        if stage in (None, "test") and "test" not in self.datasets:
            self.datasets["test"] = self._dataset(self.splits["test"], random=False)

    def _loader(self, dataset: SlakhDataset, **kwargs: object) -> DataLoader:
        return DataLoader(
            dataset, batch_size=self.batch_size, num_workers=self.num_workers, collate_fn=collate_examples,
            persistent_workers=self.num_workers > 0, **kwargs,  # type: ignore[arg-type]
        )

    def train_dataloader(self) -> DataLoader:
        dataset = self.datasets["train"]
        epoch, batches = self._resume_at or (0, 0)
        self._resume_at = None
        trainer = self.trainer
        replicas, rank = (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)
        sampler = EpochSampler(len(dataset), num_replicas=replicas, rank=rank, epoch=epoch, skip=batches * self.batch_size)
        return self._loader(dataset, sampler=sampler, drop_last=True)

    def state_dict(self) -> dict[str, Any]:
        """Saved in every checkpoint written while fitting: ``train_epoch``, the epoch of the next
        training batch, and ``train_batches``, how many batches of it were trained on (per process).

        Every epoch has the same number of batches (a fixed number of windows, ``drop_last``), so both
        follow from the batches trained since the start of the run, which Lightning counts."""
        trainer = self.trainer
        if trainer is None or trainer.state.fn != "fit":
            return {}
        per_epoch = trainer.num_training_batches
        if not 0 < per_epoch < float("inf"):
            return {}
        progress = trainer.fit_loop.epoch_loop.batch_progress.total  # typed as the base of what it is
        trained = int(getattr(progress, "processed", progress.completed))  # batches whose step has run
        epoch, batches = divmod(trained, int(per_epoch))
        return {"train_epoch": epoch, "train_batches": batches}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Resume the training windows where :meth:`state_dict` left them (at the next ``train_dataloader``)."""
        if "train_epoch" in state_dict:
            self._resume_at = (int(state_dict["train_epoch"]), int(state_dict["train_batches"]))
            # Lightning asks the loader itself for a position; ours is here, so its warning does not apply
            warnings.filterwarnings("ignore", "You're resuming from a checkpoint that ended before the epoch ended",
                                    PossibleUserWarning)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.datasets["val"], shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.datasets["test"], shuffle=False)
