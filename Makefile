# wikiart-lab: every target sets up what it needs.
#   make report   execute all notebooks (demo profile) and export reports/
#   make test     unit tests + nbval on every notebook (smoke profile) + pairing check
#   make lab      JupyterLab on notebooks/
#   make bench    pipeline, training and cache-quality benchmarks (results in benchmarks/RESULTS.md)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup report test lab bench sync clean-cache

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e ".[dev,genai]"
	touch $(STAMP)

setup: $(STAMP)

report: setup
	WIKIART_PROFILE=$${WIKIART_PROFILE:-demo} $(PY) -m wikiart_core prepare
	WIKIART_PROFILE=$${WIKIART_PROFILE:-demo} $(PY) -m wikiart_core report --notebooks notebooks --out reports --readme README.md

test: setup
	$(PY) -m wikiart_core prepare --quiet
	WIKIART_PROFILE=smoke HF_HUB_OFFLINE=1 $(PY) -m pytest tests notebooks \
		--nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

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
