# `make test` is the one command that sets up a fresh machine and runs every check.
PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
SCAN_VENV := .venv-scan
PY := $(VENV)/bin/python
# --no-compile: byte-code is written on first import instead, for the modules used (saves ~15 s)
PIP_FLAGS := --quiet --disable-pip-version-check --no-compile

.PHONY: test lint unit demo bench build lock clean

# Coverage of the deployed packages and local/, measured in the pytest process (pyproject.toml,
# [tool.coverage.run]); the floor sits just under today's figure, so a change that leaves code
# untested fails here, and a change that tests more raises it (CONTRIBUTING.md, "Gates").
COVERAGE_FLOOR := 82

test: $(VENV)/.installed $(SAM_VENV)/.installed lint
	$(PY) -m coverage run -m pytest
	$(PY) -m coverage report --fail-under=$(COVERAGE_FLOOR)

lint: $(VENV)/.installed $(SCAN_VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(CHECKOV_ENV) $(SCAN_VENV)/bin/checkov $(CHECKOV_FLAGS) --compact --quiet --file template.yaml
	$(SCAN_VENV)/bin/hadolint worker/Dockerfile

# checkov offline: only the CloudFormation framework (it reads SAM's AWS::Serverless::* too), no
# download of guidelines or policies from the vendor's platform (--skip-download), no PyPI version
# check (CKV_SKIP_PACKAGE_UPDATE_CHECK); a finding is fixed or skipped in template.yaml with its
# reason ("# checkov:skip=CKV_...: reason" inside the resource). tests/contract/test_scan.py runs
# the same command and also scans the template SAM expands it to.
CHECKOV_ENV := CKV_SKIP_PACKAGE_UPDATE_CHECK=true
CHECKOV_FLAGS := --framework cloudformation --skip-download

# The README's "run it" command: the local cloud up, two scenarios with their timelines, down.
demo: $(VENV)/.installed
	$(PY) -m local demo

# The benchmark suite (bench/, BENCHMARKS.md): raw results in bench/results/, figures redrawn.
# Needs .venv-sam (sam build) too; about 12 min on an idle 2-core machine.
bench: $(VENV)/.installed $(SAM_VENV)/.installed
	$(PY) -m bench all

unit: $(VENV)/.installed
	$(PY) -m pytest tests/unit

# requirements/*.txt say what we depend on; requirements/*.lock pin everything that brings in.
$(VENV)/.installed: requirements/dev.txt requirements/dev.lock orchestrator/requirements.txt completion_relay/requirements.txt worker/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_FLAGS) -r requirements/dev.txt -c requirements/dev.lock
	touch $@

$(SAM_VENV)/.installed: requirements/sam.txt requirements/sam.lock
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install $(PIP_FLAGS) -r requirements/sam.txt -c requirements/sam.lock
	touch $@

$(SCAN_VENV)/.installed: requirements/scan.txt requirements/scan.lock
	$(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install $(PIP_FLAGS) -r requirements/scan.txt -c requirements/scan.lock
	touch $@

# Re-pin after changing a requirements file: rebuilds the three environments from scratch.
lock:
	rm -rf $(VENV) $(SAM_VENV) $(SCAN_VENV)
	$(PYTHON) -m venv $(VENV) && $(PY) -m pip install $(PIP_FLAGS) -r requirements/dev.txt
	$(PYTHON) -m venv $(SAM_VENV) && $(SAM_VENV)/bin/python -m pip install $(PIP_FLAGS) -r requirements/sam.txt
	$(PYTHON) -m venv $(SCAN_VENV) && $(SCAN_VENV)/bin/python -m pip install $(PIP_FLAGS) -r requirements/scan.txt
	{ echo "# Every package of .venv, pinned (make lock). Installed as constraints with requirements/dev.txt."; \
	  $(PY) -m pip freeze; } > requirements/dev.lock
	{ echo "# Every package of .venv-sam, pinned (make lock)."; $(SAM_VENV)/bin/python -m pip freeze; } > requirements/sam.lock
	{ echo "# Every package of .venv-scan, pinned (make lock)."; $(SCAN_VENV)/bin/python -m pip freeze; } > requirements/scan.lock
	touch $(VENV)/.installed $(SAM_VENV)/.installed $(SCAN_VENV)/.installed

# Needs python3.13 on PATH (Lambda's durable runtime); no Docker needed for zip functions.
build: $(SAM_VENV)/.installed
	$(SAM_VENV)/bin/sam build

clean:
	rm -rf $(VENV) $(SAM_VENV) $(SCAN_VENV) .aws-sam .pytest_cache .ruff_cache .local-cloud .coverage
