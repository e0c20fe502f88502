"""The `full` profile rehearsed on a CPU: every notebook executed top to bottom with full's
image sizes, widths, depths and resolutions, but a handful of images, one epoch, two search
trials and two LoRA steps (``config.rehearsal_of``). Nothing else in CI takes the branches
that a `full` run takes on the GPU server (224 px classifiers, 128 px generators, the
panels' batch sizes against a small training set, ...).

The notebooks are executed from their `.py` files in a temporary folder, in order (03 and
05 use the StyleCNN that 01 saves), with outputs in the session's temporary outputs folder."""
import json
import os
import shutil
from pathlib import Path

import pytest

from wikiart_core import config, results

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(path.stem for path in (REPO / "notebooks").glob("[0-9][0-9]_*.py"))

pytestmark = pytest.mark.skipif(os.environ.get("WIKIART_SKIP_REHEARSAL") == "1",
                                reason="WIKIART_SKIP_REHEARSAL=1")


def test_rehearsal_keeps_full_sizes_and_shrinks_counts():
    full, rehearsal = config.PROFILES["full"], config.get_profile("rehearsal")
    assert rehearsal.image_size == full.image_size and rehearsal.style_cnn == full.style_cnn
    assert rehearsal.lr_grid == full.lr_grid and rehearsal.batch_size == full.batch_size
    for part in ("imbalance", "autoencoder", "generator"):
        kept = {key: value for key, value in getattr(full, part).items()
                if key not in ("epochs", "max_points", "tsne_max_iter", "min_style_images")}
        assert {key: getattr(rehearsal, part)[key] for key in kept} == kept, part
    assert rehearsal.lora["rank"] == full.lora["rank"]
    assert rehearsal.lora["gradient_accumulation"] == full.lora["gradient_accumulation"]
    assert rehearsal.max_train_per_class <= 3 and rehearsal.epochs == 1 and rehearsal.search["trials"] == 2
    assert rehearsal.lora["steps"] == 2 and rehearsal.seeds >= 2  # several seeds: the interval code runs


@pytest.fixture(scope="module")
def rehearsal_folder(tmp_path_factory):
    import jupytext

    folder = tmp_path_factory.mktemp("rehearsal")
    for name in NOTEBOOKS:
        notebook = jupytext.read(REPO / "notebooks" / f"{name}.py")
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        jupytext.write(notebook, folder / f"{name}.ipynb")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_in_the_full_rehearsal(name, rehearsal_folder, monkeypatch):
    import nbformat

    from wikiart_core import report

    # The kernel inherits this environment: the notebooks' PROFILE cell reads it.
    monkeypatch.setenv("WIKIART_PROFILE", "rehearsal")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    ipynb = rehearsal_folder / f"{name}.ipynb"
    report.execute_notebook(ipynb, timeout_s=600, log=lambda *_: None)
    executed = nbformat.read(ipynb, as_version=4)
    code = [cell for cell in executed.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code), "a code cell did not run"
    errors = [output for cell in code for output in cell.outputs if output.output_type == "error"]
    assert not errors
    assert report.recorded_execution(executed)["profile"] == "rehearsal"
    # The notebook got as far as saving its results, in the rehearsal's own outputs folder.
    saved = json.loads(results.results_path(name, config.load_paths(), "rehearsal").read_text())
    assert saved["profile"] == "rehearsal" and saved["notebook"] == name
