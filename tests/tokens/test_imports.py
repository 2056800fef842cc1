"""The token codec imports without torch, Lightning or Hydra (checked in a fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys

CHECK = (
    "import sys, jointist.tokens\n"
    "heavy = [m for m in ('torch', 'pytorch_lightning', 'lightning', 'hydra', 'omegaconf') if m in sys.modules]\n"
    "assert not heavy, heavy\n"
)


def test_tokens_import_without_torch():
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
