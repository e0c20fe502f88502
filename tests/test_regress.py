"""make regress: strict nbval in the profile recorded in each notebook's outputs."""
from pathlib import Path

import nbformat
import pytest

from wikiart_core import nbval_hooks, regress, report

REPO = Path(__file__).resolve().parent.parent
COMMITTED = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_one_notebook_brings_the_notebooks_it_depends_on():
    names = [path.stem for path in regress.select(REPO / "notebooks", ["05"])]
    assert names == ["01_bonusA", "05_bonusB"]
    assert [path.stem for path in regress.select(REPO / "notebooks", ["02"])] == ["02_part1_weights"]
    assert len(regress.select(REPO / "notebooks")) == len(COMMITTED)
    with pytest.raises(regress.RegressError, match="matches 'nope'"):
        regress.select(REPO / "notebooks", ["nope"])


@pytest.mark.parametrize("ipynb", COMMITTED, ids=lambda path: path.stem)
def test_committed_notebook_records_its_profile_and_is_mostly_compared(ipynb):
    recorded = report.recorded_execution(nbformat.read(ipynb, as_version=4))
    assert recorded.get("profile") in ("demo", "full"), "run make report: the outputs record no profile"
    counts = nbval_hooks.notebook_counts(ipynb, strict=True)
    share = counts["compared"] / counts["with_outputs"]
    assert share >= regress.MIN_COMPARED_SHARE, (
        f"{ipynb.name}: strict nbval compares {counts['compared']} of {counts['with_outputs']} code cells with "
        f"outputs ({100 * share:.0f}%); at least {100 * regress.MIN_COMPARED_SHARE:.0f}% must be")


def test_every_ignored_cell_says_why():
    for ipynb in COMMITTED:
        for cell in nbformat.read(ipynb, as_version=4).cells:
            lines = [line.strip() for line in cell.source.splitlines()]
            if cell.cell_type == "code" and "# NBVAL_IGNORE_OUTPUT" in lines:
                reason = lines[lines.index("# NBVAL_IGNORE_OUTPUT") + 1:][:1]
                assert reason and reason[0].startswith("# why:"), f"{ipynb.name}: an ignored cell gives no reason"


def test_counts_follow_nbvals_markers(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("print(1)", execution_count=1,
                                  outputs=[nbformat.v4.new_output("stream", name="stdout", text="1\n")]),
        nbformat.v4.new_code_cell("# NBVAL_IGNORE_OUTPUT\nprint(2)", execution_count=2,
                                  outputs=[nbformat.v4.new_output("stream", name="stdout", text="2\n")]),
        nbformat.v4.new_code_cell("x = 3", execution_count=3),
    ])
    path = tmp_path / "n.ipynb"
    nbformat.write(notebook, path)
    assert nbval_hooks.notebook_counts(path, strict=True) == {"with_outputs": 2, "compared": 1, "ignored": 1}
    assert nbval_hooks.notebook_counts(path, strict=False) == {"with_outputs": 2, "compared": 0, "ignored": 2}


TINY_CELLS = [
    "import time\nimport matplotlib\nmatplotlib.use('agg')\nimport matplotlib.pyplot as plt\nstarted = time.perf_counter()",
    "import numpy as np\n"
    "low, high = np.percentile(np.arange(101) / 100, [2.5, 97.5])\nprint(f'interval {low:.3f} to {high:.3f}')",
    "figure = plt.figure(figsize=(3, 2))\nfigure",
    "print(f'whole notebook {time.perf_counter() - started + 1.234:.0f} s')",
]


def _tiny_notebook(folder: Path) -> Path:
    """01_tiny.ipynb, executed by make report's own executor (so it records its profile)."""
    folder.mkdir(parents=True, exist_ok=True)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in TINY_CELLS])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "01_tiny.ipynb"
    nbformat.write(notebook, path)
    report.execute_notebook(path, timeout_s=120, log=lambda *_: None)
    return path


def test_strict_run_passes_as_made_and_fails_on_a_changed_number(tmp_path, monkeypatch):
    monkeypatch.setenv("WIKIART_PROFILE", "smoke")
    path = _tiny_notebook(tmp_path / "notebooks")
    assert regress.run(tmp_path / "notebooks", outputs=tmp_path / "outputs", log=lambda *_, **__: None) == 0

    notebook = nbformat.read(path, as_version=4)
    output = notebook.cells[1].outputs[0]
    assert output.text == "interval 0.025 to 0.975\n"
    output.text = "interval 0.025 to 0.976\n"  # one digit of a result, changed by hand
    nbformat.write(notebook, path)
    assert regress.run(tmp_path / "notebooks", outputs=tmp_path / "outputs", log=lambda *_, **__: None) != 0


def test_a_notebook_without_a_recorded_run_is_refused(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    nbformat.write(notebook, tmp_path / "01_x.ipynb")
    with pytest.raises(regress.RegressError, match="records no profile"):
        regress.run(tmp_path, log=lambda *_, **__: None)
