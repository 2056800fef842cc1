"""jointist.runtime: the malloc settings a pipeline applies, and the way to keep the system's."""

from __future__ import annotations

import subprocess
import sys

import pytest

CHECK = ("import ctypes, jointist.runtime as r; from jointist.pipeline import Transcriber; "
         "t = Transcriber(progress=False); print(r._done)")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_building_a_pipeline_applies_the_heap_settings_unless_told_not_to():
    import os

    env = {k: v for k, v in os.environ.items() if k != "JOINTIST_MALLOC"}
    applied = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, env=env, check=True)
    assert applied.stdout.split()[-1] == "True"  # (the last line: an import may print before it)
    kept = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True,
                          env={**env, "JOINTIST_MALLOC": "system"}, check=True)
    assert kept.stdout.split()[-1] == "False"
