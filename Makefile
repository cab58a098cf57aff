# LakeForge: `make demo` and `make test` do all set-up on a fresh machine, idempotently.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
UV_VERSION := 0.13.8
UV := $(PYTHON) -m uv
VENV := .venv
STAMP := .state/stamps
export UV_LINK_MODE := copy
export NEXT_TELEMETRY_DISABLED := 1
export DO_NOT_TRACK := 1
export SPARK_LOCAL_IP := 127.0.0.1

.PHONY: help install python jars demo test lint typecheck pytest clean

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

install: python

demo: install
	$(VENV)/bin/lakeforge demo

lint: install
	$(VENV)/bin/ruff check lakeforge api bot tests benchmarks
	$(VENV)/bin/ruff format --check lakeforge api bot tests benchmarks

typecheck: install
	$(VENV)/bin/mypy lakeforge api bot

pytest: install $(STAMP)/jars
	$(VENV)/bin/pytest

test: lint typecheck pytest

clean:
	rm -rf .state $(VENV)
