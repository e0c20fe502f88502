"""The report plumbing: keeping outputs on a narrative-only sync, and the exported pages."""
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
    index = report.export([ipynb], tmp_path / "reports")
    assert (tmp_path / "reports" / "01_demo.html").is_file()
    assert 'href="01_demo.html"' in index.read_text() and "A title" in index.read_text()
    markdown = (tmp_path / "reports" / "REPORT.md").read_text()
    assert "# A title" in markdown and "output 0" in markdown


def test_export_without_execution_keeps_the_outputs(tmp_path):
    script, ipynb = executed_pair(tmp_path)
    report.build_report(tmp_path, tmp_path / "reports", execute=False)
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
    outputs = tmp_path / "outputs" / "01_demo"
    outputs.mkdir(parents=True)
    (outputs / "results.json").write_text(json.dumps({
        "notebook": "01_demo", "dataset": "synthart", "synthetic_data": True, "profile": "demo", "seeds": 5,
        "date": "2026-11-29", "headline": "method A 51.0% vs baseline 30.0% (validation chose A)"}))

    index = report.export([ipynb], tmp_path / "reports", tmp_path / "outputs")
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
