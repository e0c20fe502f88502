"""Execute the notebooks and export them as the report (``make report``).

For each ``notebooks/NN_*.py``: bring its paired ``.ipynb`` up to date with the
``.py`` (keeping nothing stale), execute it top to bottom in the chosen profile,
save it with its outputs (the committed notebooks are the report), then write
``reports/NN_*.html``, the landing page ``reports/index.html`` (the headline results
of every part, from ``outputs/*/results.json``, with a thumbnail of each part's key
figure: the cell tagged ``key-figure``) and ``reports/REPORT.md`` with its figures in
``reports/figures/``.

Every file is written atomically (``files``): an interrupted ``make report`` leaves the
previous page or notebook, never half of one. Every value the landing page takes from a
results.json or a notebook is HTML-escaped: those files are data, not markup.
"""
from __future__ import annotations

import html
import io
import os
import re
import shutil
import time
import urllib.parse
from pathlib import Path

from . import files

NOTEBOOK_PATTERN = "[0-9][0-9]_*.py"


def keep_cell_ids(notebook, previous) -> None:
    """Give each cell of ``notebook`` the id it had in ``previous``: the cell of the same
    type and source, else an edited cell at the same position with the same type.

    jupytext draws new random ids on every read, so without this every sync and every
    ``make report`` rewrites all ids and an unchanged notebook shows a diff on every line."""
    by_source: dict[tuple[str, str], list[str]] = {}
    for cell in previous.cells:
        if cell.get("id"):
            by_source.setdefault((cell.cell_type, cell.source.strip()), []).append(cell["id"])
    used, unmatched = set(), []
    for index, cell in enumerate(notebook.cells):
        ids = by_source.get((cell.cell_type, cell.source.strip()))
        if ids:
            cell["id"] = ids.pop(0)
            used.add(cell["id"])
        else:
            unmatched.append(index)
    for index in unmatched:
        if index < len(previous.cells):
            old = previous.cells[index]
            if old.cell_type == notebook.cells[index].cell_type and old.get("id") and old["id"] not in used:
                notebook.cells[index]["id"] = old["id"]
                used.add(old["id"])


def sync_notebook(script: Path) -> Path:
    """Write ``script``'s cells into its paired .ipynb (inputs only; outputs are
    recomputed by :func:`execute_notebook`), keeping the cell ids it had."""
    import jupytext
    import nbformat

    notebook = jupytext.read(script)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    ipynb = script.with_suffix(".ipynb")
    if ipynb.exists():
        keep_cell_ids(notebook, nbformat.read(ipynb, as_version=4))
    _write_notebook(ipynb, lambda stream: jupytext.write(notebook, stream, fmt="ipynb"))
    return ipynb


def _write_notebook(ipynb: Path, write) -> Path:
    """``write(text stream)`` (nbformat's or jupytext's writer) into ``ipynb`` atomically:
    an interrupt while a notebook of megabytes of figures is written keeps the old one."""
    buffer = io.StringIO()
    write(buffer)
    return files.write_text(ipynb, buffer.getvalue())


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
        keep_cell_ids(notebook, previous_notebook)
        for cell in previous_notebook.cells:
            if cell.cell_type == "code":
                old_outputs.setdefault(cell.source.strip(), []).append(cell)
    for cell in notebook.cells:
        if cell.cell_type == "code" and old_outputs.get(cell.source.strip()):
            previous = old_outputs[cell.source.strip()].pop(0)
            cell.outputs, cell.execution_count = previous.outputs, previous.execution_count
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    _write_notebook(ipynb, lambda stream: nbformat.write(notebook, stream))
    return ipynb


def _poll_shell_in_short_steps(kernel_client, step_s: float = 1.0) -> None:
    """Make ``kernel_client.shell_channel.get_msg(timeout=T)`` wait in steps of at most
    ``step_s`` seconds until T has passed.

    With widgets in a cell, nbclient can wait on the shell channel for its whole cell
    timeout although the kernel has replied and is idle (jupyter/nbclient#312). ``make
    report`` stalled like that, now and then, in notebook 03's cluster-explorer cell.
    Asking again every second picks up a reply whose wake-up was missed; the wait for a
    cell that is really running is unchanged."""
    import asyncio
    import queue

    channel = kernel_client.shell_channel
    get_msg = channel.get_msg

    async def get_msg_in_steps(timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            step = step_s if deadline is None else max(0.0, min(step_s, deadline - time.monotonic()))
            try:
                message = get_msg(timeout=step)
                return await message if asyncio.iscoroutine(message) else message
            except queue.Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    channel.get_msg = get_msg_in_steps


EXECUTION_METADATA_KEY = "wikiart"


def default_cell_timeout(profile_name: str) -> int | None:
    """Seconds a cell may run in ``make report``: none in ``full`` (notebook 05's LoRA cell
    takes hours on the server), an hour otherwise (a stuck cell in ``demo`` is a bug)."""
    return None if profile_name == "full" else 3600


def recorded_execution(notebook) -> dict:
    """What :func:`execute_notebook` recorded in the notebook's metadata about the run that
    made its outputs: {"profile", "dataset", "date"} (empty for a notebook never executed
    by ``make report``)."""
    return dict(notebook.metadata.get(EXECUTION_METADATA_KEY, {}))


def execute_notebook(ipynb: Path, timeout_s: int | None = 3600, log=print) -> float:
    """Run every cell of ``ipynb`` in its own folder and save the outputs in place,
    logging the cells that take more than a few seconds, and record the profile, dataset
    and date of the run in the notebook's metadata (``make regress`` re-runs it in that
    profile). ``timeout_s``: per cell, None for no limit. Returns the seconds it took.
    Raises nbclient's CellExecutionError on a failing cell (the notebook is not saved)."""
    import nbformat
    from nbclient import NotebookClient

    from . import config

    notebook = nbformat.read(ipynb, as_version=4)
    client = NotebookClient(notebook, timeout=timeout_s, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(ipynb.parent)}})
    start = time.perf_counter()
    with client.setup_kernel():
        _poll_shell_in_short_steps(client.kc)
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            cell_start = time.perf_counter()
            client.execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
            if time.perf_counter() - cell_start > 5:
                log(f"  cell {index}: {time.perf_counter() - cell_start:.0f} s")
        client.set_widgets_metadata()
    notebook.metadata[EXECUTION_METADATA_KEY] = {"profile": config.get_profile().name,
                                                 "dataset": config.load_paths().dataset,
                                                 "date": time.strftime("%Y-%m-%d")}
    _write_notebook(ipynb, lambda stream: nbformat.write(notebook, stream))
    return time.perf_counter() - start


def _title(notebook) -> str:
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^#\s+(.+)$", cell.source, flags=re.MULTILINE)
            if match:
                return match.group(1).strip()
    return ""


KEY_FIGURE_TAG = "key-figure"
_IMAGE_TYPES = {"image/png": "png", "image/jpeg": "jpg"}


def key_figure(notebook) -> tuple[bytes, str] | None:
    """(image bytes, extension) of the notebook's key figure: the first picture output of
    a cell tagged ``key-figure``, else its first picture at all; None without pictures."""
    import base64

    cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    tagged = [cell for cell in cells if KEY_FIGURE_TAG in cell.get("metadata", {}).get("tags", [])]
    for cell in tagged + cells:
        for output in cell.get("outputs", []):
            for kind, extension in _IMAGE_TYPES.items():
                if kind in output.get("data", {}):
                    return base64.b64decode(output["data"][kind]), extension
    return None


def read_results(outputs_dir: Path | None) -> dict[str, dict]:
    """{notebook name: its results.json values} for every ``outputs_dir/*/results.json``."""
    import json

    if outputs_dir is None:
        return {}
    return {path.parent.name: json.loads(path.read_text(encoding="utf-8"))
            for path in sorted(Path(outputs_dir).glob("*/results.json"))}


def _data_words(values: dict) -> str:
    return f"{values.get('dataset', '?')} ({'synthetic, not WikiArt' if values.get('synthetic_data') else 'real'})"


def _text(value) -> str:
    """``value`` (any JSON value: a number, a list...) as HTML text: ``str`` then escaped,
    quotes included, so it is also safe inside an attribute."""
    return html.escape(str(value), quote=True)


def _link(path: str) -> str:
    """A relative file path for ``href``/``src``: percent-encoded (a '#', '?' or space in a
    notebook's name would cut the link short) and escaped."""
    return _text(urllib.parse.quote(path))


def _landing_row(entry: dict) -> str:
    """One part's row of the landing page; every value in it escaped."""
    values = entry["results"] or {}
    page = _link(entry["page"])
    thumbnail = (f'<a href="{page}"><img src="{_link(entry["thumbnail"])}" alt="key figure of '
                 f'{_text(entry["stem"])}" width="260"></a>' if entry["thumbnail"] else "")
    cells = [f'<a href="{page}">{_text(entry["stem"])}</a><br><small>{_text(entry["title"])}</small>',
             _text(values.get("headline", "no results.json: run the notebook")),
             _text(_data_words(values)) if values else "", _text(values.get("profile", "")),
             _text(values.get("seeds", "")), _text(values.get("date", "")), thumbnail]
    return "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


def _landing_page(entries: list[dict], profile: str) -> str:
    """index.html: what was found (one row per part, from results.json), a thumbnail of
    each part's key figure, and the links. No script and no CDN: it reads offline."""
    rows = [_landing_row(entry) for entry in entries]
    style = ("body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:6px;vertical-align:top}"
             "th{background:#f3f3f3;text-align:left}")
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>wikiart-lab report</title>"
        f"<style>{style}</style></head><body>\n<h1>wikiart-lab report</h1>\n"
        f"<p>Notebooks executed top to bottom in the <code>{_text(profile)}</code> profile on "
        f"{time.strftime('%Y-%m-%d %H:%M')}. Each result below is the sentence its notebook rendered from "
        "its own numbers (validation chose, test was scored once; baselines and intervals are in the pages). "
        "Unless the data column says <em>real</em>, the numbers come from the embedded synthetic data, "
        "not from WikiArt.</p>\n<table>\n<tr><th>part</th><th>result</th><th>data</th><th>profile</th>"
        "<th>seeds</th><th>date</th><th>key figure</th></tr>\n" + "\n".join(rows) + "\n</table>\n"
        "<p>Also as Markdown: <a href='REPORT.md'>REPORT.md</a>.</p>\n</body></html>\n")


def export(notebooks: list[Path], out_dir: Path, outputs_dir: Path | None = None) -> Path:
    """Write, for the executed ``notebooks``: an HTML page each, a landing page
    (``index.html``: the headline results of ``outputs_dir/*/results.json`` with a
    thumbnail of each notebook's key figure) and ``REPORT.md`` (the same table, then every
    notebook as Markdown, figures in ``figures/``). Returns the landing page's path."""
    import nbformat
    from nbconvert import HTMLExporter, MarkdownExporter

    out_dir.mkdir(parents=True, exist_ok=True)
    for folder in ("figures", "thumbnails"):
        shutil.rmtree(out_dir / folder, ignore_errors=True)  # files of an earlier export would linger
        (out_dir / folder).mkdir()
    (out_dir / "report.md").unlink(missing_ok=True)  # the old name of REPORT.md
    results = read_results(outputs_dir)
    html_exporter = HTMLExporter()
    markdown_exporter = MarkdownExporter()
    entries, markdown_parts = [], []
    for ipynb in notebooks:
        notebook = nbformat.read(ipynb, as_version=4)
        body, _ = html_exporter.from_notebook_node(notebook)
        files.write_text(out_dir / f"{ipynb.stem}.html", body)
        text, resources = markdown_exporter.from_notebook_node(
            notebook, resources={"output_files_dir": f"figures/{ipynb.stem}"})
        for name, content in resources.get("outputs", {}).items():
            _write_bytes(out_dir / name, content)
        markdown_parts.append(text)
        thumbnail = None
        figure = key_figure(notebook)
        if figure is not None:
            thumbnail = f"thumbnails/{ipynb.stem}.{figure[1]}"
            _write_bytes(out_dir / thumbnail, figure[0])
        entries.append({"stem": ipynb.stem, "title": _title(notebook) or ipynb.stem, "page": f"{ipynb.stem}.html",
                        "thumbnail": thumbnail, "results": results.get(ipynb.stem)})
    profile = os.environ.get("WIKIART_PROFILE", "demo")
    index = out_dir / "index.html"
    files.write_text(index, _landing_page(entries, profile))
    table = ["| part | result | data | profile | seeds | date |", "|---|---|---|---|---|---|"]
    for entry in entries:
        values = entry["results"] or {}
        headline = str(values.get("headline", "no results.json")).replace("|", "\\|")
        table.append(f"| [{entry['stem']}]({entry['page']}) | {headline} | {_data_words(values) if values else ''} | "
                     f"{values.get('profile', '')} | {values.get('seeds', '')} | {values.get('date', '')} |")
    front = ("# wikiart-lab report\n\nEach result is the sentence its notebook rendered from its own numbers. "
             "Unless the data column says *real*, the numbers come from the embedded synthetic data, not from "
             "WikiArt.\n\n" + "\n".join(table))
    files.write_text(out_dir / "REPORT.md", "\n\n---\n\n".join([front, *markdown_parts]))
    return index


def _write_bytes(path: Path, data: bytes) -> Path:
    """``data`` to ``path`` atomically (its folder created)."""
    return files.atomic_write(path, lambda handle: handle.write(data))


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
    files.write_text(readme, f"{before}{README_BEGIN}\n{results_table_markdown(outputs_dir)}\n{README_END}{after}")
    print(f"results table written into {readme}")


def build_report(notebooks_dir: Path, out_dir: Path, execute: bool = True, only: str | None = None,
                 readme: Path | None = None, cell_timeout: int | None | str = "default") -> Path:
    """Sync, execute and export every numbered notebook in ``notebooks_dir``; with
    ``readme``, rewrite its results table from the notebooks' results.json files (those
    of the profile and dataset the run used: ``Paths.run_outputs``). ``cell_timeout``:
    seconds per cell, None for no limit, "default" for :func:`default_cell_timeout`."""
    from . import config

    profile = config.get_profile()
    if cell_timeout == "default":
        cell_timeout = default_cell_timeout(profile.name)
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
            seconds = execute_notebook(ipynb, timeout_s=cell_timeout)
            print(f"  done in {seconds:.0f} s", flush=True)
        notebooks.append(ipynb)
    outputs_dir = config.load_paths().run_outputs(profile)
    index = export(notebooks, out_dir, outputs_dir)
    print(f"report written to {index}")
    if readme is not None:
        update_readme_results(Path(readme), outputs_dir)
    return index
