"""Carry a SoundFont losslessly in less space: its sample chunk as FLAC, the rest as it is.

A General MIDI SoundFont is mostly 16-bit PCM (the ``smpl`` chunk). FLAC halves it, so FluidR3_GM
(148 MB) travels as about 75 MB that can be split across calls to a borrowed GPU machine, which has
no package index and no SoundFonts. ``unpack`` rebuilds the original file byte for byte and checks
its SHA-256.

    python jobs/gpu/sfpack.py pack /usr/share/sounds/sf2/FluidR3_GM.sf2 OUT_DIR [--parts 2]
    python jobs/gpu/sfpack.py unpack OUT_DIR/FluidR3_GM.sf2.json PART_DIR... --to SF_DIR
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import struct
import sys
from pathlib import Path

import numpy as np
import soundfile as sf


def _smpl_span(data: bytes) -> tuple[int, int]:
    """Byte offset and size of the ``smpl`` chunk's payload (16-bit samples) in a RIFF sfbk file."""
    if data[:4] != b"RIFF" or data[8:12] != b"sfbk":
        raise ValueError("not a SoundFont 2 file (no RIFF sfbk header)")
    pos = 12
    while pos + 8 <= len(data):
        tag, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if tag == b"LIST":
            kind = data[pos + 8 : pos + 12]
            if kind == b"sdta":
                sub = pos + 12
                end = pos + 8 + size
                while sub + 8 <= end:
                    stag, ssize = data[sub : sub + 4], struct.unpack("<I", data[sub + 4 : sub + 8])[0]
                    if stag == b"smpl":
                        return sub + 8, ssize
                    sub += 8 + ssize + (ssize & 1)
        pos += 8 + size + (size & 1)
    raise ValueError("SoundFont has no smpl chunk")


def pack(soundfont: Path, out_dir: Path, parts: int) -> None:
    data = soundfont.read_bytes()
    start, size = _smpl_span(data)
    pcm = np.frombuffer(data[start : start + size - (size & 1)], dtype="<i2")
    buf = io.BytesIO()
    sf.write(buf, pcm, 44100, format="FLAC", subtype="PCM_16")
    flac = buf.getvalue()
    out_dir.mkdir(parents=True, exist_ok=True)
    step = -(-len(flac) // parts)
    names = []
    for k in range(parts):
        name = f"{soundfont.name}.flac.{k}"
        (out_dir / name).write_bytes(flac[k * step : (k + 1) * step])
        names.append(name)
    manifest = {
        "name": soundfont.name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "head": data[:start].hex(),
        "tail": data[start + len(pcm) * 2 :].hex(),
        "parts": names,
    }
    (out_dir / f"{soundfont.name}.json").write_text(json.dumps(manifest))
    print(f"{soundfont.name}: {len(data) / 1e6:.1f} MB -> {len(flac) / 1e6:.1f} MB FLAC in {parts} part(s)")


def unpack(manifest_path: Path, part_dirs: list[Path], to: Path) -> Path:
    manifest = json.loads(manifest_path.read_text())
    chunks = []
    for name in manifest["parts"]:
        found = [d / name for d in part_dirs if (d / name).is_file()]
        if not found:
            raise FileNotFoundError(f"part {name} of {manifest['name']} is in none of {part_dirs}")
        chunks.append(found[0].read_bytes())
    pcm, _ = sf.read(io.BytesIO(b"".join(chunks)), dtype="int16")
    data = bytes.fromhex(manifest["head"]) + pcm.astype("<i2").tobytes() + bytes.fromhex(manifest["tail"])
    if hashlib.sha256(data).hexdigest() != manifest["sha256"]:
        raise ValueError(f"{manifest['name']}: rebuilt file does not match its SHA-256")
    to.mkdir(parents=True, exist_ok=True)
    target = to / manifest["name"]
    tmp = target.with_suffix(".partial")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack")
    p.add_argument("soundfont", type=Path)
    p.add_argument("out_dir", type=Path)
    p.add_argument("--parts", type=int, default=1)
    u = sub.add_parser("unpack")
    u.add_argument("manifest", type=Path)
    u.add_argument("part_dirs", type=Path, nargs="+")
    u.add_argument("--to", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "pack":
        pack(args.soundfont, args.out_dir, args.parts)
    else:
        print(unpack(args.manifest, args.part_dirs, args.to))
    return 0


if __name__ == "__main__":
    sys.exit(main())
