"""Test settings shared by the unit tests and the nbval notebook runs."""
import os

# Notebooks run by nbval inherit this environment (--nbval-current-env): tests always
# use the tiny profile and never reach for a model hub.
os.environ.setdefault("WIKIART_PROFILE", "smoke")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Progress bars are for people watching; in executed notebooks they only leave a frozen "0%".
os.environ.setdefault("TQDM_DISABLE", "1")

NOTEBOOK_OUTPUT_TIMEOUT_S = 600


def pytest_collectstart(collector):
    # Progress bars and library warnings go to stderr and differ from run to run:
    # they are not results, so nbval does not compare them.
    if getattr(collector, "fspath", None) is not None and str(collector.fspath).endswith(".ipynb"):
        collector.skip_compare = tuple(collector.skip_compare) + ("stderr",)


def pytest_collection_modifyitems(items):
    # nbval waits 5 s for a cell's output by default; training cells take longer.
    for item in items:
        if hasattr(item, "output_timeout"):
            item.output_timeout = NOTEBOOK_OUTPUT_TIMEOUT_S
