"""The report plumbing: keeping outputs on a narrative-only sync, and the exported pages."""
from pathlib import Path

import nbformat

from wikiart_core import report

SCRIPT = """# %% [markdown]
# # A title
# Some words.

# %%
print(1 + 1)

# %%
print("changes")
"""


def executed_pair(tmp_path):
    script = tmp_path / "01_demo.py"
    script.write_text(SCRIPT)
    ipynb = report.sync_notebook(script)
    notebook = nbformat.read(ipynb, as_version=4)
    for count, cell in enumerate(c for c in notebook.cells if c.cell_type == "code"):
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"output {count}\n")]
        cell.execution_count = count + 1
    nbformat.write(notebook, ipynb)
    return script, ipynb


def save_results(ipynb, record, cell=0):
    """Put ``record`` in the notebook as ``results.save`` does in a kernel: the metadata of an output."""
    from wikiart_core import results

    notebook = nbformat.read(ipynb, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    code[cell].outputs.append(nbformat.v4.new_output(
        "display_data", data={"text/markdown": "Results saved."}, metadata={results.NOTEBOOK_RESULTS_KEY: record}))
    nbformat.write(notebook, ipynb)


def test_update_inputs_keeps_outputs_of_unchanged_code_only(tmp_path):
    script, ipynb = executed_pair(tmp_path)
    script.write_text(SCRIPT.replace("Some words.", "Other words.").replace('"changes"', '"changed"'))
    report.update_inputs(script)
    cells = nbformat.read(ipynb, as_version=4).cells
    assert "Other words." in cells[0].source
    assert cells[1].outputs[0].text == "output 0\n" and cells[1].execution_count == 1
    assert cells[2].source == 'print("changed")' and cells[2].outputs == [] and cells[2].execution_count is None


def test_export_writes_pages_index_and_markdown(tmp_path):
    _, ipynb = executed_pair(tmp_path)
    index = report.export([ipynb], tmp_path / "reports", pdf=False)
    assert (tmp_path / "reports" / "01_demo.html").is_file()
    assert 'href="01_demo.html"' in index.read_text() and "A title" in index.read_text()
    markdown = (tmp_path / "reports" / "REPORT.md").read_text()
    assert "# A title" in markdown and "output 0" in markdown


def test_export_without_execution_keeps_the_outputs(tmp_path):
    script, ipynb = executed_pair(tmp_path)
    report.build_report(tmp_path, tmp_path / "reports", execute=False, pdf=False)
    cells = nbformat.read(ipynb, as_version=4).cells
    assert [c.outputs[0].text for c in cells if c.cell_type == "code"] == ["output 0\n", "output 1\n"]


def test_syncing_keeps_cell_ids(tmp_path):
    script, ipynb = executed_pair(tmp_path)
    before = [cell.id for cell in nbformat.read(ipynb, as_version=4).cells]
    report.sync_notebook(script)
    assert [cell.id for cell in nbformat.read(ipynb, as_version=4).cells] == before
    # An edited cell keeps its place's id; a new cell gets a new one.
    script.write_text(SCRIPT.replace('"changes"', '"changed"') + "\n# %%\nprint(3)\n")
    report.update_inputs(script)
    after = [cell.id for cell in nbformat.read(ipynb, as_version=4).cells]
    assert after[:3] == before and after[3] not in before and len(set(after)) == 4


def test_the_landing_page_shows_results_and_key_figures_and_its_links_resolve(tmp_path):
    import base64
    import json
    import re

    _, ipynb = executed_pair(tmp_path)
    notebook = nbformat.read(ipynb, as_version=4)
    picture = base64.b64encode(b"\x89PNG fake bytes").decode()
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    code[0].outputs.append(nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(b"first").decode()}))
    code[1].metadata["tags"] = ["key-figure"]
    code[1].outputs.append(nbformat.v4.new_output("display_data", data={"image/png": picture}))
    nbformat.write(notebook, ipynb)
    save_results(ipynb, {
        "notebook": "01_demo", "dataset": "synthart", "synthetic_data": True, "profile": "demo", "seeds": 5,
        "date": "2026-11-29", "headline": "method A 51.0% vs baseline 30.0% (validation chose A)"})

    index = report.export([ipynb], tmp_path / "reports", pdf=False)
    page = index.read_text()
    assert "method A 51.0% vs baseline 30.0%" in page and "synthetic, not WikiArt" in page
    assert "<script" not in page  # reads offline
    thumbnail = tmp_path / "reports" / "thumbnails" / "01_demo.png"
    assert thumbnail.read_bytes() == b"\x89PNG fake bytes"  # the tagged cell's figure, not the first one
    for target in re.findall(r'(?:href|src)="([^"]+)"', page) + re.findall(r"href='([^']+)'", page):
        assert (tmp_path / "reports" / target).is_file(), target
    markdown = (tmp_path / "reports" / "REPORT.md").read_text()
    assert markdown.startswith("# wikiart-lab report") and "method A 51.0%" in markdown


def test_shell_polling_in_short_steps_returns_the_reply_and_keeps_the_timeout():
    import asyncio
    import queue
    import time

    class Channel:
        def __init__(self, ready_after_calls):
            self.calls, self.ready_after_calls = [], ready_after_calls

        async def get_msg(self, timeout=None):
            self.calls.append(timeout)
            if len(self.calls) > self.ready_after_calls:
                return {"msg": "reply"}
            await asyncio.sleep(timeout)
            raise queue.Empty

    class Client:
        def __init__(self, channel):
            self.shell_channel = channel

    channel = Channel(ready_after_calls=2)
    report._poll_shell_in_short_steps(Client(channel), step_s=0.01)
    assert asyncio.run(channel.get_msg(timeout=5)) == {"msg": "reply"}
    assert channel.calls == [0.01, 0.01, 0.01]  # asked again in short steps, not once for 5 s

    never = Channel(ready_after_calls=10**6)
    report._poll_shell_in_short_steps(Client(never), step_s=0.01)
    started = time.monotonic()
    try:
        asyncio.run(never.get_msg(timeout=0.05))
    except queue.Empty:
        pass
    else:
        raise AssertionError("a reply that never comes must still time out")
    assert 0.04 <= time.monotonic() - started < 1.0


def test_cell_timeout_is_none_in_full_and_an_option_of_the_report_command(monkeypatch):
    from wikiart_core import cli

    assert report.default_cell_timeout("full") is None and report.default_cell_timeout("demo") == 3600
    seen = {}
    monkeypatch.setattr(report, "build_report", lambda *args, **options: seen.update(options))
    for flag, expected in ((["--cell-timeout", "0"], None), (["--cell-timeout", "7200"], 7200), ([], "default")):
        assert cli.main(["report", "--no-execute", *flag]) == 0
        assert seen["cell_timeout"] == expected


def test_the_landing_page_escapes_every_value_from_results_and_notebooks(tmp_path):
    """results.json and a notebook's name and title are data: markup in them shows as text."""
    import html
    import json
    import re
    import urllib.parse

    attack = "<script>alert(1)</script>"
    stem = "01_<img src=x onerror=alert(2)> #1"  # a file name may hold markup, a space and a '#' (no slash)
    script = tmp_path / f"{stem}.py"
    script.write_text(SCRIPT.replace("# # A title", f"# # A title {attack}"))
    ipynb = report.sync_notebook(script)
    notebook = nbformat.read(ipynb, as_version=4)
    notebook.cells[1].outputs = [nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0K"})]
    nbformat.write(notebook, ipynb)
    save_results(ipynb, {
        "notebook": stem, "dataset": attack, "synthetic_data": True, "profile": attack, "seeds": [attack, 5],
        "date": attack, "headline": f"method A {attack} 51.0% & more"})

    page = report.export([ipynb], tmp_path / "reports", pdf=False).read_text()
    assert "<script" not in page and "<img src=x" not in page and "alert(1)</script>" not in page
    shown = html.escape(attack)
    # title, headline, dataset, profile, seeds and date, and the header's profile, dataset and date: as text
    assert page.count(shown) == 9, page
    assert f"method A {shown} 51.0% &amp; more" in page and html.escape(str([attack, 5])) in page
    assert html.escape(stem) in page
    # the links to the hostile name still lead to its files, read as a browser reads them
    targets = re.findall(r'(?:href|src)="([^"]+)"', page)
    assert len(targets) == 3
    for target in targets:
        path = urllib.parse.unquote(urllib.parse.urlsplit(html.unescape(target)).path)
        assert (tmp_path / "reports" / path).is_file(), target


def test_every_file_of_the_report_is_written_atomically(tmp_path, monkeypatch):
    """Pages, thumbnails, REPORT.md, the README and the notebooks go through files.atomic_write
    (an interrupt keeps the previous file), and come out readable by the group like open()'s."""
    import os

    from wikiart_core import files

    written = []
    real_atomic_write = files.atomic_write

    def recording(path, write, **options):
        written.append(Path(path).relative_to(tmp_path).as_posix())
        return real_atomic_write(path, write, **options)

    monkeypatch.setattr(files, "atomic_write", recording)
    _, ipynb = executed_pair(tmp_path)
    notebook = nbformat.read(ipynb, as_version=4)
    notebook.cells[1].outputs.append(nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0K"}))
    nbformat.write(notebook, ipynb)
    report.update_inputs(tmp_path / "01_demo.py")
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{report.README_BEGIN}\nold\n{report.README_END}\n")
    save_results(ipynb, {"notebook": "01_demo", "dataset": "synthart", "profile": "demo", "headline": "h"})
    report.export([ipynb], tmp_path / "reports", pdf=False)
    report.update_readme_results(readme, [ipynb])
    assert {"01_demo.ipynb", "reports/01_demo.html", "reports/index.html", "reports/REPORT.md",
            "reports/thumbnails/01_demo.png", "README.md"} <= set(written), written
    assert any(name.startswith("reports/figures/01_demo/") for name in written), written
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "reports" / "index.html").stat().st_mode & 0o777 == 0o666 & ~mask
