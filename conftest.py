"""Test settings shared by the unit tests and the nbval notebook runs."""
import os
import shutil
import tempfile
from pathlib import Path

# Notebooks run by nbval inherit this environment (--nbval-current-env): tests always
# use the tiny profile and never reach for a model hub.
os.environ.setdefault("WIKIART_PROFILE", "smoke")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Progress bars are for people watching; in executed notebooks they only leave a frozen "0%".
os.environ.setdefault("TQDM_DISABLE", "1")
# Every figure a notebook displays is checked for legibility (dpi, text size, overlaps,
# legends over data: plots.legibility_problems); an illegible one fails its cell.
os.environ.setdefault("WIKIART_CHECK_FIGURES", "1")

# stderr not compared, long cells allowed, per-notebook counts of the cells compared.
pytest_plugins = ["wikiart_core.nbval_hooks"]

# Nothing a test or nbval runs may write into the report's outputs/ (a student's `full`
# results and checkpoints): every run of pytest gets its own outputs folder, shared by the
# notebooks of the session so that 03 and 05 find the StyleCNN that 01 saved before them.
# `make regress` sets the variable itself; a folder made here is removed at the end.
_OWN_OUTPUTS = None
if not os.environ.get("WIKIART_OUTPUTS_DIR"):
    _OWN_OUTPUTS = Path(tempfile.mkdtemp(prefix="wikiart-tests-"))
    os.environ["WIKIART_OUTPUTS_DIR"] = str(_OWN_OUTPUTS / "outputs")




def _report_outputs_state() -> dict[str, tuple[int, int]]:
    """{file: (size, mtime in ns)} under the checkout's outputs/ (the report's results)."""
    folder = Path(__file__).resolve().parent / "outputs"
    return {str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns)
            for path in sorted(folder.rglob("*")) if path.is_file()} if folder.is_dir() else {}


# Checked at the end of the session: a test that wrote there fails the run.
_REPORT_OUTPUTS_BEFORE = _report_outputs_state()


def pytest_sessionfinish(session, exitstatus):
    if _OWN_OUTPUTS is not None:
        shutil.rmtree(_OWN_OUTPUTS, ignore_errors=True)
    after = _report_outputs_state()
    if after != _REPORT_OUTPUTS_BEFORE:
        touched = sorted(name for name in set(after) | set(_REPORT_OUTPUTS_BEFORE)
                         if after.get(name) != _REPORT_OUTPUTS_BEFORE.get(name))
        session.config.get_terminal_writer().line(
            f"ERROR: the tests wrote into the report's outputs/ ({len(touched)} file(s): {', '.join(touched[:5])}"
            f"{' ...' if len(touched) > 5 else ''}); they must use $WIKIART_OUTPUTS_DIR.", red=True)
        session.exitstatus = 1
