"""The report as handed in: what it shows of each notebook, pages that read offline, the
PDF, and the committed notebooks exported as a fresh clone would."""
import re
from pathlib import Path

import nbformat
import pytest

from wikiart_core import hand_in, report, results

REPO = Path(__file__).resolve().parents[1]
COMMITTED = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
REMOTE_REFERENCE = re.compile(r"<(?:script|link|img|iframe)\b[^>]*(?:src|href)\s*=\s*[\"']?(?:https?:)?//", re.I)


def notebook_with_every_kind_of_cell():
    new = nbformat.v4
    notebook = new.new_notebook()
    notebook.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}

    def code(source, tags=(), outputs=()):
        cell = new.new_code_cell(source, metadata={"tags": list(tags)} if tags else {})
        cell.outputs = list(outputs)
        return cell

    stream = new.new_output("stream", name="stdout", text="epoch 1 loss 0.5\n")
    notebook.cells = [
        new.new_markdown_cell("# Title\nWords with $x^2$."),
        code("SEED = 0", tags=["parameters", "show-code"]),
        code("# NBVAL_IGNORE_OUTPUT\ntrain_everything()", outputs=[stream]),
        code("# NBVAL_CHECK_OUTPUT\nassert panel.trained", tags=["remove-cell"],
             outputs=[new.new_output("stream", name="stdout", text="the panel trained: True\n")]),
        code("quiet_setup()"),
        code("display(panel.widget)", outputs=[new.new_output("display_data", data={
            hand_in.WIDGET_VIEW: {"model_id": "abc", "version_major": 2}, "text/plain": "VBox(children=...)"})]),
    ]
    return notebook


def test_the_report_shows_outputs_and_only_the_code_tagged_to_be_shown():
    shown = hand_in.for_reading(notebook_with_every_kind_of_cell())
    code = [cell for cell in shown.cells if cell.cell_type == "code"]
    assert [cell.source for cell in code] == ["SEED = 0", "train_everything()", "display(panel.widget)"]
    visible = [cell for cell in code if not cell.metadata.get("transient", {}).get("remove_source")]
    assert [cell.source for cell in visible] == ["SEED = 0"]  # the others show their outputs only
    assert "the panel trained" not in str(shown)  # scaffolding is gone, output and all
    assert "quiet_setup" not in str(shown)  # hidden code with nothing to show leaves no empty box
    assert code[2].outputs[0].data == {"text/markdown": hand_in.WIDGET_NOTE} and "widgets" not in shown.metadata

    markdown, _ = nbformat_markdown(shown)
    assert "NBVAL" not in markdown and "train_everything" not in markdown and "epoch 1 loss" in markdown


def test_with_code_keeps_every_cell_without_the_nbval_markers():
    shown = hand_in.for_reading(notebook_with_every_kind_of_cell(), with_code=True)
    sources = [cell.source for cell in shown.cells if cell.cell_type == "code"]
    assert sources == ["SEED = 0", "train_everything()", "assert panel.trained", "quiet_setup()",
                       "display(panel.widget)"]
    assert not any(cell.metadata.get("transient") for cell in shown.cells)


def nbformat_markdown(notebook):
    from nbconvert import MarkdownExporter

    return MarkdownExporter().from_notebook_node(notebook)


def test_pages_load_nothing_from_the_internet():
    page, _ = hand_in.html_exporter().from_notebook_node(hand_in.for_reading(notebook_with_every_kind_of_cell()))
    assert "<script src" not in page and not REMOTE_REFERENCE.findall(page), REMOTE_REFERENCE.findall(page)
    assert "@import" not in page
    # The stock template would have fetched require.js and MathJax: the check can fail.
    from nbconvert import HTMLExporter

    stock, _ = HTMLExporter().from_notebook_node(notebook_with_every_kind_of_cell())
    assert REMOTE_REFERENCE.findall(stock)


def test_code_share_counts_fenced_blocks():
    text = "words\n```python\nx = 1\n```\n"
    assert hand_in.code_share(text) == pytest.approx(len("```python\nx = 1\n```") / len(text))
    assert hand_in.code_share("no code") == 0


def test_the_landing_page_flags_a_notebook_from_another_profile_and_one_never_run(tmp_path):
    paths = []
    for stem, profile in (("01_a", "demo"), ("02_b", "demo"), ("03_c", "smoke"), ("04_d", None)):
        notebook = nbformat.v4.new_notebook()
        notebook.cells = [nbformat.v4.new_markdown_cell(f"# {stem}"), nbformat.v4.new_code_cell("run()")]
        if profile:
            notebook.cells[1].outputs = [nbformat.v4.new_output("display_data", data={"text/markdown": "saved"},
                                         metadata={results.NOTEBOOK_RESULTS_KEY: {
                                             "notebook": stem, "profile": profile, "dataset": "synthart",
                                             "synthetic_data": True, "date": "2026-12-01",
                                             "headline": f"headline of {stem}"}})]
            notebook.metadata[report.EXECUTION_METADATA_KEY] = {"profile": profile, "dataset": "synthart",
                                                                "date": "2026-12-02"}
        paths.append(tmp_path / f"{stem}.ipynb")
        nbformat.write(notebook, paths[-1])
    page = report.export(paths, tmp_path / "reports", pdf=False).read_text()
    assert "headline of 01_a" in page and "headline of 03_c" in page
    assert "executed in the &#x27;smoke&#x27; profile, unlike the others (&#x27;demo&#x27;)" in page
    assert page.count("executed in the") == 1 + 1  # the header sentence, and the one flag
    assert report.NOT_RUN in page
    # The execution date the notebook recorded, and the export date, each said as what it is.
    assert "Notebooks executed in the demo profile on synthart (synthetic, not WikiArt), 2026-12-02" in page
    assert "exported on" in page


@pytest.mark.skipif(hand_in.find_chromium() is None, reason="no Chromium here (apt-get install chromium)")
def test_the_pdf_prints_and_its_first_page_is_not_blank(tmp_path):
    page = tmp_path / "page.html"
    page.write_text("<html><body><h1>Report</h1><p>" + "A sentence of the report. " * 200 + "</p></body></html>")
    pdf = hand_in.print_pdf(page, tmp_path / "report.pdf")
    assert pdf_page_ink(pdf) > 0.01
    blank = tmp_path / "blank.html"
    blank.write_text("<html><body></body></html>")
    assert pdf_page_ink(hand_in.print_pdf(blank, tmp_path / "blank.pdf")) < 0.001  # the check can fail


def pdf_page_ink(pdf: Path, page_index: int = 0) -> float:
    """The share of non-white pixels of one page of ``pdf``, rendered to PNG at 50 dpi."""
    import numpy as np
    import pypdfium2

    document = pypdfium2.PdfDocument(str(pdf))
    image = document[page_index].render(scale=50 / 72).to_pil().convert("L")
    document.close()
    return float((np.asarray(image) < 200).mean())


def test_a_missing_chromium_is_named_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("WIKIART_CHROMIUM", str(tmp_path / "no-such-chromium"))
    with pytest.raises(hand_in.PdfError, match="apt-get install chromium"):
        hand_in.print_pdf(tmp_path / "page.html", tmp_path / "report.pdf")


def test_the_committed_notebooks_export_a_complete_report(tmp_path):
    """What a fresh clone (no outputs/) gets from `report --no-execute`: every part's headline
    from its notebook, pages that read offline, little code, no nbval markers."""
    index = report.export(COMMITTED, tmp_path / "reports", pdf=False)
    page = index.read_text()
    assert report.NOT_RUN not in page and "unlike the others" not in page, page
    for ipynb in COMMITTED:
        assert report.notebook_results(nbformat.read(ipynb, as_version=4)), f"{ipynb.name}: no saved results"
    markdown = (tmp_path / "reports" / "REPORT.md").read_text()
    assert "NBVAL_" not in markdown
    assert hand_in.code_share(markdown) < 0.10, f"code is {hand_in.code_share(markdown):.0%} of REPORT.md"
    for html_page in (tmp_path / "reports").glob("*.html"):
        text = html_page.read_text()
        assert not REMOTE_REFERENCE.findall(text) and "<script src" not in text, html_page.name
    size = sum(path.stat().st_size for path in COMMITTED)
    assert size < 5_000_000, f"the committed notebooks take {size / 1e6:.1f} MB"
