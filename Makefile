# IntradayJules: the two commands that matter are `make demo` and `make test`.
# Everything else is a convenience around the same venv.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# torch is installed first, pinned, so nothing later resolves a multi-GB CUDA build.
# On a machine with internet, TORCH_INDEX=https://download.pytorch.org/whl/cpu picks the CPU wheel.
TORCH_VERSION ?= 2.13.0
TORCH_INDEX ?=
TORCH_INDEX_ARG := $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX),)

export INTRADAY_JULES_HOME ?= $(CURDIR)/.intraday_jules
export DAGSTER_HOME ?= $(INTRADAY_JULES_HOME)/dagster
export OMP_NUM_THREADS ?= 1
UI_PORT ?= 3000

.PHONY: demo test ui lint type imports bench stack-config train serve tensorboard sweep-ui sweep-worker positive-control clean help

help:
	@echo "make demo   - set up .venv and run the whole pipeline on the embedded default"
	@echo "make test   - set up .venv with dev extras and run the test suite"
	@echo "make ui     - open the Dagster UI (dagster dev) on http://127.0.0.1:$(UI_PORT)"
	@echo "make lint | type | imports | bench | train | serve | tensorboard | sweep-ui | sweep-worker | positive-control | clean"

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet torch==$(TORCH_VERSION) $(TORCH_INDEX_ARG)
	$(PIP) install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install --quiet -e '.[dev]'
	@touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/intraday-jules demo

test: $(VENV)/.installed-dev
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The instance template lives in local/, not the root: `dagster dev` warns about a dagster.yaml
# in its working folder that is not DAGSTER_HOME. `dg dev` (which `dagster dev` suggests) needs
# the separate dagster-dg-cli package; `dagster dev` stays supported until Dagster 2.0, so its
# one SupersessionWarning is filtered, by its exact message, for this process only.
ui: $(VENV)/.installed
	@mkdir -p $(DAGSTER_HOME)
	@test -f $(DAGSTER_HOME)/dagster.yaml || cp local/dagster.yaml $(DAGSTER_HOME)/dagster.yaml
	$(PY) -W 'ignore:Function `dev_command` is superseded:FutureWarning' -m dagster dev \
		-w workspace.yaml -h 127.0.0.1 -p $(UI_PORT)

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check intraday_jules intraday_jules_tests benchmarks

type: $(VENV)/.installed-dev
	$(VENV)/bin/mypy intraday_jules

imports: $(VENV)/.installed-dev
	$(VENV)/bin/lint-imports

BENCHMARKS ?= ingest backfill quality features env training decision_latency inference sweep

bench: $(VENV)/.installed-dev
	@for b in $(BENCHMARKS); do echo "== python -m benchmarks.$$b"; $(PY) -m benchmarks.$$b || exit 1; done
	$(PY) -m benchmarks.ingest --backend sqlite

stack-config:
	docker-compose --env-file docker/.env.example -f docker/compose.yaml config -q
	promtool check config docker/prometheus/prometheus.yml

# the seed's full budgets (50,000 + 200,000 steps) on the ingested bars (make demo first), or
# TRAIN_ARGS="--source replay --replay-path FILE" for a recorded file
train: $(VENV)/.installed
	$(VENV)/bin/intraday-jules train --full $(TRAIN_ARGS)

serve: $(VENV)/.installed
	$(VENV)/bin/uvicorn intraday_jules.service.app:app --host 127.0.0.1 --port 8000

tensorboard: $(VENV)/.installed
	$(VENV)/bin/tensorboard --logdir $(INTRADAY_JULES_HOME)/tensorboard --host 127.0.0.1

# optuna-dashboard on the sweeps' study storage (docs/sweeps.md)
sweep-ui: $(VENV)/.installed
	$(VENV)/bin/intraday-jules sweep-ui --host 127.0.0.1 --port 8080

# the pipeline must learn a planted edge and refuse the same market shuffled in time
positive-control: $(VENV)/.installed
	$(VENV)/bin/intraday-jules positive-control

# a Celery worker for sweep_job_celery (docs/sweeps_scale_out.md)
sweep-worker: $(VENV)/.installed
	$(PY) -m celery -A intraday_jules.defs.sweeps.celery_app worker -Q dagster --concurrency 1 -l INFO

clean:
	rm -rf $(INTRADAY_JULES_HOME)
