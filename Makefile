# Two commands matter: `make run` and `make test`. Everything else here serves them.
PYTHON ?= python3
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-setup test-unit test-integration audit lint lock serve clean help monitoring perf dr-drill catalog

help:
	@echo "make run    - install, migrate the embedded SQLite database, seed demo data, serve on http://$(HOST):$(PORT)"
	@echo "make test   - install what the tests need (including PostgreSQL when root) and run the whole suite"
	@echo "make lint   - ruff check, ruff format --check, mypy"
	@echo "make audit  - pip-audit (known vulnerabilities in the locked dependencies) and bandit (the code)"
	@echo "make test-unit / test-integration - the two halves of make test the pipeline runs as separate stages"
	@echo "make lock   - re-resolve requirements.lock and requirements-dev.lock from pyproject.toml"
	@echo "make catalog - collect the pages' and e-mails' strings into src/abb/locale (then translate the new ones)"
	@echo "make monitoring - Prometheus, Alertmanager and a Pushgateway on loopback against a running make run"
	@echo "make perf   - load tests: PostgreSQL, production settings, several workers, locust in steps (docs/capacity.md)"
	@echo "make dr-drill - disaster-recovery drill at 1 GB on throwaway clusters: prints RTO and RPO, writes var/dr-drill-report.json"

$(BIN)/uv:
	@echo "==> [1/3] creating the Python environment in $(VENV) (first run only)"
	$(PYTHON) -m venv $(VENV)
	@echo "==> [2/3] installing uv, the package installer"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Stamps: reinstall only when the lock file or the package description changes. uv shows its progress on a
# terminal and a summary otherwise, so a first `make run` is never silent for a minute.
$(VENV)/.runtime-installed: $(BIN)/uv requirements.lock pyproject.toml
	@echo "==> [3/3] installing the application's packages from requirements.lock (about a minute the first time)"
	$(BIN)/uv pip install --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

$(VENV)/.dev-installed: $(VENV)/.runtime-installed requirements-dev.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements-dev.lock
	touch $@

run: $(VENV)/.runtime-installed
	@echo "==> migrating the embedded database and adding the demo data (first run only)"
	$(BIN)/abb migrate
	$(BIN)/abb seed-demo --if-empty
	@echo ""
	@echo "  Africa Business Bridge is at http://$(HOST):$(PORT)  (API docs: http://$(HOST):$(PORT)/docs)"
	@echo "  Demo logins (password bridge-demo-2026):"
	@echo "    sme@demo.africabusinessbridge.example, partner@demo.africabusinessbridge.example, admin@demo.africabusinessbridge.example"
	@echo ""
	$(BIN)/abb serve --host $(HOST) --port $(PORT)

# Test prerequisites: servers from Debian's packages, and checkov in its own venv (var/tools/checkov).
test-setup: $(VENV)/.dev-installed
	scripts/install-test-services.sh
	scripts/install-ship-tools.sh
	@# python-hcl2 caches its parser's tables beside the package on first use: built here, untraced, in 5 s
	@# rather than in the first Terraform test under coverage (20 s)
	$(BIN)/python -c "from hcl2.parser import parser; parser()"

# The suite under coverage (line + branch, the servers it starts included; pyproject.toml [tool.coverage]).
# Fails when a test fails or when coverage is under fail_under; the report lists each module's uncovered lines.
COVERAGE_DIR := var/coverage
# Two pytest workers, one per core; a file's tests stay on one worker, so its module fixtures start once;
# the `slow` files go first (tests/conftest.py) so that the workers finish together.
TEST_WORKERS ?= 2
test: test-setup
	rm -rf $(COVERAGE_DIR) && mkdir -p $(COVERAGE_DIR)
	status=0; COVERAGE_FILE=$(CURDIR)/$(COVERAGE_DIR)/.coverage $(BIN)/coverage run -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder || status=$$?; \
	$(BIN)/coverage combine -q --data-file=$(COVERAGE_DIR)/.coverage && \
	$(BIN)/coverage xml -q --data-file=$(COVERAGE_DIR)/.coverage && \
	$(BIN)/coverage report --data-file=$(COVERAGE_DIR)/.coverage | tee $(COVERAGE_DIR)/report.txt; \
	covered=$${PIPESTATUS[0]}; [ $$status -ne 0 ] && exit $$status; exit $$covered

# The pipeline's unit and integration stages (.github/workflows/pipeline.yml): together exactly `make test`.
test-unit: test-setup
	$(BIN)/python -m pytest -m "not postgres"

test-integration: test-setup
	$(BIN)/python -m pytest -m postgres

# Known vulnerabilities in the locked runtime dependencies, and risky patterns in our code. Findings fail it;
# .bandit-baseline.json holds the reviewed ones (each also carries its reason as a ruff `noqa: S...` comment).
audit: $(VENV)/.dev-installed
	$(BIN)/pip-audit --strict --requirement requirements.lock --disable-pip --no-deps --progress-spinner off
	$(BIN)/bandit --quiet --recursive src --severity-level medium --confidence-level medium --baseline .bandit-baseline.json

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check src tests benchmarks perf
	$(BIN)/ruff format --check src tests benchmarks perf
	$(BIN)/mypy

# Local monitoring stack (docs/monitoring.md): configs derived from deploy/, targets rewritten to $(HOST):$(PORT).
monitoring: $(VENV)/.runtime-installed
	scripts/install-test-services.sh
	$(BIN)/python -m abb.ops.monitoring_stack --app $(HOST):$(PORT)

# Load tests (docs/capacity.md): bounded (steps of PERF_STEP_SECONDS up to PERF_MAX_USERS); JSON in var/perf/.
PERF_STEP_SECONDS ?= 30
PERF_MAX_USERS ?= 300
perf: $(VENV)/.dev-installed
	scripts/install-test-services.sh
	$(BIN)/python perf/run.py --step-seconds $(PERF_STEP_SECONDS) --max-users $(PERF_MAX_USERS)

# Disaster-recovery drill (docs/runbooks/disaster-recovery.md): DR_DRILL_SIZE_MB of data, report in var/.
DR_DRILL_SIZE_MB ?= 1024
dr-drill: $(VENV)/.runtime-installed
	scripts/install-test-services.sh
	@mkdir -p var
	$(BIN)/abb dr drill --size-mb $(DR_DRILL_SIZE_MB) --writers 2 --before 20 --after 10 --report var/dr-drill-report.json

lock: $(BIN)/uv
	$(BIN)/uv pip compile --quiet --python-version 3.11 pyproject.toml -o requirements.lock
	$(BIN)/uv pip compile --quiet --python-version 3.11 pyproject.toml --extra dev -o requirements-dev.lock

# The message catalog: strings from the templates and Python (`_()` marks) into messages.pot, merged into each
# language's .po. Translate what is new or fuzzy; tests/test_web_i18n.py fails on anything left untranslated.
catalog: $(VENV)/.dev-installed
	mkdir -p build
	cd src/abb && ../../$(BIN)/pybabel extract -F locale/babel.cfg -k _ -k gettext -k ngettext:1,2 \
		--no-location --sort-output --project "Africa Business Bridge" -o ../../build/messages.pot .
	$(BIN)/pybabel update --no-fuzzy-matching -i build/messages.pot -d src/abb/locale -D messages

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
