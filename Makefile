# `make run`: set everything up and run the pipeline (quick profile); `make test`: set up and run the tests.
# Works on a fresh machine with Python 3.11 and git: uv is installed into the user site if missing.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
VENV_BIN := .venv/bin
export PATH := $(CURDIR)/$(VENV_BIN):$(PATH)
export TF_CPP_MIN_LOG_LEVEL ?= 2
export NO_MKDOCS_2_WARNING ?= 1
# `dvc exp run` records experiments as git refs: give a fresh machine an identity if it has none.
export GIT_AUTHOR_NAME ?= fer-platform
export GIT_AUTHOR_EMAIL ?= fer-platform@localhost
export GIT_COMMITTER_NAME ?= fer-platform
export GIT_COMMITTER_EMAIL ?= fer-platform@localhost

.PHONY: setup data run full test browser team-test test-fast lint bootstrap package serve demo stop docs mlflow serving-requirements bench clean compare

$(UV):
	$(PYTHON) -m pip install --user --quiet "uv>=0.5"

# --compile-bytecode: this machine sets PYTHONDONTWRITEBYTECODE=1, so without .pyc files every process compiled
# TensorFlow, MLflow and Prefect from source again (import keras: 38 s, not 14 s); once here costs ~80 s.
setup: $(UV)  ## virtual env with the locked dependency set
	$(UV) sync --frozen --compile-bytecode

# Without ../shared (the DVC remote beside the checkout), the data is your own Kaggle download: image folders
# under data/fer2013/, or data.source in params.yaml pointing at fer2013.csv (docs/data.md).
data: setup  ## the pinned FER2013 from the DVC remote (hash-checked), or your own download (data.source)
	@if [ -d ../shared/dvc-store ] || [ -n "$$(dvc remote list --local 2>/dev/null)" ]; then dvc pull data.dvc; \
	else python -m fer_platform.data.source_check params.yaml; fi

bootstrap: data  ## register the committed release model as the first champion (no-op if one exists)
	python -m flows.bootstrap

run: data  ## the release as champion (if none), then the quick profile: ingest, validate, train x4, evaluate, promote, package
	fer-platform run --profile quick --bootstrap

full: bootstrap  ## the committed full recipe (hours on a CPU; see docs/params.md)
	dvc repro

package: bootstrap  ## export the champion to ONNX (parity-checked on PrivateTest faces), bento
	dvc repro ingest
	python -m flows.package

mlflow: setup  ## the MLflow UI, opened on the training runs (the printed link), on http://127.0.0.1:5000
	@echo "MLflow: $$(python -c 'from fer_platform.tracking.store import runs_url; print(runs_url())' 2>/dev/null)"
	mlflow ui --backend-store-uri sqlite:///mlflow.db --port 5000

compare: setup  ## experiments against HEAD in 120 columns: headline metrics, then the params that differ
	python -m fer_platform.compare --width 120

SERVICE_PORT ?= 3000
SERVICE_URL := http://127.0.0.1:$(SERVICE_PORT)

serve: setup  ## the service in the foreground: http://127.0.0.1:3000 (Swagger UI at /; SERVICE_PORT=N for another)
	@if fer-platform wait-ready --url $(SERVICE_URL) --timeout 0; then \
		echo "a service already answers on $(SERVICE_URL) (make stop, or: make serve SERVICE_PORT=3001)"; exit 1; fi
	bentoml serve --port $(SERVICE_PORT)

# The README's first screen: the service in the background (log and pid in outputs/, git-ignored) unless one
# answers on :3000 already, then the shipped sample photo through it. `make stop` stops it.
demo: setup  ## the service in the background (if none answers), then the sample photo through it
	@mkdir -p outputs
	@fer-platform wait-ready --url $(SERVICE_URL) --timeout 0 || { \
		echo "starting bentoml serve in the background on port $(SERVICE_PORT) (log: outputs/serve.log)"; \
		nohup bentoml serve --port $(SERVICE_PORT) > outputs/serve.log 2>&1 & echo $$! > outputs/serve.pid; \
		fer-platform wait-ready --url $(SERVICE_URL) --timeout 120 --pid $$(cat outputs/serve.pid) || { \
			kill $$(cat outputs/serve.pid) 2>/dev/null; rm -f outputs/serve.pid; \
			echo "the service did not come up: see outputs/serve.log (make run builds what it serves)"; exit 1; }; }
	fer-edge --image release/sample.jpg --url $(SERVICE_URL) --output outputs/sample_annotated.jpg --jsonl outputs/sample.jsonl
	@echo "annotated: outputs/sample_annotated.jpg; faces: outputs/sample.jsonl; the service: $(SERVICE_URL) (make stop)"

stop:  ## stop the service `make demo` started
	@pid=$$(cat outputs/serve.pid 2>/dev/null); \
	if [ -n "$$pid" ] && ps -p "$$pid" -o args= | grep -q "bentoml serve"; then kill "$$pid" && echo "stopped"; \
	else echo "no service started by make demo is running"; fi; rm -f outputs/serve.pid

docs: setup  ## the documentation site, strict (a broken link or reference fails): site/
	mkdocs build --strict

# Three pytest-xdist workers on 2 cores: the tests sharing the quick project stay in one (tests/conftest.py), the
# rest fill the others. With two, a fresh-clone run kept the cores busy only 60% of the time (1,547 s of CPU in
# 1,281 s): many tests wait on subprocesses, servers and locks. Servers the tests need (Prefect, PostgreSQL, S3,
# MLflow, Dask, Chromium) are started by them.
test: data lint docs browser  ## the whole suite, as CI runs it
	pytest -v -n 3 --dist loadgroup --durations=40

team-test: data  ## the team-stack tests alone (docs/scaling-out.md): PostgreSQL, S3, MLflow server, Dask
	pytest -v tests/flows/test_team_stack.py tests/flows/test_pipeline_e2e.py tests/test_infra.py

# The live page's test drives a real browser: Debian's chromium and its driver, from apt (never a browser
# downloaded at run time). Instant when they are there; installing needs root (or sudo).
browser:  ## Debian's chromium + chromium-driver, for the live page's browser test
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
		sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); echo "installing chromium and chromium-driver (apt-get)"; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq \
			--no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null; }

test-fast: setup lint  ## unit level: no training, no server beyond one a test starts itself (-m "not slow")
	pytest -q -n 2 -m "not slow"

lint: setup  ## the layer contract in pyproject.toml: imports run downward only
	PYTHONPATH=. lint-imports

bench: setup browser  ## the benchmark suite (~33 min): JSON in bench/results/, the table in bench/README.md
	python bench/model_ceiling.py
	python bench/service_load.py
	python bench/edge_fps.py
	python bench/serving_env.py
	python bench/reliability_load.py
	python bench/real_faces.py
	python bench/python_api.py
	python bench/int8.py
	python bench/live_page.py
	python bench/report.py

clean:
	rm -rf artifacts reports mlflow.db mlartifacts

serving-requirements: setup  ## re-pin what the bento installs from uv.lock (after changing the `serving` group)
	uv export --frozen --only-group serving --no-hashes --no-emit-project --no-header -o infra/bento/requirements.txt
