# Set-up-and-go targets. Each creates (or reuses) a virtual environment in .venv,
# installs torch 2.13.0 (CPU build where one lies on disk) only when no torch is present,
# then the project with its test extras.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0

.PHONY: setup demo test test-all clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@

setup: $(VENV)/.installed

# The main job: train a 2-layer GCN on the bundled Cora (ships with the package) and print test accuracy.
demo: setup
	$(BIN)/scalegnn train

# The default test suite (excludes tests marked slow).
test: setup
	$(BIN)/python -m pytest -q

test-all: setup
	$(BIN)/python -m pytest -q -m "slow or not slow"

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
