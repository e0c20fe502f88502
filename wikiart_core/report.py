"""Execute the notebooks and export them as the report (``make report``).

For each ``notebooks/NN_*.py``: bring its paired ``.ipynb`` up to date with the
``.py`` (keeping nothing stale), execute it top to bottom in the chosen profile,
save it with its outputs (the committed notebooks are the report), then export what the
saved notebooks hold (``--no-execute`` on a fresh clone gives the same report):
``reports/NN_*.html``, the landing page ``reports/index.html`` (each part's headline from
the results its notebook saved, the profile, dataset and date of its execution, and a
thumbnail of its key figure: the cell tagged ``key-figure``), ``reports/report.html``
(the whole report on one page), ``reports/REPORT.md`` with its figures in
``reports/figures/``, and ``reports/REPORT.pdf``. What the pages show of each notebook:
``hand_in.for_reading``.

Every file is written atomically (``files``): an interrupted ``make report`` leaves the
previous page or notebook, never half of one. Every value the landing page takes from a
notebook is HTML-escaped: notebooks are data, not markup.
"""
from __future__ import annotations

import copy
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


def notebook_results(notebook) -> dict | None:
    """The results record the notebook saved while it ran (``results.save`` puts it in
    the metadata of an output), the last one if it saved twice; None if it never did."""
    from . import results

    found = None
    for cell in notebook.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            record = output.get("metadata", {}).get(results.NOTEBOOK_RESULTS_KEY)
            if record:
                found = dict(record)
    return found


def execution_of(notebook) -> dict:
    """{"profile", "dataset", "date"} of the run that made the notebook's outputs: what
    ``make report`` recorded in its metadata, else what its results record says (a run
    in JupyterLab); empty values for a notebook never run."""
    recorded, saved = recorded_execution(notebook), notebook_results(notebook) or {}
    return {key: recorded.get(key) or saved.get(key) or "" for key in ("profile", "dataset", "date")}


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


NOT_RUN = "no results in the notebook: execute it (make report)"


def _usual(entries: list[dict], key: str) -> str:
    """The value of ``key`` most notebooks' executions share ('' when none was run)."""
    from collections import Counter

    counts = Counter(entry["execution"][key] for entry in entries if entry["execution"][key])
    return counts.most_common(1)[0][0] if counts else ""


def _flags(entry: dict, usual: dict) -> list[str]:
    """Why a notebook's row cannot be read like the others: never run, or run in another
    profile or on another dataset than most."""
    execution = entry["execution"]
    if not entry["results"]:
        return [NOT_RUN]
    return [f"executed in the {execution[key]!r} {key}, unlike the others ({usual[key]!r})"
            for key in ("profile", "dataset") if execution[key] and usual[key] and execution[key] != usual[key]]


def _header_words(entries: list[dict], exported: str) -> str:
    """'Executed in the demo profile on synthart (synthetic, not WikiArt), 2026-12-07; exported ...'."""
    usual = {key: _usual(entries, key) for key in ("profile", "dataset")}
    dates = sorted({entry["execution"]["date"] for entry in entries if entry["execution"]["date"]})
    saved = [entry["results"] for entry in entries if entry["results"]]
    kind = (("synthetic, not WikiArt" if any(values.get("synthetic_data") for values in saved) else "real")
            if saved else "no results saved")
    when = (dates[0] if len(dates) == 1 else f"between {dates[0]} and {dates[-1]}") if dates else "never"
    data = f"{usual['dataset'] or '?'} ({kind})"
    return (f"Notebooks executed in the {usual['profile'] or '?'} profile on {data}, {when} (the dates the "
            f"notebooks record); this report was exported on {exported}.")


def _landing_row(entry: dict, usual: dict) -> str:
    """One part's row of the landing page; every value in it escaped."""
    values = entry["results"] or {}
    page = _link(entry["page"])
    thumbnail = (f'<a href="{page}"><img src="{_link(entry["thumbnail"])}" alt="key figure of '
                 f'{_text(entry["stem"])}" width="260"></a>' if entry["thumbnail"] else "")
    flags = "".join(f'<br><strong class="flag">{_text(flag)}</strong>' for flag in _flags(entry, usual))
    cells = [f'<a href="{page}">{_text(entry["stem"])}</a><br><small>{_text(entry["title"])}</small>',
             _text(values.get("headline", "")) + flags, _text(_data_words(values)) if values else "",
             _text(entry["execution"]["profile"]), _text(values.get("seeds", "")),
             _text(entry["execution"]["date"]), thumbnail]
    return "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


def _landing_page(entries: list[dict], exported: str, pdf: str | None) -> str:
    """index.html: one row per part with the headline its notebook saved, a thumbnail of
    each part's key figure, and the links. No script and no CDN: it reads offline."""
    usual = {key: _usual(entries, key) for key in ("profile", "dataset")}
    rows = [_landing_row(entry, usual) for entry in entries]
    style = ("body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:6px;vertical-align:top}"
             "th{background:#f3f3f3;text-align:left}.flag{color:#b00020}")
    also = "<a href='report.html'>the whole report on one page</a>, <a href='REPORT.md'>REPORT.md</a>"
    if pdf:
        also += f", <a href='{_link(pdf)}'>PDF</a>"
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>wikiart-lab report</title>"
        f"<style>{style}</style></head><body>\n<h1>wikiart-lab report</h1>\n"
        f"<p>{_text(_header_words(entries, exported))} Each result below is the sentence its notebook rendered "
        "from its own numbers (validation chose, test was scored once; baselines and intervals are in the pages). "
        "Unless the data column says <em>real</em>, the numbers come from the embedded synthetic data, "
        "not from WikiArt.</p>\n<table>\n<tr><th>part</th><th>result</th><th>data</th><th>profile</th>"
        "<th>seeds</th><th>executed</th><th>key figure</th></tr>\n" + "\n".join(rows) + "\n</table>\n"
        f"<p>Also: {also}.</p>\n</body></html>\n")


def _front_matter(entries: list[dict], exported: str) -> str:
    """The Markdown head of REPORT.md and of the one-page report: the header and the table."""
    usual = {key: _usual(entries, key) for key in ("profile", "dataset")}
    table = ["| part | result | data | profile | seeds | executed |", "|---|---|---|---|---|---|"]
    for entry in entries:
        values = entry["results"] or {}
        headline = " ".join([str(values.get("headline", "")), *(f"**{flag}**" for flag in _flags(entry, usual))])
        table.append(f"| [{entry['stem']}]({entry['page']}) | {headline.strip().replace('|', chr(92) + '|')} | "
                     f"{_data_words(values) if values else ''} | {entry['execution']['profile']} | "
                     f"{values.get('seeds', '')} | {entry['execution']['date']} |")
    return ("# wikiart-lab report\n\n" + _header_words(entries, exported) + " Each result is the sentence its "
            "notebook rendered from its own numbers. Unless the data column says *real*, the numbers come from "
            "the embedded synthetic data, not from WikiArt.\n\n" + "\n".join(table))


def _one_page(shown: list, front: str):
    """One notebook of every ``shown`` notebook's cells after a Markdown cell ``front``:
    the whole report on one page, which is what the PDF prints."""
    import nbformat

    merged = nbformat.v4.new_notebook()
    merged.metadata = copy.deepcopy(shown[0].metadata) if shown else {}
    merged.cells = [nbformat.v4.new_markdown_cell(front)]
    for notebook in shown:
        merged.cells.extend(copy.deepcopy(notebook.cells))
    return merged


def export(notebooks: list[Path], out_dir: Path, *, with_code: bool = False, pdf: bool = True) -> Path:
    """Write, from the executed ``notebooks`` as they are saved (their outputs, the
    results each one recorded, the profile and date of its execution): an HTML page each,
    the landing page ``index.html`` (headlines and key-figure thumbnails), ``report.html``
    (everything on one page), ``REPORT.md`` (figures in ``figures/``) and, when a Chromium
    is found, ``REPORT.pdf`` printed from report.html. ``with_code``: keep every code cell
    (see ``hand_in.for_reading``). Returns the landing page's path."""
    import nbformat
    from nbconvert import MarkdownExporter

    from . import hand_in

    out_dir.mkdir(parents=True, exist_ok=True)
    for folder in ("figures", "thumbnails"):
        shutil.rmtree(out_dir / folder, ignore_errors=True)  # files of an earlier export would linger
        (out_dir / folder).mkdir()
    (out_dir / "report.md").unlink(missing_ok=True)  # the old name of REPORT.md
    html_exporter = hand_in.html_exporter(with_code)
    markdown_exporter = MarkdownExporter()
    entries, markdown_parts, shown_notebooks = [], [], []
    for ipynb in notebooks:
        notebook = nbformat.read(ipynb, as_version=4)
        shown = hand_in.for_reading(notebook, with_code=with_code)
        shown_notebooks.append(shown)
        body, _ = html_exporter.from_notebook_node(shown, resources={"metadata": {"name": _title(notebook)}})
        files.write_text(out_dir / f"{ipynb.stem}.html", body)
        text, resources = markdown_exporter.from_notebook_node(
            shown, resources={"output_files_dir": f"figures/{ipynb.stem}"})
        for name, content in resources.get("outputs", {}).items():
            _write_bytes(out_dir / name, content)
        markdown_parts.append(text)
        thumbnail = None
        figure = key_figure(notebook)
        if figure is not None:
            thumbnail = f"thumbnails/{ipynb.stem}.{figure[1]}"
            _write_bytes(out_dir / thumbnail, figure[0])
        entries.append({"stem": ipynb.stem, "title": _title(notebook) or ipynb.stem, "page": f"{ipynb.stem}.html",
                        "thumbnail": thumbnail, "results": notebook_results(notebook),
                        "execution": execution_of(notebook)})
    exported = time.strftime("%Y-%m-%d %H:%M")
    front = _front_matter(entries, exported)
    files.write_text(out_dir / "REPORT.md", "\n\n---\n\n".join([front, *markdown_parts]))
    one_page, _ = html_exporter.from_notebook_node(_one_page(shown_notebooks, front),
                                                   resources={"metadata": {"name": "wikiart-lab report"}})
    files.write_text(out_dir / "report.html", one_page)
    pdf_name = None
    if pdf:
        try:
            hand_in.print_pdf(out_dir / "report.html", out_dir / "REPORT.pdf")
            pdf_name = "REPORT.pdf"
        except hand_in.PdfError as error:
            print(f"no PDF: {error}")
    if pdf_name is None:
        (out_dir / "REPORT.pdf").unlink(missing_ok=True)  # an old PDF would not match these pages
    index = out_dir / "index.html"
    files.write_text(index, _landing_page(entries, exported, pdf_name))
    return index


def _write_bytes(path: Path, data: bytes) -> Path:
    """``data`` to ``path`` atomically (its folder created)."""
    return files.atomic_write(path, lambda handle: handle.write(data))


README_BEGIN = "<!-- results:begin (generated by make report from the notebooks' saved results) -->"
README_END = "<!-- results:end -->"


def results_table_markdown(notebooks: list[Path]) -> str:
    """A Markdown table of the results each of ``notebooks`` saved when it ran: notebook,
    data, profile, seeds, date and the headline sentence it rendered from its numbers."""
    import nbformat

    rows = ["| notebook | data | profile | seeds | date | result |", "|---|---|---|---|---|---|"]
    for ipynb in notebooks:
        values = notebook_results(nbformat.read(ipynb, as_version=4))
        if not values:
            rows.append(f"| {ipynb.stem} | | | | | {NOT_RUN} |")
            continue
        headline = str(values.get("headline", "")).replace("|", "\\|").replace("\n", " ")
        rows.append(f"| {values['notebook']} | {_data_words(values)} | {values['profile']} | "
                    f"{values.get('seeds', 1)} | {values.get('date', '')} | {headline} |")
    return "\n".join(rows)


def update_readme_results(readme: Path, notebooks: list[Path]) -> None:
    """Replace the text between the results markers in ``readme`` (README_END and a line
    starting like README_BEGIN) with :func:`results_table_markdown`; a README without the
    markers is left alone (said)."""
    text = readme.read_text(encoding="utf-8")
    begin = re.search(r"<!-- results:begin[^\n]*-->", text)
    if begin is None or README_END not in text[begin.end():]:
        print(f"{readme}: no results markers; table not written")
        return
    before, after = text[:begin.start()], text[begin.end():].split(README_END, 1)[1]
    files.write_text(readme, f"{before}{README_BEGIN}\n{results_table_markdown(notebooks)}\n{README_END}{after}")
    print(f"results table written into {readme}")


def build_report(notebooks_dir: Path, out_dir: Path, execute: bool = True, only: str | None = None,
                 readme: Path | None = None, cell_timeout: int | None | str = "default", *,
                 with_code: bool = False, pdf: bool = True) -> Path:
    """Sync, execute and export every numbered notebook in ``notebooks_dir`` (without
    ``execute``: export them as they are saved, e.g. as committed); with ``readme``,
    rewrite its results table from the results the notebooks saved. ``cell_timeout``:
    seconds per cell, None for no limit, "default" for :func:`default_cell_timeout`.
    ``with_code`` and ``pdf``: see :func:`export`."""
    from . import config

    if cell_timeout == "default":
        cell_timeout = default_cell_timeout(config.get_profile().name)
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
    index = export(notebooks, out_dir, with_code=with_code, pdf=pdf)
    print(f"report written to {index}")
    if readme is not None:
        update_readme_results(Path(readme), notebooks)
    return index
