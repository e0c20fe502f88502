"""Strict nbval on the committed notebooks (``make regress``, ``python -m wikiart_core regress``).

``make test`` runs the notebooks in the ``smoke`` profile with ``--nbval-lax``: it shows
that they run, and checks a few marked cells. This module is the real regression test:
each notebook is re-executed in the profile and on the dataset recorded in its metadata
when ``make report`` made its outputs (``report.recorded_execution``), and ``pytest
--nbval`` compares every code cell's fresh output with the committed one, after the
substitutions of ``tests/nbval_sanitize.cfg`` (timings, memory addresses, figure object
reprs: what legitimately varies). Cells whose output cannot be reproduced are marked
``NBVAL_IGNORE_OUTPUT`` in their source, with the reason on the next line.

The run writes into a temporary outputs folder (``$WIKIART_OUTPUTS_DIR``), never into
the report's ``outputs/``. Notebooks that use another's results (03 and 05 load the
StyleCNN of 01) get their prerequisites run before them in the same folder, and checked
as well: a dependency is met by running the notebook that makes it, never by retraining
quietly.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
SANITIZE_FILE = REPOSITORY / "tests" / "nbval_sanitize.cfg"
# notebook -> the notebooks whose outputs it reads (they run first, in the same outputs folder).
PREREQUISITES = {"03_part2_autoencoder": ("01_bonusA",), "05_bonusB": ("01_bonusA",)}
# At least this share of the code cells with outputs must be compared (tests check the committed notebooks).
MIN_COMPARED_SHARE = 0.7


class RegressError(RuntimeError):
    """A notebook cannot be regression-tested as asked (unknown name, no recorded run)."""


def select(notebooks_dir: Path, names: list[str] | None = None) -> list[Path]:
    """The .ipynb files to run, in order, prerequisites first: every numbered notebook,
    or those whose name contains one of ``names`` (``05`` or ``05_bonusB``)."""
    available = sorted(Path(notebooks_dir).glob("[0-9][0-9]_*.ipynb"))
    if not available:
        raise RegressError(f"no numbered notebooks (NN_*.ipynb) in {notebooks_dir}")
    if not names:
        return available
    chosen: set[str] = set()
    for name in names:
        matches = [path.stem for path in available if name in path.stem]
        if not matches:
            raise RegressError(f"no notebook in {notebooks_dir} matches {name!r}. "
                               f"Fix: use one of {[path.stem for path in available]}")
        chosen.update(matches)
    for stem in list(chosen):
        chosen.update(PREREQUISITES.get(stem, ()))
    return [path for path in available if path.stem in chosen]


def recorded_runs(ipynbs: list[Path]) -> list[tuple[Path, dict]]:
    """(notebook, {"profile", "dataset", "date"}) for each notebook, from its metadata.

    Raises:
        RegressError: a notebook whose outputs were not made by ``make report`` (there is
            nothing recorded to compare against, or no profile to run it in)."""
    import nbformat

    from . import report

    runs = []
    for ipynb in ipynbs:
        recorded = report.recorded_execution(nbformat.read(ipynb, as_version=4))
        if not recorded.get("profile"):
            raise RegressError(f"{ipynb} records no profile for its outputs (metadata '{report.EXECUTION_METADATA_KEY}'"
                               f"). Fix: execute it with `make report` (or `python -m wikiart_core report --only "
                               f"{ipynb.stem}`), then commit it.")
        runs.append((ipynb, recorded))
    return runs


def pytest_command(ipynbs: list[Path], sanitize: Path = SANITIZE_FILE, extra: list[str] | None = None) -> list[str]:
    """The pytest command line of one strict run (no conftest: everything it needs is
    set here and in :mod:`wikiart_core.nbval_hooks`)."""
    return [sys.executable, "-m", "pytest", *map(str, ipynbs), "--nbval", "--nbval-current-env",
            "--nbval-sanitize-with", str(sanitize), "--noconftest", "-p", "wikiart_core.nbval_hooks",
            "-p", "no:cacheprovider", "-q", "-rf", *(extra or [])]


def run(notebooks_dir: Path = REPOSITORY / "notebooks", names: list[str] | None = None, *,
        outputs: Path | None = None, sanitize: Path = SANITIZE_FILE, extra: list[str] | None = None,
        log=print) -> int:
    """Re-execute the chosen notebooks (with their prerequisites) in their recorded profile
    and compare every cell with nbval. Returns pytest's exit status (0: every compared
    cell reproduced). ``outputs``: the outputs folder to use (default: a temporary one,
    removed afterwards)."""
    ipynbs = select(notebooks_dir, names)
    runs = recorded_runs(ipynbs)
    own = outputs is None
    folder = Path(tempfile.mkdtemp(prefix="wikiart-regress-")) / "outputs" if own else Path(outputs)
    started = time.perf_counter()
    status = 0
    try:
        # One pytest session per recorded (profile, dataset), in notebook order.
        groups: list[tuple[tuple[str, str | None], list[Path]]] = []
        for ipynb, recorded in runs:
            key = (recorded["profile"], recorded.get("dataset"))
            if groups and groups[-1][0] == key:
                groups[-1][1].append(ipynb)
            else:
                groups.append((key, [ipynb]))
        for (profile, dataset), group in groups:
            env = {**os.environ, "WIKIART_PROFILE": profile, "WIKIART_OUTPUTS_DIR": str(folder),
                   "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"}
            if dataset:
                env["WIKIART_DATASET"] = dataset
            log(f"regress: {', '.join(path.stem for path in group)} in profile {profile!r} on dataset "
                f"{dataset!r}, strict nbval, outputs in {'a temporary folder' if own else folder}")
            sys.stdout.flush()  # before pytest's own output
            completed = subprocess.run(pytest_command(group, sanitize, extra), cwd=REPOSITORY, env=env)
            status = status or completed.returncode
    finally:
        if own:
            shutil.rmtree(folder.parent, ignore_errors=True)
    log(f"regress: {'passed' if status == 0 else 'FAILED'} in {time.perf_counter() - started:.0f} s")
    return status
