"""examples/notebook.ipynb run top to bottom by a headless Jupyter kernel (nbclient) in a fresh
folder, as a new user runs it: a task of its own, a small adaptive sweep with real Keras
training, the verdicts as objects and as a DataFrame, the headline figure inline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.slow
def test_the_notebook_runs_top_to_bottom_in_a_fresh_folder(tmp_path: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(EXAMPLES / "notebook.ipynb", as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream" and o.name == "stdout")
    html = "".join(o.get("data", {}).get("text/html", "") for o in outputs if o.output_type == "execute_result")
    # The study is in the fresh folder, next to the task file the notebook wrote.
    assert (tmp_path / "my_digits.py").is_file() and (tmp_path / "sweeper.db").is_file()
    # The verdict table (a DataFrame) names every type the race compared, each with an outcome.
    for label in ("L1", "L2", "L1+L2", "dropout only"):
        assert f"<td>{label}</td>" in html
    # The progress bar is a widget (ipywidgets, in the notebook extra), not a text bar.
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
    assert "IProgress not found" not in "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "same report: True" in text and "All intervals in these verdicts hold at once" in text
    # The headline figure is a plotly figure shown inline, drawn from the run's own curves.
    (figure,) = [o.data["application/vnd.plotly.v1+json"] for o in outputs
                 if o.output_type in ("execute_result", "display_data")
                 and "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert "response curves" in json.dumps(figure["layout"]["title"])
