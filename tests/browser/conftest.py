"""Fixtures for the browser suite (``make test-browser``): a JupyterLab server on a
temporary copy of the notebooks, and Debian's Chromium driven by Playwright.

The suite is slow (it runs all five notebooks in the ``smoke`` profile in a real
browser) and needs Chromium, so it runs only when ``WIKIART_BROWSER_TESTS=1`` (the
Makefile target sets it); ``make test`` does not collect it at all.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(path.stem for path in (REPO / "notebooks").glob("[0-9][0-9]_*.py"))
SCREENSHOTS = REPO / "reports" / "screenshots"
VIEWPORT = {"width": 1280, "height": 960}
SERVER_START_TIMEOUT_S = 180


def pytest_collection_modifyitems(config, items):
    if os.environ.get("WIKIART_BROWSER_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="the browser suite runs with `make test-browser` (or WIKIART_BROWSER_TESTS=1)")
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(skip)


def chromium_path() -> str:
    """Debian's chromium (never a Playwright browser download): $WIKIART_CHROMIUM, else
    the `chromium` on PATH, else /usr/bin/chromium."""
    chosen = os.environ.get("WIKIART_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chosen).is_file():
        pytest.fail(f"no Chromium at {chosen}: `apt-get install chromium` (make test-browser does it), "
                    f"or set WIKIART_CHROMIUM to the browser's path")
    return chosen


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _paths_file(folder: Path) -> Path:
    """A copy of the repository's data_paths.yaml with every path absolute (the same
    data and decode cache) but outputs in ``folder``: the smoke run must not overwrite
    the results that ``make report`` wrote for the README and the landing page."""
    source = REPO / "data_paths.yaml"
    settings = yaml.safe_load(source.read_text(encoding="utf-8"))

    def absolute(value):
        return str(value if Path(value).is_absolute() else (source.parent / value).resolve())

    for entry in settings.get("datasets", {}).values():
        for key in ("train", "test"):
            if key in entry:
                entry[key] = absolute(entry[key])
    settings["cache_dir"] = absolute(settings.get("cache_dir", "cache"))
    settings["pretrained"] = {name: absolute(path) for name, path in (settings.get("pretrained") or {}).items()}
    settings["outputs_dir"] = str(folder / "outputs")
    target = folder / "data_paths.yaml"
    target.write_text(yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")
    return target


def _notebook_copies(folder: Path) -> Path:
    """The notebooks as their .py files say (``report.update_inputs`` on copies: the
    committed notebooks are never touched), .ipynb only, in ``folder/notebooks``."""
    from wikiart_core import report

    target = folder / "notebooks"
    target.mkdir()
    for name in NOTEBOOKS:
        for suffix in (".py", ".ipynb"):
            shutil.copy2(REPO / "notebooks" / f"{name}{suffix}", target / f"{name}{suffix}")
        report.update_inputs(target / f"{name}.py")
        (target / f"{name}.py").unlink()  # no paired text file for jupytext to merge on open
    return target


def _lab_settings(folder: Path) -> Path:
    """User settings for a quiet, fully rendered lab: every cell in the DOM (no windowed
    notebook, so every output can be looked at), no news or update pop-ups."""
    settings = folder / "lab-settings"
    for plugin, values in {
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                             "checkForUpdates": False},
    }.items():
        path = settings / plugin
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")
    return settings


class Lab:
    """A running JupyterLab: ``url(path)`` opens a file of its root with the token."""

    def __init__(self, root: Path, port: int, token: str, log: Path, outputs: Path):
        self.root, self.port, self.token, self.log, self.outputs = root, port, token, log, outputs

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str, workspace: str | None = None) -> str:
        where = f"/lab/workspaces/{workspace}" if workspace else "/lab"
        return f"{self.base}{where}/tree/{path}?token={self.token}"

    def api(self, path: str, method: str = "GET"):
        request = urllib.request.Request(f"{self.base}/api/{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-chars:] if self.log.exists() else ""


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser")
    root = _notebook_copies(folder)
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ)
    env.pop("TQDM_DISABLE", None)  # a person in JupyterLab sees the progress bars: so does the test
    env.update(WIKIART_PROFILE="smoke", WIKIART_PATHS=str(_paths_file(folder)), OMP_NUM_THREADS="1",
               WIKIART_OUTPUTS_DIR=str(folder / "outputs"),
               HF_HUB_OFFLINE="1", JUPYTERLAB_SETTINGS_DIR=str(_lab_settings(folder)),
               JUPYTERLAB_WORKSPACES_DIR=str(folder / "lab-workspaces"), JUPYTER_RUNTIME_DIR=str(folder / "runtime"))
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip", "127.0.0.1", "--port", str(port),
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
               "--LabApp.expose_app_in_browser=True", "--ServerApp.port_retries=0"]
    if os.getuid() == 0:
        command.append("--allow-root")  # containers often run as root, which JupyterLab refuses without it
    log = folder / "jupyterlab.log"
    with open(log, "wb") as log_file:
        process = subprocess.Popen(command, cwd=root, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    server = Lab(root, port, token, log, folder / "outputs")
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"JupyterLab exited with {process.returncode}:\n{server.log_tail()}")
            try:
                server.api("status")
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer within {SERVER_START_TIMEOUT_S} s:\n{server.log_tail()}")
                time.sleep(1)
        yield server
    finally:
        try:
            for kernel in server.api("kernels") or []:
                server.api(f"kernels/{kernel['id']}", method="DELETE")
        except OSError:
            pass
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("no Playwright: pip install 'playwright>=1.40' (make test-browser does it; it uses Debian's "
                    "chromium, never `playwright install`)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
