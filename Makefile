# Quick start: `make demo` and `make test`; each sets up its own .venv on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
# torch comes from the machine's local wheel cache when pinned exactly (see DEVELOPERS.md)
PINS := torch==2.14.1 torchvision==0.29.1

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# compileall: an editable install is not byte-compiled by pip, and with PYTHONDONTWRITEBYTECODE set
# every command would compile cvkit's modules again (40 ms of each `cvkit stats`)
$(VENV)/.installed-demo: pyproject.toml | $(BIN)/python
	$(PIP) install -q $(PINS) -e '.[all,demo]'
	$(BIN)/python -m compileall -q src
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(PIP) install -q $(PINS) -e '.[dev]'
	$(BIN)/python -m compileall -q src
	touch $@ $(VENV)/.installed-demo

demo: $(VENV)/.installed-demo
	$(BIN)/python examples/demo.py

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) demo_out .pytest_cache
