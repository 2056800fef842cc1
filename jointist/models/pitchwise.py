"""A pitch-wise onsets-and-frames transcriber conditioned on an instrument through FiLM (the default).

The same onsets-and-frames decomposition as :mod:`jointist.models.transcriber` (an onset branch, a
frame branch, and a frame refinement that sees the onset posteriors), laid out so that every key is
treated alike and the cost that repeats per instrument is small::

    audio (B, samples) -> harmonic spectrogram (B, H, T, 264)             computed once per clip
      -> shared trunk: conv blocks along time x log-frequency, a stride-3 conv down to one bin
         per key, dilated temporal convs, a learned per-key embedding   (B, C, T, 88)
      -> onset branch: 1x1 conv -> BatchNorm (once per clip), repeated per instrument (B*K, D, T, 88)
         -> FiLM from the condition one-hot (B*K, 39) -> ReLU -> [1x1 conv -> BatchNorm -> FiLM -> ReLU]
         x (n - 1) -> 1x1 conv                                                  onset logits
      -> frame branch: same layout -> hidden (B*K, D, T, 88)
      -> refinement: concat(hidden, sigmoid(onset).detach()) -> 1x1 conv -> temporal conv
    outputs (B, K, T, 88) onset and frame logits (and velocity and offset logits with those heads)

Why this layout: on a harmonic spectrogram a note's partials line up in one column whatever its
pitch, so convolutions along frequency learn one detector for all 88 keys (a pitch-equivariant
design, as in Bittner et al.'s basic-pitch) instead of the 88 separate output units of a flattened
linear layer. That learns from far less data. Everything with a receptive field (the spectro-temporal
convolutions) runs once per clip; the instrument-dependent part is per-key 1x1 convolutions that FiLM
switches between instruments, so transcribing K instruments costs little more than transcribing one.
The per-branch biGRU of the original model is replaced by dilated temporal convolutions in the
shared trunk and the refinement: the GRUs would run per key and per instrument, which a CPU cannot
afford. The trunk also predicts instrument-agnostic onsets and frames (every pitched note of the
mix), an auxiliary target that gives every training clip a dense signal (:meth:`agnostic`).
"""

from __future__ import annotations

import torch
from torch import nn

from jointist.audio.features import HarmonicSpectrogram
from jointist.constants import N_PITCHES
from jointist.instruments import NUM_CLASSES
from jointist.models.base import JointistModel, TranscriberOutput
from jointist.models.blocks import ConvBlock, init_prior
from jointist.models.film import FiLM

__all__ = ["PitchwiseTranscriber"]


class _TemporalBlock(nn.Module):
    """Residual dilated convolution along time, one key at a time: (B, C, T, F) -> same shape."""

    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, (3, 1), padding=(dilation, 0), dilation=(dilation, 1), bias=False)
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.bn(self.conv(x)))


class _Branch(nn.Module):
    """Per-key layers conditioned through FiLM.

    The first 1x1 convolution and its batch norm do not depend on the instrument, so they run once
    per clip (:meth:`shared`); each instrument row then pays only for FiLM, the later 1x1 layers and
    elementwise work. (rows, C, T, 88), cond (rows, 39) -> (rows, D, T, 88).

    With ``norm=False`` the layers have biases instead of batch norms: every output cell is then a
    function of the features of its own cell only, whatever else is in the batch, so the branch can
    be trained on cells sampled from many clips (``jobs/offset_head.py``) as well as on whole rolls.
    """

    def __init__(self, in_channels: int, channels: int, *, cond_dim: int, film: str, layers: int, norm: bool = True) -> None:
        super().__init__()
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        self.films = nn.ModuleList()
        width = in_channels
        for _ in range(layers):
            self.convs.append(nn.Conv2d(width, channels, 1, bias=not norm))
            self.norms.append(nn.BatchNorm2d(channels) if norm else nn.Identity())
            self.films.append(FiLM(channels, cond_dim, mode=film, feature_dim=1))
            width = channels

    def shared(self, features: torch.Tensor) -> torch.Tensor:
        """The unconditioned first layer, once per clip: (B, C, T, 88) -> (B, D, T, 88)."""
        return self.norms[0](self.convs[0](features))

    def forward(self, shared: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """shared: :meth:`shared` output repeated per row; cond: (rows, cond_dim)."""
        x = torch.relu(self.films[0](shared, cond))
        for conv, norm, film in zip(self.convs[1:], self.norms[1:], self.films[1:]):
            x = torch.relu(film(norm(conv(x)), cond))
        return x


class PitchwiseTranscriber(JointistModel):
    """FiLM-conditioned onsets-and-frames transcriber on a harmonic spectrogram, pitch-wise.

    Args:
        n_classes: size of the instrument condition (39).
        harmonics: harmonics stacked by the front-end (0.5 is the sub-octave).
        trunk_channels: channels of the two blocks at 3 bins per key, then of the blocks at one bin per key.
        dilations: dilations of the residual temporal convolutions of the trunk (receptive field
            ``1 + 2 * sum(dilations)`` frames).
        head_channels: width of the per-key conditioned layers.
        film: ``full`` (gamma and beta), ``bias`` (beta only, the original Jointist) or ``none``.
        film_layers: conditioned 1x1 layers per branch.
        refine_dilation: dilation of the refinement's temporal convolution.
        dropout: dropout on the trunk's output features.
        velocity: a velocity head (Onsets and Frames' velocity regression): a 1x1 layer on the
            conditioned onset branch predicting each onset's MIDI velocity / 127.
        offset: an offset head (as Onsets and Frames' second version and Kong et al. have): a third
            conditioned branch predicting the frame at which each note ends. It reads the trunk's
            features only (per key and frame, without batch norm) and changes neither the onsets nor
            the frames, so it can be added to a trained model and trained alone (``task.freeze=
            {transcriber: {until_step: -1, except: [offset_branch, offset_out]}}``, or on sampled
            cells by ``jobs/offset_head.py``); the decoder ends notes at its peaks
            (:attr:`~jointist.postprocess.DecodeConfig.offset_threshold`).
        offset_channels, offset_layers: width and conditioned layers of the offset branch (None: those
            of the other branches, ``head_channels`` and ``film_layers``); each instrument pays for them.
    """

    role = "transcriber"

    def __init__(
        self,
        *,
        n_classes: int = NUM_CLASSES,
        harmonics: tuple[float, ...] | list[float] = (0.5, 1, 2, 3, 4, 5, 6, 7),
        trunk_channels: tuple[int, int] | list[int] = (16, 32),
        dilations: tuple[int, ...] | list[int] = (1, 2, 4, 8),
        head_channels: int = 32,
        film: str = "full",
        film_layers: int = 2,
        refine_dilation: int = 2,
        dropout: float = 0.1,
        velocity: bool = False,
        offset: bool = False,
        offset_channels: int | None = None,
        offset_layers: int | None = None,
    ) -> None:
        super().__init__()
        if len(trunk_channels) != 2:
            raise ValueError(f"trunk_channels must be two widths (3 bins per key, 1 bin per key), got {trunk_channels}")
        if film_layers < 1:
            raise ValueError("film_layers must be at least 1: the instrument enters through them")
        self.n_classes = n_classes
        self.frontend = HarmonicSpectrogram(harmonics=tuple(harmonics), bins_per_semitone=3)
        c_fine, c_key = trunk_channels
        h = len(harmonics)
        self.norm = nn.BatchNorm2d(h)
        self.fine = nn.Sequential(ConvBlock(h, c_fine, kernel=5, convs=1, pool=1), ConvBlock(c_fine, c_fine, convs=1, pool=1))
        # kernel 3, stride 3 over the 3 bins of each key: one output per key, centred on it
        self.to_keys = ConvBlock(c_fine, c_key, stride=(1, 3), padding=(1, 0), convs=1, pool=1)
        self.keys = ConvBlock(c_key, c_key, convs=1, pool=1)
        self.temporal = nn.Sequential(*[_TemporalBlock(c_key, d) for d in dilations])
        self.key_embedding = nn.Parameter(torch.zeros(1, c_key, 1, N_PITCHES))
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.agnostic_out = nn.Conv2d(c_key, 2, 1)
        init_prior(self.agnostic_out)

        self.onset_branch = _Branch(c_key, head_channels, cond_dim=n_classes, film=film, layers=film_layers)
        self.frame_branch = _Branch(c_key, head_channels, cond_dim=n_classes, film=film, layers=film_layers)
        self.onset_out = nn.Conv2d(head_channels, 1, 1)
        self.refine = nn.Sequential(
            nn.Conv2d(head_channels + 1, head_channels, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(head_channels, 1, (3, 1), padding=(refine_dilation, 0), dilation=(refine_dilation, 1)),
        )
        init_prior(self.onset_out)
        init_prior(self.refine[-1])
        self.velocity_out = nn.Conv2d(head_channels, 1, 1) if velocity else None
        c_off = offset_channels or head_channels
        self.offset_branch = (_Branch(c_key, c_off, cond_dim=n_classes, film=film, layers=offset_layers or film_layers, norm=False)
                              if offset else None)
        self.offset_out = nn.Conv2d(c_off, 1, 1) if offset else None
        if self.offset_out is not None:
            init_prior(self.offset_out)

    def features(self, audio: torch.Tensor) -> torch.Tensor:
        """(batch, samples) -> per-clip features (batch, C, T, 88): everything that does not depend
        on the instrument, computed once however many instruments are transcribed."""
        x = self.norm(self.frontend(audio))
        x = self.keys(self.to_keys(self.fine(x)))
        x = self.temporal(x) + self.key_embedding
        return self.dropout(x)

    def agnostic(self, features: torch.Tensor) -> TranscriberOutput:
        """Instrument-agnostic onset and frame logits (batch, T, 88) of every pitched note."""
        logits = self.agnostic_out(features)
        return TranscriberOutput(logits[:, 0], logits[:, 1])

    def heads(self, features: torch.Tensor, instruments: torch.Tensor) -> TranscriberOutput:
        """Per-clip features (B, C, T, 88) and instrument indices (B, K) -> logits (B, K, T, 88)."""
        if instruments.dim() != 2 or instruments.shape[0] != features.shape[0]:
            raise ValueError(f"instruments must be (batch, K) with batch {features.shape[0]}, got {tuple(instruments.shape)}")
        b, k = instruments.shape
        t, f = features.shape[2:]
        cond = nn.functional.one_hot(instruments.reshape(-1).long(), self.n_classes).to(features.dtype)

        def per_row(x: torch.Tensor) -> torch.Tensor:
            return x.unsqueeze(1).expand(b, k, *x.shape[1:]).reshape(b * k, *x.shape[1:])

        onset_hidden = self.onset_branch(per_row(self.onset_branch.shared(features)), cond)
        onset = self.onset_out(onset_hidden)  # (rows, 1, T, 88)
        hidden = self.frame_branch(per_row(self.frame_branch.shared(features)), cond)
        frame = self.refine(torch.cat([hidden, torch.sigmoid(onset).detach()], dim=1))
        velocity = None if self.velocity_out is None else self.velocity_out(onset_hidden).view(b, k, t, f)
        offset = None
        if self.offset_branch is not None and self.offset_out is not None:
            offset_hidden = self.offset_branch(per_row(self.offset_branch.shared(features)), cond)
            offset = self.offset_out(offset_hidden).view(b, k, t, f)
        return TranscriberOutput(onset.view(b, k, t, f), frame.view(b, k, t, f), velocity, offset)

    def forward(self, audio: torch.Tensor, instruments: torch.Tensor) -> TranscriberOutput:
        """audio (batch, samples), instruments (batch, K) class indices -> logits (batch, K, T, 88)."""
        return self.heads(self.features(audio), instruments)
