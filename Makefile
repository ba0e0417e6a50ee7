# Two commands on a fresh machine:
#   make run   - set up and serve the hub with demo data at http://127.0.0.1:8000
#   make test  - the whole suite on throwaway PostgreSQL and Redis
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install run serve test test-fast lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput -v 0
	$(BIN)/python manage.py setup_demo
	$(BIN)/python manage.py runserver 127.0.0.1:8000

serve: install
	$(BIN)/python manage.py runserver 127.0.0.1:8000

test: lint
	$(BIN)/python tools/with_services.py -- $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check mdm matching stewardship tests tools

clean:
	rm -rf $(VENV) var .pytest_cache test-artifacts
