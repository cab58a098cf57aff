# LakeForge: `make demo` and `make test` do all set-up on a fresh machine, idempotently.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
UV_VERSION := 0.13.8
UV := $(PYTHON) -m uv
VENV := .venv
STAMP := .state/stamps
export UV_LINK_MODE := copy
# Byte-compile at install: with PYTHONDONTWRITEBYTECODE set, every process would otherwise recompile
# pandas, pyarrow and pyspark from source (tens of seconds on a busy 2-core machine).
export UV_COMPILE_BYTECODE := 1
export NEXT_TELEMETRY_DISABLED := 1
export DO_NOT_TRACK := 1
export SPARK_LOCAL_IP := 127.0.0.1

.PHONY: help install python jars demo test lint typecheck pytest clean web web-api web-check web-serve

help:
	@echo "make demo   install everything and run the main job on embedded defaults"
	@echo "make test   install everything and run every test suite"

$(STAMP):
	@mkdir -p $(STAMP)

# uv itself, from PyPI, if the machine does not have it yet.
$(STAMP)/uv: | $(STAMP)
	@$(PYTHON) -m uv --version 2>/dev/null | grep -q "$(UV_VERSION)" || $(PYTHON) -m pip install --quiet "uv==$(UV_VERSION)"
	@touch $@

# The Python environment, exactly as locked.
$(STAMP)/python: pyproject.toml uv.lock $(STAMP)/uv
	$(UV) sync --frozen --all-extras
	@touch $@

python: $(STAMP)/python

# Delta Lake's jars for local Spark, fetched once with Maven (the session passes them as
# spark.jars, so starting Spark never downloads). The pom lists what and which version.
$(STAMP)/jars: lakeforge/runtime/spark/pom.xml | $(STAMP)
	rm -rf .state/jars
	mvn -B -q -f lakeforge/runtime/spark/pom.xml dependency:copy-dependencies -DoutputDirectory=$(CURDIR)/.state/jars
	@touch $@

jars: $(STAMP)/jars

# The web panel (web/): node packages exactly as locked, an offline production build, and the
# Debian Chromium its browser tests drive (installed only when root; otherwise we say how).
WEB_SOURCES := $(shell find web/src web/public -type f 2>/dev/null) web/next.config.ts web/postcss.config.mjs web/tsconfig.json

$(STAMP)/web-npm: web/package.json web/package-lock.json | $(STAMP)
	cd web && npm ci --no-audit --no-fund
	@touch $@

$(STAMP)/web-build: $(STAMP)/web-npm $(WEB_SOURCES)
	cd web && npx next build
	@touch $@

$(STAMP)/chromium: | $(STAMP)
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else echo "The panel's browser tests need Debian's Chromium: run 'sudo apt-get install -y chromium'"; exit 1; fi; \
	fi
	@touch $@

web: $(STAMP)/web-build

# Regenerate the panel's typed client after an API change: spec from the app, then TypeScript types.
web-api: install $(STAMP)/web-npm
	$(VENV)/bin/python web/scripts/dump_openapi.py
	cd web && npx openapi-typescript openapi.json -o src/lib/api/schema.d.ts

# The committed spec and client match the API; lint, type-check and build the panel offline.
web-check: install $(STAMP)/web-npm
	$(VENV)/bin/python web/scripts/dump_openapi.py --check
	@mkdir -p .state/web && cd web && npx openapi-typescript openapi.json -o ../.state/web/schema.d.ts >/dev/null
	@cmp -s .state/web/schema.d.ts web/src/lib/api/schema.d.ts || \
	  { echo "web/src/lib/api/schema.d.ts is stale: run 'make web-api' and commit"; exit 1; }
	cd web && npm run --silent lint && npx next build && npm run --silent typecheck
	@touch $(STAMP)/web-build

web-serve: web
	cd web && PANEL_API_URL=$${PANEL_API_URL:-http://127.0.0.1:8765} \
	  PANEL_BROWSER_API_URL=$${PANEL_BROWSER_API_URL-http://127.0.0.1:8765} npx next start -p 3000 -H 127.0.0.1

install: python

demo: install web
	$(VENV)/bin/lakeforge demo

lint: install
	$(VENV)/bin/ruff check lakeforge api bot tests benchmarks
	$(VENV)/bin/ruff format --check lakeforge api bot tests benchmarks

typecheck: install
	$(VENV)/bin/mypy --show-traceback lakeforge api bot

pytest: install $(STAMP)/jars $(STAMP)/web-build $(STAMP)/chromium
	$(VENV)/bin/pytest

test: lint typecheck web-check pytest

clean:
	rm -rf .state $(VENV)
