# The two commands a fresh machine needs: `make dev` and `make test`.
# Everything is installed into this folder (.venv, node_modules), never globally.

# Lambda's python3.13 runtime; devtools/find-python says in one line what to install if missing.
PYTHON_VERSION := 3.13
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAGE ?= prod
ARCH ?= x86_64
API ?= rest
NEXTJS := examples/nextjs

.PHONY: dev test check lint chromium format package bench clean

dev: $(VENV)/.installed-$(PYTHON_VERSION) node_modules/.installed
	PORT=$(PORT) $(BIN)/python -m devtools.dev

test: $(VENV)/.installed-$(PYTHON_VERSION) node_modules/.installed $(NEXTJS)/node_modules/.installed lint chromium
	$(BIN)/python -m pytest

# The fast loop while working: lint, and the tests on moto (no DynamoDB Local, no Chromium, no
# package build), on every core. `make test` is the whole suite, and what CI runs.
check: $(VENV)/.installed-$(PYTHON_VERSION) lint
	$(BIN)/python -m pytest -m "not integration and not slow" -n auto -q

# The browser tests' Chromium: Debian's package, installed here when missing (as root).
chromium:
	@devtools/ensure-chromium

lint: $(VENV)/.installed-$(PYTHON_VERSION)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Ratios measured side by side on DynamoDB Local; figures also in .bench/results.json
bench: $(VENV)/.installed-$(PYTHON_VERSION) node_modules/.installed
	$(BIN)/python -m bench

# A CloudFormation (SAM) template with the DynamoDB table, plus the Lambda zip: build/$(STAGE)/
# (ARCH=arm64: Graviton, built from aarch64 wheels; API=http: an HTTP API instead of REST)
# (INDEXES="...": the indexes a deployed stage's table has; the template adds one more, as
# CloudFormation allows one a deploy: docs/deployment.md#upgrading-a-deployed-stage)
package: $(VENV)/.installed-$(PYTHON_VERSION)
	$(BIN)/python -m devtools.package --stage $(STAGE) --arch $(ARCH) --api $(API) --out build/$(STAGE) \
	  $(if $(INDEXES),--deployed-indexes "$(INDEXES)")

format: $(VENV)/.installed-$(PYTHON_VERSION)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# A venv of another Python (an earlier 3.11 one) is replaced, never reused.
$(VENV)/.installed-$(PYTHON_VERSION): requirements.txt requirements-dev.txt
	@$(BIN)/python -c 'import sys; sys.exit("%d.%d" % sys.version_info[:2] != "$(PYTHON_VERSION)")' 2>/dev/null \
	  || { rm -rf $(VENV) && python=$$(devtools/find-python $(PYTHON_VERSION)) && echo "$$python -m venv $(VENV)" && "$$python" -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# The Next.js example has its own package.json, as an app of a team's would; its test builds it.
$(NEXTJS)/node_modules/.installed: $(NEXTJS)/package.json $(NEXTJS)/package-lock.json
	cd $(NEXTJS) && npm ci --no-audit --no-fund
	touch $@

clean:
	rm -rf $(VENV) node_modules $(NEXTJS)/node_modules $(NEXTJS)/.next .pytest_cache .ruff_cache build
