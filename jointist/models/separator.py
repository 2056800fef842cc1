"""A FiLM-conditioned U-Net separator on the mixture's STFT magnitude, guided by transcription.

One stem per instrument: a mask in [0, 1] over the mixture's STFT (n_fft 1024, hop 160, so its
frames are the transcriber's 100 frames per second), conditioned on the instrument through FiLM and
on that instrument's frame posteriorgram from the transcriber; the masked magnitude with the
mixture's phase goes back through the inverse STFT. Walk-through of the default layout (L levels,
``c_i`` encoder and ``d_i`` decoder widths; 10 s: T = 1001 frames padded to T_pad = 1024, L = 6)::

    audio (B, samples) -> STFT                    spec (B, T, 513) complex      once per clip
      -> log(1 + |spec|), Nyquist bin dropped, batch norm per bin, time zero-padded to a multiple
         of 2^L                                   x (B, 1, T_pad, 512)
      -> shared encoder, no conditioning; level i = 0 .. L-1:
         2 x (3x3 conv, BN, ReLU)                 (B, c_i, T_pad / 2^i, 512 / 2^i)
           skip term: 3x3 conv to d_i             (B, d_i, T_pad / 2^i, 512 / 2^i)
         2x2 average pooling                      (B, c_i, T_pad / 2^(i+1), 512 / 2^(i+1))
    per instrument, rows = B * K, condition: one-hot (rows, 39)
      hint: posteriorgram (rows, T, 88), optionally binarised (straight through), mapped to the bins
         by the harmonic template (88, 512) or a learned linear map   (rows, 1, T_pad, 512)
      -> centre: concat(encoder output per row, hint pooled to 1/2^L), 2 x (3x3 conv, BN, FiLM, ReLU)
                                                  (rows, d_L, T_pad / 2^L, 512 / 2^L)   16 x 8 for 10 s
      -> decoder level i = L-1 .. 0: 2x2 transposed conv, stride 2; 3x3 conv + skip term of its
         clip (broadcast over the K rows, not copied) [+ 3x3 conv of the hint at level 0]; BN, FiLM,
         ReLU                                     (rows, d_i, T_pad / 2^i, 512 / 2^i)
      -> 1x1 conv: mask logits (rows, 1, T_pad, 512) -> cropped to T; the Nyquist bin takes bin 511's
      -> sigmoid mask (B, K, T, 513) x mixture spec (magnitude masked, mixture phase kept) -> iSTFT
    stems (B, K, samples), as many samples as the input

Why this layout: the Jointist paper conditions every block of the U-Net, so the whole network runs
again for every instrument; most of that work does not depend on the instrument. Here the encoder
(the receptive field, the full-resolution layers with the most positions) runs once per clip, and
each decoder level's convolution over concat(upsampled, skip) is split into its two halves, so the
skip half runs once per clip too. What repeats per instrument is the decoder's up path, kept narrow
(the instrument selects among features the shared encoder already computed), FiLM and the hint. The
posteriorgram enters twice: pooled at the decoder's input (the bottleneck knows which notes play
where), and at full resolution in the last decoder level, where the harmonic template lines each
key up with the STFT bins of its partials, so the mask can follow the partials bin by bin. With
``shared_encoder=False`` the encoder is conditioned too and runs per instrument, and the hint is
fused at the input: the paper's layout, ``conf/model/separator_paper.yaml``.
"""

from __future__ import annotations

from typing import NamedTuple, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from jointist.audio.features import STFT
from jointist.constants import HOP_LENGTH, MIN_MIDI, N_PITCHES, SAMPLE_RATE, STFT_N_FFT
from jointist.instruments import NUM_CLASSES
from jointist.models.base import JointistModel
from jointist.models.blocks import ConvBlock
from jointist.models.film import FILM_MODES, FiLM

__all__ = ["FUSION_MODES", "MASK_PRIOR_LOGIT", "FiLMUNetSeparator", "SeparatorFeatures", "harmonic_template"]

FUSION_MODES = ("none", "sum", "concat", "harmonic")
"""How the frame posteriorgram enters the separator (see :class:`FiLMUNetSeparator`)."""

MASK_PRIOR_LOGIT = 0.0
"""Bias of the mask logits at initialisation: with the small output weights every mask starts near
sigmoid(0) = 0.5, so each stem starts as half the mixture instead of a random fraction of it."""

_OUT_WEIGHT_SCALE = 0.1
"""The output 1x1 convolution's initial weights are scaled by this: mask = 0.5 +- a few percent."""


def harmonic_template(
    *,
    n_partials: int = 8,
    n_fft: int = STFT_N_FFT,
    sample_rate: int = SAMPLE_RATE,
    width_bins: float = 2.0,
) -> torch.Tensor:
    """The fixed key -> STFT-bin map of the ``harmonic`` fusion: (88, n_fft // 2 + 1).

    Row ``k`` (key A0 + k, fundamental ``f0``) holds a triangular bump of half-width ``width_bins``
    bins (the main lobe of a Hann window is 2 bins either side) centred on bin ``h * f0 * n_fft /
    sample_rate`` for each partial ``h = 1 .. n_partials``, weighted ``1 / h``; where the bumps of
    a low key overlap the larger weight is kept, and partials above Nyquist are dropped. A4 (440 Hz,
    n_fft 1024 at 16 kHz: 15.625 Hz per bin) peaks at bins 28 and 56 and is zero in between.
    """
    if n_partials < 1:
        raise ValueError(f"n_partials must be at least 1, got {n_partials}")
    bins = np.arange(n_fft // 2 + 1, dtype=np.float64)
    midi = np.arange(MIN_MIDI, MIN_MIDI + N_PITCHES, dtype=np.float64)
    f0 = 440.0 * 2.0 ** ((midi - 69.0) / 12.0)
    template = np.zeros((N_PITCHES, len(bins)))
    for h in range(1, n_partials + 1):
        centre = h * f0 * n_fft / sample_rate  # (88,) fractional bin of partial h
        bump = np.clip(1.0 - np.abs(bins[None, :] - centre[:, None]) / width_bins, 0.0, None) / h
        bump[centre > n_fft / 2] = 0.0
        template = np.maximum(template, bump)
    return torch.from_numpy(template.astype(np.float32))


class SeparatorFeatures(NamedTuple):
    """What :meth:`FiLMUNetSeparator.features` computes once per clip.

    Attributes:
        spec: the mixture's complex STFT (batch, frames, 513); its phase is reused for every stem.
        x: the U-Net input, normalised log magnitude (batch, 1, padded frames, 512).
        skips: per encoder level, finest first, the skip connection's contribution to the decoder
            block of that level (batch, decoder width, frames_i, bins_i); empty without a shared encoder.
        bottom: the shared encoder's output, input of the centre block; None without a shared encoder.
        samples: length of the input audio (the stems get the same length).
        lead: zero frames put before the first frame so that the pooling grid lines up with the
            song's (see ``grid_offset`` of :meth:`FiLMUNetSeparator.features`).
    """

    spec: torch.Tensor
    x: torch.Tensor
    skips: tuple[torch.Tensor, ...]
    bottom: torch.Tensor | None
    samples: int
    lead: int = 0


def _per_row(x: torch.Tensor, k: int) -> torch.Tensor:
    """(batch, ...) -> (batch * k, ...): each clip's tensor repeated for its k instruments."""
    return x.unsqueeze(1).expand(x.shape[0], k, *x.shape[1:]).reshape(x.shape[0] * k, *x.shape[1:])


def _add(x: torch.Tensor, y: torch.Tensor, *, inplace: bool) -> torch.Tensor:
    """x (rows, C, T, F) + y (batch or rows, C, T, F): a per-clip y is broadcast over the rows of its
    clip (rows = batch * K), never copied. In place when no autograd graph is being recorded."""
    b = y.shape[0]
    grouped = x.view(b, -1, *x.shape[1:]) if b != x.shape[0] else x.unsqueeze(1)  # (batch, K or 1, C, T, F)
    if inplace:
        grouped.add_(y.unsqueeze(1))
        return x
    return (grouped + y.unsqueeze(1)).flatten(0, 1)


class _UpBlock(nn.Module):
    """One decoder level: x2 transposed convolution, then a 3x3 convolution over concat(up, skip,
    extra), batch norm, FiLM, ReLU (and optionally a second conditioned 3x3 convolution).

    The convolution over the concatenation is computed as ``conv_up(up) + conv_skip(skip) +
    conv_extra(extra)`` (the same linear map, its weight split along input channels), so with a
    shared encoder ``conv_skip(skip)`` runs once per clip (:meth:`skip_term`) and is broadcast over
    the instruments, never copied; ``extra`` (the posteriorgram hint) needs no concatenated copy.
    """

    def __init__(
        self, in_channels: int, skip_channels: int, out_channels: int, *, cond_dim: int, film: str, convs: int,
        extra_channels: int = 0,
    ) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2, bias=False)
        self.conv_up = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.conv_skip = nn.Conv2d(skip_channels, out_channels, 3, padding=1, bias=False)
        self.conv_extra = nn.Conv2d(extra_channels, out_channels, 3, padding=1, bias=False) if extra_channels else None
        self.bn = nn.BatchNorm2d(out_channels)
        self.film = FiLM(out_channels, cond_dim, mode=film, feature_dim=1) if film != "none" else None
        self.rest = ConvBlock(out_channels, out_channels, convs=1, cond_dim=cond_dim, film=film, pool=1) if convs == 2 else None

    def skip_term(self, skip: torch.Tensor) -> torch.Tensor:
        """The skip connection's share of the first convolution: (rows, skip, T, F) -> (rows, out, T, F)."""
        return self.conv_skip(skip)

    def _norm_film_relu(self, h: torch.Tensor, cond: torch.Tensor, *, inplace: bool) -> torch.Tensor:
        if not (inplace and not self.training and self.bn.running_var is not None):
            h = self.bn(h)
            return torch.relu(self.film(h, cond) if self.film is not None else h)
        # inference: batch norm (running statistics) and FiLM folded into one affine map per row and
        # channel, applied in place with the ReLU: one pass over the largest tensors of the model
        assert self.bn.running_mean is not None
        scale = self.bn.weight * torch.rsqrt(self.bn.running_var + self.bn.eps)  # (C,)
        shift = self.bn.bias - self.bn.running_mean * scale
        gamma, beta = self.film.params(cond) if self.film is not None else (None, None)
        scale = scale.expand(h.shape[0], -1) if gamma is None else gamma * scale  # (rows, C)
        shift = shift.expand(h.shape[0], -1) if gamma is None else gamma * shift
        shift = shift if beta is None else shift + beta
        return h.mul_(scale[..., None, None]).add_(shift[..., None, None]).relu_()

    def forward(
        self, x: torch.Tensor, skip_term: torch.Tensor, cond: torch.Tensor, extra: torch.Tensor | None = None
    ) -> torch.Tensor:
        """x (rows, in, t, f), skip_term (batch or rows, out, 2t, 2f), cond (rows, 39), extra (rows,
        extra, 2t, 2f) -> (rows, out, 2t, 2f)."""
        inplace = not torch.is_grad_enabled()
        h = _add(self.conv_up(self.up(x)), skip_term, inplace=inplace)
        if self.conv_extra is not None and extra is not None:
            h = _add(h, self.conv_extra(extra), inplace=inplace)
        h = self._norm_film_relu(h, cond, inplace=inplace)
        return self.rest(h, cond) if self.rest is not None else h


class FiLMUNetSeparator(JointistModel):
    """Mask-based separator: a U-Net on the mixture's STFT magnitude, FiLM-conditioned on the
    instrument and fused with its frame posteriorgram (the layout is in the module docstring).

    Args:
        n_classes: size of the instrument condition (39).
        channels: encoder widths, one per level (full resolution first); every level halves time
            and frequency, so ``512 / 2^levels`` must be whole.
        decoder_channels: decoder widths per level (None: the encoder's); the deepest is also the
            centre block's width unless ``centre_channels`` is given.
        convs: 3x3 convolutions per encoder and centre block (1 or 2).
        decoder_convs: per decoder block (1 or 2); every one of them runs per instrument.
        shared_encoder: True: the encoder is unconditioned and runs once per clip (in
            :meth:`features`), FiLM and the posteriorgram enter the centre and the decoder. False:
            the paper's layout, encoder conditioned and run per instrument, posteriorgram at the input.
        film: ``full`` (gamma and beta), ``bias`` (beta only, the original Jointist) or ``none``.
        fusion: how the frame posteriorgram enters. ``none``: not at all; ``sum``: a learned linear
            map 88 keys -> bins, added (to the input in the paper's layout, to the mask logits with a
            shared encoder); ``concat``: the same learned map as an extra channel; ``harmonic``: an
            extra channel through the fixed :func:`harmonic_template` (each key's activation on the
            bins of its partials). With a shared encoder the centre also gets the hint, pooled.
        binarize: threshold the posteriorgram at ``threshold``; gradients pass straight through
            (identity), so joint training still reaches the transcriber.
        n_partials: partials per key of the harmonic template.
        n_fft: STFT size (hop 160 always: frames line up with the posteriorgram's).

    Cost per 10 s window (T_pad 1024 x 512 bins; P_i = 524,288 / 4^i positions at level i),
    counting 2 FLOPs per multiply-add of the convolutions, transposed convolutions and matmuls
    (``torch.utils.flop_counter.FlopCounterMode``; STFT, iSTFT and elementwise work not counted).
    Default: per decoder level and instrument ``(d_{i+1} d_i + 9 d_i^2) P_i = 11 d_i^2 P_i`` = 92 M
    multiply-adds at every level (the widths double where the area quarters), 6 levels plus the
    centre and the hint: 1.34 GFLOP per instrument; the shared encoder and skip terms 7.0 GFLOP once.
    Paper layout: 20-23 G multiply-adds per level (widths 32-384, everything per instrument, two
    convolutions per block plus the skip half), 211.5 GFLOP per instrument. Time: one CPU core
    (``torch.set_num_threads(1)``, process time, best of 3, eval mode, STFT and iSTFT included) on
    the development machine (AMD EPYC, shared with other jobs)::

        layout                 params    per clip  per instrument  1 instrument     6 instruments
        default (shared)       2.37 M    7.0 GF    1.34 GF         8.4 GF  0.18 s   15.0 GF  0.50 s
        paper (per instrument) 21.3 M    0         211.5 GF        211.5 GF 3.2 s   1269 GF  23.8 s

    The default separates 6 instruments of 10 s in about 0.05x real time on one core; the paper's
    layout needs 2.4x real time. Every activation is channels-last (the convolution weights are),
    which makes the narrow full-resolution convolutions 3-5x faster on a CPU; without an autograd
    graph the decoder adds the skip terms, batch norm and FiLM in place (one pass over each
    full-resolution tensor).
    """

    role = "separator"

    def __init__(
        self,
        *,
        n_classes: int = NUM_CLASSES,
        channels: tuple[int, ...] | list[int] = (8, 16, 32, 64, 128, 256),
        decoder_channels: tuple[int, ...] | list[int] | None = (4, 8, 16, 32, 64, 128),
        centre_channels: int | None = None,
        convs: int = 2,
        decoder_convs: int = 1,
        shared_encoder: bool = True,
        film: str = "full",
        fusion: str = "harmonic",
        binarize: bool = False,
        threshold: float = 0.5,
        n_partials: int = 8,
        n_fft: int = STFT_N_FFT,
    ) -> None:
        super().__init__()
        channels = [int(c) for c in channels]
        dec = [int(c) for c in decoder_channels] if decoder_channels is not None else list(channels)
        if not channels or len(dec) != len(channels):
            raise ValueError(f"decoder_channels must have one width per encoder level ({len(channels)}), got {dec}")
        if film not in FILM_MODES:
            raise ValueError(f"film must be one of {FILM_MODES}, got {film!r}")
        if fusion not in FUSION_MODES:
            raise ValueError(f"fusion must be one of {FUSION_MODES}, got {fusion!r}")
        if convs not in (1, 2) or decoder_convs not in (1, 2):
            raise ValueError(f"convs and decoder_convs must be 1 or 2, got {convs} and {decoder_convs}")
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must lie in (0, 1), got {threshold}")
        self.n_classes = n_classes
        self.shared_encoder = shared_encoder
        self.fusion = fusion
        self.binarize = binarize
        self.threshold = threshold
        self.levels = len(channels)
        self.stft = STFT(n_fft, hop_length=HOP_LENGTH)
        self.n_bins = n_fft // 2  # the U-Net drops the Nyquist bin: 512 = 2^9 bins halve cleanly
        if self.n_bins % 2**self.levels:
            raise ValueError(f"{self.levels} levels need bins ({self.n_bins}) divisible by {2**self.levels}")
        self.input_norm = nn.BatchNorm2d(self.n_bins)  # per frequency bin, over batch and time

        # the posteriorgram hint: 88 keys -> STFT bins, learned (sum, concat) or fixed (harmonic)
        self.key_map = nn.Linear(N_PITCHES, self.n_bins, bias=False) if fusion in ("sum", "concat") else None
        template = harmonic_template(n_partials=n_partials, n_fft=n_fft)[:, : self.n_bins] if fusion == "harmonic" else None
        self.register_buffer("template", template, persistent=False)
        hint_channel = 1 if fusion in ("concat", "harmonic") else 0

        cond = n_classes if film != "none" else None
        in_channels = 1 + (hint_channel if not shared_encoder else 0)
        self.encoder = nn.ModuleList()
        for width in channels:
            self.encoder.append(ConvBlock(in_channels, width, convs=convs, cond_dim=None if shared_encoder else cond,
                                          film=film, pool=1))
            in_channels = width
        centre = int(centre_channels) if centre_channels is not None else dec[-1]
        centre_hint = 1 if shared_encoder and fusion != "none" else 0  # the hint pooled to the centre's resolution
        self.centre = ConvBlock(channels[-1] + centre_hint, centre, convs=convs, cond_dim=cond, film=film, pool=1)
        self.decoder = nn.ModuleList()
        below = centre
        for level in reversed(range(self.levels)):
            extra = hint_channel if shared_encoder and level == 0 else 0
            self.decoder.insert(0, _UpBlock(below, channels[level], dec[level], cond_dim=n_classes, film=film,
                                            convs=decoder_convs, extra_channels=extra))
            below = dec[level]
        self.out = nn.Conv2d(dec[0], 1, 1)
        with torch.no_grad():
            self.out.weight.mul_(_OUT_WEIGHT_SCALE)
            self.out.bias.fill_(MASK_PRIOR_LOGIT)  # type: ignore[union-attr]
        # channels-last convolution weights make every activation channels-last: 3-5x faster on a CPU
        # for the narrow full-resolution layers (oneDNN), no slower on a GPU
        self.to(memory_format=torch.channels_last)  # type: ignore[call-overload]

    template: torch.Tensor | None

    # -- once per clip ---------------------------------------------------------------------------

    @property
    def grid_frames(self) -> int:
        """The pooling grid in frames (2^levels): windows whose first frames differ by a multiple of
        it see the same grid."""
        return int(2**self.levels)

    def features(self, audio: torch.Tensor, *, grid_offset: int = 0) -> SeparatorFeatures:
        """(batch, samples) -> :class:`SeparatorFeatures`: the mixture STFT, the normalised U-Net
        input and, with a shared encoder, the encoder's skip terms and output.

        Args:
            grid_offset: the clip's first frame within the song. ``grid_offset % grid_frames`` zero
                frames go before the clip, so every window of a song pools on the song's grid and
                chunked separation equals one pass away from the window edges.
        """
        spec = self.stft(audio)  # (B, T, 513) complex
        t = spec.shape[1]
        lead = grid_offset % self.grid_frames
        mag = spec[..., : self.n_bins].abs()  # (B, T, 512)
        x = self.input_norm(torch.log1p(mag).transpose(1, 2).unsqueeze(-1))  # (B, 512, T, 1): bins as channels
        x = x.squeeze(-1).transpose(1, 2).unsqueeze(1)  # (B, 1, T, 512)
        x = F.pad(x, (0, 0, lead, -(lead + t) % self.grid_frames))  # (B, 1, T_pad, 512): T_pad a multiple of 2^levels
        if not self.shared_encoder:
            return SeparatorFeatures(spec, x, (), None, audio.shape[-1], lead)
        skips, bottom = self._encode(x, None)
        return SeparatorFeatures(spec, x, skips, bottom, audio.shape[-1], lead)

    def _encode(self, x: torch.Tensor, cond: torch.Tensor | None) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        """Encoder: level i (0 = full resolution) maps (rows, c_{i-1}, T_pad / 2^i, 512 / 2^i) to
        (rows, c_i, same), keeps ``conv_skip`` of it for decoder level i, then halves time and
        frequency. Returns the skip terms (finest first) and (rows, c_last, T_pad / 2^L, 512 / 2^L)."""
        skips = []
        for block, up in zip(self.encoder, self.decoder):
            x = block(x, cond)
            skips.append(cast(_UpBlock, up).skip_term(x))
            x = F.avg_pool2d(x, 2)
        return tuple(skips), x

    # -- per instrument --------------------------------------------------------------------------

    def hint(self, posteriorgram: torch.Tensor) -> torch.Tensor:
        """Frame posteriors (rows, T, 88) in [0, 1] -> the hint on the U-Net's bins (rows, 1, T, 512):
        binarised with a straight-through estimator when ``binarize`` (the forward pass sees 0/1, the
        gradient passes as if unthresholded), then mapped by the learned key map or the template."""
        if self.binarize:
            hard = (posteriorgram > self.threshold).to(posteriorgram.dtype)
            posteriorgram = posteriorgram + (hard - posteriorgram).detach()
        if self.key_map is not None:
            return self.key_map(posteriorgram).unsqueeze(1)
        assert self.template is not None
        return torch.matmul(posteriorgram, self.template).unsqueeze(1)

    def mask_logits(
        self, features: SeparatorFeatures, instruments: torch.Tensor, posteriorgram: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Mask logits (batch, K, frames, 512) (without the Nyquist bin) for instruments (batch, K)."""
        if instruments.dim() != 2 or instruments.shape[0] != features.x.shape[0]:
            raise ValueError(f"instruments must be (batch, K) with batch {features.x.shape[0]}, got {tuple(instruments.shape)}")
        b, k = instruments.shape
        t = features.spec.shape[1]
        t_pad = features.x.shape[2]
        cond = F.one_hot(instruments.reshape(-1).long(), self.n_classes).to(features.x.dtype)  # (rows, 39)
        hint = None
        if self.fusion != "none":
            if posteriorgram is None:
                raise ValueError(f"fusion={self.fusion!r} needs the frame posteriorgram (batch, K, frames, 88)")
            if posteriorgram.shape != (b, k, t, N_PITCHES):
                raise ValueError(f"posteriorgram must be {(b, k, t, N_PITCHES)}, got {tuple(posteriorgram.shape)}")
            hint = self.hint(posteriorgram.reshape(b * k, t, N_PITCHES).to(features.x.dtype))
            hint = F.pad(hint, (0, 0, features.lead, t_pad - t - features.lead))  # (rows, 1, T_pad, 512)

        if self.shared_encoder:
            assert features.bottom is not None, "features() of a shared encoder keep its output"
            skips, bottom = features.skips, _per_row(features.bottom, k)  # (rows, c_{L-1}, T_pad / 2^L, 512 / 2^L)
            if hint is not None:  # the hint at the decoder's input resolution
                bottom = torch.cat([bottom, F.avg_pool2d(hint, 2**self.levels)], dim=1)
        else:  # the paper's layout: everything per instrument, the hint fused at the input
            x = _per_row(features.x, k)  # (rows, 1, T_pad, 512)
            if hint is not None:
                x = x + hint if self.fusion == "sum" else torch.cat([x, hint], dim=1)
            skips, bottom = self._encode(x, cond)

        x = self.centre(bottom, cond)  # (rows, centre, T_pad / 2^L, 512 / 2^L)
        for level in reversed(range(self.levels)):  # (rows, d_level, T_pad / 2^level, 512 / 2^level)
            extra = hint if self.shared_encoder and level == 0 and self.fusion in ("concat", "harmonic") else None
            x = self.decoder[level](x, skips[level], cond, extra)
        logits = self.out(x)  # (rows, 1, T_pad, 512)
        if self.shared_encoder and self.fusion == "sum" and hint is not None:
            logits = logits + hint  # the learned key map adds straight onto the mask logits
        return logits[:, 0, features.lead: features.lead + t].reshape(b, k, t, self.n_bins)

    def masks(
        self, features: SeparatorFeatures, instruments: torch.Tensor, posteriorgram: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Masks in [0, 1], (batch, K, frames, 513): the Nyquist bin takes the mask of the bin below."""
        logits = self.mask_logits(features, instruments, posteriorgram)
        return torch.sigmoid(torch.cat([logits, logits[..., -1:]], dim=-1))

    def reconstruct(self, features: SeparatorFeatures, masks: torch.Tensor) -> torch.Tensor:
        """Masks (batch, K, frames, 513) applied to the mixture STFT (its phase kept), then the
        inverse STFT -> stems (batch, K, samples). Masks of ones give back the mixture."""
        b, k = masks.shape[:2]
        spec = features.spec.unsqueeze(1) * masks  # (B, K, T, 513) complex
        stems = self.stft.inverse(spec.flatten(0, 1), length=features.samples)
        return stems.view(b, k, -1)

    def heads(
        self, features: SeparatorFeatures, instruments: torch.Tensor, posteriorgram: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Features, instrument indices (batch, K) and frame posteriors (batch, K, frames, 88) in
        [0, 1] (None when ``fusion="none"``) -> stems (batch, K, samples)."""
        return self.reconstruct(features, self.masks(features, instruments, posteriorgram))

    def forward(
        self, audio: torch.Tensor, instruments: torch.Tensor, posteriorgram: torch.Tensor | None = None
    ) -> torch.Tensor:
        """audio (batch, samples), instruments (batch, K), posteriorgram (batch, K, frames, 88) or
        None -> stems (batch, K, samples)."""
        return self.heads(self.features(audio), instruments, posteriorgram)
