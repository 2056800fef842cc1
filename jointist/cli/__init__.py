"""Hydra entry points; they parse configuration and call the library, nothing else.

The configuration ships inside the package as ``jointist.conf`` (the repository's ``conf/``), so the
console scripts work from an installed wheel, from any folder.
"""

from importlib import resources

CONFIG_PATH = "pkg://jointist.conf"
"""Where every entry point's ``@hydra.main`` finds its configuration."""

CONF_DIR = str(resources.files("jointist.conf"))
"""The configuration folder on disk (for ``hydra.initialize_config_dir`` in tests and notebooks)."""
