# Two commands: `make run` (set up + start the gateway) and `make test` (set up + run every test).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test lint bench docs clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit("Parley needs Python 3.11+") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.run-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	@touch $@

$(VENV)/.test-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $@ $(VENV)/.run-deps

run: $(VENV)/.run-deps
	$(BIN)/parley serve

test: $(VENV)/.test-deps
	bash scripts/ensure-debian-packages.sh
	$(BIN)/ruff check .
	$(BIN)/mypy gateway audio feedback scenarios bench tests
	$(BIN)/python -m pytest

bench: $(VENV)/.test-deps
	$(BIN)/python bench/text_turn.py
	$(BIN)/python bench/end_of_speech.py
	$(BIN)/python bench/voice_latency.py
	$(BIN)/python bench/feedback.py
	$(BIN)/python bench/capacity.py
	$(BIN)/python bench/failover.py
	$(BIN)/python bench/voice_quality.py

docs: $(VENV)/.run-deps
	$(BIN)/python -m gateway.protocol --write docs/protocol.md

clean:
	rm -rf $(VENV) .parley
