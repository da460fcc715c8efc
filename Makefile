# Cadenza — the two commands are `make run` and `make test`; the rest are for developers.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 1
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
INSTALL_STAMP := $(VENV)/.installed
APT_RUN := redis-server fluidsynth fluid-soundfont-gm fonts-liberation fonts-wqy-zenhei librsvg2-bin
APT_TEST := $(APT_RUN) chromium postgresql
# gettext: only for rebuilding the translation catalogs (`make messages`); the compiled .mo
# files are committed, so running the studio needs none of it
APT_DEV := gettext
export PYTHONUNBUFFERED := 1

.PHONY: help run test test-postgres loadtest test-quick messages system-deps system-deps-test venv setup bench evaluate evaluate-v2 train-v2 train-transformer train-cyclegan build-dataset lint format clean

help:
	@echo "make run    - set up and start the studio on http://$(HOST):$(PORT)"
	@echo "make test   - set up and run every test (browser tests included)"
	@echo "make test-quick - unit tests only (no browser, no worker processes), for the inner loop"
	@echo "make messages - rebuild the translation catalogs (locale/)"
	@echo "make bench | evaluate | build-dataset | train-transformer | train-cyclegan | lint"

# --- set-up (idempotent: apt only when a package is missing, pip only when pyproject changed)
define apt_install
	@missing=""; for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if ! $(PYTHON) -c 'import ensurepip, venv' 2>/dev/null; then missing="$$missing python3-venv"; fi; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

system-deps:
	$(call apt_install,$(APT_RUN))

system-deps-test:
	$(call apt_install,$(APT_TEST))

$(INSTALL_STAMP): pyproject.toml
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(INSTALL_STAMP)

venv: $(INSTALL_STAMP)

setup: system-deps venv
	$(PY) manage.py migrate --noinput -v 0
	$(PY) manage.py collectstatic --noinput -v 0

run: setup
	@HOST=$(HOST) PORT=$(PORT) WORKERS=$(WORKERS) exec scripts/run_studio.sh

# axe-core for the browser tests' accessibility checks (package.json; npm never fetches a browser)
node_modules/.installed: package.json
	@command -v npm >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends npm; }
	npm install --no-audit --no-fund --ignore-scripts
	@touch $@

# the jobs, integration and fault tests again on a throw-away PostgreSQL cluster
# (studio.testing); the load test's small run uses PostgreSQL already
PG_TESTS ?= tests/test_jobs_worker.py tests/test_jobs_scale.py tests/test_jobs_recovery.py \
	tests/test_jobs_failures.py tests/test_jobs_concurrency.py tests/test_jobs_api.py

test: system-deps-test venv node_modules/.installed
	$(PY) manage.py collectstatic --noinput -v 0
	$(PY) -m pytest $(PYTEST_ARGS)
	STUDIO_TEST_DB=postgres $(PY) -m pytest $(PG_TESTS) $(PYTEST_ARGS)

# every test on PostgreSQL (the lead's check before a release)
test-postgres: system-deps-test venv
	$(PY) manage.py collectstatic --noinput -v 0
	STUDIO_TEST_DB=postgres $(PY) -m pytest $(PYTEST_ARGS)

# the inner loop: unit tests only (no browser, no worker/daphne processes), under 3 minutes
test-quick: system-deps venv
	$(PY) -m pytest -q -m "not browser and not integration" $(PYTEST_ARGS)

# the studio past one machine on loopback, under load and faults; report in reports/loadtest.json
loadtest: system-deps-test venv
	$(PY) scripts/loadtest.py $(LOADTEST_ARGS)

# --- developer targets --------------------------------------------------------------------
# The interface's catalogs: collect every marked string into locale/zh_Hans/*.po (translate
# the new, empty entries there), then compile the .mo files that are committed.
MESSAGES_IGNORE := --ignore=var --ignore=staticfiles --ignore=node_modules --ignore=test-artifacts --ignore=tests --ignore=reports --ignore=docs
messages: venv
	$(call apt_install,$(APT_DEV))
	$(PY) manage.py makemessages -l zh_Hans --no-obsolete $(MESSAGES_IGNORE)
	$(PY) manage.py makemessages -d djangojs -l zh_Hans --no-obsolete $(MESSAGES_IGNORE)
	$(PY) manage.py compilemessages -l zh_Hans

bench: setup
	$(PY) manage.py bench

evaluate: venv
	$(PY) manage.py evaluate_models

build-dataset: venv
	$(PY) manage.py build_dataset

MINUTES ?= 120
train-v2: venv
	$(PY) -m generation.ml.train_grid --resume --minutes $(MINUTES)

evaluate-v2: venv
	$(PY) -m generation.ml.evaluate_v2

train-transformer: venv
	$(PY) manage.py train_transformer

train-cyclegan: venv
	$(PY) manage.py train_cyclegan --pair $(PAIR)

lint: venv
	$(VENV)/bin/ruff check .

format: venv
	$(VENV)/bin/ruff format .

clean:
	rm -rf staticfiles test-artifacts .pytest_cache
