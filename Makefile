# The two commands a fresh machine needs: `make dev` and `make test`.
# Everything is installed into this folder (.venv, node_modules), never globally.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAGE ?= prod

.PHONY: dev test lint chromium format package bench clean

dev: $(VENV)/.installed node_modules/.installed
	PORT=$(PORT) $(BIN)/python -m devtools.dev

test: $(VENV)/.installed node_modules/.installed lint chromium
	$(BIN)/python -m pytest

# The browser tests' Chromium: Debian's package, installed here when missing (as root).
chromium:
	@devtools/ensure-chromium

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Ratios measured side by side on DynamoDB Local; figures also in .bench/results.json
bench: $(VENV)/.installed node_modules/.installed
	$(BIN)/python -m bench

# A CloudFormation (SAM) template with the DynamoDB table, plus the Lambda zip: build/$(STAGE)/
package: $(VENV)/.installed
	$(BIN)/python -m devtools.package --stage $(STAGE) --out build/$(STAGE)

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache build
