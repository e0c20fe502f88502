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
    markdown = (tmp_path / "reports" / "report.md").read_text()
    assert "# A title" in markdown and "output 0" in markdown


def test_export_without_execution_keeps_the_outputs(tmp_path):
    script, ipynb = executed_pair(tmp_path)
    report.build_report(tmp_path, tmp_path / "reports", execute=False)
    cells = nbformat.read(ipynb, as_version=4).cells
    assert [c.outputs[0].text for c in cells if c.cell_type == "code"] == ["output 0\n", "output 1\n"]
