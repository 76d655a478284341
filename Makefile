# Two entry points, each self-contained on a fresh clone (Python 3.11, no venv yet).
#   make study   set up .venv and run the default study (ends in snakemake --cores 4)
#   make test    set up .venv, lint, and run the test suite
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# This machine: the CPU wheel of torch that lies on disk (no CUDA download). A GPU user
# installs their own torch build first, then `pip install -e .`.
TORCH ?= torch==2.13.0

.PHONY: setup study test lint

$(BIN)/ablate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check $(TORCH) -e '.[test,slurm,tensorboard]'
	touch $(BIN)/ablate

setup: $(BIN)/ablate

study: setup
	$(BIN)/snakemake --cores 4

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/pytest -q
