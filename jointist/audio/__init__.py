"""Audio input/output and spectrogram front-ends."""

from jointist.audio.features import CQT, STFT, LogMel, build_frontend, num_frames
from jointist.audio.io import (
    AudioError,
    AudioFile,
    EmptyAudioError,
    SilentAudioError,
    audio_duration_s,
    check_audio,
    load_audio,
    read_segment,
    resample,
    write_audio,
)

__all__ = [
    "CQT",
    "STFT",
    "AudioError",
    "AudioFile",
    "EmptyAudioError",
    "LogMel",
    "SilentAudioError",
    "audio_duration_s",
    "build_frontend",
    "check_audio",
    "load_audio",
    "num_frames",
    "read_segment",
    "resample",
    "write_audio",
]
