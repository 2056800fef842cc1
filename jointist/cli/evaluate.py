"""``jointist-evaluate``: instrument-wise, piece-wise, flat and multi-instrument F1 of a transcriber."""

from __future__ import annotations

import logging
import sys

import hydra
from omegaconf import DictConfig, OmegaConf

from jointist.cli import CONF_DIR

log = logging.getLogger("jointist.evaluate")


def run(cfg: DictConfig) -> dict:
    from jointist.evaluation import evaluate_split, write_report
    from jointist.pipeline import Transcriber

    transcriber = Transcriber(cfg.ckpt, device=cfg.device, batch_size=cfg.batch_size, progress=False)
    instruments = cfg.instruments if isinstance(cfg.instruments, str) else list(cfg.instruments)
    report, _ = evaluate_split(
        transcriber, cfg.data_root, cfg.split, instruments=instruments, max_tracks=cfg.max_tracks, progress=cfg.progress
    )
    meta = {"config": OmegaConf.to_container(cfg, resolve=True), "model_file": str(transcriber.model_path)}
    paths = write_report(report, cfg.out, meta=meta)
    print(report.to_markdown())
    log.info("wrote %s", ", ".join(str(p) for p in paths.values()))
    return {"report": report, "paths": paths}


@hydra.main(config_path=CONF_DIR, config_name="evaluate", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from jointist.data.slakh import DatasetError
    from jointist.models.serialize import CheckpointError

    try:
        run(cfg)
    except (DatasetError, CheckpointError, FileNotFoundError) as err:
        log.error("%s", err)
        sys.exit(2)


if __name__ == "__main__":
    main()
