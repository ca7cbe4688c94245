# `make demo` and `make test` each create .venv if missing, install ntkspec with its
# extras, then run.  Nothing else needs to be installed by hand.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.ntkspec-installed

# `make test-nt` does the same in .venv-nt with jax==0.4.38 (our minimum supported JAX) and
# neural-tangents 0.6.5, and runs the whole suite including the `nt` cross-checks, in two
# pytest processes: XLA 0.4.38 once segfaulted while compiling late in a single ~1500-test
# process (the same test passes alone), so each process stays about half as long.
NT_VENV ?= .venv-nt
NT_PY := $(NT_VENV)/bin/python
NT_STAMP := $(NT_VENV)/.ntkspec-installed

.PHONY: demo test test-nt bench lint clean docs

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,adapters]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m ntkspec.cli compare --preset sphere3 --out ntkspec-demo --force

test: $(STAMP)
	$(PY) -m pytest -q

$(NT_STAMP): pyproject.toml
	test -x $(NT_PY) || $(PYTHON) -m venv $(NT_VENV)
	$(NT_PY) -m pip install --quiet --upgrade pip
	$(NT_PY) -m pip install --quiet -e ".[dev,nt]"
	touch $(NT_STAMP)

test-nt: export TF_CPP_MIN_LOG_LEVEL = 3
test-nt: $(NT_STAMP)
	$(NT_PY) -c "import jax, neural_tangents as nt; print('jax', jax.__version__, '| neural-tangents', nt.__version__)"
	$(NT_PY) -m pytest -q $(sort $(filter-out tests/test_notebooks.py,$(wildcard tests/test_[a-k]*.py)))
	$(NT_PY) -m pytest -q $(sort $(filter-out tests/test_notebooks.py,$(wildcard tests/test_[l-z]*.py)))

# `make bench` times ntkspec against neural-tangents in the same process (the nt environment):
# infinite-width Gram, empirical NTK, spectrum, training. Tables on stdout, every number in
# $(BENCH_JSON); results and interpretation in BENCHMARKS.md. 6-9 minutes on 2 shared cores.
BENCH_JSON ?= benchmarks/results/nt.json

bench: export TF_CPP_MIN_LOG_LEVEL = 3
bench: $(NT_STAMP)
	$(NT_PY) -m benchmarks.bench_nt --json $(BENCH_JSON)

# `make docs` builds the documentation site offline into docs/_build/html (mkdocs-material +
# mkdocstrings + mkdocs-jupyter, `mkdocs build --strict`: any warning fails). It installs the
# `docs` extra into .venv and KaTeX (math, served from the site) from npm into docs/_build/node.
# Notebooks are rendered from the executed copies that tests/test_notebooks.py saves in
# docs/_build/executed/notebooks/; the build executes only those missing or older than their
# source. Then the built-site tests of tests/test_docs_site.py run (API inventory complete,
# notebook figures, nothing loaded from the network, headless Chromium if installed).
KATEX_VERSION ?= 0.16.47
DOCS_STAMP := $(VENV)/.ntkspec-docs-installed
KATEX_STAMP := docs/_build/node/.katex-$(KATEX_VERSION)

$(DOCS_STAMP): $(STAMP) pyproject.toml
	$(PY) -m pip install --quiet -e ".[dev,adapters,docs]"
	touch $(DOCS_STAMP)

$(KATEX_STAMP):
	mkdir -p docs/_build/node
	npm install --silent --no-audit --no-fund --no-save --prefix docs/_build/node katex@$(KATEX_VERSION)
	touch $(KATEX_STAMP)

docs: export NO_MKDOCS_2_WARNING = 1
docs: $(DOCS_STAMP) $(KATEX_STAMP)
	$(PY) -m mkdocs build --strict --config-file mkdocs.yml
	$(PY) -m pytest -q -p no:cacheprovider tests/test_docs_site.py -k test_site_

lint: $(STAMP)
	$(PY) -m ruff check ntkspec tests benchmarks

clean:
	rm -rf $(VENV) $(NT_VENV) ntkspec-demo .pytest_cache
