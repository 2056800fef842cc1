"""How the shipped transcriber's note F1 depends on the level of the recording, with the song scaled
to the training level (``input_peak=0.8``, the default) and as given (``input_peak=None``).

Every mixture of ``jointist-synth`` peaks at 0.8, so the models never heard another level; a user's
recording may peak anywhere (a quiet classical render, a mastered pop song at full scale). Each
song of the split is scaled by each gain and transcribed with its true instruments.

    python jobs/level_sensitivity.py data/styles --split test --max-tracks 10 --gains 0 -10 -20 -30
    python jobs/level_sensitivity.py data/styles --split test --max-tracks 40 --recognizer --skip-transcriber
"""

from __future__ import annotations

import argparse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", help="a corpus root in Slakh2100's layout")
    parser.add_argument("--split", default="test")
    parser.add_argument("--max-tracks", type=int, default=10)
    parser.add_argument("--gains", type=float, nargs="+", default=[0.0, -10.0, -20.0, -30.0], help="dB")
    parser.add_argument("--ckpt", default=None, help="a model file (default: the shipped transcriber)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--recognizer", action="store_true",
                        help="also the shipped recognizer's song-level decisions (instruments=auto) per level")
    parser.add_argument("--skip-transcriber", action="store_true", help="only the recognizer's table")
    args = parser.parse_args()

    import numpy as np
    import torch

    from jointist.audio.io import load_audio
    from jointist.data.slakh import load_index
    from jointist.instruments import INSTRUMENTS
    from jointist.metrics import evaluate_piece, summarise
    from jointist.pipeline import INPUT_PEAK, Transcriber
    from jointist.postprocess import decode_tracks
    from jointist.results import Posteriorgram

    torch.set_num_threads(args.threads)
    modes = {f"scaled to peak {INPUT_PEAK}": INPUT_PEAK, "as given": None}
    transcribers = {name: Transcriber(args.ckpt, progress=False, input_peak=peak) for name, peak in modes.items()}
    tracks = load_index(args.corpus, args.split)[: args.max_tracks]
    if args.recognizer:
        recognizer_table(args, modes, tracks)
    if args.skip_transcriber:
        return
    pieces: dict[tuple[str, float], list] = {(name, g): [] for name in modes for g in args.gains}
    peaks_db: dict[float, list[float]] = {g: [] for g in args.gains}
    for track in tracks:
        ref = track.notes_by_class()
        classes = sorted(ref)
        audio = load_audio(track.mix_path)
        for gain in args.gains:
            scaled = audio * np.float32(10.0 ** (gain / 20.0))
            peaks_db[gain].append(20.0 * float(np.log10(np.abs(scaled).max())))
            for name, transcriber in transcribers.items():
                out = transcriber.all_posteriorgrams(scaled, [INSTRUMENTS[c] for c in classes])
                est = decode_tracks(out["onset"], out["frame"], classes, config=transcriber.decode,
                                    scale=Posteriorgram.SCALE, offsets=out.get("offset"), verifier=transcriber.verifier,
                                    ender=transcriber.ender)
                pieces[(name, gain)].append(evaluate_piece(track.track_id, ref, est, velocity=False))
        print(f"{track.track_id} done", flush=True)
    print(f"\n{len(tracks)} tracks of {args.corpus} {args.split}, true instruments; note F1 onset / onset+offset")
    print("| input | gain | song peak (dBFS, median) | flat | instrument-wise | multi-instrument |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in modes:
        for gain in args.gains:
            r = summarise(pieces[(name, gain)])
            print(f"| {name} | {gain:+.0f} dB | {np.median(peaks_db[gain]):.1f} | {r.flat['onset']:.3f} / {r.flat['offset']:.3f} "
                  f"| {r.instrumentwise['onset']:.3f} | {r.multi_instrument['onset']:.3f} / {r.multi_instrument['offset']:.3f} |")


def recognizer_table(args: argparse.Namespace, modes: dict, tracks: list) -> None:
    """Song-level set F1, precision and recall and song mAP of the shipped recognizer per level."""
    import numpy as np

    from jointist.audio.io import load_audio
    from jointist.evaluation import RecognizedSongs, recognition_reports
    from jointist.instruments import NUM_CLASSES
    from jointist.pipeline import Recognizer

    recognizers = {name: Recognizer(progress=False, input_peak=peak) for name, peak in modes.items()}
    labels = np.zeros((len(tracks), NUM_CLASSES))
    probs: dict[tuple[str, float], list[np.ndarray]] = {(name, g): [] for name in modes for g in args.gains}
    for i, track in enumerate(tracks):
        labels[i, [c for c, n in track.notes_by_class().items() if len(n)]] = 1
        audio = load_audio(track.mix_path)
        for gain in args.gains:
            scaled = audio * np.float32(10.0 ** (gain / 20.0))
            for name, recognizer in recognizers.items():
                probs[(name, gain)].append(recognizer.window_probabilities(scaled))
    print(f"\nthe shipped recognizer on {len(tracks)} tracks of {args.corpus} {args.split}, song level")
    print("| input | gain | set F1 | set precision | set recall | named / true per song | song mAP macro |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, recognizer in recognizers.items():
        for gain in args.gains:
            window_probs = probs[(name, gain)]
            songs = RecognizedSongs([t.track_id for t in tracks], window_probs,
                                    [np.zeros_like(p) for p in window_probs], labels)
            r = recognition_reports(songs, recognizer.decision)["songs"]
            print(f"| {name} | {gain:+.0f} dB | {r.set_f1:.3f} | {r.set_precision:.3f} | {r.set_recall:.3f} "
                  f"| {r.named:.1f} / {r.true:.1f} | {r.map_macro:.3f} |", flush=True)


if __name__ == "__main__":
    main()
