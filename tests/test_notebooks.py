"""The notebooks: each one runs from top to bottom on a tiny corpus, and they are committed as
``notebooks/make_notebooks.py`` writes them (no outputs, no execution counts).

The kernel is ipykernel's own ``python3`` (jupyter_client runs it with this interpreter), so nothing
has to be registered. Each notebook runs in its own empty working folder; the corpus is shared (the
first notebook renders it, the others find it there).
"""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path
from types import ModuleType

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT_S = 180  # per cell: each notebook takes 10-30 s on one busy core


def generator() -> ModuleType:
    """``notebooks/make_notebooks.py`` (a script, not a package module)."""
    spec = importlib.util.spec_from_file_location("make_notebooks", NOTEBOOK_DIR / "make_notebooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the notebooks find (or render) their corpus: one folder for all of them."""
    return tmp_path_factory.mktemp("notebook_data") / "synth"


def test_there_are_notebooks() -> None:
    assert len(NOTEBOOKS) >= 4, NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stripped(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {i} has outputs: run notebooks/make_notebooks.py"
            assert cell.execution_count is None, f"{path.name} cell {i} has an execution count"


def test_notebooks_are_what_the_generator_writes() -> None:
    make = generator()
    assert sorted(p.stem for p in NOTEBOOKS) == sorted(make.NOTEBOOKS), "notebooks/ and make_notebooks.py disagree"
    for path in NOTEBOOKS:
        assert json.loads(path.read_text()) == json.loads(make.text(path.stem)), (
            f"{path.name} differs from notebooks/make_notebooks.py: edit the cells there and run it"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path: Path, tiny_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOINTIST_NOTEBOOK_DATA", str(tiny_corpus))
    monkeypatch.setenv("JOINTIST_NOTEBOOK_OUT", str(tmp_path / "outputs"))
    monkeypatch.setenv("JOINTIST_NOTEBOOK_TINY", "1")
    monkeypatch.delenv("JOINTIST_NOTEBOOK_RUN", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    work = tmp_path / "work"
    work.mkdir()
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(work)}})
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError, naming the cell, when one fails
    seconds = time.perf_counter() - start
    errors = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs if out.output_type == "error"]
    assert not errors, errors
    assert all(cell.execution_count for cell in nb.cells if cell.cell_type == "code"), "a cell did not run"
    print(f"{path.name}: {seconds:.1f} s")
