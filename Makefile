# Virker: `make run` serves the demo on SQLite, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: messages run test test-long lint migrate demo serve clean benchmarks system-deps browser-deps \
	api-contract benchmark-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# WeasyPrint draws statements with Pango and HarfBuzz and embeds fonts in them; on a
# machine without those libraries (or fonts), install them from Debian's packages.
SYSTEM_LIBS := pango-1.0 pangoft2-1.0 harfbuzz-subset
SYSTEM_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core

system-deps:
	@$(PYTHON) -c "import ctypes.util, sys; sys.exit(any(ctypes.util.find_library(l) is None for l in '$(SYSTEM_LIBS)'.split()))" \
	  && fc-list 2>/dev/null | grep -q DejaVuSans \
	  || { echo "installing $(SYSTEM_PACKAGES)"; \
	       if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	       $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; }

# The browser tests (tests/browser) drive Debian's Chromium through Playwright; Playwright's
# own browser download is never used (`playwright install` is not run).
CHROMIUM := /usr/bin/chromium

browser-deps:
	@test -x $(CHROMIUM) \
	  || { echo "installing chromium"; \
	       if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	       $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

$(STAMP): pyproject.toml | $(BIN)/python system-deps
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python system-deps
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@ $(STAMP)

run: $(STAMP)
	$(BIN)/virker migrate
	$(BIN)/virker demo
	$(BIN)/virker serve

migrate: $(STAMP)
	$(BIN)/virker migrate

# The suite runs in as many worker processes as the machine has cores (TEST_WORKERS=1 for one).
TEST_WORKERS ?= auto

test: $(DEV_STAMP) | browser-deps
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

# The ledger's stateful test at length: random, many more and longer examples than in
# `make test`, on SQLite and (with VIRKER_TEST_DATABASE_URL) PostgreSQL. SEED=N draws the
# examples of an earlier run again; VIRKER_HYPOTHESIS_EXAMPLES sets how many (200).
test-long: $(DEV_STAMP)
	VIRKER_HYPOTHESIS_PROFILE=long $(BIN)/pytest -rP \
	  tests/integration/test_ledger_stateful.py -k test_the_books_hold_whatever_happens \
	  $(if $(SEED),--hypothesis-seed=$(SEED))

# The API's contract alone: the OpenAPI document, a client generated from it, and
# schemathesis over every operation (all three run in `make test` too).
api-contract: $(DEV_STAMP)
	$(BIN)/pytest tests/api/test_openapi.py tests/api/test_generated_client.py tests/api/test_schemathesis.py

# benchmarks/ledger.py measures django-hordak on the same PostgreSQL; hordak (a Django app)
# lives in a virtualenv of its own, .venv-hordak, so that nothing of it reaches Virker's.
HORDAK_VENV := .venv-hordak
HORDAK_PACKAGES := django-hordak==2.0.0 "Django>=5.2,<5.3" psycopg2-binary==2.9.*

benchmark-deps: $(HORDAK_VENV)/.installed

$(HORDAK_VENV)/.installed: Makefile
	test -x $(HORDAK_VENV)/bin/python || $(PYTHON) -m venv $(HORDAK_VENV)
	$(HORDAK_VENV)/bin/pip install --quiet $(HORDAK_PACKAGES)
	touch $@

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) var/virker.sqlite var/virker.sqlite-wal var/virker.sqlite-shm

# The web UI's words: extract what `_()` and `N_()` mark into the catalogue template and
# merge it into the Danish, Norwegian and English catalogues (api/web/locale), for a
# translator to fill in; the server compiles the catalogues when it starts.
messages: $(DEV_STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-location --omit-header --sort-output \
	  -o api/web/locale/messages.pot .
	$(BIN)/pybabel update -i api/web/locale/messages.pot -d api/web/locale --no-fuzzy-matching \
	  --ignore-obsolete
