"""pytest hooks for running the notebooks under nbval (``make test``, ``make regress``).

Loaded by the repository's ``conftest.py`` and, explicitly, by ``make regress``
(``pytest -p wikiart_core.nbval_hooks``):

- stderr (progress bars, library warnings) is not compared: it is not a result;
- a cell may take as long as it needs to print (nbval's default wait is 5 s);
- at the end, one line per notebook says how many code cells with stored outputs
  nbval compared and how many it did not (marked ``NBVAL_IGNORE_OUTPUT`` or skipped),
  so "the notebooks pass" always comes with how much was checked.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

NOTEBOOK_OUTPUT_TIMEOUT_S = 600


def cell_counts(cells_with_options) -> dict[str, int]:
    """{"with_outputs", "compared", "ignored"} over ``(cell, options)`` pairs, where
    ``options`` is nbval's per-cell options (``check``, ``skip``). A cell counts as
    compared when nbval checks it and it has a stored run with outputs."""
    counts = {"with_outputs": 0, "compared": 0, "ignored": 0}
    for cell, options in cells_with_options:
        if not cell.get("outputs") or cell.get("execution_count") is None:
            continue
        counts["with_outputs"] += 1
        compared = bool(options.get("check")) and not options.get("skip")
        counts["compared" if compared else "ignored"] += 1
    return counts


def notebook_counts(ipynb: str | Path, strict: bool = True) -> dict[str, int]:
    """:func:`cell_counts` of a committed notebook as nbval would run it (``strict``:
    ``--nbval``, every unmarked cell compared; else ``--nbval-lax``), read with nbval's own
    marker parsing so the numbers are the ones a run gives."""
    import nbformat
    from nbval.plugin import find_comment_markers, find_metadata_tags

    notebook = nbformat.read(str(ipynb), as_version=4)
    pairs = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        options = dict(find_metadata_tags(cell.metadata))
        options.update(dict(find_comment_markers(cell.source)))
        options.setdefault("check", strict)
        pairs.append((cell, options))
    return cell_counts(pairs)


def pytest_collectstart(collector):
    # Progress bars and library warnings go to stderr and differ from run to run:
    # they are not results, so nbval does not compare them.
    if getattr(collector, "fspath", None) is not None and str(collector.fspath).endswith(".ipynb"):
        collector.skip_compare = tuple(collector.skip_compare) + ("stderr",)


def pytest_collection_modifyitems(session, config, items):
    # nbval waits 5 s for a cell's output by default; training cells take longer.
    per_notebook: dict[str, list] = defaultdict(list)
    for item in items:
        if hasattr(item, "output_timeout"):
            item.output_timeout = NOTEBOOK_OUTPUT_TIMEOUT_S
        if hasattr(item, "cell") and hasattr(item, "options"):
            per_notebook[Path(str(item.fspath)).stem].append((item.cell, item.options))
    config._wikiart_cell_counts = {name: cell_counts(pairs) for name, pairs in per_notebook.items()}


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    counts = getattr(config, "_wikiart_cell_counts", None)
    if not counts:
        return
    mode = "strict (--nbval)" if config.option.nbval else "lax (--nbval-lax)"
    terminalreporter.section(f"nbval: code cells compared, {mode}")
    for name, count in counts.items():
        share = count["compared"] / count["with_outputs"] if count["with_outputs"] else 0.0
        terminalreporter.write_line(f"{name}: {count['compared']} of {count['with_outputs']} code cells with outputs "
                                    f"compared ({100 * share:.0f}%), {count['ignored']} not compared")
