# The two commands a newcomer runs: `make demo` and `make test`.
# Each installs what is missing (PostgreSQL + PostGIS from the OS packages,
# a .venv with mdr in editable mode) and then does its job.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install system-deps lint typecheck unit clean

demo: install
	$(BIN)/mdr demo

test: install lint typecheck
	$(BIN)/pytest

install: system-deps $(STAMP)

system-deps:
	@bash scripts/system-deps.sh

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

clean:
	-$(BIN)/mdr db down
	rm -rf var $(VENV)
