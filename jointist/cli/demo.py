"""``jointist-demo``: render a demo song, transcribe it, write MIDI and piano rolls, print its scores."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from jointist.cli import CONFIG_PATH

log = logging.getLogger("jointist.demo")


def run(cfg: DictConfig) -> dict:
    from jointist.audio.io import load_audio
    from jointist.data.slakh import load_index
    from jointist.data.synthetic import CorpusSpec, render_corpus
    from jointist.export import write_outputs
    from jointist.instruments import INSTRUMENTS
    from jointist.metrics import evaluate_piece, summarise
    from jointist.pipeline import Recognizer, Transcriber

    out = Path(cfg.out)
    spec = CorpusSpec(num_tracks=1, duration_s=float(cfg.duration_s), seed=cfg.seed, splits={"demo": 1.0},
                      soundfonts={"demo": [cfg.soundfont]})
    render_corpus(out / "song", spec, workers=1, overwrite=True, progress=False)
    track = load_index(out / "song", "demo")[0]
    ref = track.notes_by_class()
    log.info("demo song %s: %.0f s, instruments: %s", track.track_id, track.duration_s,
             ", ".join(INSTRUMENTS[c].name for c in sorted(ref)))

    # what instruments=auto would choose, next to the truth (the shipped recognizer, or the model file's)
    recognizer = Recognizer(cfg.get("recognizer") or _recognizer_of(cfg.ckpt), device=cfg.device)
    recognized = recognizer.recognize(load_audio(track.mix_path))
    hits = len(set(recognized) & set(ref))
    names = ", ".join(f"{INSTRUMENTS[c].name} {p:.2f}" for c, p in recognized.items()) or "nothing"
    print(f"recognized instruments: {names}")
    print(f"recognition against the song's {len(ref)} instruments: {hits} right, {len(recognized) - hits} extra, "
          f"{len(ref) - hits} missed (precision {hits / max(len(recognized), 1):.2f}, recall {hits / max(len(ref), 1):.2f})")
    transcriber = Transcriber(cfg.ckpt, device=cfg.device, progress=cfg.progress, separator=cfg.get("separator"))
    if cfg.instruments == "gt":
        instruments: str | list = sorted(ref)
    else:
        instruments = cfg.instruments if isinstance(cfg.instruments, str) else list(cfg.instruments)
    separate = bool(cfg.get("separate"))
    result = transcriber.transcribe_file(track.mix_path, instruments=instruments, separate=separate,
                                         stems_dir=out / "stems" if separate else None)
    written = write_outputs(result, out, name="demo", progress=bool(cfg.progress))
    report = summarise([evaluate_piece(track.track_id, ref, result.notes())])
    print(report.to_markdown())
    separation = None
    if separate:  # whole-track SDR per instrument (museval's BSS Eval is left to jointist-evaluate: slow)
        from jointist.evaluation import reference_stems
        from jointist.metrics import evaluate_separation, summarise_separation

        mix = load_audio(track.mix_path)
        estimates = {t.instrument.index: load_audio(t.stem_path) for t in result.tracks if t.stem_path is not None}
        separation = summarise_separation([evaluate_separation(
            track.track_id, reference_stems(track, num_samples=len(mix)), estimates, mix, bss_eval=False)])
        print(separation.to_markdown())
    log.info("mixture: %s", track.mix_path)
    log.info("wrote %s", ", ".join(str(p) for p in written.values()))
    return {"report": report, "written": written, "separation": separation, "recognized": recognized}


def _recognizer_of(ckpt: str | None) -> str | None:
    """The model file's recognizer when it has one, else None (the shipped recognizer)."""
    if ckpt is None:
        return None
    from jointist.models.serialize import model_roles

    return ckpt if "recognizer" in model_roles(ckpt) else None


@hydra.main(config_path=CONFIG_PATH, config_name="demo", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from jointist.models.serialize import CheckpointError

    try:
        run(cfg)
    except CheckpointError as err:
        log.error("%s", err)
        sys.exit(2)


if __name__ == "__main__":
    main()
