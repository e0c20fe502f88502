"""Execute the notebooks and export them as the report (``make report``).

For each ``notebooks/NN_*.py``: bring its paired ``.ipynb`` up to date with the
``.py`` (keeping nothing stale), execute it top to bottom in the chosen profile,
save it with its outputs (the committed notebooks are the report), then write
``reports/NN_*.html``, ``reports/index.html`` linking them, and
``reports/report.md`` with its figures in ``reports/figures/``.
"""
from __future__ import annotations

import html
import os
import re
import shutil
import time
from pathlib import Path

NOTEBOOK_PATTERN = "[0-9][0-9]_*.py"


def sync_notebook(script: Path) -> Path:
    """Write ``script``'s cells into its paired .ipynb (inputs only; outputs are
    recomputed by :func:`execute_notebook`)."""
    import jupytext

    notebook = jupytext.read(script)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    ipynb = script.with_suffix(".ipynb")
    jupytext.write(notebook, ipynb)
    return ipynb


def update_inputs(script: Path) -> Path:
    """Bring the paired .ipynb's cells up to date with ``script`` *keeping* the outputs
    of every code cell whose source did not change (``make sync``): for edits to the
    narrative, which do not need a re-run. Changed code cells lose their outputs, so
    ``test_committed_notebook_has_outputs`` asks for ``make report``."""
    import jupytext
    import nbformat

    ipynb = script.with_suffix(".ipynb")
    notebook = jupytext.read(script)
    old_outputs: dict[str, list] = {}
    if ipynb.exists():
        previous_notebook = nbformat.read(ipynb, as_version=4)
        notebook.metadata.update(previous_notebook.metadata)  # e.g. the saved widget state
        for cell in previous_notebook.cells:
            if cell.cell_type == "code":
                old_outputs.setdefault(cell.source.strip(), []).append(cell)
    for cell in notebook.cells:
        if cell.cell_type == "code" and old_outputs.get(cell.source.strip()):
            previous = old_outputs[cell.source.strip()].pop(0)
            cell.outputs, cell.execution_count = previous.outputs, previous.execution_count
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, ipynb)
    return ipynb


def execute_notebook(ipynb: Path, timeout_s: int = 3600, log=print) -> float:
    """Run every cell of ``ipynb`` in its own folder and save the outputs in place,
    logging the cells that take more than a few seconds. Returns the seconds it took.
    Raises nbclient's CellExecutionError on a failing cell (the notebook is not saved)."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(ipynb, as_version=4)
    client = NotebookClient(notebook, timeout=timeout_s, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(ipynb.parent)}})
    start = time.perf_counter()
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            cell_start = time.perf_counter()
            client.execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
            if time.perf_counter() - cell_start > 5:
                log(f"  cell {index}: {time.perf_counter() - cell_start:.0f} s")
        client.set_widgets_metadata()
    nbformat.write(notebook, ipynb)
    return time.perf_counter() - start


def _title(ipynb: Path) -> str:
    import nbformat

    notebook = nbformat.read(ipynb, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^#\s+(.+)$", cell.source, flags=re.MULTILINE)
            if match:
                return match.group(1).strip()
    return ipynb.stem


def export(notebooks: list[Path], out_dir: Path) -> Path:
    """HTML per notebook, an index page, and one Markdown report with its figures."""
    import nbformat
    from nbconvert import HTMLExporter, MarkdownExporter

    out_dir.mkdir(parents=True, exist_ok=True)
    figures = out_dir / "figures"
    shutil.rmtree(figures, ignore_errors=True)  # figures of an earlier export would linger
    figures.mkdir()
    html_exporter = HTMLExporter()
    markdown_exporter = MarkdownExporter()
    entries, markdown_parts = [], []
    for ipynb in notebooks:
        notebook = nbformat.read(ipynb, as_version=4)
        body, _ = html_exporter.from_notebook_node(notebook)
        (out_dir / f"{ipynb.stem}.html").write_text(body, encoding="utf-8")
        text, resources = markdown_exporter.from_notebook_node(
            notebook, resources={"output_files_dir": f"figures/{ipynb.stem}"})
        for name, content in resources.get("outputs", {}).items():
            target = out_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        markdown_parts.append(text)
        entries.append((ipynb.stem, _title(ipynb)))
    links = "\n".join(f'<li><a href="{html.escape(stem)}.html">{html.escape(stem)}</a>: {html.escape(title)}</li>'
                      for stem, title in entries)
    profile = os.environ.get("WIKIART_PROFILE", "demo")
    index = out_dir / "index.html"
    index.write_text(
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>wikiart-lab report</title></head><body>\n"
        "<h1>wikiart-lab report</h1>\n"
        f"<p>Notebooks executed top to bottom in the <code>{html.escape(profile)}</code> profile on "
        f"{time.strftime('%Y-%m-%d %H:%M')}. Unless a notebook says it ran on <code>wikiart</code>, "
        "its numbers come from the embedded synthetic data, not from WikiArt.</p>\n"
        f"<ol>\n{links}\n</ol>\n<p>Also as Markdown: <a href='report.md'>report.md</a>.</p>\n</body></html>\n",
        encoding="utf-8")
    (out_dir / "report.md").write_text("\n\n---\n\n".join(markdown_parts), encoding="utf-8")
    return index


README_BEGIN = "<!-- results:begin (generated by make report from outputs/*/results.json) -->"
README_END = "<!-- results:end -->"


def results_table_markdown(outputs_dir: Path) -> str:
    """A Markdown table of every ``outputs_dir/<notebook>/results.json``: notebook, data,
    profile, seeds, date and the headline sentence the notebook rendered from its numbers."""
    import json

    rows = ["| notebook | data | profile | seeds | date | result |", "|---|---|---|---|---|---|"]
    for path in sorted(Path(outputs_dir).glob("*/results.json")):
        values = json.loads(path.read_text(encoding="utf-8"))
        data = f"{values['dataset']} ({'synthetic, not WikiArt' if values.get('synthetic_data') else 'real'})"
        headline = str(values.get("headline", "")).replace("|", "\\|").replace("\n", " ")
        rows.append(f"| {values['notebook']} | {data} | {values['profile']} | {values.get('seeds', 1)} | "
                    f"{values.get('date', '')} | {headline} |")
    return "\n".join(rows)


def update_readme_results(readme: Path, outputs_dir: Path) -> None:
    """Replace the text between README_BEGIN and README_END in ``readme`` with
    :func:`results_table_markdown`; a README without the markers is left alone (said)."""
    text = readme.read_text(encoding="utf-8")
    if README_BEGIN not in text or README_END not in text:
        print(f"{readme}: no results markers; table not written")
        return
    before, rest = text.split(README_BEGIN, 1)
    _, after = rest.split(README_END, 1)
    readme.write_text(f"{before}{README_BEGIN}\n{results_table_markdown(outputs_dir)}\n{README_END}{after}",
                      encoding="utf-8")
    print(f"results table written into {readme}")


def build_report(notebooks_dir: Path, out_dir: Path, execute: bool = True, only: str | None = None,
                 readme: Path | None = None) -> Path:
    """Sync, execute and export every numbered notebook in ``notebooks_dir``; with
    ``readme``, rewrite its results table from the notebooks' results.json files."""
    # Kernels inherit this: a progress bar in an unattended run only leaves a frozen "0%" in the report.
    os.environ.setdefault("TQDM_DISABLE", "1")
    scripts = sorted(notebooks_dir.glob(NOTEBOOK_PATTERN))
    if not scripts:
        raise FileNotFoundError(f"no notebooks matching {NOTEBOOK_PATTERN} in {notebooks_dir}")
    notebooks = []
    for script in scripts:
        if only and only not in script.stem:
            notebooks.append(script.with_suffix(".ipynb"))
            continue
        # Without execution, keep the outputs that are there (a fresh sync would drop them).
        ipynb = sync_notebook(script) if execute else update_inputs(script)
        if execute:
            print(f"executing {ipynb.name} ...", flush=True)
            seconds = execute_notebook(ipynb)
            print(f"  done in {seconds:.0f} s", flush=True)
        notebooks.append(ipynb)
    index = export(notebooks, out_dir)
    print(f"report written to {index}")
    if readme is not None:
        from . import config

        update_readme_results(Path(readme), config.load_paths().outputs_dir)
    return index
