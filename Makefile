# The project's front door: `make demo` and `make test` work on a fresh machine with only
# Python 3.11 and pip. Both create and use ./.venv and install what they need into it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-live bench chaos typecheck clean

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

test: $(STAMP)
	$(PY) -m pytest

# The conformance suite against a real server (make's environment import makes an
# exported OLLAMA_HOST win over this default). `make test` never reads OLLAMA_HOST.
OLLAMA_HOST ?= http://127.0.0.1:11434
test-live: $(STAMP)
	$(PY) -m pytest tests/conformance --ollama-host "$(OLLAMA_HOST)"

bench: $(STAMP)
	$(PY) bench/run.py

# Chaos and soak run (a few minutes; see RELIABILITY.md). Exits non-zero on any problem.
chaos: $(STAMP)
	$(PY) bench/chaos.py

typecheck: $(STAMP)
	$(PY) -m mypy

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache
