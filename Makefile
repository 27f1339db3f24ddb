# coincast — every target installs what it needs (idempotent, fast when already installed).
#   make run    set up, then start the server and print its URL
#   make test   set up, then run the whole test suite
#   make lint   ruff + mypy (strict)
#   make bench  benchmark scripts that print figures (no asserts)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
VENDOR := src/coincast/web/vendor
VENDOR_STAMP := $(VENDOR)/.installed
COINCAST_HOST ?= 127.0.0.1
COINCAST_PORT ?= 8000

.PHONY: run test lint bench install node vendor clean services-up services-down

install: $(PY_STAMP)

$(PY_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m coincast.model.fast.native  # build the compiled LSTM loop now, not in the first run
	touch $@

node: $(NODE_STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The web page is served from the package's own static files: copy the npm builds there
# (never a CDN at run time).
vendor: $(VENDOR_STAMP)

$(VENDOR_STAMP): $(NODE_STAMP)
	mkdir -p $(VENDOR)
	cp node_modules/@tensorflow/tfjs/dist/tf.min.js $(VENDOR)/
	cp node_modules/@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.min.js $(VENDOR)/
	cp node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm $(VENDOR)/
	cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css $(VENDOR)/
	touch $@

run: install vendor
	$(VENV)/bin/coincast serve --host $(COINCAST_HOST) --port $(COINCAST_PORT)

test: install node vendor
	$(PY) -m pytest -n 2 --dist loadgroup

lint: install
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy

bench: install node
	$(PY) benchmarks/run_all.py

# PostgreSQL + S3 (moto) on loopback for tests/integration and bench_load; prints the
# env to export: eval "$(make -s services-up)".
services-up: install
	@scripts/services.sh up

services-down:
	@scripts/services.sh down

clean:
	rm -rf $(VENV) node_modules $(VENDOR)
