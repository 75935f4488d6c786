# One entry point for every chore. `make test` and `make demo` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv test lint demo bench bench-sim clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check reconcile tests bench tools
	$(BIN)/ruff format --check reconcile tests bench tools
	$(BIN)/mypy

demo: $(STAMP)
	$(BIN)/reconcile demo

bench: $(STAMP)
	$(BIN)/python -m bench.run all

bench-sim: $(STAMP)
	$(BIN)/python -m bench.run sim

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
