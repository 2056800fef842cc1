"""``jointist-train``: compose the configuration, instantiate, fit, export the model file."""

from __future__ import annotations

import logging
import pickle
import shutil
import sys
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from jointist.cli import CONFIG_PATH

log = logging.getLogger("jointist.train")


def training_data(cfg: DictConfig) -> str:
    """A short, machine-independent description of the training data for the model card."""
    root = cfg.data.get("root")
    return f"{Path(str(root)).name} ({cfg.data._target_.rsplit('.', 1)[-1]})" if root else str(cfg.data._target_)


def build_models(cfg: DictConfig) -> dict[str, Any]:
    """role -> model: every entry of ``cfg.models`` (joint tasks), or the one ``cfg.model``."""
    from hydra.utils import instantiate

    specs = dict(cfg.models) if cfg.get("models") else {"": cfg.model}
    models = {}
    for key, spec in specs.items():
        model = instantiate(spec, _convert_="object")
        if key and key != model.role:
            raise ValueError(f"models.{key} builds a {type(model).__name__}, which plays the role {model.role!r}")
        models[model.role] = model
    return models


def check_data_root(cfg: DictConfig) -> None:
    """The ``data.root`` folder exists (checked before anything is built or written).

    Raises:
        DatasetError: naming the folder.
    """
    from jointist.data.slakh import DatasetError

    root = cfg.data.get("root")
    if root is not None and not Path(str(root)).expanduser().is_dir():
        raise DatasetError(
            f"data root {root} does not exist; render a corpus with `jointist-synth root={root}` or point "
            "data.root (or $SLAKH2100_ROOT) at a Slakh2100 download"
        )


def remove_empty_run_folder(folder: Path) -> None:
    """Remove ``folder`` when it holds nothing but Hydra's ``.hydra`` record (a run that failed before
    writing anything); a folder with anything else in it is kept."""
    if folder.is_dir() and all(p.name == ".hydra" for p in folder.iterdir()):
        shutil.rmtree(folder)
        log.debug("removed the run folder %s: nothing was written", folder)


def use_the_job_folder(cfg: DictConfig) -> None:
    """In a sweep (``jointist-train -m``), point ``paths.output_dir`` at this job's own folder, which Hydra
    has made: ``<paths.output_dir as composed>/<job number>`` (``hydra.sweep`` in conf/train.yaml).

    The composed folder (its timestamp resolved once per sweep, or a ``paths.output_dir=`` of the user's) is
    the same for every job; checkpoints, logs and the model file follow ``paths.output_dir`` into the
    job's subfolder. A single run (no ``-m``) keeps ``paths.output_dir`` as it is."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode == RunMode.MULTIRUN:
        cfg.paths.output_dir = hydra_cfg.runtime.output_dir


def train(cfg: DictConfig) -> dict[str, Any]:
    """Fit the configured task; returns the final metrics and the paths written."""
    import pytorch_lightning as pl
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    from jointist.models.serialize import CheckpointError, load_models, read_model_file, safe_globals, save_models

    check_data_root(cfg)
    resume = cfg.get("ckpt_path")
    if resume not in (None, "last") and not Path(str(resume)).is_file():
        raise CheckpointError(f"ckpt_path={resume}: no such checkpoint (give a .ckpt file of a run, or ckpt_path=last)")
    pl.seed_everything(cfg.seed, workers=True)
    plain = {"_convert_": "object"}  # library classes receive dicts and lists, never a DictConfig
    datamodule = instantiate(cfg.data, **plain)
    try:
        task = instantiate(cfg.task, models=build_models(cfg), **plain)
    except InstantiationException as err:  # a pretrained file that cannot be read: its own message, not Hydra's
        if isinstance(err.__cause__, CheckpointError):
            raise err.__cause__ from None
        raise
    logger = instantiate(cfg.logger, **plain) if cfg.get("logger") else False
    callbacks = [instantiate(c, **plain) for c in (cfg.get("callbacks") or {}).values()]
    trainer = instantiate(cfg.trainer, logger=logger, callbacks=callbacks, **plain)
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    # checkpoints are read without unpickling code unless the user vouches for this one
    trusted = bool(cfg.get("trust_checkpoint"))
    try:
        with safe_globals():
            trainer.fit(task, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"), weights_only=not trusted)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f"refusing to resume from {cfg.get('ckpt_path')}: it holds Python objects other than weights and plain "
            "values, and unpickling them could run code; if it is a checkpoint of your own run, resume with "
            f"trust_checkpoint=true ({str(err).splitlines()[0]})"
        ) from err

    result: dict[str, Any] = {"metrics": {k: float(v) for k, v in trainer.callback_metrics.items()}}
    checkpoint = next((c for c in trainer.checkpoint_callbacks if getattr(c, "best_model_path", "")), None)
    best = getattr(checkpoint, "best_model_path", "") if checkpoint is not None else ""
    if cfg.get("export_model") and not trainer.fast_dev_run:
        if best:  # the best checkpoint's weights, and the steps behind them (maybe fewer than the run's)
            models = load_models(best)
            steps = int(read_model_file(best)["global_step"])
        else:
            models = {role: (task.model_of(role), card) for role, card in task.model_cards().items()}
            steps = int(trainer.global_step)
        data = training_data(cfg)
        trained = {role for role in models if task.freeze_until.get(role, 0) >= 0}  # -1: frozen all run
        models = {role: (model, card.replace(trained_steps=steps, training_data=data) if role in trained else card)
                  for role, (model, card) in models.items()}
        result["model_file"] = str(save_models(models, output_dir / cfg.export_model))
        log.info("model file: %s (%s, %d steps)", result["model_file"], ", ".join(models), steps)
    result["best_checkpoint"] = best
    return result


@hydra.main(config_path=CONFIG_PATH, config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    from jointist.data.slakh import DatasetError
    from jointist.models.serialize import CheckpointError

    use_the_job_folder(cfg)
    try:
        result = train(cfg)
    except (CheckpointError, DatasetError) as err:
        log.error("%s", err)
        remove_empty_run_folder(Path(HydraConfig.get().runtime.output_dir))
        sys.exit(2)
    for key, value in sorted(result["metrics"].items()):
        log.info("%s = %.4f", key, value)


if __name__ == "__main__":
    main()
