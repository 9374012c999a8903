# Sherlog developer entry points. Everything installs into .venv from one lock file.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
# llama-cpp-python builds from source; the native build crashes on AMX CPUs here.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF
export LITELLM_LOCAL_MODEL_COST_MAP := True
export DEEPEVAL_TELEMETRY_OPT_OUT := YES
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
# two cores: multi-threaded BLAS only fights itself (measured 3-5x slower embedding)
export OPENBLAS_NUM_THREADS ?= 1

.PHONY: help install lock test test-fast lint fmt demo chat demo-down chaos eval bench clean

help: ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(BIN)/uv:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: requirements.lock pyproject.toml | $(BIN)/uv
	$(BIN)/uv pip install --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python --no-deps -e .
	touch $@

install: $(VENV)/.installed ## install the locked dependency set into .venv

lock: | $(BIN)/uv ## re-resolve requirements.lock from pyproject.toml (one resolution)
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

test: install ## run the whole test suite against real servers
	$(BIN)/python -m pytest

test-fast: install ## unit tests only
	$(BIN)/python -m pytest tests/unit

lint: install ## ruff + mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# the demo lives in its own data dir and port, so it never touches your real Sherlog data
DEMO_ENV := SHERLOG_DATA_DIR=$(CURDIR)/.sherlog-demo SHERLOG_GRAPH__PORT=6480 SHERLOG_CONFIG=$(CURDIR)/.sherlog-demo/none.toml

demo: install ## start the embedded stack, inject an incident, show Sherlog's answer
	$(DEMO_ENV) $(BIN)/sherlog demo --reset

chat: install ## keep talking to Sherlog about the demo incident (after make demo)
	$(DEMO_ENV) $(BIN)/sherlog chat

demo-down: ## stop the demo's embedded FalkorDB
	$(DEMO_ENV) $(BIN)/sherlog down

SCENARIO ?= checkout-db-pool
chaos: install ## inject a chaos scenario into the demo stack: make chaos SCENARIO=name
	$(DEMO_ENV) $(BIN)/sherlog chaos run $(SCENARIO)

eval: install ## accuracy on scenario cases and external datasets
	$(BIN)/python -m eval.run

bench: install ## speed and accuracy against peers measured in the same run
	$(BIN)/python -m eval.bench.run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
