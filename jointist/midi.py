"""MIDI files in and out: the one module of the package that reads or writes them (pretty_midi underneath).

One writer core and one reader core, with thin functions on top:

- :func:`build_midi` turns :class:`MidiTrack` s (program, drum flag, name, notes) into a
  ``PrettyMIDI`` at 960 ticks per beat; :func:`save_midi` writes one atomically (through
  :mod:`jointist.atomic`, so a killed process never leaves half a file), each track on a channel of
  its own (:func:`assign_channels`).
  :func:`write_midi` writes notes per instrument class, one track per class with its representative
  GM program (transcription output); :func:`write_song_midi` writes a composed song's stems with
  their own GM programs (the synthetic corpus).
- :func:`read_tracks` reads every track of a file as a :class:`MidiTrack`;
  :func:`read_midi` merges them per instrument class, :func:`read_midi_notes` into one array.

Channels and ports: General MIDI has 16 channels, channel 10 (9 counted from 0) being the drum kit,
and a channel plays one program at a time. Track ``n`` of a file (in file order, drums counted) gets
slot ``n``: pitched tracks channel ``[0..8, 10..15][n % 15]``, drum tracks channel 9, and all of them
MIDI port ``n // 15``. So no two pitched tracks share a (port, channel), and a file of up to 15
tracks uses one port and is byte for byte what pretty_midi writes. Beyond 15 tracks (``instruments=all``
writes 39) each track also starts with a *MIDI port* meta-event (``FF 21 01 pp``) naming its port:
a player or DAW that honours it (most multi-port synths and DAWs do) plays every track with its own
program; one that ignores it folds the ports onto 16 channels, which no file could avoid with more
than 15 programs. The alternative, one program change per note on a shared channel, would cut the
notes still sounding on it and was rejected.

pretty_midi is imported only when a file is built or read, so importing this module is cheap.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from jointist.atomic import atomic_path
from jointist.instruments import Instrument, by_index, by_program
from jointist.notes import NoteArray

if TYPE_CHECKING:
    import pretty_midi

__all__ = [
    "CHANNELS_PER_PORT",
    "DRUM_CHANNEL",
    "MIDI_RESOLUTION",
    "MidiReadError",
    "MidiTrack",
    "assign_channels",
    "build_midi",
    "gm_track_name",
    "read_midi",
    "read_midi_notes",
    "read_tracks",
    "save_midi",
    "write_midi",
    "write_song_midi",
]

MIDI_RESOLUTION = 960
"""Ticks per beat of every MIDI file written; the synthetic corpus snaps note times to this grid."""

DRUM_CHANNEL = 9
"""The General MIDI drum channel (channel 10, counted from 0)."""

PITCHED_CHANNELS = tuple(c for c in range(16) if c != DRUM_CHANNEL)
CHANNELS_PER_PORT = len(PITCHED_CHANNELS)
"""Pitched tracks one MIDI port holds (15: its 16 channels less the drum channel)."""

WRITE_MIN_DURATION_S = 1e-3
""":func:`write_midi` lengthens shorter notes to this, so no note_off lands on its own note_on."""


class MidiReadError(ValueError):
    """A MIDI file that cannot be read (missing, corrupt, not MIDI); the message names the file."""


@dataclass(frozen=True)
class MidiTrack:
    """One track of a MIDI file: 0-based GM program (0 for drums), drum flag (channel 10), name, notes."""

    program: int
    is_drum: bool
    name: str
    notes: NoteArray


class StemLike(Protocol):
    """What :func:`write_song_midi` needs of a stem (:class:`jointist.data.composer.Stem` is one)."""

    @property
    def program(self) -> int: ...

    @property
    def is_drum(self) -> bool: ...

    @property
    def notes(self) -> NoteArray: ...


def gm_track_name(program: int, *, is_drum: bool) -> str:
    """The GM name of a program (``"Acoustic Grand Piano"``), or ``"Drums"`` for the drum kit."""
    import pretty_midi

    return "Drums" if is_drum else pretty_midi.program_to_instrument_name(program)


# -- writing ------------------------------------------------------------------------------------


def build_midi(
    tracks: Iterable[MidiTrack], *, tempo_bpm: float = 120.0, min_duration_s: float | None = None
) -> pretty_midi.PrettyMIDI:
    """A ``PrettyMIDI`` (960 ticks per beat, one tempo) with one instrument per track, in the order given.

    Args:
        min_duration_s: when set, a note shorter than this is lengthened to it (its offset moved).
    """
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(resolution=MIDI_RESOLUTION, initial_tempo=float(tempo_bpm))
    for track in tracks:
        inst = pretty_midi.Instrument(program=int(track.program), is_drum=bool(track.is_drum), name=track.name)
        notes = track.notes
        ends = notes.offset_s if min_duration_s is None else [max(b, a + min_duration_s) for a, b in zip(notes.onset_s, notes.offset_s)]
        inst.notes = [
            pretty_midi.Note(velocity=int(v), pitch=int(p), start=float(a), end=float(b))
            for a, b, p, v in zip(notes.onset_s, ends, notes.pitch, notes.velocity)
        ]
        pm.instruments.append(inst)
    return pm


def assign_channels(is_drum: Sequence[bool]) -> list[tuple[int, int]]:
    """The (port, channel) of each track, in file order: track ``n`` goes to port ``n // 15``, on the
    drum channel 9 if it is a drum track, else on channel ``[0..8, 10..15][n % 15]``.

    Up to 15 tracks this is pretty_midi's own assignment (all on port 0).
    """
    return [(n // CHANNELS_PER_PORT, DRUM_CHANNEL if drum else PITCHED_CHANNELS[n % CHANNELS_PER_PORT])
            for n, drum in enumerate(is_drum)]


def _midi_bytes(pm: pretty_midi.PrettyMIDI) -> bytes:
    """The bytes of ``pm`` as a file, with the channels and ports of :func:`assign_channels`."""
    import mido

    buffer = io.BytesIO()
    pm.write(buffer)
    slots = assign_channels([inst.is_drum for inst in pm.instruments])
    if all(port == 0 for port, _ in slots):
        return buffer.getvalue()  # pretty_midi's channels already are ours
    buffer.seek(0)
    midi = mido.MidiFile(file=buffer)
    for track, (port, channel) in zip(midi.tracks[1:], slots):  # track 0 holds the tempo map
        for msg in track:
            if hasattr(msg, "channel"):
                msg.channel = channel
        track.insert(0, mido.MetaMessage("midi_port", port=port, time=0))
    out = io.BytesIO()
    midi.save(file=out)
    return out.getvalue()


def save_midi(pm: pretty_midi.PrettyMIDI, path: str | os.PathLike[str]) -> Path:
    """Write ``pm`` to ``path`` atomically (the folder is created if needed), each track on its own
    (port, channel) as :func:`assign_channels` gives them; ports only beyond 15 tracks."""
    data = _midi_bytes(pm)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_midi(
    tracks: Mapping[int | Instrument, NoteArray], path: str | os.PathLike[str], *, tempo_bpm: float = 120.0
) -> Path:
    """One MIDI track per instrument class with its representative GM program; drums on channel 10.

    Each track plays on a (port, channel) of its own (see :func:`assign_channels`). Written atomically. Classes are written in index order so files are reproducible; notes shorter
    than 1 ms are lengthened to 1 ms.
    """
    items = sorted((((by_index(k) if isinstance(k, int) else k), v) for k, v in tracks.items()), key=lambda kv: kv[0].index)
    parts = [MidiTrack(inst.program, inst.is_drum, inst.name, notes) for inst, notes in items]
    return save_midi(build_midi(parts, tempo_bpm=tempo_bpm, min_duration_s=WRITE_MIN_DURATION_S), path)


def write_song_midi(stems: Sequence[StemLike], *, tempo_bpm: float, path: Path | None = None) -> pretty_midi.PrettyMIDI:
    """A PrettyMIDI with one instrument per stem (drums flagged, program 0), written to ``path`` if given.

    Tracks are named by their GM program (``"Drums"`` for the kit), as Slakh2100 names them.
    """
    pm = build_midi(
        [
            MidiTrack(0 if s.is_drum else s.program, s.is_drum, gm_track_name(s.program, is_drum=s.is_drum), s.notes)
            for s in stems
        ],
        tempo_bpm=tempo_bpm,
    )
    if path is not None:
        save_midi(pm, path)
    return pm


# -- reading ------------------------------------------------------------------------------------


def read_tracks(path: str | os.PathLike[str]) -> list[MidiTrack]:
    """Every instrument track of a MIDI file, in file order, notes sorted by onset then pitch.

    Raises:
        MidiReadError: the file is missing or not a readable MIDI file.
    """
    import pretty_midi

    try:
        pm = pretty_midi.PrettyMIDI(str(path))
    except Exception as err:  # pretty_midi/mido raise many types for corrupt files
        raise MidiReadError(f"cannot read MIDI file {path}: {err}") from err
    return [
        MidiTrack(
            inst.program, inst.is_drum, inst.name,
            NoteArray.from_arrays(
                [n.start for n in inst.notes], [n.end for n in inst.notes], [n.pitch for n in inst.notes],
                [n.velocity for n in inst.notes],
            ),
        )
        for inst in pm.instruments
    ]


def read_midi(path: str | os.PathLike[str]) -> dict[int, NoteArray]:
    """Notes per instrument class from a MIDI file (tracks of one class are merged), classes in index order."""
    parts: dict[int, list[NoteArray]] = {}
    for track in read_tracks(path):
        parts.setdefault(by_program(track.program, is_drum=track.is_drum).index, []).append(track.notes)
    return {c: NoteArray.concatenate(ns) for c, ns in sorted(parts.items())}


def read_midi_notes(path: str | os.PathLike[str]) -> NoteArray:
    """All notes of a MIDI file (every instrument in it) as one :class:`NoteArray`."""
    return NoteArray.concatenate([t.notes for t in read_tracks(path)])
