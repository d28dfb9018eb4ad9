# make lab: set up .venv (first time only) and open JupyterLab on the start notebook.
# make test: set up or refresh .venv, then ruff, mypy and every test (notebooks included), and
#            last the real-browser suite (tests/browser: JupyterLab in headless Chromium; it skips,
#            saying why, when no Chromium is found, unless KMSLAB_REQUIRE_BROWSER=1).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.kmslab-installed
# Jupyter refuses to run as root unless told to (containers and some lab machines run as root).
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab test setup lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[lab,test]'
	@touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab $(ALLOW_ROOT) notebooks/00_start_here.ipynb

lint: $(STAMP)
	$(BIN)/ruff check kmslab tests benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -m "not browser"
	$(BIN)/python -m pytest -m browser tests/browser

bench: $(STAMP)
	$(BIN)/python benchmarks/local_vs_moto.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
