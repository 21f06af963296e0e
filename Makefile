# Candor: every command a developer or CI needs. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements/dev.lock pyproject.toml | sha256sum | cut -c1-16)
# checkov lives in a venv of its own: it pins boto3/botocore 1.35, networkx 2 and packaging 23.
CHECKOV_VENV := $(VENV)/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(shell cat requirements/checkov.lock | sha256sum | cut -c1-16)
PORT ?= 3000
AWS_PORT ?= 4566
export PORT AWS_PORT

.PHONY: help install browser iam-simulator test lint typecheck cfn-lint template-security unit integration e2e demo serve train lock openapi clean

help:  ## this list
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): requirements/dev.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)  ## create .venv with the locked dependencies

lint: install  ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install  ## mypy with the pydantic plugin
	$(BIN)/mypy

cfn-lint: install  ## validate template.yaml, with the serverless rules (cfn-lint-serverless)
	$(BIN)/cfn-lint template.yaml -a cfn_lint_serverless.rules

$(CHECKOV_STAMP): requirements/checkov.lock | $(STAMP)
	test -x $(CHECKOV_VENV)/bin/python || $(BIN)/python -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --require-hashes -r requirements/checkov.lock
	rm -f $(CHECKOV_VENV)/.installed-* && touch $@

template-security: $(CHECKOV_STAMP)  ## checkov over template.yaml: zero failed checks (skips justified in Metadata)
	$(CHECKOV_VENV)/bin/checkov --file template.yaml --framework cloudformation --skip-download --compact --quiet

# The IAM policy evaluator (tests/test_iam_check.py): @cloud-copilot/iam-simulate from npm, the version
# pinned in infra/iam/simulator/package-lock.json, run with the machine's node (20 or later).
IAM_SIMULATOR_STAMP := infra/iam/simulator/node_modules/.installed-$(shell cat infra/iam/simulator/package-lock.json | sha256sum | cut -c1-16)
$(IAM_SIMULATOR_STAMP): infra/iam/simulator/package-lock.json
	command -v node >/dev/null || { echo "node 20 or later is needed for the IAM check" >&2; exit 1; }
	cd infra/iam/simulator && npm ci --no-audit --no-fund --loglevel=error
	rm -f infra/iam/simulator/node_modules/.installed-* && touch $@

iam-simulator: $(IAM_SIMULATOR_STAMP)  ## install the IAM policy evaluator (npm ci in infra/iam/simulator)

test: lint typecheck cfn-lint template-security browser iam-simulator  ## the whole gate: lint, types, template, all test tiers
	$(BIN)/pytest

browser:  ## headless Chromium for the page tests (Debian's package; CI runs as root)
	command -v chromium >/dev/null || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -q && $$SUDO apt-get install -y -q --no-install-recommends chromium; }

unit: install  ## unit tests only (no network)
	$(BIN)/pytest tests/unit

integration: install  ## moto-backed tests
	$(BIN)/pytest tests/integration

e2e: install browser  ## HTTP against the local stack, and the customer page in headless Chromium
	$(BIN)/pytest tests/e2e

demo: install  ## start the local stack, run a scripted chatbot conversation, show the stored records
	$(BIN)/python -m infra.demo

serve: install  ## keep the local stack up: API on PORT (3000), moto on AWS_PORT (4566); MODELS=dir[,dir] adds your models; INSTANCES=n per function
	$(if $(MODELS),CANDOR_MODELS_URI=$(MODELS)) $(if $(INSTANCES),CANDOR_LOCAL_INSTANCES=$(INSTANCES)) $(BIN)/python -m infra.local.stack serve

train: install  ## retrain the bundled models from seeded synthetic data
	$(BIN)/python -m infra.training.train_models

openapi: install  ## regenerate docs/openapi.json and docs/openapi-customer.json from the code
	$(BIN)/python -m infra.openapi docs

.PHONY: bench
bench: install  ## benchmarks (issue 6): table on stdout, bench-results/results.json; QUICK=1 for a seconds-long check
	$(BIN)/python -m infra.bench $(if $(QUICK),--quick) --out bench-results/results.json

lock: install  ## re-resolve requirements/*.lock from pyproject.toml
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 --python-platform linux -o requirements/dev.lock -q
	$(BIN)/uv pip compile pyproject.toml --generate-hashes --python-version 3.11 --python-platform linux -o requirements/runtime.lock -q
	$(BIN)/uv pip compile pyproject.toml --extra black-box --extra sklearn --generate-hashes --python-version 3.11 --python-platform linux -o requirements/black-box.lock -q
	$(BIN)/uv pip compile requirements/checkov.in --generate-hashes --python-version 3.11 --python-platform linux -o requirements/checkov.lock -q
	$(BIN)/uv pip compile requirements/image.in --generate-hashes --python-version 3.11 --python-platform linux -o requirements/image.lock -q

clean:  ## remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-output infra/iam/simulator/node_modules

# The zips' Python, compiled once at build time after the copied __pycache__ are gone: Lambda's
# /var/task is read-only, so without .pyc every cold start compiles everything it imports (the
# catalog's imports took 2.7-3.2 s here without them, 1.1-2.1 s with them). checked-hash: a .pyc is
# used whatever mtimes the zip gives its source, and never when the source differs. Only a Python
# 3.11 writes the cpython-311 files the runtime reads; another builder skips this, and says so.
define compile_zip
	if $(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then \
		$(PYTHON) -m compileall -q -j 0 --invalidation-mode checked-hash \
			-s "$(ARTIFACTS_DIR)" -p /var/task "$(ARTIFACTS_DIR)"; \
	else echo "$(PYTHON) is not Python 3.11: the zip has no .pyc, so its cold starts compile"; fi
endef

# `sam build` runs this for the catalog function (Metadata: BuildMethod: makefile):
# only the light code and its dependencies go into the zip; no numpy, shap or LightGBM.
# Babel (pure Python, CLDR data) and Jinja2 (with MarkupSafe) are for the customer and audit
# functions, which reuse this zip: their pages are templates (functions/templates/, copied with
# functions/) and write numbers, money and dates in the reader's locale.
build-CatalogFunction:
	$(PYTHON) -m pip install --quiet --target "$(ARTIFACTS_DIR)" \
		--platform manylinux2014_x86_64 --implementation cp --python-version 3.11 --only-binary=:all: \
		"aws-lambda-powertools[tracer]>=3.4" "pydantic>=2.9" "pydantic-settings>=2.5" "babel>=2.14" "jinja2>=3.1"
	mkdir -p "$(ARTIFACTS_DIR)/functions" && cp -R functions/. "$(ARTIFACTS_DIR)/functions/"
	mkdir -p "$(ARTIFACTS_DIR)/models" && cd models && find . -name manifest.json -exec cp --parents {} "$(ARTIFACTS_DIR)/models/" \;
	find "$(ARTIFACTS_DIR)" -name __pycache__ -prune -exec rm -rf {} +
	$(compile_zip)

# `sam build` runs this for the customer function: the same small zip as the catalog's (the
# page, its JSON and appeals need no numpy, shap or LightGBM; boto3 comes with the runtime).
build-CustomerFunction: build-CatalogFunction

# `sam build` runs these for the audit and privacy functions (BuildMethod: makefile, like the
# others: without a target of their own it stops): the same small zip as the catalog's (records,
# reports and erasure need no numpy, shap or LightGBM; boto3 comes with the runtime).
build-AuditFunction: build-CatalogFunction
build-PrivacyFunction: build-CatalogFunction
# The reviewer function: the same small zip (its pages are templates too).
build-ReviewFunction: build-CatalogFunction

# `sam build` runs this for the integrity job: functions/ and the small deps (no models, numpy or
# shap; boto3 comes with the runtime).
build-IntegrityFunction:
	$(PYTHON) -m pip install --quiet --target "$(ARTIFACTS_DIR)" \
		--platform manylinux2014_x86_64 --implementation cp --python-version 3.11 --only-binary=:all: \
		"aws-lambda-powertools[tracer]>=3.4" "pydantic>=2.9" "pydantic-settings>=2.5"
	mkdir -p "$(ARTIFACTS_DIR)/functions" && cp -R functions/. "$(ARTIFACTS_DIR)/functions/"
	find "$(ARTIFACTS_DIR)" -name __pycache__ -prune -exec rm -rf {} +
	$(compile_zip)

# `sam build` runs this for the rollup function: the integrity job's zip (no models, numpy or shap).
build-RollupFunction: build-IntegrityFunction

# `sam build` runs this for the archive copier: the integrity job's zip (no models, numpy or shap).
build-ArchiveCopyFunction: build-IntegrityFunction

# `sam build` runs this for the review webhook: the integrity job's zip (it posts with the stdlib's urllib).
build-ReviewWebhookFunction: build-IntegrityFunction

# `sam build` runs this for the monitoring job: the integrity job's zip plus the bundled manifests
# (the monitors are in them); no model files, numpy or shap.
build-MonitoringFunction: build-IntegrityFunction
	mkdir -p "$(ARTIFACTS_DIR)/models" && cd models && find . -name manifest.json -exec cp --parents {} "$(ARTIFACTS_DIR)/models/" \;
