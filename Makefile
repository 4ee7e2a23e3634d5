# `make run`: set everything up and run the pipeline (quick profile); `make test`: set up and run the tests.
# Works on a fresh machine with Python 3.11 and git: uv is installed into the user site if missing.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
VENV_BIN := .venv/bin
export PATH := $(CURDIR)/$(VENV_BIN):$(PATH)
export TF_CPP_MIN_LOG_LEVEL ?= 2
# `dvc exp run` records experiments as git refs: give a fresh machine an identity if it has none.
export GIT_AUTHOR_NAME ?= fer-platform
export GIT_AUTHOR_EMAIL ?= fer-platform@localhost
export GIT_COMMITTER_NAME ?= fer-platform
export GIT_COMMITTER_EMAIL ?= fer-platform@localhost

.PHONY: setup data run full test team-test test-fast lint bootstrap package serve serving-requirements bench clean compare

$(UV):
	$(PYTHON) -m pip install --user --quiet "uv>=0.5"

# --compile-bytecode: this machine sets PYTHONDONTWRITEBYTECODE=1, so without .pyc files every process compiled
# TensorFlow, MLflow and Prefect from source again (import keras: 38 s, not 14 s); once here costs ~80 s.
setup: $(UV)  ## virtual env with the locked dependency set
	$(UV) sync --frozen --compile-bytecode

data: setup  ## the pinned FER2013 from the DVC remote (hash-checked)
	dvc pull data.dvc

bootstrap: data  ## register the committed release model as the first champion (no-op if one exists)
	python -m flows.bootstrap

run: data  ## the release as champion (if none), then the quick profile: ingest, validate, train x4, evaluate, promote, package
	fer-platform run --profile quick --bootstrap

full: bootstrap  ## the committed full recipe (hours on a CPU; see README)
	dvc repro

package: bootstrap  ## export the champion to ONNX (parity-checked on PrivateTest faces), bento
	dvc repro ingest
	python -m flows.package

compare: setup  ## experiments side by side: headline metrics and the params that differ (not code/data hashes)
	dvc exp show --only-changed --drop 'Created|^data$$|^flows/|^src/|^artifacts/|^reports/(validation|plots|promotion)|^bentofile'

serve: setup
	bentoml serve

# Two pytest-xdist workers: the tests sharing the quick project stay in one (tests/conftest.py), the rest
# fill the other core. Servers the tests need (Prefect, PostgreSQL, S3, MLflow, Dask) are started by them.
test: data lint  ## the whole suite, as CI runs it
	pytest -v -n 2 --dist loadgroup --durations=25

team-test: data  ## the team-stack tests alone (README "Scaling out"): PostgreSQL, S3, MLflow server, Dask
	pytest -v tests/flows/test_team_stack.py tests/flows/test_pipeline_e2e.py tests/test_infra.py

test-fast: setup lint
	pytest -q -m "not slow"

lint: setup  ## the layer contract in pyproject.toml: imports run downward only
	PYTHONPATH=. lint-imports

bench: setup  ## the benchmark suite (~30 min): JSON in bench/results/, the table in bench/README.md
	python bench/model_ceiling.py
	python bench/service_load.py
	python bench/edge_fps.py
	python bench/serving_env.py
	python bench/reliability_load.py
	python bench/real_faces.py
	python bench/report.py

clean:
	rm -rf artifacts reports mlflow.db mlartifacts

serving-requirements: setup  ## re-pin what the bento installs from uv.lock (after changing the `serving` group)
	uv export --frozen --only-group serving --no-hashes --no-emit-project --no-header -o infra/bento/requirements.txt
