"""Does a song rendered at another sample rate (44.1 kHz, as most renders and recordings are), read
and resampled to 16 kHz by the loader, transcribe as well as the corpus's own 16 kHz render?

Each chosen test song's stems are rendered again from their MIDI with the same SoundFonts at
``--rate``, summed and scaled to the corpus's peak (0.8), written as float WAV under ``--out``, and
transcribed (true instruments) next to the corpus mixture. Needs FluidSynth.

    python jobs/render_rate_check.py data/styles --split test --max-tracks 12 --rate 44100
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", help="a corpus root written by jointist-synth")
    parser.add_argument("--split", default="test")
    parser.add_argument("--max-tracks", type=int, default=12, help="songs spread evenly over the split")
    parser.add_argument("--rate", type=int, default=44100)
    parser.add_argument("--out", default="render_rate_check")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import numpy as np
    import torch
    import yaml

    from jointist.audio.io import write_audio
    from jointist.data.render import FluidSynthRenderer, resolve_soundfont
    from jointist.data.slakh import load_index
    from jointist.metrics import evaluate_piece, summarise
    from jointist.midi import read_midi_notes
    from jointist.pipeline import Transcriber

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    renderer = FluidSynthRenderer(sample_rate=args.rate)
    transcriber = Transcriber(progress=False)
    tracks = load_index(args.corpus, args.split)
    tracks = tracks[:: max(1, len(tracks) // args.max_tracks)][: args.max_tracks]
    pieces: dict[str, list] = {"corpus (16 kHz render)": [], f"{args.rate} Hz render, resampled": []}
    for track in tracks:
        meta = yaml.safe_load((track.path / "metadata.yaml").read_text())
        waves = [renderer.render(read_midi_notes(track.path / "MIDI" / f"{sid}.mid"), program=stem["program_num"],
                                 is_drum=stem["is_drum"], soundfont=resolve_soundfont(stem["plugin_name"]),
                                 duration_s=track.duration_s)
                 for sid, stem in meta["stems"].items() if stem.get("audio_rendered")]
        mix = np.sum(waves, axis=0)
        path = write_audio(out / f"{track.track_id}.wav", (mix * (0.8 / np.abs(mix).max())).astype(np.float32),
                           sample_rate=args.rate, subtype="FLOAT")
        ref = track.notes_by_class()
        for found, audio in zip(pieces.values(), (track.mix_path, path)):
            result = transcriber.transcribe_file(audio, instruments=sorted(ref))
            found.append(evaluate_piece(track.track_id, ref, {t.instrument.index: t.notes for t in result.tracks},
                                        velocity=False))
        print(f"{track.track_id} done", flush=True)
    print(f"\n{len(tracks)} songs of {args.corpus} {args.split}, true instruments; note F1 onset / onset+offset")
    print("| audio | flat | instrument-wise | multi-instrument |\n|---|---:|---:|---:|")
    for name, found in pieces.items():
        r = summarise(found)
        print(f"| {name} | {r.flat['onset']:.3f} / {r.flat['offset']:.3f} | {r.instrumentwise['onset']:.3f} "
              f"| {r.multi_instrument['onset']:.3f} / {r.multi_instrument['offset']:.3f} |")


if __name__ == "__main__":
    main()
