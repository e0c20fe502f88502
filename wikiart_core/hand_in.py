"""The notebooks as a report to hand in: what is shown, offline pages, and the PDF.

An executed notebook holds three kinds of code cell: the few whose code a reader should
see (tagged ``show-code``: the parameters, the line that shows a bug), the many whose
*outputs* tell the story (training logs, figures, the narrative they render), and checks
and scaffolding for nbval and the tests (tagged ``remove-cell``). :func:`for_reading`
keeps the first whole, the outputs of the second, and drops the third; ``with_code``
keeps every cell with its code. ``# NBVAL_...`` markers never reach the report, and an
interactive widget, which cannot run in a static page, is replaced by one line (the
notebooks print its state beside it: ``widgets.static_copy``).

:func:`html_exporter` writes pages that need nothing from the internet (nbconvert's lab
template loads require.js, MathJax and the widget manager from CDNs), and
:func:`print_pdf` prints a page to PDF with the machine's own Chromium, headless.
"""
from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

SHOW_CODE_TAG = "show-code"
REMOVE_CELL_TAG = "remove-cell"
REMOVE_INPUT_TAG = "remove-input"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = ("*An interactive panel here in JupyterLab; the page shows what it printed when the notebook "
               "was executed.*")
TEMPLATES = Path(__file__).resolve().parent / "templates"
_NBVAL_MARKER = re.compile(r"^[ \t]*#[ \t]*NBVAL_\w+[ \t]*\n?", flags=re.MULTILINE)


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _without_widgets(outputs: list) -> list:
    """``outputs`` with every widget view replaced by :data:`WIDGET_NOTE` (once per cell)."""
    import nbformat

    kept, noted = [], False
    for output in outputs:
        if WIDGET_VIEW in output.get("data", {}):
            if not noted:
                kept.append(nbformat.v4.new_output("display_data", data={"text/markdown": WIDGET_NOTE}))
                noted = True
            continue
        kept.append(output)
    return kept


def for_reading(notebook, with_code: bool = False):
    """A copy of the executed ``notebook`` as the report shows it.

    Default: cells tagged ``remove-cell`` are dropped; code cells keep their code only
    when tagged ``show-code`` and are dropped when that leaves nothing to show. With
    ``with_code``: every cell, with its code. Always: ``# NBVAL_...`` marker lines are
    removed from the code, widget views become one line of text, and the saved widget
    state is left out (nothing on the page could render it offline)."""
    from nbconvert.preprocessors import TagRemovePreprocessor

    shown = copy.deepcopy(notebook)
    shown.metadata.pop("widgets", None)
    for cell in shown.cells:
        if cell.cell_type != "code":
            continue
        cell.source = _NBVAL_MARKER.sub("", cell.source).strip("\n")
        cell.outputs = _without_widgets(cell.get("outputs", []))
        tags = _tags(cell)
        if not with_code and SHOW_CODE_TAG not in tags and REMOVE_INPUT_TAG not in tags:
            cell.metadata["tags"] = [*tags, REMOVE_INPUT_TAG]
    if not with_code:
        remover = TagRemovePreprocessor(remove_cell_tags={REMOVE_CELL_TAG}, remove_input_tags={REMOVE_INPUT_TAG},
                                        enabled=True)
        shown, _ = remover.preprocess(shown, {})
        shown.cells = [cell for cell in shown.cells if cell.cell_type != "code" or cell.outputs
                       or not cell.metadata.get("transient", {}).get("remove_source")]
    return shown


def code_share(markdown: str) -> float:
    """The fraction (0–1) of ``markdown``'s characters that are fenced code blocks."""
    code = sum(len(block) for block in re.findall(r"```.*?```", markdown, flags=re.DOTALL))
    return code / max(len(markdown), 1)


def html_exporter(with_code: bool = False):
    """nbconvert's HTMLExporter on the ``offline`` template (the lab look, no script or
    stylesheet from the internet), images embedded; without ``with_code`` no "In [3]:" /
    "Out[3]:" prompts either (they would number code the page does not show)."""
    from nbconvert import HTMLExporter

    return HTMLExporter(extra_template_basedirs=[str(TEMPLATES)], template_name="offline",
                        exclude_input_prompt=not with_code, exclude_output_prompt=not with_code)


def find_chromium() -> str | None:
    """The Chromium to print with: ``$WIKIART_CHROMIUM``, else ``chromium`` or
    ``chromium-browser`` on the PATH (Debian's package: ``apt-get install chromium``);
    None when there is none. Never a browser download."""
    explicit = os.environ.get("WIKIART_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


class PdfError(RuntimeError):
    """Printing the report to PDF failed; the message says why and what to install."""


def print_pdf(html_path: Path, pdf_path: Path, chromium: str | None = None, timeout_s: int = 300) -> Path:
    """Print ``html_path`` to ``pdf_path`` (A4, no header or footer) with headless
    Chromium; written atomically (a failed print keeps the previous PDF).

    Raises PdfError when no Chromium is found or it fails."""
    from . import files

    chromium = chromium or find_chromium()
    if chromium is None:
        raise PdfError("no Chromium to print the PDF with: install Debian's package (apt-get install chromium) "
                       "or set WIKIART_CHROMIUM to its path; the HTML report is written all the same")
    with tempfile.TemporaryDirectory(prefix="wikiart-pdf-") as scratch:
        target = Path(scratch) / "report.pdf"
        command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                   "--no-pdf-header-footer", f"--user-data-dir={scratch}/profile", f"--print-to-pdf={target}",
                   Path(html_path).resolve().as_uri()]
        try:
            finished = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired as error:
            raise PdfError(f"{chromium} did not finish printing {html_path} in {timeout_s} s") from error
        if finished.returncode != 0 or not target.is_file() or target.stat().st_size == 0:
            raise PdfError(f"{chromium} could not print {html_path} (exit {finished.returncode}): "
                           f"{finished.stderr.strip()[-500:]}")
        data = target.read_bytes()
    return files.atomic_write(Path(pdf_path), lambda handle: handle.write(data))
