"""Each notebooks/NN_name.ipynb and its paired percent-format .py hold the same cells.

The .py is what people review; the .ipynb (with outputs) is the report. If someone
edits one without syncing the other (`jupytext --sync` or `make sync`), this fails."""
from pathlib import Path

import jupytext
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
PAIRS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))


def cells(path: Path) -> list[tuple[str, str]]:
    notebook = jupytext.read(path)
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


def test_there_are_notebooks():
    assert PAIRS, f"no notebooks found in {NOTEBOOKS}"


@pytest.mark.parametrize("script", PAIRS, ids=[p.stem for p in PAIRS])
def test_ipynb_matches_its_py(script: Path):
    ipynb = script.with_suffix(".ipynb")
    assert ipynb.is_file(), f"{ipynb.name} is missing: run `make sync` to create it from {script.name}"
    from_script, from_ipynb = cells(script), cells(ipynb)
    for index, (a, b) in enumerate(zip(from_script, from_ipynb)):
        assert a == b, f"{script.name} and {ipynb.name} differ at cell {index}: run `make sync`"
    assert len(from_script) == len(from_ipynb), f"{script.name} and {ipynb.name} have different cell counts"


@pytest.mark.parametrize("script", PAIRS, ids=[p.stem for p in PAIRS])
def test_committed_notebook_has_outputs(script: Path):
    # The .ipynb is the report: a notebook fresh from jupytext (no outputs) would
    # make nbval check nothing, so every code cell must have been executed.
    notebook = jupytext.read(script.with_suffix(".ipynb"))
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    missing = [i for i, cell in enumerate(code) if cell.get("execution_count") is None
               and "skip-execution" not in cell.metadata.get("tags", [])]
    assert not missing, f"{script.with_suffix('.ipynb').name}: code cells {missing} were never run: run `make report`"
