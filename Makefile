# Front door for a fresh machine: `make demo` and `make test` each set up what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DIR ?= .demo

.PHONY: venv dev demo test lint generate bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

venv: $(BIN)/python
	$(BIN)/pip install -e '.[server]'

dev: $(BIN)/python
	$(BIN)/pip install -e '.[dev]'

# Advise the example project through the embedded backend (started on demand by thamos itself).
demo: venv
	rm -rf $(DEMO_DIR) && mkdir -p $(DEMO_DIR) && cp -r examples/flask-app/. $(DEMO_DIR)/
	cd $(DEMO_DIR) && ../$(BIN)/thamos advise 2>&1 || (cd .. && exit 1)
	@echo "Lock written to $(DEMO_DIR)/Pipfile.lock"

test: dev
	$(BIN)/python -m pytest -q

lint: dev
	$(BIN)/ruff check .

generate: dev
	PATH="$(CURDIR)/$(BIN):$$PATH" ./generate.sh

bench: dev
	$(BIN)/python benchmarks/compare.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) build dist *.egg-info
