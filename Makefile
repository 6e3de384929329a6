# One-line targets. `make run` starts the whole platform; `make test` runs every test.
# Neither needs a server nor a system package: SQLite and kombu's SQLAlchemy broker in
# var/ by default.
#   make VENV=.venv-bare test                       another venv (CI's bare-machine run)
#   make test PYTEST_ARGS='-x tests/test_health.py'  pass arguments to pytest
#   make run RUN_ARGS='--addr 127.0.0.1:8001'        ... or to manage.py run_platform
# `make install-mysql` adds the MariaDB/MySQL driver (mysqlclient, from
# requirements-mysql.txt) to the same venv; it compiles against the client library, so
# it needs Debian's `pkg-config default-libmysqlclient-dev` first. `make run` and
# `make test` never need it.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
RUN_ARGS ?=
REQUIREMENTS := requirements.txt requirements-dev.txt
STAMP := $(VENV)/.installed-$(shell cat $(REQUIREMENTS) | cksum | cut -d' ' -f1)
MYSQL_STAMP := $(VENV)/.installed-mysql-$(shell cat $(REQUIREMENTS) requirements-mysql.txt | cksum | cut -d' ' -f1)
export HF_HUB_OFFLINE := 1

.PHONY: install install-mysql run test lint format contracts migrate bench check

$(STAMP): $(REQUIREMENTS)
	(test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)) && $(BIN)/pip install -q --upgrade pip && $(BIN)/pip install -q -r requirements-dev.txt && touch $(STAMP)

$(MYSQL_STAMP): $(STAMP) requirements-mysql.txt
	$(BIN)/pip install -q -r requirements-mysql.txt && touch $(MYSQL_STAMP)

install: $(STAMP)

install-mysql: $(MYSQL_STAMP)

run: install
	$(BIN)/python manage.py run_platform $(RUN_ARGS)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

contracts: install
	$(BIN)/lint-imports

migrate: install
	$(BIN)/python manage.py migrate

# Every script in bench/ on ../shared/products-open and products-flipkart (slow: it
# trains models), with the arguments behind the README's figures; JSON in var/bench/.
bench: install
	mkdir -p var/bench && $(BIN)/python bench/import_rate.py --csv ../shared/products-open/products.csv --images ../shared/products-open/images && $(BIN)/python bench/import_rate.py --csv ../shared/products-flipkart/products.csv --images ../shared/products-flipkart/images && $(BIN)/python bench/quality.py --datasets open flipkart --json var/bench/quality.json && $(BIN)/python bench/retraining.py --dataset open --json var/bench/retraining-open.json && $(BIN)/python bench/retraining.py --dataset flipkart --backbone efficientnet_lite0 --json var/bench/retraining-flipkart.json && $(BIN)/python bench/latency.py --json var/bench/latency.json

# What CI checks: lint, import contracts, migrations complete, the tests.
check: lint contracts
	$(BIN)/python manage.py makemigrations --check --dry-run && $(BIN)/python -m pytest $(PYTEST_ARGS)

# TensorBoard on every training run's logs (ML_ARTIFACTS_DIR/runs; set TENSORBOARD_URL
# to its address for the training page's links). The MLflow UI on the local store
# (MLFLOW_STORE; the platform mirrors there with MLFLOW_TRACKING_URI set to the same),
# from a venv of its own (.venv-mlflow, requirements-mlflow-ui.txt: the full mlflow).
TENSORBOARD_LOGDIR ?= $(or $(ML_ARTIFACTS_DIR),var/ml)/runs
MLFLOW_STORE ?= sqlite:///$(CURDIR)/var/mlflow.db
.PHONY: tensorboard mlflow
tensorboard: install
	$(BIN)/tensorboard --logdir $(TENSORBOARD_LOGDIR) --host 127.0.0.1 --port 6006

mlflow:
	(test -x .venv-mlflow/bin/mlflow || ($(PYTHON) -m venv .venv-mlflow && .venv-mlflow/bin/pip install -q -r requirements-mlflow-ui.txt)) && .venv-mlflow/bin/mlflow ui --backend-store-uri $(MLFLOW_STORE) --host 127.0.0.1 --port 5000
