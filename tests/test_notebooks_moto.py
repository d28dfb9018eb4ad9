"""Every notebook also runs against moto (KMSLAB_BACKEND=moto), top to bottom, without error.

nbval checks the notebooks' teaching facts on kmslab (they are collected from notebooks/ by
pytest). On moto the facts differ where moto departs from AWS, and the notebooks say so in
plain sentences (``course.lacks(...)``) instead of failing: this test runs each one on moto
in a fresh kernel and fails on any error output.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_the_notebook_runs_on_moto(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KMSLAB_BACKEND", "moto")
    monkeypatch.setenv("KMSLAB_QUICK", "1")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        allow_errors=True,
    )
    client.execute()
    errors = [
        f"cell {i}: {out.get('ename')}: {out.get('evalue')}"
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    assert errors == []
