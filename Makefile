# `make demo` and `make test` each create .venv if missing, install ntkspec with its
# extras, then run.  Nothing else needs to be installed by hand.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.ntkspec-installed

.PHONY: demo test lint clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m ntkspec.cli compare --preset sphere3 --out ntkspec-demo --force

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check ntkspec tests benchmarks

clean:
	rm -rf $(VENV) ntkspec-demo .pytest_cache
