"""``jointist-transcribe``: transcribe a recording into multitrack MIDI, piano rolls and JSON."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from jointist.cli import CONFIG_PATH

log = logging.getLogger("jointist.transcribe")


def run(cfg: DictConfig) -> dict[str, Path]:
    from jointist.cli.inference import build_transcriber, instrument_request
    from jointist.export import write_outputs

    transcriber = build_transcriber(cfg)
    instruments = instrument_request(cfg.instruments)
    separate = bool(cfg.get("separate"))
    result = transcriber.transcribe_file(cfg.audio, instruments=instruments, separate=separate,
                                         stems_dir=Path(cfg.out) / "stems" if separate else None,
                                         stems_sample_rate=cfg.get("stems_sample_rate", 16000))
    written = write_outputs(result, cfg.out, name=Path(cfg.audio).stem, plots=cfg.plots)
    if instruments == "auto":
        log.info("detected instruments: %s",
                 ", ".join(f"{name} (p={p:.2f})" for name, p in result.detected.items()) or "none")
    for track in result.tracks:
        log.info("%-22s %5d notes", track.instrument.name, len(track.notes))
    log.info("wrote %s", ", ".join(str(p) for p in written.values()))
    return written


@hydra.main(config_path=CONFIG_PATH, config_name="transcribe", version_base="1.3")
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
