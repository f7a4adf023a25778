# kt-analysis — `make help` lists the targets.
# Everything runs inside .venv, created from the Python named by PYTHON (3.11 or newer).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
KT     := $(VENV)/bin/kt-analysis
STAMP  := $(VENV)/.installed-stamp
KERNEL := kt-analysis
# make test runs the suite in this many processes (pytest-xdist), each taking whole test files.
TEST_JOBS ?= 2

.DEFAULT_GOAL := help
.PHONY: help setup report test test-fast bench lab lint notebooks screenshot clean-reports clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "kt-analysis needs Python 3.11 or newer: run make with PYTHON=python3.11 (or newer)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "kt-analysis (Python)"
	@touch $(STAMP)

setup: $(STAMP) ## create .venv, install the package and register its Jupyter kernel

report: setup ## run every sample incident in data/incidents/ and write reports/
	$(KT) run-all data/incidents --out reports
	@echo "open reports/index.html"

test: setup ## run the whole test suite (unit, property, notebooks, end to end); TEST_JOBS=1 for one process
	$(PY) -m pytest -n $(TEST_JOBS) --dist loadfile

test-fast: setup ## the suite without the slow end-to-end tests
	$(PY) -m pytest -n $(TEST_JOBS) --dist loadfile -m "not slow"

bench: setup ## time the engine against hand-written DuckDB SQL (1M/5M/35M lines); writes benchmarks/RESULTS.md
	$(PY) benchmarks/bench.py

lab: setup ## open JupyterLab on notebooks/ with the project's kernel
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=notebooks

lint: setup ## ruff on the package and tests
	$(VENV)/bin/ruff check kt_analysis tests

notebooks: setup ## re-execute the committed notebooks on the sample and store their outputs
	$(PY) tools/refresh_notebooks.py notebooks/*.ipynb

screenshot: setup ## refresh docs/report.png (the README's picture) from the browser test
	mkdir -p docs
	KT_UPDATE_SCREENSHOT=1 $(PY) -m pytest tests/e2e/test_browser.py -q -k figures_and_images

clean-reports: ## delete generated reports
	rm -rf reports/*/ reports/index.html

clean: ## delete the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache
