# The README's commands. Everything installs itself on first use (venv, packages, Kafka jars).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install up down status demo test test-unit lint bench-ingest bench-calendar clean dashboards k8s-validate chaos

$(STAMP): pyproject.toml
	@echo "[make] creating virtualenv and installing pinned packages (first run only)..."
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --disable-pip-version-check -q --upgrade pip
	@$(PY) -m pip install --disable-pip-version-check --progress-bar on -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## Java + Maven if missing, venv + packages, Kafka jars
	@command -v java >/dev/null && command -v mvn >/dev/null || { \
	  echo "[make] installing Java 17 and Maven (Debian packages) for the local Kafka broker"; \
	  apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless maven >/dev/null; }
	@$(PY) -c "from deploy.local.stack import kafka_lib; kafka_lib()"
	@command -v prometheus >/dev/null && command -v promtool >/dev/null || { \
	  echo "[make] installing Prometheus and promtool (Debian package) for the alert and panel tests"; \
	  apt-get update -qq && apt-get install -y -qq prometheus >/dev/null; }
	@$(PY) -m deploy.k8s.tools install

up: install ## start Kafka, the database and the four services in the background
	@$(PY) -m deploy.local.stack up

down: ## stop everything `make up` started
	@test -x $(PY) && $(PY) -m deploy.local.stack down || true

status: ## what runs, where
	@$(PY) -m deploy.local.stack status

demo: install ## the scripted demo: start, push traffic, print a summary, stop
	@$(PY) -m deploy.local.demo

test: install ## unit, component and integration tests (real Kafka + database)
	@$(PY) -m pytest tests

test-unit: install
	@$(PY) -m pytest tests/unit tests/component

lint: install ## ruff, mypy, and pip-audit of the installed packages (says NOT AUDITED when its database is unreachable)
	@$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/mypy shared
	@$(PY) -m deploy.audit_deps

bench-ingest: install ## ingestion benchmark: prints a table, writes bench/results/ingest.json
	@$(PY) -m bench.ingest

bench-calendar: install ## calendar benchmark: views at ~1M slots, 12-month generation, publishing (due lag, 20k at one instant vs naive); writes bench/results/calendar.json
	@$(PY) -m bench.calendar_views $(VIEWS_ARGS)
	@$(PY) -m bench.calendar_publish $(PUBLISH_ARGS)

clean: down
	rm -rf .local

dashboards: install ## regenerate deploy/grafana/dashboards/*.json from deploy/dashboards.py
	@$(PY) -m deploy.dashboards

k8s-validate: install ## kustomize build every overlay and validate it against the Kubernetes schemas offline
	@$(PY) -m deploy.k8s.tools validate

bench-audit: install ## audit benchmark: 12 months x 6 platforms for 10 and 1,000 competitors; writes bench/results/audit.json
	@$(PY) -m bench.audit

bench-budget: install ## budget benchmark: ledger lines/s from MetricsIngested (exactly once) vs one transaction per line, alert p99; writes bench/results/budget.json
	@$(PY) -m bench.budget $(BUDGET_ARGS)

chaos: install ## faults against the real stack (broker and database killed, services SIGKILLed, rebalance, replay from 0, 1% poison): 0 lost, 0 doubled; writes bench/results/chaos.json
	@$(PY) -m bench.chaos $(CHAOS_ARGS)
