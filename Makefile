# hitstream: the front door. `make run` and `make test` bootstrap everything they need.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export AWS_ACCOUNT_ID_ENDPOINT_MODE := disabled
CDK := node_modules/.bin/cdk

.PHONY: help bootstrap run test test-fast lint synth deploy bench browser-deps vendor clean recompute

help:
	@echo "make run      - the local twin + dashboard on http://$(HOST):$(PORT) (no AWS account needed)"
	@echo "make test     - the full suite (unit, integration on moto, e2e, CDK assertions, browser)"
	@echo "make lint     - ruff + mypy"
	@echo "make synth    - cdk synth, offline, with cdk-nag"
	@echo "make deploy   - cdk deploy to the configured AWS account"
	@echo "make bench    - cost and scale benchmark against the naive per-hit design"

# The venv is rebuilt whenever the pinned requirements or constraints change.
$(BIN)/.installed: requirements.txt requirements-dev.txt constraints.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	@touch $@

$(CDK): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

bootstrap: $(BIN)/.installed

run: $(BIN)/.installed
	HOST=$(HOST) PORT=$(PORT) $(BIN)/python -m twin

test: $(BIN)/.installed $(CDK)
	@command -v chromium >/dev/null || bash scripts/ensure-chromium.sh || echo "!!! chromium unavailable: browser tests will be SKIPPED"
	$(BIN)/python -m pytest -n 2 --dist loadgroup

test-fast: $(BIN)/.installed
	$(BIN)/python -m pytest -m "not slow and not browser" -n 2

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

synth: $(BIN)/.installed $(CDK)
	$(CDK) synth --quiet

deploy: $(BIN)/.installed $(CDK)
	$(CDK) deploy

bench: $(BIN)/.installed
	$(BIN)/python -m bench

recompute: $(BIN)/.installed
	$(BIN)/python -m scripts.recompute $(ARGS)

vendor: $(BIN)/.installed
	cp $(VENV)/lib/python3*/site-packages/crawleruseragents/crawler-user-agents.json functions/hitstream/
	cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css functions/hitstream/static/

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache .mypy_cache .ruff_cache .hypothesis
