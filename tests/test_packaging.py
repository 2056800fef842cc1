"""The wheel holds every package and every config file (the wheel itself is built and run by
.ci/check_wheel.sh; these checks catch a forgotten entry without building it)."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import tomllib
from hydra import compose, initialize_config_module

ROOT = Path(__file__).resolve().parents[1]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_is_listed_in_pyproject():
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "jointist").rglob("__init__.py")}
    assert found | {"jointist.conf"} == set(SETUPTOOLS["packages"])


def test_every_config_file_is_package_data():
    patterns = SETUPTOOLS["package-data"]["jointist.conf"]
    for path in (ROOT / "conf").rglob("*.yaml"):
        relative = path.relative_to(ROOT / "conf").as_posix()
        assert any(fnmatch.fnmatch(relative, p) and relative.count("/") == p.count("/") for p in patterns), relative


def test_configs_are_found_as_a_package_resource():
    with initialize_config_module(config_module="jointist.conf", version_base="1.3"):
        cfg = compose("transcribe", overrides=["audio=song.wav", "instruments=[piano]"])
    assert cfg.audio == "song.wav" and cfg.ckpt is None and cfg.hop_s == 9.0  # from the shared inference group
