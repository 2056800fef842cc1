"""Hydra entry points; they parse configuration and call the library, nothing else."""

from pathlib import Path

CONF_DIR = str(Path(__file__).resolve().parents[2] / "conf")
"""The project's ``conf/`` folder (the package is installed editable, next to it)."""
