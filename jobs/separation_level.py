"""The shipped separator's SDR at the training level and at quieter levels, heard as given.

Each song of the split (true instruments, transcription as the separator's condition) is scaled by
each gain and separated with ``input_peak=None``, so the models hear that level; the reference
stems are scaled by the same gain. Gain 0 is what the default (songs scaled to peak 0.8) gives on
this corpus, whose mixtures peak at 0.8.

    python jobs/separation_level.py data/styles --split test --max-tracks 8 --gains 0 -15
"""

from __future__ import annotations

import argparse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", help="a corpus root in Slakh2100's layout")
    parser.add_argument("--split", default="test")
    parser.add_argument("--max-tracks", type=int, default=8, help="songs spread evenly over the split")
    parser.add_argument("--gains", type=float, nargs="+", default=[0.0, -15.0], help="dB")
    parser.add_argument("--ckpt", default=None, help="a model file (default: the shipped system)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import numpy as np
    import torch

    from jointist.audio.io import load_audio
    from jointist.data.slakh import load_index
    from jointist.evaluation import reference_stems
    from jointist.metrics import whole_track_sdr_db
    from jointist.pipeline import Transcriber

    torch.set_num_threads(args.threads)
    transcriber = Transcriber(args.ckpt, progress=False, input_peak=None)
    tracks = load_index(args.corpus, args.split)
    tracks = tracks[:: max(1, len(tracks) // args.max_tracks)][: args.max_tracks]
    sdr: dict[float, list[float]] = {g: [] for g in args.gains}
    for track in tracks:
        mix = load_audio(track.mix_path)
        refs = reference_stems(track, num_samples=len(mix))
        classes = sorted(refs)
        for gain in args.gains:
            scale = np.float32(10.0 ** (gain / 20.0))
            result = transcriber.transcribe_audio(mix * scale, instruments=classes, separate=True)
            sdr[gain].append(float(np.mean([whole_track_sdr_db(refs[t.instrument.index] * scale, t.stem)
                                            for t in result.tracks])))
        print(f"{track.track_id} ({len(classes)} instruments): "
              + ", ".join(f"{g:+.0f} dB {sdr[g][-1]:.2f}" for g in args.gains), flush=True)
    print(f"\nmean SDR (dB) of {len(tracks)} songs of {args.corpus} {args.split}, heard as given:")
    for gain in args.gains:
        print(f"  gain {gain:+.0f} dB: {np.mean(sdr[gain]):.2f}")


if __name__ == "__main__":
    main()
