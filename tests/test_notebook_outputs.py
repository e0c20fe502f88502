"""The committed notebooks are the report: their saved outputs carry no frozen progress
bar, no library warning and no path of the machine that ran them."""
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# tqdm's bar: "  0%|          | 0/3338 [00:00<?, ?it/s]"
PROGRESS_BAR = re.compile(r"\d+%\|.*\|\s*\d+/\d+")
WARNING = re.compile(r"\b\w*Warning\b:|warnings\.warn\(")
# Absolute paths of this checkout, of a virtual environment or of a home folder.
MACHINE_PATH = re.compile(re.escape(str(ROOT)) + r"|/site-packages/|/home/\w+/|/root/")


def output_texts(notebook) -> list[tuple[int, str]]:
    """(cell index, text) of every text-like output: streams, errors and text data."""
    texts = []
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                texts.append((index, output.get("text", "")))
            elif output.get("output_type") == "error":
                texts.append((index, "\n".join(output.get("traceback", []))))
            for kind in ("text/plain", "text/markdown", "text/html"):
                if kind in output.get("data", {}):
                    texts.append((index, str(output["data"][kind])))
    return texts


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_saved_outputs_are_clean(path):
    notebook = nbformat.read(path, as_version=4)
    problems = []
    for index, text in output_texts(notebook):
        for name, pattern in (("progress bar", PROGRESS_BAR), ("warning", WARNING), ("machine path", MACHINE_PATH)):
            match = pattern.search(text)
            if match:
                problems.append(f"cell {index}: {name}: ...{text[max(0, match.start() - 40):match.end() + 40]}...")
    assert not problems, f"{path.name} (re-run `make report` after fixing the source):\n" + "\n".join(problems)


def test_the_checks_catch_what_they_look_for():
    assert PROGRESS_BAR.search("decoding train at 64px:   0%|          | 0/3338 [00:00<?, ?it/s]")
    assert WARNING.search("/x.py:3: TqdmExperimentalWarning: Using `tqdm.autonotebook.tqdm`")
    assert MACHINE_PATH.search(f"WikiArtDataset('{ROOT}/data/synthart/train')")
    assert not any(p.search("accuracy 50.0% | balanced 0.3") for p in (PROGRESS_BAR, WARNING, MACHINE_PATH))
