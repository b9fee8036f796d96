"""The example notebooks run top to bottom (small settings), are committed without outputs, and
draw their figures with the inline backend a Jupyter user has (a cell tagged "figure" must
output a PNG: a library that chose its own backend would leave it blank)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
KERNEL_NAME = "synapse-sim-test"


def test_notebooks_exist():
    assert len(NOTEBOOKS) >= 6, f"expected the six example notebooks in {NOTEBOOK_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    for i, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code":
            continue
        assert cell.get("outputs") == [], f"{path.name}, cell {i}: outputs are committed (clear them)"
        assert cell.get("execution_count") is None, f"{path.name}, cell {i}: execution count is committed"


def _is_figure_cell(source: str) -> bool:
    last = source.rstrip().splitlines()[-1].strip() if source.strip() else ""
    return "plt.show()" in source or last in ("fig", "display(fig)") or "display(E.figure3" in source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_figure_cells_are_tagged(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    untagged = [
        i
        for i, c in enumerate(cells)
        if _is_figure_cell("".join(c["source"])) and "figure" not in c["metadata"].get("tags", [])
    ]
    assert untagged == [], f"{path.name}: code cells {untagged} draw a figure but lack the 'figure' tag"
    assert any("figure" in c["metadata"].get("tags", []) for c in cells), f"{path.name} shows no figure"


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory):
    """A kernelspec for this interpreter in a temporary folder: no network, no user-level install."""
    folder = tmp_path_factory.mktemp("kernels")
    spec = folder / KERNEL_NAME
    spec.mkdir()
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "synapse_sim test kernel",
                "language": "python",
            }
        )
    )
    return folder


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, kernel_dir, monkeypatch):
    import ipykernel  # noqa: F401  (the test extras install nbclient, nbformat and ipykernel)
    import nbclient
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    monkeypatch.setenv("SYNAPSE_SIM_NOTEBOOK_SMALL", "1")
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's own inline backend, as in Jupyter
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    notebook = nbformat.read(path, as_version=4)
    specs = KernelSpecManager(kernel_dirs=[str(kernel_dir)], ensure_native_kernel=False)
    manager = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)
    client = nbclient.NotebookClient(
        notebook,
        km=manager,
        timeout=300,
        allow_errors=False,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as error:
        pytest.fail(f"{path.name} failed:\n{error}")
    blank = [
        i
        for i, cell in enumerate(notebook.cells)
        if "figure" in cell.metadata.get("tags", [])
        and not any("image/png" in out.get("data", {}) for out in cell.get("outputs", []))
    ]
    assert blank == [], f"{path.name}: figure cells {blank} produced no image/png output"
