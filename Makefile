# OpenSQT developer commands. `make help` lists them.
#
# Needs only Python 3.11, pip, Node/npm and git: `make setup` (which `test`,
# `run` and every other target call first) creates .venv from requirements.lock
# and installs the pinned buf into .tools/. Stamp files make it a no-op when
# nothing it depends on has changed.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
RUFF := $(VENV)/bin/ruff
MYPY := $(VENV)/bin/mypy
PYTEST := $(VENV)/bin/pytest
TOOLS := .tools
BUF := $(TOOLS)/node_modules/.bin/buf
BUF_VERSION := 1.75.0
# The last released API: `buf breaking` compares against it (docs/adr/003-api-release-image.md).
API_IMAGE := api/released.binpb

VENV_STAMP := $(VENV)/.opensqt-setup
TOOLS_STAMP := $(TOOLS)/.opensqt-setup

.PHONY: help setup proto proto-check lint format breaking api-release test run bench lock clean distclean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# --- setup -------------------------------------------------------------------

setup: $(VENV_STAMP) $(TOOLS_STAMP) ## create .venv and install pinned Python deps, the project and buf

$(VENV_STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "setup: $(PYTHON) not found; install Python 3.11 (or make PYTHON=/path/to/python3.11)"; exit 1; }
	@if [ ! -x $(PY) ]; then echo "+ $(PYTHON) -m venv $(VENV)"; $(PYTHON) -m venv $(VENV); fi
	@$(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { echo "setup: $(VENV) is not Python 3.11; remove it (make distclean) and retry"; exit 1; }
	$(PIP) install --quiet --requirement requirements.lock
	$(PIP) install --quiet --no-deps --no-build-isolation --editable .
	$(PIP) check
	@touch $@

$(TOOLS_STAMP): tools/node/package.json tools/node/package-lock.json
	@command -v npm >/dev/null || { echo "setup: npm not found; install Node.js with npm"; exit 1; }
	@mkdir -p $(TOOLS)
	cp tools/node/package.json tools/node/package-lock.json $(TOOLS)/
	npm install --prefix $(TOOLS) --no-audit --no-fund --loglevel=error
	@[ "$$($(BUF) --version)" = "$(BUF_VERSION)" ] || { echo "setup: expected buf $(BUF_VERSION), got $$($(BUF) --version)"; exit 1; }
	@touch $@

lock: $(VENV_STAMP) ## rewrite requirements.lock from .venv (after changing pinned deps in pyproject.toml)
	{ sed -n '/^#/p' requirements.lock; $(PIP) freeze --all --exclude-editable | grep -v -i -E '^(pip|wheel|distribute)=='; } > requirements.lock.new
	@if cmp -s requirements.lock.new requirements.lock; then rm requirements.lock.new; echo "lock: requirements.lock unchanged"; \
	else mv requirements.lock.new requirements.lock; echo "lock: requirements.lock rewritten"; fi
	@touch $(VENV_STAMP)

# --- protobuf ----------------------------------------------------------------

proto: setup ## regenerate gen/python from proto/ (buf generate, local plugins)
	$(BUF) generate

proto-check: setup ## fail when the committed gen/python differs from what buf generates
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	echo "+ $(BUF) generate --output $$tmp"; \
	$(BUF) generate --output "$$tmp"; \
	if diff -r -x __pycache__ gen/python "$$tmp/gen/python"; then \
		echo "proto-check: gen/python is up to date"; \
	else \
		echo "proto-check: gen/python is stale; run 'make proto' and commit gen/python"; exit 1; \
	fi

breaking: setup ## buf breaking against the last released API (api/released.binpb)
	$(BUF) breaking --against $(API_IMAGE)

api-release: setup ## record the current proto/ as the released API (see docs/adr/003)
	$(BUF) build --exclude-source-info -o $(API_IMAGE)
	@echo "api-release: wrote $(API_IMAGE); add an entry to api/RELEASES.md and commit both with the proto change"

# --- quality -----------------------------------------------------------------

lint: setup ## buf lint + format check, ruff check + format check, mypy (runs all, fails if any fails)
	@failed=""; \
	for check in "$(BUF) lint" "$(BUF) format --diff --exit-code" "$(RUFF) check ." "$(RUFF) format --check ." "$(MYPY) ."; do \
		echo "+ $$check"; \
		$$check || failed="$$failed"$$'\n'"  $$check"; \
	done; \
	if [ -n "$$failed" ]; then echo "lint: failed:$$failed"; exit 1; fi; \
	echo "lint: all checks passed"

format: setup ## rewrite proto and Python files in place (buf format, ruff fix + format)
	$(BUF) format --write
	$(RUFF) check --fix .
	$(RUFF) format .

test: setup ## run the whole pytest suite
	@echo "+ $(PYTEST) $(PYTEST_ARGS)"; \
	status=0; $(PYTEST) $(PYTEST_ARGS) || status=$$?; \
	if [ $$status -eq 5 ]; then echo "test: pytest collected no tests (exit 5); that is a failure"; fi; \
	exit $$status

# --- running -----------------------------------------------------------------

run: setup ## start connector (sim), risk and engine locally; Ctrl-C stops them (engine first)
	$(PY) scripts/run_local.py $(RUN_ARGS)

bench: setup ## run every bench/bench_*.py in turn and print its results
	@shopt -s nullglob; scripts=(bench/bench_*.py); failed=""; \
	if [ $${#scripts[@]} -eq 0 ]; then echo "bench: no bench/bench_*.py scripts yet"; exit 0; fi; \
	for script in "$${scripts[@]}"; do \
		echo "=== $$script"; \
		$(PY) "$$script" || failed="$$failed $$script"; \
	done; \
	if [ -n "$$failed" ]; then echo "bench: failed:$$failed"; exit 1; fi

# --- housekeeping ------------------------------------------------------------

clean: ## remove caches and build output (keeps .venv, .tools and data/)
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis bench/results
	find . \( -path ./.venv -o -path ./.tools -o -path ./.git \) -prune -o \
		\( -name __pycache__ -o -name '*.egg-info' \) -type d -print0 | xargs -0 rm -rf

distclean: clean ## also remove .venv and .tools (the next make setup reinstalls them)
	rm -rf $(VENV) $(TOOLS)
