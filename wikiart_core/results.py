"""Results that write their own narrative.

Each notebook saves its headline numbers with :func:`save` to
``outputs/<dataset>/<profile>/<notebook>/results.json``, and every sentence that quotes a number or makes a
claim is a Markdown cell *rendered by code* from those values (:func:`show`), with the
words chosen from the numbers (:func:`compare_words`, ``stats.verdict_words``). The
same notebook run on WikiArt in the ``full`` profile therefore tells the truth about
WikiArt. ``make report`` builds the README's results table from the same files
(``report.update_readme_results``).
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import files


def results_path(notebook: str, paths, profile) -> Path:
    """``outputs_dir/<dataset>/<profile>/<notebook>/results.json`` for ``paths`` from
    ``config.load_paths`` (see ``Paths.notebook_outputs``)."""
    return paths.notebook_outputs(profile, notebook) / "results.json"


def shown_path(path, paths) -> str:
    """``path`` as a reader should see it: under the outputs folder as ``outputs/...``
    (wherever that folder is: a test's temporary one prints the same); else relative
    to the folder of ``data_paths.yaml`` when inside it (how the file itself writes it);
    else as it is. Saved notebooks then carry no paths of the machine that ran them."""
    path = Path(path)
    for base, prefix in ((Path(paths.outputs_dir), "outputs"), (Path(paths.source).resolve().parent, None)):
        try:
            relative = path.resolve().relative_to(base.resolve())
        except ValueError:
            continue
        return str(Path(prefix) / relative) if prefix else str(relative)
    return str(path)


def _plain(value: Any) -> Any:
    """JSON-safe copies of numpy scalars, arrays, paths and nested containers."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def save(notebook: str, paths, profile, values: dict, *, headline: str, seeds: int = 1) -> Path:
    """Write ``values`` with who/what/when to ``outputs/<dataset>/<profile>/<notebook>/results.json``.

    ``headline``: one sentence rendered from the values, for the README table and the
    report's landing page. ``seeds``: how many seeds the headline numbers average."""
    path = results_path(notebook, paths, profile)
    # The bookkeeping keys come last, so a value of the same name cannot replace them.
    record = {**_plain(values), "notebook": notebook, "profile": getattr(profile, "name", profile),
              "dataset": paths.dataset, "synthetic_data": paths.synth is not None, "seeds": seeds,
              "date": time.strftime("%Y-%m-%d"), "headline": headline}
    # Atomic: an interrupt or a full disk keeps the previous results.json whole.
    written = files.write_json(path, record)
    _record_in_notebook(record, shown_path(written, paths))
    return written


# The key under which a saved record travels in the metadata of the notebook's output.
NOTEBOOK_RESULTS_KEY = "wikiart-results"


def _record_in_notebook(record: dict, shown: str) -> None:
    """In a Jupyter kernel, display one line naming the results file, with the whole
    record in the output's metadata: the saved notebook then carries its own results
    (``report.notebook_results`` reads them), so a fresh clone, where outputs/ is not in
    git, still exports its headline, profile and date. nbval does not compare metadata."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return
    if get_ipython() is None:
        return
    display({"text/markdown": f"Results saved to `{shown}`."}, raw=True,
            metadata={NOTEBOOK_RESULTS_KEY: record})


def show(markdown: str):
    """A Markdown object for the notebook to display (the last expression of a cell)."""
    from IPython.display import Markdown

    return Markdown(markdown)


def pct(value: float, digits: int = 1) -> str:
    """0.1234 -> '12.3%'."""
    return f"{100 * value:.{digits}f}%"


def which_data(paths) -> str:
    """Words for the data a number was measured on."""
    if paths.synth is not None:
        return f"the embedded synthetic data (`{paths.dataset}`, not WikiArt)"
    return f"`{paths.dataset}`"


def compare_words(value: float, reference: float, *, margin: float = 0.0, higher: str = "above",
                  lower: str = "below", same: str = "level with") -> str:
    """'above' / 'below' / 'level with' ``reference``: beyond ``margin`` either way or not."""
    if value > reference + margin:
        return higher
    if value < reference - margin:
        return lower
    return same
