# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install demo test lint bench clean

$(BIN)/dialer: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/dialer

install: $(BIN)/dialer

demo: install
	$(BIN)/dialer demo

test: install
	$(BIN)/ruff check dialer ami pacing compliance scripts tests
	$(BIN)/mypy
	$(BIN)/pytest -q -p no:cacheprovider

lint: install
	$(BIN)/ruff check dialer ami pacing compliance scripts tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
