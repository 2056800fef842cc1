"""Named defaults shared by the library, the CLI and the tests.

Every audio constant of the project is defined here once: the sample rate all audio is resampled to,
the hop that gives 100 frames per second, the mel and STFT sizes, and the 88-key pitch axis.
"""

from __future__ import annotations

SAMPLE_RATE = 16_000
"""Sample rate (Hz) of every waveform inside jointist."""

HOP_LENGTH = 160
"""Hop (samples) between frames for every spectrogram and piano roll: 16000 / 160 = 100 frames/s."""

FRAMES_PER_SECOND = SAMPLE_RATE // HOP_LENGTH
"""Frame rate of spectrograms and piano rolls (100)."""

MEL_N_FFT = 2048
MEL_N_BINS = 229
MEL_F_MIN = 30.0
MEL_F_MAX = SAMPLE_RATE / 2

STFT_N_FFT = 1024
"""FFT size of the separator's linear STFT (513 frequency bins)."""

MIN_MIDI = 21
"""Lowest pitch of the roll axis: A0."""
MAX_MIDI = 108
"""Highest pitch of the roll axis: C8."""
N_PITCHES = MAX_MIDI - MIN_MIDI + 1
"""88 keys."""

SEGMENT_S = 10.0
"""Length of a training / inference window in seconds."""

HOP_S = 9.0
"""Distance between the starts of consecutive inference windows (10 s windows overlap by 1 s)."""

LOG_EPS = 1e-5
"""Floor added before the log of a spectrogram."""
