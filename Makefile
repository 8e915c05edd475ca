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

.PHONY: help bootstrap bootstrap-dev run test test-fast lint synth deploy token smoke bench recompute beacon vendor clean

# The twin needs only the functions' runtime + moto (requirements-twin.txt); tests, lint, bench and CDK need the
# rest (requirements-dev.txt). Two stamps, so `make run` on a fresh clone installs the small set only.
TWIN_STAMP := $(BIN)/.installed-twin
DEV_STAMP := $(BIN)/.installed-dev

help: ## list the targets
	@awk -F ':' '/^[a-z][a-z-]*:([^=]|$$)/ && !seen[$$1]++ { d = $$0; sub(/^[^#]*(## ?|$$)/, "", d); \
	  printf "make %-14s %s\n", $$1, d }' $(MAKEFILE_LIST)

# The venv is brought up to date whenever the pinned requirements or constraints change.
$(TWIN_STAMP): requirements.txt requirements-twin.txt constraints.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements-twin.txt -c constraints.txt
	@touch $@

$(DEV_STAMP): requirements.txt requirements-twin.txt requirements-dev.txt constraints.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	@touch $@ $(TWIN_STAMP)

$(CDK): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

bootstrap: $(TWIN_STAMP) ## create .venv with what the twin needs (make run does this)

bootstrap-dev: $(DEV_STAMP) ## create .venv with everything for test, lint, bench and synth

run: $(TWIN_STAMP) ## the local twin + dashboard on http://HOST:PORT (default 127.0.0.1:8000), no AWS needed
	HOST=$(HOST) PORT=$(PORT) $(BIN)/python -m twin

test: $(DEV_STAMP) $(CDK) ## the full suite: unit, integration on moto, e2e, CDK assertions, browser
	@command -v chromium >/dev/null || bash scripts/ensure-chromium.sh || echo "!!! chromium unavailable: browser tests will be SKIPPED"
	$(BIN)/python -m pytest -n 2 --dist loadgroup

test-fast: $(DEV_STAMP) ## the suite without the slow and browser tests
	$(BIN)/python -m pytest -m "not slow and not browser" -n 2

lint: $(DEV_STAMP) ## ruff + mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# CDK context: SITES=host[,host] (required), then DASHBOARD, FRESHNESS, INGEST_ENDPOINT, INGEST_CONCURRENCY, ORIGINS,
# ARTICLES (README Deploy).
# The CLI and jsii run on the Node 22 pinned in package.json (the pinned CLI calls Node 20 end-of-life).
CDK_CONTEXT = $(if $(SITES),-c sites=$(SITES)) $(if $(DASHBOARD),-c dashboard=$(DASHBOARD)) \
	$(if $(FRESHNESS),-c freshnessSeconds=$(FRESHNESS)) $(if $(INGEST_ENDPOINT),-c ingestEndpoint=$(INGEST_ENDPOINT)) \
	$(if $(INGEST_CONCURRENCY),-c ingestConcurrency=$(INGEST_CONCURRENCY)) \
	$(if $(ORIGINS),-c allowedOrigins=$(ORIGINS)) $(if $(ARTICLES),-c 'articles=$(ARTICLES)')
CDK_RUN = PATH="$(CURDIR)/node_modules/.bin:$$PATH" $(CDK)

synth: $(DEV_STAMP) $(CDK) ## cdk synth SITES=a.example,b.example: offline, no docker, cdk-nag; prints the bundled versions
	$(BIN)/python -m scripts.bundle
	$(CDK_RUN) synth --quiet $(CDK_CONTEXT)

deploy: $(DEV_STAMP) $(CDK) ## cdk deploy SITES=a.example,b.example to the configured AWS account
	$(BIN)/python -m scripts.bundle
	$(CDK_RUN) deploy $(CDK_CONTEXT)

TIMEOUT ?= 120
smoke: $(TWIN_STAMP) ## check a deployment end to end: make smoke URL=<ApiUrl|EdgeUrl|twin> TOKEN=<owner token> [TIMEOUT=s]
	$(BIN)/python -m scripts.smoke --url '$(URL)' --token '$(TOKEN)' --timeout $(TIMEOUT)

bench: $(DEV_STAMP) ## cost and scale benchmark against the naive design (last line: JSON)
	$(BIN)/python -m bench

recompute: $(DEV_STAMP) ## rebuild counters from the raw events, e.g. ARGS="--day 2026-11-20"
	$(BIN)/python -m scripts.recompute $(ARGS)

token: $(TWIN_STAMP) ## create or rotate the deployed stack's owner token; ARGS="--share 7": a 7-day share link
	$(BIN)/python -m scripts.token $(ARGS)

vendor: $(DEV_STAMP) $(CDK) ## refresh the vendored bot list and uPlot from the pinned packages
	cp $(VENV)/lib/python3*/site-packages/crawleruseragents/crawler-user-agents.json functions/hitstream/audience/
	cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css functions/hitstream/static/

beacon: $(TWIN_STAMP) ## regenerate functions/hitstream/static/beacon.min.js from beacon.js
	$(BIN)/python -m tests.jsmin functions/hitstream/static/beacon.js functions/hitstream/static/beacon.min.js

clean: ## remove .venv, node_modules and caches (not the twin data in .hitstream/)
	rm -rf $(VENV) node_modules cdk.out .pytest_cache .mypy_cache .ruff_cache .hypothesis
