# liftbench — set-up and everyday commands. `make demo` and `make test` work on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_VERSION ?= 2.13.0
PYTEST_ARGS ?=
# Worker processes for pytest-xdist (the DDP tests spawn two more processes each).
TEST_WORKERS ?= 2

.PHONY: help venv torch install demo test test-all lint perf clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# torch first: the CUDA build where an NVIDIA GPU is present, else the CPU build (the CPU index is
# tried with no retries, so machines that cannot reach it fall back to their configured index).
$(VENV)/.torch: | $(VENV)/bin/python
	@if $(PY) -c "import torch" 2>/dev/null; then echo "torch already installed"; \
	elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then \
		$(PY) -m pip install -q "torch==$(TORCH_VERSION)"; \
	else \
		$(PY) -m pip install -q --retries 0 --timeout 10 "torch==$(TORCH_VERSION)" \
			--extra-index-url https://download.pytorch.org/whl/cpu; \
	fi
	@touch $@

$(VENV)/.installed: pyproject.toml setup.py $(VENV)/.torch
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

venv: $(VENV)/.installed  ## create the virtual environment and install liftbench (+dev tools)
install: venv

demo: $(VENV)/.installed  ## run the embedded demo benchmark
	$(VENV)/bin/liftbench demo

test: $(VENV)/.installed  ## lint + the default (fast) test suite
	$(VENV)/bin/ruff check .
	WANDB_MODE=disabled $(PY) -m pytest -q -m "not slow" -n $(TEST_WORKERS) $(PYTEST_ARGS)

test-all: $(VENV)/.installed  ## every test, slow ones included
	WANDB_MODE=disabled $(PY) -m pytest -q -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: $(VENV)/.installed  ## ruff
	$(VENV)/bin/ruff check .

perf: $(VENV)/.installed  ## the performance benchmarks (`liftbench perf all`: all but the long adaptation run)
	$(VENV)/bin/liftbench perf all

clean:  ## remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis *.egg-info
