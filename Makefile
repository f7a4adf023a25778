# kt-analysis — `make help` lists the targets.
# Everything runs inside .venv, created from the Python named by PYTHON (3.11 or newer).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
KT     := $(VENV)/bin/kt-analysis
# Two levels of set-up: running (the package and its kernel: make report, make lab) and developing
# (the [dev] extra: test tools, PySpark, Playwright, linters: make test and the targets below it).
RUN_STAMP := $(VENV)/.run-stamp
DEV_STAMP := $(VENV)/.dev-stamp
KERNEL := kt-analysis
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check
# make lab: the address JupyterLab listens on (HOST=0.0.0.0 to reach it from another machine),
# whether it opens a browser (not on a machine without a display), extra options (LAB_ARGS=…).
HOST ?= 127.0.0.1
PORT ?= 8888
LAB_BROWSER ?= $(if $(DISPLAY),True,False)
LAB_ARGS ?=
# Jupyter refuses to run as root unless told; containers and CI machines often run as root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
# make test runs the suite in this many processes (pytest-xdist), each taking whole test files.
TEST_JOBS ?= 2

.DEFAULT_GOAL := help
.PHONY: help setup setup-dev report test test-fast bench reported lab lint notebooks screenshot clean-reports clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-14s %s\n", $$1, $$2}'

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "kt-analysis needs Python 3.11 or newer: run make with PYTHON=python3.11 (or newer)")'
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): pyproject.toml | $(PY)
	$(PIP) -e .
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "kt-analysis (Python)"
	@touch $(RUN_STAMP)

$(DEV_STAMP): $(RUN_STAMP)
	$(PIP) -e '.[dev]'
	@touch $(DEV_STAMP)

setup: $(RUN_STAMP) ## create .venv, install the package (what running needs) and register its Jupyter kernel

setup-dev: $(DEV_STAMP) ## setup, plus the [dev] extra: test tools, PySpark, Playwright, linters

report: setup ## run every sample incident in data/incidents/ and write reports/
	$(KT) run-all data/incidents --out reports
	@echo "open reports/index.html"

test: setup-dev ## run the whole test suite (unit, property, notebooks, end to end); TEST_JOBS=1 for one process
	$(PY) -m pytest -n $(TEST_JOBS) --dist loadfile --durations=25

test-fast: setup-dev ## the suite without the slow end-to-end tests
	$(PY) -m pytest -n $(TEST_JOBS) --dist loadfile -m "not slow"

bench: setup-dev ## time the engine against hand-written DuckDB SQL (1M/5M/35M lines); writes benchmarks/RESULTS.md
	$(PY) benchmarks/bench.py

reported: setup ## the sample incidents on a national-size (43.8M-line) roster, vs the figures reported at the time (docs/reported-figures.md)
	$(PY) tools/reported_figures.py

lab: setup ## JupyterLab on notebooks/, the project's kernel the default (HOST=, PORT=, LAB_ARGS=)
	exec $(VENV)/bin/jupyter lab --ServerApp.root_dir=notebooks --ServerApp.ip=$(HOST) --ServerApp.port=$(PORT) \
		--ServerApp.open_browser=$(LAB_BROWSER) --MappingKernelManager.default_kernel_name=$(KERNEL) \
		$(ALLOW_ROOT) $(LAB_ARGS)

lint: setup-dev ## ruff on the package and tests
	$(VENV)/bin/ruff check kt_analysis tests

notebooks: setup ## re-execute the committed notebooks on the sample and store their outputs
	$(PY) tools/refresh_notebooks.py notebooks/*.ipynb

screenshot: setup-dev ## refresh docs/screenshots/ (every sample report and the index) and docs/report.png (the README's picture)
	rm -rf build/screenshot-reports
	$(KT) run-all data/incidents --out build/screenshot-reports
	$(PY) tools/screenshots.py build/screenshot-reports docs/screenshots --readme docs/report.png

clean-reports: ## delete generated reports and the history of published runs
	rm -rf reports/*/ reports/index.html reports/history.duckdb

clean: ## delete the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache
