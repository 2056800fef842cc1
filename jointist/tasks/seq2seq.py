"""Training the seq2seq head: MT3-style token targets from the shared data pipeline, teacher forcing.

Each training window (``data.segment_s = 2.048``: 256 frames of hop 128) becomes the token ids of its
notes (:func:`jointist.seq2seq.segment_tokens`): a tie section naming the notes still sounding at its
start, the window's onsets and offsets with run-length shifts, EOS. The decoder reads them shifted
right (PAD as the start token) and the loss is the cross-entropy of the next token, PAD ignored.

With a multi-channel model (``channels > 0``) a window gives one stream per instrument group
(:data:`jointist.seq2seq.CHANNEL_GROUPS`): every group with notes in the window, plus
``empty_channels`` silent groups drawn at random (their target is EOS alone, so the decoder learns to
stay silent for instruments that do not play). The encoder runs once per window.

Validation logs the teacher-forced loss and token accuracy, and decodes every window greedily (every
channel of a multi-channel model) to log the note F1 family through the shared decoder and metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from jointist.constants import N_PITCHES, SAMPLE_RATE
from jointist.data.slakh import ExampleBatch
from jointist.data.targets import notes_to_rolls
from jointist.instruments import DRUMS
from jointist.metrics import PieceScores, evaluate_piece, summarise
from jointist.models.base import ModelCard
from jointist.notes import NoteArray
from jointist.seq2seq import CHANNEL_GROUPS, CHANNEL_OF_CLASS, GRANULARITY, class_notes, segment_tokens
from jointist.tasks.base import JointistTask
from jointist.tasks.validation import note_f1_metrics
from jointist.tokens import Vocabulary, decode_segments, mt3_codec

__all__ = ["Seq2SeqTask", "TokenBatch"]


class TokenBatch:
    """The token targets of a batch: ``targets`` (streams, length) padded with PAD, the decoder's
    input (the targets shifted right), the window each stream belongs to and its channel (or None)."""

    def __init__(self, streams: list[list[int]], window: list[int], channel: list[int] | None, *, pad: int,
                 device: torch.device) -> None:
        length = max(len(s) for s in streams)
        targets = torch.full((len(streams), length), pad, dtype=torch.long)
        for i, s in enumerate(streams):
            targets[i, : len(s)] = torch.as_tensor(s, dtype=torch.long)
        self.targets = targets.to(device)
        self.decoder_input = torch.cat([torch.full_like(self.targets[:, :1], pad), self.targets[:, :-1]], dim=1)
        self.window = torch.as_tensor(window, dtype=torch.long, device=device)
        self.channel = None if channel is None else torch.as_tensor(channel, dtype=torch.long, device=device)


class Seq2SeqTask(JointistTask):
    """LightningModule around a :class:`~jointist.models.seq2seq.Seq2SeqTranscriber` (role ``seq2seq``).

    Args:
        models: ``{"seq2seq": model}``.
        optimizer, scheduler, param_groups, freeze, pretrained: see :class:`~jointist.tasks.base.JointistTask`.
        num_velocity_bins: the codec's velocity bins (1: note on/off, MT3's default).
        max_target_tokens: longer targets are cut (and counted in ``train/truncated``).
        empty_channels: silent channel groups added per window (multi-channel models).
        label_smoothing: of the cross-entropy.
        frame_loss_weight: > 0: add this times an auxiliary loss, the binary cross-entropy of the
            model's frame head (``frame_head=True``) against the window's pitched notes as a key roll
            at the encoder's frame rate (logged as ``train/frame_loss``).
        val_decode_batches: greedy decoding (the note F1 family) on the first this many validation
            batches only, the teacher-forced loss and token accuracy on all of them (None: decode every
            batch). Decoding costs up to ``max_target_tokens`` decoder passes per batch.
        seed: seed of the channel draws.
    """

    def __init__(
        self,
        models: Mapping[str, nn.Module],
        *,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        param_groups: Mapping[str, Mapping[str, Any]] | None = None,
        freeze: Mapping[str, Mapping[str, Any]] | None = None,
        pretrained: Mapping[str, str] | None = None,
        num_velocity_bins: int = 1,
        max_target_tokens: int = 1024,
        empty_channels: int = 1,
        label_smoothing: float = 0.0,
        frame_loss_weight: float = 0.0,
        val_decode_batches: int | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(models, optimizer=optimizer, scheduler=scheduler, param_groups=param_groups, freeze=freeze,
                         pretrained=pretrained)
        model = self.model_of("seq2seq")
        self.vocab = Vocabulary(mt3_codec(num_velocity_bins))
        vocab_size = int(model.init_args["vocab_size"])
        if vocab_size < self.vocab.vocab_size:
            raise ValueError(f"the model's vocab_size {vocab_size} is smaller than the codec's {self.vocab.vocab_size} "
                             f"({num_velocity_bins} velocity bins)")
        if max_target_tokens < 2:
            raise ValueError(f"max_target_tokens must be >= 2, got {max_target_tokens}")
        self.channels = int(model.init_args.get("channels", 0))
        if self.channels not in (0, len(CHANNEL_GROUPS)):
            raise ValueError(f"a multi-channel model needs channels={len(CHANNEL_GROUPS)} (one per "
                             f"jointist.seq2seq.CHANNEL_GROUPS entry), got {self.channels}")
        self.num_velocity_bins = num_velocity_bins
        self.max_target_tokens = max_target_tokens
        self.empty_channels = empty_channels
        self.label_smoothing = label_smoothing
        if frame_loss_weight < 0:
            raise ValueError(f"frame_loss_weight must be >= 0, got {frame_loss_weight}")
        if frame_loss_weight > 0 and getattr(model, "frame_head", None) is None:
            raise ValueError("frame_loss_weight > 0 needs a model with a frame head (model.frame_head=true)")
        self.frame_loss_weight = frame_loss_weight
        if val_decode_batches is not None and val_decode_batches < 1:
            raise ValueError(f"val_decode_batches must be >= 1 (or None: every batch), got {val_decode_batches}")
        self.val_decode_batches = val_decode_batches
        self.seed = seed
        self._scores: list[PieceScores] = []
        self.save_hyperparameters(ignore=["models", "optimizer", "scheduler"])

    @property
    def model(self) -> Any:
        return self.model_of("seq2seq")

    def model_card(self, role: str) -> ModelCard:
        """The card records the token settings inference needs (velocity bins, granularity, segment)."""
        decode = {"num_velocity_bins": self.num_velocity_bins, "granularity": GRANULARITY,
                  "max_tokens": self.max_target_tokens}
        return super().model_card(role).replace(decode=decode)

    # -- targets --------------------------------------------------------------------------------
    def token_batch(self, batch: ExampleBatch, rng: np.random.Generator | None) -> tuple[TokenBatch, int]:
        """The targets of every stream of a batch, and how many were cut at ``max_target_tokens``.
        ``rng`` draws the silent channels (None: every channel, as validation decodes them)."""
        segment_s = batch.mix.shape[-1] / SAMPLE_RATE
        streams: list[list[int]] = []
        window: list[int] = []
        channel: list[int] | None = [] if self.channels else None
        for i, ex in enumerate(batch.examples):
            if channel is None:
                chosen: list[int | None] = [None]
            else:
                sounding = {int(CHANNEL_OF_CLASS[c]) for c, n in ex.notes.items() if len(n)}
                if rng is None:
                    chosen = list(range(self.channels))
                else:
                    silent = [c for c in range(self.channels) if c not in sounding]
                    extra = rng.choice(silent, size=min(self.empty_channels, len(silent)), replace=False).tolist()
                    chosen = sorted(sounding | set(extra))
            for ch in chosen:
                streams.append(segment_tokens(ex.notes, self.vocab, segment_s=segment_s, channel=ch))
                window.append(i)
                if channel is not None:
                    channel.append(int(ch))  # type: ignore[arg-type]
        truncated = sum(len(s) > self.max_target_tokens for s in streams)
        streams = [s[: self.max_target_tokens] for s in streams]
        return TokenBatch(streams, window, channel, pad=self.vocab.PAD, device=batch.mix.device), truncated

    def logits(self, audio: torch.Tensor, tokens: TokenBatch, memory: torch.Tensor | None = None) -> torch.Tensor:
        """Teacher-forced logits of every stream; ``memory``: the windows' encoding, when already made."""
        memory = self.model.encode(audio) if memory is None else memory
        return self.model.decode(memory[tokens.window], tokens.decoder_input, channel=tokens.channel)

    def loss_and_accuracy(self, logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        loss = F.cross_entropy(logits.float().transpose(1, 2), targets, ignore_index=self.vocab.PAD,
                               label_smoothing=self.label_smoothing)
        real = targets != self.vocab.PAD
        accuracy = (logits.argmax(-1) == targets)[real].float().mean()
        return loss, accuracy

    # -- training -------------------------------------------------------------------------------
    def training_step(self, batch: ExampleBatch, batch_idx: int) -> torch.Tensor:
        rng = np.random.default_rng([self.seed, self.global_step, batch_idx])
        tokens, truncated = self.token_batch(batch, rng)
        memory = self.model.encode(batch.mix)
        loss, accuracy = self.loss_and_accuracy(self.logits(batch.mix, tokens, memory), tokens.targets)
        n = len(batch)
        if self.frame_loss_weight > 0:
            frame_loss = self.frame_loss(batch, memory)
            self.log("train/frame_loss", frame_loss, batch_size=n)
            loss = loss + self.frame_loss_weight * frame_loss
        self.log("train/loss", loss, prog_bar=True, batch_size=n)
        self.log("train/token_accuracy", accuracy, batch_size=n)
        self.log("train/truncated", float(truncated), batch_size=n)
        self.log("train/target_tokens", float((tokens.targets != self.vocab.PAD).sum(1).float().mean()), batch_size=n)
        return loss

    def frame_targets(self, batch: ExampleBatch, frames: int) -> np.ndarray:
        """Each window's pitched notes (drums left out) as a key roll (batch, frames, 88) at the
        encoder's frame rate (frame k at k x hop: 125 frames/s at hop 128)."""
        fps = SAMPLE_RATE // int(self.model.frontend.hop_length)
        rolls = np.zeros((len(batch), frames, N_PITCHES), np.float32)
        for i, ex in enumerate(batch.examples):
            pitched = [n for c, n in ex.notes.items() if c != DRUMS.index and len(n)]
            if pitched:
                rolls[i] = notes_to_rolls(NoteArray.concatenate(pitched), num_frames=frames, fps=fps).frame
        return rolls

    def frame_loss(self, batch: ExampleBatch, memory: torch.Tensor) -> torch.Tensor:
        """Binary cross-entropy of the frame head against :meth:`frame_targets`."""
        logits = self.model.frame_logits(memory).float()
        targets = torch.from_numpy(self.frame_targets(batch, memory.shape[1])).to(logits.device)
        return F.binary_cross_entropy_with_logits(logits, targets)

    # -- validation -----------------------------------------------------------------------------
    def on_validation_epoch_start(self) -> None:
        self._scores = []

    def validation_step(self, batch: ExampleBatch, batch_idx: int) -> None:
        tokens, _ = self.token_batch(batch, None)
        memory = self.model.encode(batch.mix)  # once: for the teacher-forced loss and for greedy decoding
        loss, accuracy = self.loss_and_accuracy(self.logits(batch.mix, tokens, memory), tokens.targets)
        self.log("val/loss", loss, prog_bar=True, batch_size=len(batch))
        self.log("val/token_accuracy", accuracy, batch_size=len(batch))
        if self.val_decode_batches is not None and batch_idx >= self.val_decode_batches:
            return
        segment_s = batch.mix.shape[-1] / SAMPLE_RATE
        ids = self.model.generate(batch.mix, max_tokens=self.max_target_tokens, channel=tokens.channel,
                                  memory=memory[tokens.window]).cpu().numpy()
        for i, ex in enumerate(batch.examples):
            streams = [ids[j] for j in np.flatnonzero(tokens.window.cpu().numpy() == i)]
            found = []
            for stream in streams:
                notes, _ = decode_segments([stream.tolist()], [0.0], self.vocab, end_s=segment_s)
                found.extend(notes)
            estimate = class_notes(found)
            reference = {c: n.starting_within(0.0, segment_s) for c, n in ex.notes.items()}
            self._scores.append(evaluate_piece(f"{ex.track_id}@{ex.start_s}", reference, estimate, velocity=False))

    def on_validation_epoch_end(self) -> None:
        if not self._scores:
            return
        for name, value in note_f1_metrics(summarise(self._scores)).items():
            self.log(name, value, prog_bar=name == "val/note_f1")
