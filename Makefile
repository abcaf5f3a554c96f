# The README's two commands: `make serve` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
QUANZI := $(VENV)/bin/quanzi
STAMP := $(VENV)/.quanzi-installed

.PHONY: setup serve test test-all test-crash lint bootstrap clean bench-ingest-postgres

setup: $(STAMP)

# torch is pinned first: 2.13.0 is the CPU build on local disk; an unpinned torch
# would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

# Command 1: set up, prepare the embedded defaults (schema, demo world, …), serve.
serve: setup
	$(QUANZI) bootstrap
	$(QUANZI) serve

bootstrap: setup
	$(QUANZI) bootstrap

# Command 2: set up and run the test suite (.ci/run calls exactly this).
test: setup
	$(VENV)/bin/pytest

test-all: setup
	$(VENV)/bin/pytest -m ""

# Crash safety: kill -9 of `quanzi serve` during ingest, real processes (slow); on
# PostgreSQL too when QUANZI_TEST_POSTGRES_URL is set (.ci/run sets it).
test-crash: setup
	$(VENV)/bin/pytest -m slow tests/serving/test_crash_safety.py -s

# The ingest benchmark on a throwaway PostgreSQL (started and removed by .ci/with-postgres),
# two workers; extra options in BENCH, e.g. make bench-ingest-postgres BENCH="--posts 300".
BENCH ?=
bench-ingest-postgres: setup
	.ci/with-postgres sh -c '$(QUANZI) bench ingest --mode both --workers 2 \
	  --database-url "$$QUANZI_TEST_POSTGRES_URL" $(BENCH)'

# Lint and formatting (.ci/run runs this before the tests).
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf .quanzi
