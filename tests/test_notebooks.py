"""Execute every notebook in ``notebooks/`` top to bottom; each notebook is one (slow) test.

The notebooks end with cells of ``assert`` statements that check their claims quantitatively, so
a notebook passes when every cell runs without an error. The kernel is this interpreter
(``sys.executable``, through a temporary kernelspec found via ``JUPYTER_PATH``), so the notebooks
see the same ``ntkspec`` and dependencies as the tests; it runs in a temporary working directory.
pytest's ``filterwarnings = error`` applies to this process only, not inside the kernel.

A notebook that passes is saved, with its outputs, to ``docs/_build/executed/notebooks/`` (ignored),
with the SHA-256 of its source in ``metadata.ntkspec.source_sha256``: ``make docs`` renders the
site's notebook pages from these copies instead of executing the notebooks a second time (it
executes only a notebook whose copy is missing, older than its source or from other source
bytes; see ``docs/hooks.py``).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

import pytest

# Some jupyter_core 5.x releases warn on import (an error under filterwarnings = error) unless
# the platformdirs migration is opted into; harmless where they do not.
os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
EXECUTED_DIR = NOTEBOOK_DIR.parent / "docs" / "_build" / "executed" / "notebooks"  # `make docs`
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT = 300  # seconds per cell
KERNEL_NAME = "ntkspec-test-python"


@pytest.fixture(scope="module")
def jupyter_path(tmp_path_factory) -> Path:
    """A JUPYTER_PATH entry holding a kernelspec whose argv[0] is this interpreter.

    Jupyter searches JUPYTER_PATH before the user's and the environment's directories, and the
    kernel name is unique, so the notebooks run in this interpreter whatever else is installed.
    """
    root = tmp_path_factory.mktemp("jupyter")
    spec_dir = root / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (ntkspec tests)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    return root


@pytest.fixture
def kernel_env(jupyter_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter_path))
    return KERNEL_NAME


def test_notebooks_exist():
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOK_DIR}"


def test_kernel_is_this_interpreter(kernel_env):
    spec = KernelSpecManager().get_kernel_spec(kernel_env)
    assert spec.argv[0] == sys.executable


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path: Path, tmp_path: Path, kernel_env):
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        kernel_name=kernel_env,
        timeout=CELL_TIMEOUT,
        allow_errors=False,
        resources={"metadata": {"path": str(tmp_path)}},  # the kernel's working directory
    )
    start = time.perf_counter()
    try:
        client.execute()  # starts, runs and shuts down its own kernel
    except nbclient.exceptions.CellExecutionError as e:
        pytest.fail(f"{path.name}: a cell failed:\n{e}", pytrace=False)
    elapsed = time.perf_counter() - start
    # Shown with `pytest -rA` or `-s`; no hard limit (machine speed varies).
    print(f"{path.name}: executed in {elapsed:.1f} s")
    # Nothing may be written into the kernel's working directory (figures stay inline).
    assert not any(tmp_path.iterdir()), sorted(p.name for p in tmp_path.iterdir())
    save_executed(nb, path)


def save_executed(nb, source: Path) -> Path:
    """Write the executed notebook for the docs build (atomically: temporary file, rename)."""
    nb.metadata["ntkspec"] = {"source_sha256": hashlib.sha256(source.read_bytes()).hexdigest()}
    EXECUTED_DIR.mkdir(parents=True, exist_ok=True)
    out = EXECUTED_DIR / source.name
    tmp = out.with_name(f".{source.name}.{os.getpid()}.tmp")
    nbformat.write(nb, tmp)
    os.replace(tmp, out)
    return out
