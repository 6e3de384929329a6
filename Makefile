# One-line targets. `make run` starts the whole platform; `make test` runs every test.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
export HF_HUB_OFFLINE := 1

.PHONY: install run test lint format migrate bench

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); $(BIN)/pip install -q --upgrade pip && $(BIN)/pip install -q -r requirements-dev.txt && touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/python manage.py run_platform

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

migrate: install
	$(BIN)/python manage.py migrate
