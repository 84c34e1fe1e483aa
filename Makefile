# The README's two commands: `make run` and `make test`. Both create .venv themselves and can be
# run again at any time; PAKN_* variables in the environment are passed through to the app.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
PYTEST_ARGS ?=
LOAD_ARGS ?=
OPENSEARCH_JAR := engines/opensearch/target/pakn-opensearch.jar
NATIVE := indexer/pakn_rank.so

.PHONY: native run test e2e bench bench-scale bench-page load lint services translations migrate seed clean-instance help opensearch bench-opensearch

help:
	@echo "make run    - install, migrate, load demo data, serve the portal"
	@echo "make test   - install test requirements and run the whole test suite"
	@echo "make bench  - run the benchmarks in bench/"
	@echo "make bench-scale - the embedded engine at 1,000,000 reports vs 100,000, and a worker's memory (~10 min)"
	@echo "make bench-page - Tra cứu pages over the load test's searches, one process, no load (100,000 reports)"
	@echo "make bench-opensearch - the Elasticsearch path on an OpenSearch node vs the embedded engine (100,000 reports)"
	@echo "make load   - load test: 50 users against gunicorn, 100,000 reports (LOAD_ARGS=...)"
	@echo "make lint   - ruff and the import contracts (lint-imports)"
	@echo "make services - install (Debian packages) and start PostgreSQL, Redis and Chromium for the tests"
	@echo "make native - build the search ranking function in C (indexer/native_rank.py; gcc, libsqlite3-dev)"
	@echo "make opensearch - build the OpenSearch 2.19 test node (engines/opensearch, Maven; Java 17)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.requirements: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.requirements-test: requirements.txt requirements-test.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-test.txt
	touch $@ $(VENV)/.requirements

$(VENV)/.requirements-bench: requirements.txt requirements-bench.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-bench.txt
	touch $@ $(VENV)/.requirements

translations: $(VENV)/.requirements
	@$(BIN)/pybabel compile -d webapp/translations --statistics

migrate: $(VENV)/.requirements
	$(FLASK) db upgrade

seed: migrate
	$(FLASK) seed-demo --if-empty

# The ranking function in C (indexer/pakn_rank.c, loaded by indexer/native_rank.py). Without a C
# compiler and SQLite's headers `make run` goes on and the engine ranks with FTS5's bm25(): the
# same answers, slower. `make test` needs it (its tests check it against bm25()).
native: $(NATIVE)

$(NATIVE): indexer/pakn_rank.c
	$(CC) -O2 -Wall -Wextra -fPIC -shared -o $@ $< -lm

run: $(VENV)/.requirements translations migrate seed
	@$(MAKE) --no-print-directory native || echo "make run: no C compiler or SQLite headers (Debian: apt-get install gcc libsqlite3-dev): searches rank with FTS5's bm25(), the same answers, slower"
	$(FLASK) index sync
	$(FLASK) serve

# Where Java and Maven are installed (CI, this project's machines), the tests get the OpenSearch node
# too; elsewhere its tests skip with the reason (CI builds it and runs them).
TEST_ENGINES := $(if $(shell command -v mvn 2>/dev/null),$(OPENSEARCH_JAR))

test: lint translations $(NATIVE) $(TEST_ENGINES)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# ruff, then the import contracts of .importlinter (docs/architecture.md).
lint: $(VENV)/.requirements-test
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

services:
	bash .ci/services

# The OpenSearch test node (engines/opensearch/README.md): the tests and bench/opensearch.py start it.
opensearch: $(OPENSEARCH_JAR)

$(OPENSEARCH_JAR): engines/opensearch/pom.xml $(wildcard engines/opensearch/src/main/java/org/pakn/opensearch/*.java)
	cd engines/opensearch && mvn -q -B clean package

bench: $(VENV)/.requirements $(NATIVE)
	cd bench && ../$(BIN)/python search.py
	cd bench && ../$(BIN)/python index.py
	cd bench && ../$(BIN)/python export.py
	$(BIN)/python bench/import_speed.py

bench-scale: $(VENV)/.requirements $(NATIVE)
	cd bench && ../$(BIN)/python scale.py $(SCALE_ARGS)

bench-page: $(VENV)/.requirements translations $(NATIVE)
	$(BIN)/python bench/page.py $(PAGE_ARGS)

bench-opensearch: $(VENV)/.requirements $(NATIVE) $(OPENSEARCH_JAR)
	cd bench && ../$(BIN)/python opensearch.py

load: $(VENV)/.requirements-bench translations $(NATIVE)
	$(BIN)/python bench/load.py $(LOAD_ARGS)

e2e: $(VENV)/.requirements-test translations
	$(BIN)/python -m pytest tests/e2e $(PYTEST_ARGS)
