# wikiart-lab: every target sets up what it needs.
#   make report   execute all notebooks (demo profile) and export reports/
#   make test     unit tests + nbval on every notebook (smoke profile) + pairing check
#   make regress  strict nbval: every committed notebook re-run in the profile of its outputs (NB=05 for one)
#   make lab      JupyterLab on notebooks/
#   make test-browser  every notebook run in JupyterLab in Chromium (smoke), panels clicked, screenshots
#   make bench    pipeline, training and cache-quality benchmarks (results in benchmarks/RESULTS.md)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup chromium report test regress test-browser browser-deps lab bench sync clean-cache

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e ".[dev,genai]"
	touch $(STAMP)

setup: $(STAMP)

report: setup chromium
	WIKIART_PROFILE=$${WIKIART_PROFILE:-demo} $(PY) -m wikiart_core prepare
	WIKIART_PROFILE=$${WIKIART_PROFILE:-demo} $(PY) -m wikiart_core report --notebooks notebooks --out reports --readme README.md

test: setup
	$(PY) -m wikiart_core prepare --quiet
	WIKIART_PROFILE=smoke HF_HUB_OFFLINE=1 $(PY) -m pytest tests notebooks --ignore=tests/browser \
		--nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

# Strict nbval against the committed outputs, in the profile recorded in each notebook (about as long
# as make report); NB=05 checks one notebook (and the ones it depends on). Outputs go to a temporary folder.
regress: setup
	$(PY) -m wikiart_core prepare --quiet
	$(PY) -m wikiart_core regress $(NB)

# The notebooks in a real browser: JupyterLab driven by Playwright in Debian's chromium (never a
# Playwright browser download), installed here when missing (sudo only when not root).
CHROMIUM ?= /usr/bin/chromium
browser-deps: setup
	test -x $(CHROMIUM) || { SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
		$$SUDO apt-get update && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }
	$(PY) -c "import playwright" 2>/dev/null || $(PY) -m pip install --quiet "playwright>=1.40"

# The report's PDF is printed by Chromium; a machine where it cannot be installed still gets the HTML report.
chromium:
	@test -x $(CHROMIUM) || { SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
		$$SUDO apt-get update && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; } \
		|| echo "could not install chromium: the report will have no PDF"

test-browser: browser-deps
	$(PY) -m wikiart_core prepare --quiet
	WIKIART_BROWSER_TESTS=1 WIKIART_CHROMIUM=$(CHROMIUM) OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 \
		$(PY) -m pytest tests/browser -v

# Containers on GPU servers often run as root, which JupyterLab refuses without --allow-root.
lab: setup
	$(PY) -m jupyter lab notebooks $$(test "$$(id -u)" = 0 && echo --allow-root)

bench: setup
	$(PY) benchmarks/bench_pipeline.py
	$(PY) benchmarks/bench_train.py
	$(PY) benchmarks/bench_cache_quality.py

# Write each notebooks/*.py into its .ipynb, keeping the outputs of unchanged code cells.
sync: setup
	$(PY) -m wikiart_core report --sync-only --notebooks notebooks

clean-cache:
	rm -rf cache
