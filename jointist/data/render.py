"""Rendering notes to audio with FluidSynth and General MIDI SoundFonts.

Every stem gets a fresh synthesizer: FluidSynth keeps state across a reset (a stem rendered after
another came out different from the same stem rendered first), and with dynamic sample loading a new synthesizer costs ~20 ms even for
the 148 MB FluidR3 bank, since only the samples of the preset played are read. Audio is read back as 32-bit float (FluidSynth's 16-bit output is dithered with random noise, which
would make rendering non-deterministic).
"""

from __future__ import annotations

import ctypes
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from jointist.constants import SAMPLE_RATE
from jointist.notes import NoteArray

__all__ = [
    "RESERVED_SOUNDFONT_PATTERNS",
    "SOUNDFONT_DIRS",
    "FluidSynthRenderer",
    "ReservedSoundFontError",
    "resolve_soundfont",
]

log = logging.getLogger(__name__)

SOUNDFONT_DIRS: tuple[str, ...] = ("/usr/share/sounds/sf2", "/usr/share/sounds/sf3", "/usr/share/soundfonts")
"""Where SoundFonts named without a folder are looked for (after ``$JOINTIST_SOUNDFONT_PATH``)."""

RESERVED_SOUNDFONT_PATTERNS: tuple[str, ...] = ("musescore",)
"""SoundFonts reserved for the project's final evaluation: never used to make training data."""

DRUM_CHANNEL = 9


class ReservedSoundFontError(ValueError):
    """The SoundFont is reserved for final evaluation and must not be used to make data."""


def resolve_soundfont(name: str | os.PathLike[str]) -> Path:
    """Find a SoundFont by path or by file name in the standard folders.

    Raises:
        ReservedSoundFontError: a MuseScore General SoundFont (reserved for evaluation).
        FileNotFoundError: not found; the message lists the folders searched.
    """
    path = Path(name).expanduser()
    if any(pattern in path.name.lower() for pattern in RESERVED_SOUNDFONT_PATTERNS):
        raise ReservedSoundFontError(
            f"{path.name} is reserved for jointist's final evaluation and must not be used to render data"
        )
    if path.is_file():
        return path.resolve()
    extra = [d for d in os.environ.get("JOINTIST_SOUNDFONT_PATH", "").split(os.pathsep) if d]
    searched = [*extra, *SOUNDFONT_DIRS]
    for folder in searched:
        candidate = Path(folder) / path.name
        if candidate.is_file():
            if any(pattern in candidate.resolve().name.lower() for pattern in RESERVED_SOUNDFONT_PATTERNS):
                raise ReservedSoundFontError(f"{candidate} links to a SoundFont reserved for evaluation")
            return candidate.resolve()
    raise FileNotFoundError(
        f"SoundFont {name!s} not found (searched {', '.join(searched)}); on Debian install it with "
        "`apt-get install fluid-soundfont-gm timgm6mb-soundfont csound-soundfont`, or set JOINTIST_SOUNDFONT_PATH"
    )


class FluidSynthRenderer:
    """Renders one instrument's notes at a time to mono float32 audio.

    Args:
        sample_rate: output rate in Hz.
        gain: FluidSynth master gain (float output does not clip, so this only sets the level).
        reverb: keep FluidSynth's default reverb and chorus on (like a mixed stem) or dry.
    """

    def __init__(self, *, sample_rate: int = SAMPLE_RATE, gain: float = 0.5, reverb: bool = True) -> None:
        try:
            import fluidsynth
        except (ImportError, OSError) as err:  # OSError: libfluidsynth missing
            raise RuntimeError(
                "FluidSynth is not available: `pip install pyfluidsynth` and `apt-get install libfluidsynth3`"
            ) from err
        self._fluidsynth = fluidsynth
        self._write_float = fluidsynth._fl.fluid_synth_write_float
        self._write_float.argtypes = [ctypes.c_void_p, ctypes.c_int] + [ctypes.c_void_p, ctypes.c_int, ctypes.c_int] * 2
        self._write_float.restype = ctypes.c_int
        self._set_gen = fluidsynth._fl.fluid_synth_set_gen
        self._set_gen.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_float]
        self._set_gen.restype = ctypes.c_int
        self.sample_rate = sample_rate
        self.gain = gain
        self.reverb = reverb

    def _new_synth(self, soundfont: Path) -> tuple[object, int]:
        synth = self._fluidsynth.Synth(
            gain=self.gain, samplerate=self.sample_rate,
            **{"synth.polyphony": 256, "synth.reverb.active": int(self.reverb),
               "synth.chorus.active": int(self.reverb), "synth.cpu-cores": 1,
               "synth.dynamic-sample-loading": 1},
        )
        sfid = synth.sfload(str(soundfont))
        if sfid < 0:
            synth.delete()
            raise RuntimeError(f"FluidSynth could not load the SoundFont {soundfont}")
        return synth, sfid

    def has_preset(self, soundfont: Path, *, program: int, is_drum: bool) -> bool:
        """Whether the SoundFont has the GM preset (bank 128 for drums)."""
        synth, sfid = self._new_synth(soundfont)
        try:
            return self._select(synth, sfid, program=program, is_drum=is_drum)
        finally:
            synth.delete()  # type: ignore[attr-defined]

    @staticmethod
    def _select(synth: object, sfid: int, *, program: int, is_drum: bool) -> bool:
        channel = DRUM_CHANNEL if is_drum else 0
        return synth.program_select(channel, sfid, 128 if is_drum else 0, 0 if is_drum else program) == 0  # type: ignore[attr-defined]

    def _render(self, synth: object, num_samples: int) -> np.ndarray:
        left = np.zeros(num_samples, np.float32)
        right = np.zeros(num_samples, np.float32)
        if num_samples > 0:
            self._write_float(
                synth.synth, num_samples,  # type: ignore[attr-defined]
                left.ctypes.data, 0, 1, right.ctypes.data, 0, 1,
            )
        return (left + right) * 0.5

    def render(
        self, notes: NoteArray, *, program: int, is_drum: bool, soundfont: Path, duration_s: float,
        generators: Mapping[int, float] | None = None,
    ) -> np.ndarray | None:
        """Render notes (seconds from the start) to ``round(duration_s * sample_rate)`` mono samples.

        Returns None when the SoundFont has no such preset. Events fall on FluidSynth's 64-sample
        blocks (4 ms at 16 kHz), the resolution of any FluidSynth rendering.

        Args:
            generators: SoundFont generator number -> an offset added to the preset's own value on
                the stem's channel (filter cutoff in cents, envelope times in timecents, ...; see
                :data:`jointist.data.timbre.GENERATORS`).
        """
        synth, sfid = self._new_synth(soundfont)
        channel = DRUM_CHANNEL if is_drum else 0
        try:
            if not self._select(synth, sfid, program=program, is_drum=is_drum):
                return None
            for number, value in (generators or {}).items():
                if self._set_gen(synth.synth, channel, int(number), float(value)) != 0:  # type: ignore[attr-defined]
                    raise ValueError(f"FluidSynth refused generator {number} = {value}")
            return self._play(synth, notes, channel=channel, duration_s=duration_s)
        finally:
            synth.delete()  # type: ignore[attr-defined]

    def _play(self, synth: object, notes: NoteArray, *, channel: int, duration_s: float) -> np.ndarray:
        total = int(round(duration_s * self.sample_rate))
        # Events as (sample, kind, pitch, velocity); kind 0 = note-off sorts before note-on at one sample.
        on = np.round(notes.onset_s * self.sample_rate).astype(np.int64)
        off = np.round(notes.offset_s * self.sample_rate).astype(np.int64)
        events = sorted(
            [(int(s), 1, int(p), int(v)) for s, p, v in zip(on, notes.pitch, notes.velocity)]
            + [(int(s), 0, int(p), 0) for s, p in zip(off, notes.pitch)]
        )
        pieces: list[np.ndarray] = []
        cursor = 0
        for sample, kind, pitch, velocity in events:
            if sample >= total:
                break
            sample = max(sample, 0)
            if sample > cursor:
                pieces.append(self._render(synth, sample - cursor))
                cursor = sample
            if kind == 1:
                synth.noteon(channel, pitch, max(1, min(127, velocity)))  # type: ignore[attr-defined]
            else:
                synth.noteoff(channel, pitch)  # type: ignore[attr-defined]
        pieces.append(self._render(synth, total - cursor))
        return np.concatenate(pieces)[:total]


def available_soundfonts(names: Sequence[str]) -> list[Path]:
    """Resolve several SoundFonts, failing on the first that is missing or reserved."""
    return [resolve_soundfont(name) for name in names]
