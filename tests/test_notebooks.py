"""Every notebook in notebooks/ runs from top to bottom (jupytext percent format, executed with nbclient)."""

from pathlib import Path

import jupytext
import nbclient
import pytest

ROOT = Path(__file__).parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.py"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path, monkeypatch):
    """Executed as a notebook with the kernel's own (inline) backend: every notebook that draws shows its
    figures as image outputs (the library never chooses the matplotlib backend)."""
    monkeypatch.setenv("JAXBIAS_NOTEBOOK_N", "32")
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    monkeypatch.delenv("MPLBACKEND", raising=False)  # conftest's Agg would hide the figures
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the kernel imports this checkout, not an older installed copy
    notebook = jupytext.read(path)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    draws = [c for c in notebook.cells if c.cell_type == "code"
             and any(k in c.source for k in ("plt.", "ax.", "display(Image", "plot_"))]
    shown = [c for c in draws if any("image/png" in o.get("data", {}) for o in c.get("outputs", []))]
    assert draws == [] or shown, f"{path.name}: {len(draws)} cells draw, none shows a figure"
    assert "matplotlib.use(" not in path.read_text()
