"""Seq2seq transcriber: a T5-style encoder-decoder from audio to MIDI-like token ids (MT3, YourMT3+).

One segment is 2.048 s of mono 16 kHz audio (32768 samples)::

    audio (B, samples)
      -> log-mel: n_fft 2048, hop 128, 512 bins from 20 Hz to 8 kHz       (B, 257, 512)
      -> drop the last frame (see below)                                   (B, 256, 512)
      -> fixed scaling (silence -> 0), linear to d_model, dropout          (B, 256, d_model)
      -> encoder: N x [RMSNorm -> self-attention (bidirectional relative position bias) -> +,
                       RMSNorm -> gated-GELU feed-forward -> +], RMSNorm     memory (B, 256, d_model)
    decoder_input (B, T): the targets shifted right, starting with PAD 0 (:func:`shift_right`)
      -> token embedding (+ channel embedding, multi-channel models)       (B, T, d_model)
      -> decoder: N x [RMSNorm -> causal self-attention (causal relative position bias) -> +,
                       RMSNorm -> cross-attention to the memory -> +,
                       RMSNorm -> gated-GELU feed-forward -> +], RMSNorm
      -> output projection (untied, or the token embedding tied)           logits (B, T, vocab)

Choices, and why:

- **Frames.** The log-mel front-end centres its frames, so 32768 samples give ``32768 // 128 + 1 =
  257`` frames, the last one centred on the first sample *after* the segment. It is dropped, so
  that a segment is exactly 256 frames (MT3's segment) and frame ``k`` covers ``k * 8 ms``: in
  general a clip of ``n`` samples gives ``n // 128`` frames.
- **Input scaling.** The log-mel is floored at ``log(1e-5)``; features are ``(log_mel - log(1e-5)) /
  10``, so silence is exactly 0 and loud notes reach about 2. A fixed scaling (no per-frame
  LayerNorm) keeps each frame's loudness, which onsets and velocities need; the encoder's pre-norm
  RMSNorms keep the sub-layers' inputs at unit scale anyway.
- **Positions: T5 relative position bias**, not rotary embeddings. It is MT3's own scheme (T5.1.1),
  needs no table of maximum length, and is an additive float mask that
  :func:`torch.nn.functional.scaled_dot_product_attention` takes as ``attn_mask`` (the causal mask
  is folded into the same tensor). As in T5, one bias table is shared by all layers of a stack:
  bidirectional buckets in the encoder, causal buckets in the decoder's self-attention, none in
  cross-attention. Unlike T5, attention scores are scaled by ``1 / sqrt(d_kv)`` (the usual
  scaling; T5 folds it into the query's initialisation instead).
- **T5.1.1 details**: no biases in linear layers, gated-GELU feed-forward, pre-norm RMSNorm with a
  final norm per stack, dropout on embeddings, sub-layer outputs, feed-forward hidden units and
  attention weights.
- **Multi-channel decoding** (YourMT3+): with ``channels > 0`` a learned channel embedding is added
  to every decoder input position, so one decoder (shared weights) writes one token stream per
  instrument group; :meth:`Seq2SeqTranscriber.generate` decodes all channels of all segments as
  one batch from one encoding (repeat the memory with ``repeat_interleave``).

Token ids: PAD 0 (also the decoder's start token, T5's convention), EOS 1, UNK 2; the codec's
events follow. Greedy decoding (:meth:`Seq2SeqTranscriber.generate`) keeps a key/value cache:
self-attention keys and values are appended per step, cross-attention ones computed once.
"""

from __future__ import annotations

import math
from typing import cast

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from jointist.audio.features import LogMel
from jointist.constants import LOG_EPS, N_PITCHES, SAMPLE_RATE
from jointist.models.base import JointistModel
from jointist.tokens.vocabulary import EOS_ID, PAD_ID, UNK_ID  # PAD is also the decoder's start token (T5)

__all__ = [
    "EOS_ID",
    "PAD_ID",
    "SEGMENT_FRAMES",
    "SEGMENT_SAMPLES",
    "SEQ2SEQ_HOP_LENGTH",
    "UNK_ID",
    "DecoderCache",
    "Seq2SeqTranscriber",
    "shift_right",
]


SEQ2SEQ_HOP_LENGTH = 128
"""Hop (samples) of the seq2seq front-end: 125 frames per second, 8 ms per frame (MT3)."""
SEGMENT_FRAMES = 256
"""Spectrogram frames per seq2seq segment (MT3)."""
SEGMENT_SAMPLES = SEGMENT_FRAMES * SEQ2SEQ_HOP_LENGTH
"""Samples per seq2seq segment: 32768, 2.048 s at 16 kHz."""

_FEATURE_FLOOR = math.log(LOG_EPS)
_FEATURE_SCALE = 10.0


def shift_right(targets: torch.Tensor, *, pad_id: int = PAD_ID) -> torch.Tensor:
    """Teacher forcing's decoder input: (batch, T) targets -> (batch, T), the start token (PAD, as in
    T5) followed by the targets without their last token. Position ``t`` of the logits then predicts
    ``targets[:, t]``; PAD targets (after EOS) are ignored by the loss, so what the decoder sees
    there does not matter."""
    start = targets.new_full((targets.shape[0], 1), pad_id)
    return torch.cat([start, targets[:, :-1]], dim=1)


def relative_position_bucket(
    relative_position: torch.Tensor, *, bidirectional: bool, num_buckets: int, max_distance: int
) -> torch.Tensor:
    """T5's buckets of ``key_position - query_position``: exact for small distances, logarithmic up
    to ``max_distance``, one bucket beyond; separate halves for the two directions when
    ``bidirectional``, and only the past (future distances fall into bucket 0) when causal."""
    buckets = torch.zeros_like(relative_position)
    if bidirectional:
        num_buckets //= 2
        buckets = buckets + (relative_position > 0).long() * num_buckets
        distance = relative_position.abs()
    else:
        distance = (-relative_position).clamp(min=0)
    max_exact = num_buckets // 2
    is_small = distance < max_exact
    large = max_exact + (
        torch.log(distance.clamp(min=1).float() / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact)
    ).long()
    large = large.clamp(max=num_buckets - 1)
    return buckets + torch.where(is_small, distance, large)


class RelativePositionBias(nn.Module):
    """One learned scalar per head and distance bucket: query and key positions -> (1, heads, Tq, Tk)
    additive attention bias; causal ones put -inf on keys after the query."""

    def __init__(self, n_heads: int, *, bidirectional: bool, num_buckets: int, max_distance: int) -> None:
        super().__init__()
        self.bidirectional = bidirectional
        self.num_buckets = num_buckets
        self.max_distance = max_distance
        self.embedding = nn.Embedding(num_buckets, n_heads)

    def forward(self, query_positions: torch.Tensor, key_positions: torch.Tensor) -> torch.Tensor:
        relative = key_positions[None, :] - query_positions[:, None]  # (Tq, Tk)
        buckets = relative_position_bucket(
            relative, bidirectional=self.bidirectional, num_buckets=self.num_buckets, max_distance=self.max_distance
        )
        bias = self.embedding(buckets).permute(2, 0, 1).unsqueeze(0)  # (1, heads, Tq, Tk)
        if not self.bidirectional:
            bias = bias.masked_fill(relative > 0, float("-inf"))
        return bias


class Attention(nn.Module):
    """Multi-head attention without biases; keys and values are projected apart from the queries so
    that they can be cached."""

    def __init__(self, d_model: int, n_heads: int, d_kv: int, dropout: float) -> None:
        super().__init__()
        self.n_heads, self.d_kv, self.dropout = n_heads, d_kv, dropout
        inner = n_heads * d_kv
        self.q = nn.Linear(d_model, inner, bias=False)
        self.k = nn.Linear(d_model, inner, bias=False)
        self.v = nn.Linear(d_model, inner, bias=False)
        self.o = nn.Linear(inner, d_model, bias=False)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, heads * d_kv) -> (B, heads, T, d_kv)."""
        b, t, _ = x.shape
        return x.view(b, t, self.n_heads, self.d_kv).transpose(1, 2)

    def keys_values(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, Tk, d_model) -> keys and values, each (B, heads, Tk, d_kv)."""
        return self._heads(self.k(x)), self._heads(self.v(x))

    def forward(self, x: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        """Queries from x (B, Tq, d_model), keys and values (B, heads, Tk, d_kv), additive bias
        broadcastable to (B, heads, Tq, Tk) -> (B, Tq, d_model)."""
        q = self._heads(self.q(x))
        out = F.scaled_dot_product_attention(
            q, keys, values, attn_mask=bias, dropout_p=self.dropout if self.training else 0.0
        )  # (B, heads, Tq, d_kv)
        b, _, t, _ = out.shape
        return self.o(out.transpose(1, 2).reshape(b, t, self.n_heads * self.d_kv))


class GatedGELU(nn.Module):
    """T5.1.1's feed-forward: ``wo(dropout(gelu(wi_0 x) * wi_1 x))``, no biases."""

    def __init__(self, d_model: int, d_ff: int, dropout: float) -> None:
        super().__init__()
        self.wi_0 = nn.Linear(d_model, d_ff, bias=False)
        self.wi_1 = nn.Linear(d_model, d_ff, bias=False)
        self.wo = nn.Linear(d_ff, d_model, bias=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.wo(self.dropout(F.gelu(self.wi_0(x), approximate="tanh") * self.wi_1(x)))


class EncoderLayer(nn.Module):
    """Pre-norm self-attention and feed-forward: (B, T, d_model) -> same shape."""

    def __init__(self, d_model: int, n_heads: int, d_kv: int, d_ff: int, dropout: float) -> None:
        super().__init__()
        self.attention_norm = nn.RMSNorm(d_model, eps=1e-6)
        self.attention = Attention(d_model, n_heads, d_kv, dropout)
        self.ff_norm = nn.RMSNorm(d_model, eps=1e-6)
        self.ff = GatedGELU(d_model, d_ff, dropout)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        h = self.attention_norm(x)
        x = x + self.dropout(self.attention(h, *self.attention.keys_values(h), bias))
        return x + self.dropout(self.ff(self.ff_norm(x)))


class DecoderLayer(nn.Module):
    """Pre-norm causal self-attention, cross-attention and feed-forward: (B, T, d_model) -> same shape."""

    def __init__(self, d_model: int, n_heads: int, d_kv: int, d_ff: int, dropout: float) -> None:
        super().__init__()
        self.self_attention_norm = nn.RMSNorm(d_model, eps=1e-6)
        self.self_attention = Attention(d_model, n_heads, d_kv, dropout)
        self.cross_attention_norm = nn.RMSNorm(d_model, eps=1e-6)
        self.cross_attention = Attention(d_model, n_heads, d_kv, dropout)
        self.ff_norm = nn.RMSNorm(d_model, eps=1e-6)
        self.ff = GatedGELU(d_model, d_ff, dropout)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self,
        x: torch.Tensor,
        bias: torch.Tensor,
        cross: tuple[torch.Tensor, torch.Tensor],
        cache: DecoderCache | None,
        index: int,
    ) -> torch.Tensor:
        """x (B, T, d_model) at the positions the bias's queries name; ``cross``: the memory's keys and
        values; ``cache``: earlier positions' self-attention keys and values (layer ``index``)."""
        h = self.self_attention_norm(x)
        keys, values = self.self_attention.keys_values(h)
        if cache is not None:
            keys, values = cache.append(index, keys, values)
        x = x + self.dropout(self.self_attention(h, keys, values, bias))
        x = x + self.dropout(self.cross_attention(self.cross_attention_norm(x), *cross, None))
        return x + self.dropout(self.ff(self.ff_norm(x)))


class DecoderCache:
    """Keys and values of the decoder for incremental decoding.

    Self-attention keys and values are written into buffers (B, heads, capacity, d_kv) per layer,
    which grow when full; cross-attention keys and values are computed from the memory at the first
    :meth:`Seq2SeqTranscriber.decode` call and kept. ``length`` is the number of decoder positions
    already seen. :meth:`select` keeps some rows of the batch (sequences still being decoded).
    """

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = max(1, capacity)
        self.length = 0
        self.keys: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []
        self.cross: list[tuple[torch.Tensor, torch.Tensor]] = []

    def append(self, index: int, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store layer ``index``'s keys and values (B, heads, n, d_kv) of positions ``length ..
        length + n`` and return those of every position so far (views of the buffers)."""
        end = self.length + keys.shape[2]
        if index == len(self.keys):
            b, h, _, d = keys.shape
            self.keys.append(keys.new_empty(b, h, max(self.capacity, end), d))
            self.values.append(values.new_empty(b, h, max(self.capacity, end), d))
        elif end > self.keys[index].shape[2]:
            grown = max(end, 2 * self.keys[index].shape[2])
            for buffers in (self.keys, self.values):
                old = buffers[index]
                new = old.new_empty(old.shape[0], old.shape[1], grown, old.shape[3])
                new[:, :, : self.length] = old[:, :, : self.length]
                buffers[index] = new
        self.keys[index][:, :, self.length: end] = keys
        self.values[index][:, :, self.length: end] = values
        return self.keys[index][:, :, :end], self.values[index][:, :, :end]

    def select(self, rows: torch.Tensor) -> None:
        """Keep only these batch rows (LongTensor of indices)."""
        self.keys = [k.index_select(0, rows) for k in self.keys]
        self.values = [v.index_select(0, rows) for v in self.values]
        self.cross = [(k.index_select(0, rows), v.index_select(0, rows)) for k, v in self.cross]


class Seq2SeqTranscriber(JointistModel):
    """Audio segments -> MIDI-like token ids, a T5.1.1-style encoder-decoder (MT3).

    Args:
        vocab_size: token ids, the 3 special ones (PAD 0, EOS 1, UNK 2) included.
        n_mels, hop_length, n_fft, f_min, f_max: the log-mel front-end (MT3: 512 bins, hop 128,
            2048-point FFT, 20 Hz to 8 kHz at 16 kHz).
        d_model, n_heads, d_kv, d_ff: width, attention heads and their size, gated-GELU hidden size.
        encoder_layers, decoder_layers: depth of each stack.
        dropout: on embeddings, sub-layer outputs, feed-forward hidden units and attention weights.
        max_target_tokens: the longest decoder sequence accepted (teacher forcing and generation).
        relative_buckets, max_distance: T5's relative position buckets (32 and 128 in T5 and MT3).
        channels: 0 (one token stream per segment), or the number of decoder channels of
            multi-channel decoding (YourMT3+): the decoder then needs a channel per sequence.
        tie_embeddings: output projection = token embedding (T5.1.0); MT3 and T5.1.1 untie them.
        frame_head: a linear read-out of the encoder's frames onto the 88 keys (:meth:`frame_logits`),
            for an auxiliary frame loss during training (hybrid CTC/attention in speech recognition
            helps an encoder-decoder align sooner); decoding never uses it.
    """

    role = "seq2seq"

    def __init__(
        self,
        *,
        vocab_size: int = 1391,
        n_mels: int = 512,
        hop_length: int = SEQ2SEQ_HOP_LENGTH,
        n_fft: int = 2048,
        f_min: float = 20.0,
        f_max: float = SAMPLE_RATE / 2,
        d_model: int = 192,
        n_heads: int = 3,
        d_kv: int = 64,
        d_ff: int = 512,
        encoder_layers: int = 4,
        decoder_layers: int = 3,
        dropout: float = 0.1,
        max_target_tokens: int = 1024,
        relative_buckets: int = 32,
        max_distance: int = 128,
        channels: int = 0,
        tie_embeddings: bool = False,
        frame_head: bool = False,
    ) -> None:
        super().__init__()
        if vocab_size <= EOS_ID:
            raise ValueError(f"vocab_size must hold PAD and EOS at least, got {vocab_size}")
        if channels < 0:
            raise ValueError(f"channels must be 0 (single stream) or positive, got {channels}")
        self.vocab_size = vocab_size
        self.d_model = d_model
        self.max_target_tokens = max_target_tokens
        self.channels = channels
        self.tie_embeddings = tie_embeddings
        self.segment_frames = SEGMENT_FRAMES
        """Frames of the segments the model is trained on and decodes (its input may be any length)."""
        self.segment_samples = SEGMENT_FRAMES * hop_length
        """Samples of one segment: 32768 (2.048 s) at hop 128."""
        self.frontend = LogMel(n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, f_min=f_min, f_max=f_max)
        self.input_projection = nn.Linear(n_mels, d_model, bias=False)
        self.encoder_bias = RelativePositionBias(
            n_heads, bidirectional=True, num_buckets=relative_buckets, max_distance=max_distance
        )
        self.encoder = nn.ModuleList(EncoderLayer(d_model, n_heads, d_kv, d_ff, dropout) for _ in range(encoder_layers))
        self.encoder_norm = nn.RMSNorm(d_model, eps=1e-6)
        self.token_embedding = nn.Embedding(vocab_size, d_model)
        self.channel_embedding = nn.Embedding(channels, d_model) if channels > 0 else None
        self.decoder_bias = RelativePositionBias(
            n_heads, bidirectional=False, num_buckets=relative_buckets, max_distance=max_distance
        )
        self.decoder = nn.ModuleList(DecoderLayer(d_model, n_heads, d_kv, d_ff, dropout) for _ in range(decoder_layers))
        self.decoder_norm = nn.RMSNorm(d_model, eps=1e-6)
        self.output = None if tie_embeddings else nn.Linear(d_model, vocab_size, bias=False)
        self.frame_head = nn.Linear(d_model, N_PITCHES) if frame_head else None
        self.dropout = nn.Dropout(dropout)
        self._init_weights()

    def _init_weights(self) -> None:
        """T5's initialisation: linear layers N(0, 1 / fan_in), embeddings N(0, 1), position biases
        N(0, 1 / d_model)."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=module.in_features ** -0.5)
            elif isinstance(module, RelativePositionBias):
                nn.init.normal_(module.embedding.weight, std=self.d_model ** -0.5)
        nn.init.normal_(self.token_embedding.weight, std=1.0)
        if self.channel_embedding is not None:
            nn.init.normal_(self.channel_embedding.weight, std=1.0)

    # -- encoder ------------------------------------------------------------------------------------

    def spectrogram(self, audio: torch.Tensor) -> torch.Tensor:
        """(batch, samples) at 16 kHz -> scaled log-mel (batch, samples // hop_length, n_mels): 256
        frames for a 2.048 s segment (the front-end's last, centred frame is dropped)."""
        if audio.dim() != 2:
            raise ValueError(f"audio must be (batch, samples), got shape {tuple(audio.shape)}")
        if audio.shape[-1] < self.frontend.hop_length:
            raise ValueError(f"audio of {audio.shape[-1]} samples is shorter than one frame ({self.frontend.hop_length})")
        log_mel = self.frontend(audio)[:, :-1]
        return (log_mel - _FEATURE_FLOOR) / _FEATURE_SCALE

    def encode(self, audio: torch.Tensor) -> torch.Tensor:
        """(batch, samples) -> memory (batch, frames, d_model), 256 frames for a segment."""
        x = self.input_projection(self.spectrogram(audio))
        x = self.dropout(x.to(self.token_embedding.weight.dtype))  # under autocast the residual stream stays fp32
        positions = torch.arange(x.shape[1], device=x.device)
        bias = self.encoder_bias(positions, positions).to(x.dtype)
        for layer in self.encoder:
            x = layer(x, bias)
        return self.dropout(self.encoder_norm(x))

    def frame_logits(self, memory: torch.Tensor) -> torch.Tensor:
        """The frame head's key logits (batch, frames, 88) of an encoding (batch, frames, d_model)."""
        if self.frame_head is None:
            raise ValueError("this model has no frame head (build it with frame_head=True)")
        return self.frame_head(memory)

    # -- decoder ------------------------------------------------------------------------------------

    def _check_channel(self, channel: torch.Tensor | None, batch: int) -> None:
        if self.channels == 0:
            if channel is not None:
                raise ValueError("this model decodes one stream per segment (channels=0): pass channel=None")
            return
        if channel is None:
            raise ValueError(f"this model decodes {self.channels} channels: pass channel, a LongTensor (batch,) of "
                             f"indices in 0..{self.channels - 1}")
        if channel.shape != (batch,) or channel.dtype != torch.long:
            raise ValueError(f"channel must be a LongTensor of shape ({batch},), got {channel.dtype} "
                             f"{tuple(channel.shape)}")
        if batch and (int(channel.min()) < 0 or int(channel.max()) >= self.channels):
            raise ValueError(f"channel indices must be in 0..{self.channels - 1}, got {channel.tolist()}")

    def _cross_keys_values(self, memory: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Every decoder layer's cross-attention keys and values of the memory."""
        return [cast(DecoderLayer, layer).cross_attention.keys_values(memory) for layer in self.decoder]

    def decode(
        self,
        memory: torch.Tensor,
        decoder_input: torch.Tensor,
        *,
        channel: torch.Tensor | None = None,
        cache: DecoderCache | None = None,
    ) -> torch.Tensor:
        """Memory (batch, frames, d_model) and decoder input ids (batch, T) -> logits (batch, T, vocab).

        Without a cache, ``decoder_input`` is the whole sequence from the start token (teacher
        forcing). With one, it holds only the new positions, after the ``cache.length`` already
        seen; the cache is updated, and the memory is read only by the first call (cross-attention
        keys and values are kept). ``channel`` (batch,): the decoder channel of each sequence,
        required iff the model has channels.
        """
        batch = decoder_input.shape[0]
        if memory.shape[0] != batch:
            raise ValueError(f"memory holds {memory.shape[0]} sequences and decoder_input {batch}")
        self._check_channel(channel, batch)
        return self._decode(memory, decoder_input, channel, cache)

    def _decode(
        self, memory: torch.Tensor, decoder_input: torch.Tensor, channel: torch.Tensor | None, cache: DecoderCache | None
    ) -> torch.Tensor:
        """:meth:`decode` without checking its arguments (once per sequence, not per token)."""
        length = decoder_input.shape[1]
        start = 0 if cache is None else cache.length
        if start + length > self.max_target_tokens:
            raise ValueError(f"decoder sequence of {start + length} tokens is longer than max_target_tokens="
                             f"{self.max_target_tokens}")
        x = self.token_embedding(decoder_input)
        if self.channel_embedding is not None and channel is not None:
            x = x + self.channel_embedding(channel)[:, None, :]
        x = self.dropout(x)
        keys = torch.arange(start + length, device=x.device)
        bias = self.decoder_bias(keys[start:], keys).to(x.dtype)  # (1, heads, T, start + T), causal
        if cache is None:
            cross = self._cross_keys_values(memory)
        else:
            if not cache.cross:
                cache.cross = self._cross_keys_values(memory)
            cross = cache.cross
        for index, layer in enumerate(self.decoder):
            x = layer(x, bias, cross[index], cache, index)
        if cache is not None:
            cache.length += length
        x = self.dropout(self.decoder_norm(x))
        if self.output is None:
            return (x * self.d_model ** -0.5) @ self.token_embedding.weight.T
        return self.output(x)

    def forward(self, audio: torch.Tensor, decoder_input: torch.Tensor, *, channel: torch.Tensor | None = None) -> torch.Tensor:
        """Teacher forcing: audio (batch, samples) and ``shift_right(targets)`` (batch, T) -> logits
        (batch, T, vocab), position ``t`` predicting ``targets[:, t]``."""
        return self.decode(self.encode(audio), decoder_input, channel=channel)

    # -- inference ----------------------------------------------------------------------------------

    def _banned(self, allowed: torch.Tensor | None, batch: int, device: torch.device) -> torch.Tensor:
        """(1 or batch, vocab) True where a token may not be emitted: PAD always, EOS never."""
        if allowed is None:
            banned = torch.zeros(1, self.vocab_size, dtype=torch.bool, device=device)
        else:
            if allowed.dtype != torch.bool or allowed.shape not in ((self.vocab_size,), (batch, self.vocab_size)):
                raise ValueError(f"allowed must be a bool tensor ({self.vocab_size},) or ({batch}, {self.vocab_size}), "
                                 f"got {allowed.dtype} {tuple(allowed.shape)}")
            banned = ~allowed.to(device).reshape(-1, self.vocab_size)
        banned[:, PAD_ID] = True
        banned[:, EOS_ID] = False
        return banned

    @torch.no_grad()
    def generate(
        self,
        audio: torch.Tensor | None = None,
        *,
        max_tokens: int,
        allowed: torch.Tensor | None = None,
        channel: torch.Tensor | None = None,
        use_cache: bool = True,
        memory: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Greedy decoding of a batch of segments: audio (batch, samples) -> token ids (batch, <=
        max_tokens), without the start token.

        Every sequence ends at its EOS (included) and is padded with PAD after it; the result is as
        long as the longest sequence (``max_tokens`` where one never ended). Call ``eval()`` first.

        Args:
            max_tokens: most tokens per sequence, EOS included (at most ``max_target_tokens``).
            allowed: bool (vocab,) or (batch, vocab): tokens where it is False are never emitted
                (instrument-restricted decoding). EOS is always allowed and PAD never emitted.
            channel: (batch,) decoder channel per sequence, required iff the model has channels.
            use_cache: keep keys and values between steps (False recomputes the whole decoder
                each step; the same tokens, slower).
            memory: the encoder's output (batch, frames, d_model) in place of audio: encode once,
                then decode several channels with ``memory.repeat_interleave(channels, dim=0)``.
        """
        if memory is None:
            if audio is None:
                raise ValueError("generate needs audio or memory")
            memory = self.encode(audio)
        if not 1 <= max_tokens <= self.max_target_tokens:
            raise ValueError(f"max_tokens must be in 1..{self.max_target_tokens}, got {max_tokens}")
        batch = memory.shape[0]
        self._check_channel(channel, batch)
        banned = self._banned(allowed, batch, memory.device)
        out = torch.full((batch, max_tokens), PAD_ID, dtype=torch.long, device=memory.device)
        active = torch.arange(batch, device=memory.device)  # rows of `out` still being decoded
        history = torch.full((batch, 1), PAD_ID, dtype=torch.long, device=memory.device)  # start tokens
        cache = DecoderCache(max_tokens) if use_cache else None
        steps = 0
        while steps < max_tokens and len(active):
            if cache is not None:
                logits = self._decode(memory, history[:, -1:], channel, cache)[:, -1]
            else:
                logits = self._decode(memory, history, channel, None)[:, -1]
            tokens = logits.masked_fill(banned, float("-inf")).argmax(dim=-1)  # (active,)
            out[active, steps] = tokens
            steps += 1
            ended = tokens == EOS_ID
            if bool(ended.any()):  # drop finished sequences from the batch
                keep = torch.nonzero(~ended).squeeze(1)
                active, tokens, history, memory = active[keep], tokens[keep], history[keep], memory[keep]
                channel = None if channel is None else channel[keep]
                banned = banned if banned.shape[0] == 1 else banned[keep]
                if cache is not None:
                    cache.select(keep)
            history = torch.cat([history, tokens[:, None]], dim=1)
        return out[:, :steps]
