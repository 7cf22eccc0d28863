# Two commands: `make run` serves the demo site, `make test` runs every test.
# Both set up the virtual environment on first use.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
DEMO_PASSWORD ?= demo-password-2019
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test venv lint format migrate demo clean help screenshots bench mutation

help:
	@echo "make run    - set up, migrate, seed the demo and serve http://$(HOST):$(PORT)"
	@echo "make test   - set up and run the whole test suite"
	@echo "make lint   - ruff check, ruff format --check, lint-imports (the layering), makemigrations --check"

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
	$(BIN)/lint-imports
	$(PY) manage.py makemigrations --check --dry-run

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: venv
	$(PY) bench/run.py

screenshots: venv
	$(PY) scripts/screenshots.py

# Mutation testing: which checks would no test miss? The modules mutated and the tests
# tried against them are [tool.mutmut] in pyproject.toml; MUTATION_MUTANTS names which
# of their mutants are tried (mutmut's name globs, module.x_function__mutmut_N): every
# one, except that analysis/stats.py is limited to the functions that decide (test
# choice, Bonferroni adjustment, persistent pain) because its numeric core takes hours.
# `make mutation MUTATION_MUTANTS='*'` tries them all. mutmut works on a copy of the
# apps in mutants/, started afresh each run, on SQLite.
MUTATION_JOBS ?= 2
MUTATION_MUTANTS ?= trial.* questionnaires.* randomization.* followup.* \
	analysis.stats.x_choose_* analysis.stats.x__compare_* analysis.stats.x__reduced_table__* \
	analysis.stats.x_persistent_pain__* analysis.stats.x__difference__* \
	analysis.stats.x__student_t__* analysis.stats.x__paired_t__*

mutation: venv
	rm -rf mutants
	mkdir mutants
	@echo "mutmut run (log in mutants/run.log; $(MUTATION_JOBS) workers) ..."
	@start=$$(date +%s); \
	if ! env -u DATABASE_URL $(BIN)/mutmut run --max-children $(MUTATION_JOBS) \
		$(foreach glob,$(MUTATION_MUTANTS),'$(glob)') > mutants/run.log 2>&1; then \
		tail -c 3000 mutants/run.log; echo; echo "mutmut run failed (mutants/run.log)"; exit 1; fi; \
	echo "mutmut run took $$(( $$(date +%s) - start )) s"
	@$(BIN)/mutmut results --all true > mutants/results.txt
	@echo
	@echo "Mutation score by module (killed / tried; not tried: outside MUTATION_MUTANTS)"
	@awk -F': ' '{ key = $$1; sub(/^ +/, "", key); status = $$2; \
		n = split(key, part, "."); module = part[1]; \
		for (i = 2; i < n; i++) module = module "." part[i]; \
		if (status == "not checked") { untried[module]++; seen[module] = 1; next } \
		seen[module] = 1; tried[module]++; count[module, status]++; \
		all_tried++; all[status]++ } \
		END { fmt = "%-24s %6s %6s %5s %8s %8s %8s %10s %9s\n"; \
		printf fmt, "module", "killed", "tried", "score", "survived", "no_tests", "timeout", \
			"suspicious", "not_tried"; \
		for (m in seen) if (tried[m]) printf "%-24s %6d %6d %4.1f%% %8d %8d %8d %10d %9d\n", m, \
			count[m, "killed"], tried[m], tried[m] ? 100 * count[m, "killed"] / tried[m] : 0, \
			count[m, "survived"], count[m, "no tests"], count[m, "timeout"], \
			count[m, "suspicious"], untried[m] | "sort"; close("sort"); \
		printf "%-24s %6d %6d %4.1f%% %8d %8d %8d %10d\n", "total", all["killed"], all_tried, \
			all_tried ? 100 * all["killed"] / all_tried : 0, all["survived"], all["no tests"], \
			all["timeout"], all["suspicious"] }' mutants/results.txt
	@echo
	@echo "Surviving mutants (.venv/bin/mutmut show NAME prints the change):"
	@grep -E ': (survived|no tests|suspicious|timeout)$$' mutants/results.txt || echo "    none"

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
