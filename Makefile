# loopkeeper — the two commands: `make run` (service on embedded defaults) and `make test` (whole suite).
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint format typecheck bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c 'import sys; assert sys.version_info[:2] == (3, 11), "loopkeeper needs Python 3.11, got %s" % sys.version.split()[0]'
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: install
	@mkdir -p var
	$(BIN)/loopkeeper db upgrade
	@$(BIN)/loopkeeper info
	@echo "starting web, worker, beat and dingtalk (Ctrl-C stops them all)"
	@exec $(BIN)/honcho start -f Procfile web worker beat dingtalk

test: install
	$(BIN)/lint-imports
	$(BIN)/ruff check config nlp core integrations bot tests bench
	$(BIN)/ruff format --check config nlp core integrations bot tests bench
	$(BIN)/mypy
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check config nlp core integrations bot tests bench
	$(BIN)/ruff format --check config nlp core integrations bot tests bench

format: install
	$(BIN)/ruff format config nlp core integrations bot tests bench
	$(BIN)/ruff check --fix config nlp core integrations bot tests bench

typecheck: install
	$(BIN)/mypy

# the optional `bench` extra (jionlp) lets the scripts print the open parsers' figures beside ours
$(VENV)/.bench-installed: $(STAMP)
	@$(BIN)/python -m pip install --quiet -e '.[dev,bench]' || echo "bench extra not installed: our figures alone"
	@touch $@

bench: install $(VENV)/.bench-installed
	@for f in bench/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
