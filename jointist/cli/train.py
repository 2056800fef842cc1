"""``jointist-train``: compose the configuration, instantiate, fit, export the model file."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import hydra
import torch
from omegaconf import DictConfig, OmegaConf

from jointist.cli import CONF_DIR

log = logging.getLogger("jointist.train")


def train(cfg: DictConfig) -> dict[str, Any]:
    """Fit the configured task; returns the final metrics and the paths written."""
    import pytorch_lightning as pl
    from hydra.utils import instantiate

    from jointist.models.serialize import load_model, save_model

    pl.seed_everything(cfg.seed, workers=True)
    plain = {"_convert_": "object"}  # library classes receive dicts and lists, never a DictConfig
    datamodule = instantiate(cfg.data, **plain)
    model = instantiate(cfg.model, **plain)
    task = instantiate(cfg.task, model=model, **plain)
    logger = instantiate(cfg.logger, **plain) if cfg.get("logger") else False
    callbacks = [instantiate(c, **plain) for c in (cfg.get("callbacks") or {}).values()]
    trainer = instantiate(cfg.trainer, logger=logger, callbacks=callbacks, **plain)
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    trainer.fit(task, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))

    result: dict[str, Any] = {"metrics": {k: float(v) for k, v in trainer.callback_metrics.items()}}
    checkpoint = next((c for c in trainer.checkpoint_callbacks if getattr(c, "best_model_path", "")), None)
    best = getattr(checkpoint, "best_model_path", "") if checkpoint is not None else ""
    if cfg.get("export_model") and not trainer.fast_dev_run:
        source, extra = load_model(best) if best else (task.model, task.export_extra())
        # the steps behind the exported weights: the best checkpoint may be older than the last step
        steps = int(torch.load(best, map_location="cpu", weights_only=False)["global_step"]) if best else trainer.global_step
        extra = {**extra, "trained_steps": steps, "source": best or "final"}
        result["model_file"] = str(save_model(source, output_dir / cfg.export_model, extra=extra))
        log.info("model file: %s", result["model_file"])
    result["best_checkpoint"] = best
    return result


@hydra.main(config_path=CONF_DIR, config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    result = train(cfg)
    for key, value in sorted(result["metrics"].items()):
        log.info("%s = %.4f", key, value)


if __name__ == "__main__":
    main()
