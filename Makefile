# okml: `make train` and `make test` work on a fresh machine with only python3.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
VENV := .venv
UV := .tools/bin/uv
BIN := $(VENV)/bin
STAMP := $(VENV)/.okml-setup
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
PYTEST_ARGS ?=
SOURCES := okml tests bench tools

.DEFAULT_GOAL := help
.PHONY: help setup train test check format lab ui strip lint bench clean-env

help: ## show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(UV):
	@echo "==> bootstrapping uv $(UV_VERSION) into .tools/"
	@$(PYTHON) -m venv .tools
	@.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

$(STAMP): pyproject.toml uv.lock | $(UV)
	@echo "==> installing the locked stack into $(VENV)/ (uv sync --frozen, bytecode compiled)"
	@$(UV) sync --frozen --compile-bytecode --quiet
	@$(BIN)/python -m ipykernel install --sys-prefix --name okml --display-name "Python (okml)" >/dev/null
	@touch $(STAMP)
	@echo "==> ready: $(BIN)/okml, Jupyter kernel 'okml'"

setup: $(STAMP) ## create .venv from uv.lock, install okml (editable), register the 'okml' kernel

train: setup ## the main job: simulate data if missing, train, log to MLflow, write the report
	@$(BIN)/okml train

test: check ## lint, format, types and import contracts, then the tests (real MLflow, papermill, kernels, xgboost, shap; doctests)
	@$(BIN)/pytest $(PYTEST_ARGS)

check: setup ## ruff check, ruff format --check, mypy, import-linter (the layer rule)
	@echo "==> ruff check, ruff format --check, mypy, lint-imports"
	@$(BIN)/ruff check --quiet $(SOURCES)
	@$(BIN)/ruff format --check --quiet $(SOURCES)
	@$(BIN)/mypy
	@COLUMNS=200 $(BIN)/lint-imports --no-cache | grep -E "KEPT|BROKEN|Contracts:|->|not allowed" ; test $${PIPESTATUS[0]} -eq 0

format: setup ## ruff format and ruff check --fix the code
	@$(BIN)/ruff format --quiet $(SOURCES)
	@$(BIN)/ruff check --fix --quiet $(SOURCES)

lab: setup ## JupyterLab on http://127.0.0.1:8888 with the okml kernel (installs the 'lab' group)
	@$(UV) sync --frozen --inexact --group lab --compile-bytecode --quiet
	@$(BIN)/jupyter lab --ip 127.0.0.1 --no-browser $(ROOT_FLAG) --ServerApp.root_dir=. \
		--LabApp.default_url=/lab/tree/notebooks

ui: setup ## MLflow UI on http://127.0.0.1:5000 over the local store in mlruns/
	@# okml runs no MLflow server jobs: without this MLflow starts 8 job consumers (~2 GB)
	@MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false $(BIN)/mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db --default-artifact-root mlruns/artifacts --host 127.0.0.1 --port 5000

strip: setup ## clear outputs and execution counts of the notebooks (before committing them)
	@$(BIN)/jupyter nbconvert --clear-output --inplace --log-level WARN notebooks/*.ipynb

lint: setup ## ruff check
	@$(BIN)/ruff check $(SOURCES)

bench: setup ## run the speed benchmarks under bench/ (run alone: they measure wall time)
	@for b in bench/*.py; do echo "==> $$b"; $(BIN)/python $$b || exit 1; done

clean-env: ## remove .venv and .tools (data/ and mlruns/ are kept)
	rm -rf $(VENV) .tools
