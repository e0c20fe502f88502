"""The notebooks as a person sees them: JupyterLab in Chromium (``make test-browser``).

For each notebook, in the ``smoke`` profile: open it, clear it, run all cells, then check
that no cell ended in an error, that every widget rendered (no "Error displaying
widget", no widget shown as its raw model text), that the key figure is a picture the
browser decoded, and that using the panel (its button, or for the painter a new style)
redraws the panel's output. A screenshot of each notebook, taken after that click, goes
to ``reports/screenshots/``. Last, the report's landing page: every link leads to a
file and every image loads.
"""
from __future__ import annotations

import re
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(path.stem for path in (REPO / "notebooks").glob("[0-9][0-9]_*.py"))

OPEN_TIMEOUT_S = 180
RUN_TIMEOUT_S = 900  # a notebook's smoke run is 10-60 s of CPU; two shared cores make it several times that
PANEL_TIMEOUT_S = 300
POLL_S = 2.0
JPEG_QUALITY = 60

# The notebook in view: its kernel, and per code cell the prompt, errors and tags.
NOTEBOOK_STATE = """() => {
  const app = window.jupyterapp;
  const panel = app && app.shell.currentWidget;
  if (!panel || !panel.content || !panel.sessionContext || !panel.context || !panel.context.isReady) return null;
  const session = panel.sessionContext.session;
  const kernel = session && session.kernel;
  const cells = [];
  panel.content.widgets.forEach((cell, index) => {
    const model = cell.model;
    if (model.type !== 'code') return;
    const prompt = cell.node.querySelector('.jp-InputPrompt');
    const outputs = model.outputs.toJSON();
    cells.push({
      index,
      count: model.executionCount,
      running: !!(prompt && prompt.textContent.includes('*')),
      errors: outputs.filter(o => o.output_type === 'error').map(o => `${o.ename}: ${o.evalue}`),
      tags: model.getMetadata('tags') || [],
      source: model.sharedModel.getSource().split('\\n')[0].slice(0, 100),
    });
  });
  return {path: panel.context.path, status: kernel ? kernel.status : 'no kernel', cells};
}"""

# Outputs that show a widget's model as text: the widget manager did not render it.
RAW_WIDGET_TEXT = r"^\s*(VBox|HBox|Box|Output|Button|Dropdown|HTML|IntText|FloatText|IntSlider|FloatSlider|" \
                  r"ToggleButtons|FileUpload|IntProgress|FloatProgress|Label)\("

RENDERING_PROBLEMS = """(pattern) => {
  const raw = new RegExp(pattern);
  const problems = [];
  const notebook = window.jupyterapp.shell.currentWidget.node;
  const cells = Array.from(notebook.querySelectorAll('.jp-Cell'));
  for (const output of notebook.querySelectorAll('.jp-OutputArea-output')) {
    const text = output.textContent || '';
    const where = `cell ${cells.indexOf(output.closest('.jp-Cell'))} (${output.dataset.mimeType || '?'}): `;
    if (text.includes('Error displaying widget')) problems.push(where + text.slice(0, 200));
    else if (raw.test(text) || text.includes('model_id')) problems.push(where + 'raw widget text ' + text.slice(0, 160));
  }
  return problems;
}"""

# True when every cell in ``indices`` shows at least one picture the browser decoded.
PICTURES_SHOWN = """(indices) => {
  const cells = window.jupyterapp.shell.currentWidget.content.widgets;
  return indices.every(i => Array.from(cells[i].node.querySelectorAll('.jp-OutputArea-output img'))
                                 .some(img => img.complete && img.naturalWidth > 0));
}"""

WATCH_OUTPUT = """(cell) => {
  cell.__changes = 0;
  const output = cell.querySelector('.widget-output');
  new MutationObserver(records => { cell.__changes += records.length; })
    .observe(output, {childList: true, subtree: true, characterData: true, attributes: true});
}"""

# The panel is done: its output changed since WATCH_OUTPUT, its message matches, its
# button (if any) is enabled again, and its output holds a decoded picture.
PANEL_UPDATED = """([cell, pattern, buttonText]) => {
  const message = cell.querySelector('.widget-html');
  const output = cell.querySelector('.widget-output');
  const button = buttonText && Array.from(cell.querySelectorAll('.jupyter-widgets button'))
                                     .find(b => b.textContent.trim() === buttonText);
  return cell.__changes > 0 && !!message && new RegExp(pattern).test(message.textContent.trim())
    && (!button || !button.disabled)
    && Array.from(output.querySelectorAll('img')).some(img => img.complete && img.naturalWidth > 0);
}"""


@dataclass(frozen=True)
class PanelCheck:
    """How to use a notebook's panel: pick ``select`` = (the dropdown's label, the option
    label, or None for "the next option"), press ``button``; then its message must match
    ``done`` (``{option}`` stands for the chosen option's label)."""

    button: str | None
    done: str
    select: tuple[str, str | None] | None = None


PANELS = {
    "01_bonusA": PanelCheck(button="Train", done=r"^Done: validation accuracy"),
    "02_part1_weights": PanelCheck(button="Train", done=r"^Done: validation accuracy"),
    "03_part2_autoencoder": PanelCheck(button="Redraw", done=r"^{option}: NMI", select=("representation", "StyleCNN")),
    "04_part3": PanelCheck(button=None, done=r"^painted in {option}$", select=("style", None)),
}


def notebook_state(page) -> dict:
    return page.evaluate(NOTEBOOK_STATE)


def open_notebook(page, lab, name: str) -> None:
    # A workspace of its own: the default one would reopen the notebooks of the earlier tests.
    page.goto(lab.url(f"{name}.ipynb", workspace=name))
    page.wait_for_function(f"""(path) => {{
      const s = ({NOTEBOOK_STATE})();
      return s && s.path === path && s.status === 'idle' && s.cells.length > 0;
    }}""", arg=f"{name}.ipynb", timeout=OPEN_TIMEOUT_S * 1000, polling=500)
    # The notebook alone on the screen: no file browser, no property inspector.
    page.evaluate("() => { window.jupyterapp.shell.collapseLeft(); window.jupyterapp.shell.collapseRight(); }")


def run_all_cells(page, lab, name: str) -> dict:
    """Clear every output (so nothing saved can pass for this run), run all cells, and
    wait until every code cell has run, or one failed (the run stops there), and the
    kernel is idle."""
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    state = notebook_state(page)
    assert all(cell["count"] is None for cell in state["cells"]), "clearing the outputs left execution counts"
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    started, finished_polls = time.monotonic(), 0
    while True:
        time.sleep(POLL_S)
        state = notebook_state(page)
        errors = [cell for cell in state["cells"] if cell["errors"]]
        all_ran = all(cell["count"] is not None and not cell["running"] for cell in state["cells"])
        # Twice in a row: between two queued cells the kernel is idle for a moment.
        finished_polls = finished_polls + 1 if state["status"] == "idle" and (all_ran or errors) else 0
        if finished_polls >= 2:
            return state
        if time.monotonic() - started > RUN_TIMEOUT_S:
            waiting = [f"[{c['index']}] {c['source']}" for c in state["cells"] if c["count"] is None or c["running"]]
            pytest.fail(f"{name}: not finished after {RUN_TIMEOUT_S} s (kernel {state['status']}); still waiting: "
                        f"{waiting[:3]}\nJupyterLab log:\n{lab.log_tail()}")


def use_panel(page, name: str, check: PanelCheck):
    """Use the notebook's panel as a person would; returns the panel's cell."""
    if check.button:
        marker = page.locator(".jupyter-widgets button", has_text=re.compile(rf"^\s*{re.escape(check.button)}\s*$"))
    else:
        marker = page.locator(".widget-dropdown", has=page.locator("label", has_text=re.compile(
            rf"^\s*{re.escape(check.select[0])}\s*$")))
    cell = page.locator(".jp-CodeCell", has=marker).first
    cell.scroll_into_view_if_needed()
    handle = cell.element_handle()
    option = ""
    if check.select:
        label, option = check.select
        select = cell.locator(".widget-dropdown", has=page.locator("label", has_text=re.compile(
            rf"^\s*{re.escape(label)}\s*$"))).locator("select")
        # ipywidgets writes the spaces of option labels as no-break spaces.
        labels = [text.replace("\xa0", " ").strip() for text in select.locator("option").all_inner_texts()]
        if option is None:  # the option after the current one: a change the panel must show
            current = select.evaluate("s => s.selectedIndex")
            option = labels[(current + 1) % len(labels)]
        assert option in labels, f"{name}: no option {option!r} in the {label!r} dropdown ({labels})"
        page.evaluate(WATCH_OUTPUT, handle)
        select.select_option(index=labels.index(option))
    else:
        page.evaluate(WATCH_OUTPUT, handle)
    if check.button:
        button = cell.locator(".jupyter-widgets button", has_text=re.compile(rf"^\s*{re.escape(check.button)}\s*$"))
        button.first.click()
    pattern = check.done.replace("{option}", re.escape(option))
    try:
        page.wait_for_function(PANEL_UPDATED, arg=[handle, pattern, check.button], timeout=PANEL_TIMEOUT_S * 1000,
                               polling=500)
    except Exception as error:
        seen = page.evaluate("""(cell) => ({message: cell.querySelector('.widget-html').textContent.trim(),
            changes: cell.__changes, selects: Array.from(cell.querySelectorAll('select')).map(s => s.value),
            pictures: cell.querySelector('.widget-output').querySelectorAll('img').length})""", handle)
        raise AssertionError(f"{name}: the panel did not update after using it (expected {pattern!r}; "
                             f"the panel shows {seen})") from error
    return cell


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_and_its_panel_works_in_jupyterlab(lab, page, screenshots, name):
    open_notebook(page, lab, name)
    state = run_all_cells(page, lab, name)

    errors = [f"cell [{cell['index']}] {cell['source']!r}: {'; '.join(cell['errors'])}"
              for cell in state["cells"] if cell["errors"]]
    assert not errors, f"{name}: cells ended in an error:\n" + "\n".join(errors)
    assert all(cell["count"] is not None for cell in state["cells"])

    problems = page.evaluate(RENDERING_PROBLEMS, RAW_WIDGET_TEXT)
    assert not problems, f"{name}: widgets that did not render:\n" + "\n".join(problems)

    key_cells = [cell["index"] for cell in state["cells"] if "key-figure" in cell["tags"]]
    assert key_cells, f"{name}: no cell tagged key-figure"
    try:
        page.wait_for_function(PICTURES_SHOWN, arg=key_cells, timeout=30_000, polling=500)
    except Exception as error:
        raise AssertionError(f"{name}: the key figure (cells {key_cells}) shows no picture") from error
    pictures = page.evaluate("() => Array.from(window.jupyterapp.shell.currentWidget.node"
                             ".querySelectorAll('.jp-OutputArea-output img'))"
                             ".filter(img => img.naturalWidth > 0).length")
    assert pictures >= 1

    check = PANELS.get(name)
    if check is not None:
        assert page.locator(".jp-Notebook .jupyter-widgets").count() > 0, f"{name}: no widget on the page"
        focus = use_panel(page, name, check)
        problems = page.evaluate(RENDERING_PROBLEMS, RAW_WIDGET_TEXT)
        assert not problems, f"{name}: widgets that did not render after using the panel:\n" + "\n".join(problems)
    else:
        focus = page.locator(".jp-Notebook .jp-Cell").nth(key_cells[0])
    # The panel (or the key figure) at the top of the screen, after the click.
    focus.evaluate("cell => cell.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(500)
    page.screenshot(path=screenshots / f"{name}.jpg", type="jpeg", quality=JPEG_QUALITY)

    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")


def landing_page(tmp_path) -> Path:
    """reports/index.html from `make report`; on a fresh checkout (reports/ is not in
    git) the same page exported from the committed notebooks into a temporary folder."""
    index = REPO / "reports" / "index.html"
    if index.is_file():
        return index
    from wikiart_core import report

    notebooks = [REPO / "notebooks" / f"{name}.ipynb" for name in NOTEBOOKS]
    return report.export(notebooks, tmp_path / "reports", pdf=False)


def test_the_report_exported_from_the_committed_notebooks_prints_and_reads_at_1280_px(page, screenshots, tmp_path):
    """A fresh clone's `report --no-execute`: the PDF's first pages are not blank, and the
    one-page HTML, shown 1280 px wide, loads every image without the internet."""
    import numpy as np
    import pypdfium2

    from wikiart_core import report

    notebooks = [REPO / "notebooks" / f"{name}.ipynb" for name in NOTEBOOKS]
    index = report.export(notebooks, tmp_path / "reports", pdf=True)
    pdf = index.parent / "REPORT.pdf"
    assert pdf.is_file(), "no REPORT.pdf: Chromium did not print"
    document = pypdfium2.PdfDocument(str(pdf))
    assert len(document) >= 5, f"{pdf}: only {len(document)} pages"
    for number in range(3):
        image = document[number].render(scale=50 / 72).to_pil().convert("L")
        image.save(screenshots / f"report-pdf-page{number + 1}.png")
        ink = float((np.asarray(image) < 200).mean())
        assert ink > 0.01, f"{pdf}: page {number + 1} is blank ({ink:.2%} ink)"
    document.close()
    page.route("http*://**", lambda route: route.abort())  # offline: anything fetched from outside fails
    fetched = []
    page.on("request", lambda request: fetched.append(request.url) if request.url.startswith("http") else None)
    page.goto((index.parent / "report.html").as_uri())
    page.wait_for_load_state("load")
    assert not fetched, f"report.html asked the internet for {fetched[:5]}"
    broken = page.evaluate("() => Array.from(document.images).filter(img => !(img.complete && img.naturalWidth > 0))"
                           ".map(img => img.getAttribute('alt') || img.src.slice(0, 40))")
    assert not broken, f"report.html: images that do not load: {broken}"
    for name in ("01_bonusA", "04_part3"):
        html_page = index.parent / f"{name}.html"
        page.goto(html_page.as_uri())
        page.wait_for_load_state("load")
        page.screenshot(path=screenshots / f"report-{name}.jpg", type="jpeg", quality=JPEG_QUALITY)


def test_report_landing_page_links_resolve_and_images_load(page, screenshots, tmp_path):
    index = landing_page(tmp_path)
    page.goto(index.as_uri())
    page.wait_for_load_state("load")
    links = page.evaluate("() => Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href'))")
    assert links, f"{index}: no links"
    missing = []
    for href in links:
        parts = urllib.parse.urlsplit(href)
        if parts.scheme in ("http", "https", "mailto"):
            continue  # outside the report; this machine may have no network
        if not parts.path:  # "#section": an anchor on the same page
            anchor = urllib.parse.unquote(parts.fragment)
            if anchor and not page.evaluate("(id) => !!document.getElementById(id)", anchor):
                missing.append(href)
            continue
        if not (index.parent / urllib.parse.unquote(parts.path)).is_file():
            missing.append(href)
    assert not missing, f"{index}: links to missing files: {missing}"
    images = page.evaluate("() => Array.from(document.images).map(img => ({src: img.getAttribute('src'), "
                           "loaded: img.complete && img.naturalWidth > 0}))")
    assert images, f"{index}: no images"
    broken = [image["src"] for image in images if not image["loaded"]]
    assert not broken, f"{index}: images that do not load: {broken}"
    page.screenshot(path=screenshots / "index.jpg", type="jpeg", quality=JPEG_QUALITY)
