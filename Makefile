# Two commands: `make run` serves the demo site, `make test` runs every test.
# Both set up the virtual environment on first use.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
DEMO_PASSWORD ?= demo-password-2019
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test venv lint format migrate demo clean help screenshots bench

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

# Translations are compiled in the build, never committed as binaries. Without
# GNU gettext (msgfmt) the site still runs, in English.
locale/zh_Hans/LC_MESSAGES/django.mo: locale/zh_Hans/LC_MESSAGES/django.po
	@if command -v msgfmt >/dev/null 2>&1; then \
		$(PY) manage.py compilemessages --ignore=.venv -v0; \
	else echo "msgfmt not found (apt-get install gettext): the Chinese interface is not compiled"; fi

venv: $(VENV)/.installed locale/zh_Hans/LC_MESSAGES/django.mo

migrate: venv
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py seed_demo --password '$(DEMO_PASSWORD)'

run: demo
	@echo "Demo users: nurse assessor investigator statistician dsmb datamanager / password $(DEMO_PASSWORD)"
	$(PY) manage.py runserver $(HOST):$(PORT)

# axe-core for the accessibility checks in the browser tests (skipped without npm,
# except in CI where a missing tool fails the run).
node_modules/axe-core/axe.min.js: package.json
	@if command -v npm >/dev/null 2>&1; then \
		npm install --no-audit --no-fund --silent; \
	else echo "npm not found: the accessibility checks will be skipped"; fi

test: venv node_modules/axe-core/axe.min.js
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: venv
	$(PY) bench/run.py

screenshots: venv
	$(PY) scripts/screenshots.py

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
