# Two commands: `make run` serves the demo site, `make test` runs every test.
# Both set up the virtual environment on first use.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
DEMO_PASSWORD ?= demo-password-2019
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test venv lint format migrate demo clean help

help:
	@echo "make run    - set up, migrate, seed the demo and serve http://$(HOST):$(PORT)"
	@echo "make test   - set up and run the whole test suite"
	@echo "make lint   - ruff check, ruff format --check, makemigrations --check"

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

venv: $(VENV)/.installed

migrate: venv
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py seed_demo --password '$(DEMO_PASSWORD)'

run: demo
	@echo "Demo users: nurse assessor investigator statistician dsmb datamanager / password $(DEMO_PASSWORD)"
	$(PY) manage.py runserver $(HOST):$(PORT)

test: venv
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
