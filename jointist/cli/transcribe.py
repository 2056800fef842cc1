"""``jointist-transcribe``: transcribe a recording into multitrack MIDI, piano rolls and JSON."""

from __future__ import annotations

import dataclasses
import logging
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from jointist.cli import CONF_DIR

log = logging.getLogger("jointist.transcribe")


def run(cfg: DictConfig) -> dict[str, Path]:
    from jointist.pipeline import Transcriber, save_outputs

    transcriber = Transcriber(
        cfg.ckpt, device=cfg.device, batch_size=cfg.batch_size, instruments_per_pass=cfg.instruments_per_pass,
        window_s=cfg.window_s, hop_s=cfg.hop_s,
        progress=cfg.progress, recognizer=cfg.recognizer,
    )
    overrides = {k: v for k, v in OmegaConf.to_container(cfg.decode).items() if v is not None}  # type: ignore[union-attr]
    if overrides:
        transcriber.decode = dataclasses.replace(transcriber.decode, **overrides)
    instruments = cfg.instruments if isinstance(cfg.instruments, str) else list(cfg.instruments)
    result = transcriber.transcribe_file(cfg.audio, instruments=instruments)
    written = save_outputs(result, cfg.out, name=Path(cfg.audio).stem, plots=cfg.plots)
    if instruments == "auto":
        log.info("detected instruments: %s",
                 ", ".join(f"{name} (p={p:.2f})" for name, p in result.detected.items()) or "none")
    for track in result.tracks:
        log.info("%-22s %5d notes", track.instrument.name, len(track.notes))
    log.info("wrote %s", ", ".join(str(p) for p in written.values()))
    return written


@hydra.main(config_path=CONF_DIR, config_name="transcribe", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from jointist.audio.io import AudioError
    from jointist.instruments import UnknownInstrumentError
    from jointist.models.serialize import CheckpointError

    try:
        run(cfg)
    except (AudioError, FileNotFoundError, UnknownInstrumentError, CheckpointError) as err:
        log.error("%s", err)
        sys.exit(2)


if __name__ == "__main__":
    main()
