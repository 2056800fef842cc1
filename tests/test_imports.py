"""Every module of the package imports on its own, first, in a fresh interpreter: an import cycle, or
a module that works only when another was imported before it, fails here.

One interpreter per module costs 2-6 s each (torch, Lightning), so a driver interpreter imports the
third-party libraries the package uses once, checks that no ``jointist`` module is loaded, and forks
a child per module: each child starts with no ``jointist`` module imported and imports just its own.
A module that fails there is checked again in a new interpreter of its own (``python -c "import
name"``), and that result is the verdict.
"""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import jointist

PACKAGE = Path(jointist.__file__).parent
MODULES = sorted({"jointist", *(m.name for m in pkgutil.walk_packages([str(PACKAGE)], "jointist."))} - {"jointist.conf"})

DRIVER = r"""
import ast, importlib, json, os, pathlib, sys, time, traceback

package, names = pathlib.Path(sys.argv[1]), sys.argv[2:]
top = package.name
third_party = set()
for path in package.rglob("*.py"):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            third_party |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            third_party.add(node.module.split(".")[0])
for name in sorted(third_party - {top, "__future__"}):
    try:
        importlib.import_module(name)
    except ImportError:
        pass
loaded = [m for m in sys.modules if m == top or m.startswith(top + ".")]
assert not loaded, f"a third-party import loaded {loaded}"
results = {}
for name in names:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            importlib.import_module(name)
            message = ""
        except BaseException:
            message = traceback.format_exc()
        os.write(write, message.encode())
        os._exit(1 if message else 0)
    os.close(write)
    with os.fdopen(read) as pipe:
        message = pipe.read()
    _, status = os.waitpid(pid, 0)
    results[name] = message or ("" if status == 0 else f"the child exited with status {status}")
print(json.dumps(results))
"""


def import_each_alone(package: Path, names: list[str], **run: Any) -> dict[str, str]:
    """Module name -> traceback of its import in a forked child of the driver ('' when it imported)."""
    done = subprocess.run([sys.executable, "-c", DRIVER, str(package), *names], capture_output=True, text=True,
                          timeout=300, **run)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def forked_imports() -> dict[str, str]:
    return import_each_alone(PACKAGE, MODULES) if hasattr(os, "fork") else {}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the driver forks")
def test_the_driver_catches_an_import_cycle(tmp_path):
    package = tmp_path / "cyclic"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from cyclic.b import B\nA = 1\n")
    (package / "b.py").write_text("from cyclic.a import A\nB = 2\n")
    (package / "c.py").write_text("import json\nC = 3\n")
    results = import_each_alone(package, ["cyclic.a", "cyclic.b", "cyclic.c"], cwd=tmp_path)
    assert "partially initialized module 'cyclic.a'" in results["cyclic.a"]
    assert "partially initialized module 'cyclic.b'" in results["cyclic.b"]
    assert results["cyclic.c"] == ""


def test_the_walk_finds_the_whole_package():
    assert len(MODULES) > 40
    assert {"jointist.pipeline", "jointist.models.serialize", "jointist.tasks.base", "jointist.cli.train"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_module_imports_alone_in_a_fresh_interpreter(name, forked_imports):
    if forked_imports.get(name) == "":
        return
    done = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"import {name} failed on its own:\n{done.stderr}"
