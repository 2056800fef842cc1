"""``jointist-train -m``: sweeps through Hydra's launchers, each job in a folder of its own; the SLURM and
local launcher configs (conf/hydra/launcher/), checked without a SLURM cluster."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import submitit
import yaml
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig

from jointist.cli import CONF_DIR
from jointist.cli.train import main
from jointist.models.serialize import read_model_file
from tests.conftest import run_command

TINY = ["model=transcriber_tiny", "data.segment_s=1.0", "data.batch_size=2", "data.num_workers=0",
        "data.train_examples_per_epoch=4"]


def hydra_config(*overrides: str) -> DictConfig:
    """``jointist-train``'s configuration with its ``hydra`` node, as the command composes it."""
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("train", overrides=list(overrides), return_hydra_config=True)


def job_folders(sweep: Path) -> list[Path]:
    return sorted(p for p in sweep.iterdir() if p.is_dir() and not p.name.startswith("."))


def test_a_sweep_through_submitit_runs_each_job_in_a_folder_of_its_own(shared_mini_corpus, tmp_path):
    """Two jobs, started at once by submitit's local executor in processes of their own, in the same
    second: the default output folder (outputs/<name>/<date_time>) is the sweep's, and each job writes
    into its subfolder <job number>."""
    command = [sys.executable, "-m", "jointist.cli.train", "-m", "hydra/launcher=submitit_local",
               "hydra.launcher.timeout_min=3", "task.optimizer.lr=1e-3,3e-3", f"data.root={shared_mini_corpus}", *TINY,
               "trainer.max_steps=2", "trainer.val_check_interval=2"]
    done = subprocess.run(command, cwd=tmp_path, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]

    (sweep,) = (tmp_path / "outputs" / "train").iterdir()
    assert (sweep / "multirun.yaml").is_file()
    jobs = job_folders(sweep)
    assert [job.name for job in jobs] == ["0", "1"]
    for job, lr in zip(jobs, (1e-3, 3e-3)):
        config = yaml.safe_load((job / "config.yaml").read_text())
        assert config["task"]["optimizer"]["lr"] == lr
        assert Path(config["paths"]["output_dir"]).resolve() == job.resolve()
        assert (job / "model.pt").is_file() and (job / ".hydra" / "overrides.yaml").is_file()
        checkpoint = read_model_file(job / "checkpoints" / "last.ckpt")
        assert checkpoint["global_step"] == 2 and checkpoint["optimizer_states"][0]["param_groups"][0]["lr"] == lr

    logs = sorted((sweep / ".submitit").glob("*/*_0_log.out"))  # submitit's record of each job: <job id>/
    assert len(logs) == 2
    assert {job.name for log in logs for job in jobs if f"{job / 'model.pt'}" in log.read_text()} == {"0", "1"}


def test_a_sweep_into_an_explicit_output_folder_gives_each_job_a_subfolder(shared_mini_corpus, tmp_path):
    """``paths.output_dir=X`` in a sweep: X is the sweep's folder, X/0 and X/1 the jobs' (Hydra's own
    launcher, in this process)."""
    out = tmp_path / "sweep"
    assert run_command(main, "-m", "seed=1,2", f"paths.output_dir={out}", f"data.root={shared_mini_corpus}", *TINY,
                       "trainer.max_steps=1", "trainer.val_check_interval=1") == 0
    jobs = job_folders(out)
    assert [job.name for job in jobs] == ["0", "1"]
    for job, seed in zip(jobs, (1, 2)):
        assert yaml.safe_load((job / "config.yaml").read_text())["seed"] == seed
        assert (job / "model.pt").is_file() and (job / "checkpoints" / "last.ckpt").is_file()
    assert not [p for p in out.iterdir() if p.suffix in (".pt", ".ckpt")]


@pytest.mark.parametrize(("launcher", "kind"), [
    ("slurm", "SlurmLauncher"), ("submitit_slurm", "SlurmLauncher"),
    ("local", "LocalLauncher"), ("submitit_local", "LocalLauncher"),
])
def test_every_launcher_config_composes(tmp_path, launcher, kind):
    cfg = hydra_config(f"hydra/launcher={launcher}", f"paths.output_dir={tmp_path}")
    built = instantiate(cfg.hydra.launcher)
    assert type(built).__name__ == kind
    assert built.params["submitit_folder"] == f"{tmp_path}/.submitit/%j"  # submitit's logs, in the sweep's folder


def test_the_slurm_launcher_takes_the_site_from_the_environment_and_resources_from_overrides(monkeypatch, tmp_path):
    """What sbatch would receive, written by submitit itself (a stand-in ``srun`` on PATH, no job submitted)."""
    defaults = hydra_config("hydra/launcher=slurm").hydra.launcher
    assert defaults.partition is None and defaults.account is None  # nothing in the environment: SLURM's defaults
    assert (defaults.gpus_per_node, defaults.cpus_per_task, defaults.mem_gb, defaults.timeout_min) == (1, 8, 32, 1440)

    monkeypatch.setenv("JOINTIST_SLURM_PARTITION", "gpu")
    monkeypatch.setenv("JOINTIST_SLURM_ACCOUNT", "lab")
    cfg = hydra_config("hydra/launcher=slurm", "hydra.launcher.gpus_per_node=2", "hydra.launcher.tasks_per_node=2",
                       "hydra.launcher.timeout_min=2880", "hydra.launcher.mem_gb=64", f"paths.output_dir={tmp_path}")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 1\n")
    (bin_dir / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    scripts: list[str] = []

    def no_submission(executor: submitit.AutoExecutor, *args: Any) -> list[Any]:
        scripts.append(executor._executor._make_submission_file_text("jointist-train", "0"))
        return []

    monkeypatch.setattr(submitit.AutoExecutor, "map_array", no_submission)
    launcher = instantiate(cfg.hydra.launcher)
    launcher.setup(hydra_context=None, task_function=main, config=cfg)
    launcher.launch([["task.optimizer.lr=1e-3"], ["task.optimizer.lr=3e-3"]], initial_job_idx=0)
    (script,) = scripts
    for line in ("--partition=gpu", "--account=lab", "--gpus-per-node=2", "--ntasks-per-node=2", "--cpus-per-task=8",
                 "--mem=64GB", "--time=2880"):
        assert f"#SBATCH {line}\n" in script, line
