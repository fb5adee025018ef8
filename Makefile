# The course's commands. `make demo` and `make test` set up .venv first when needed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test test-fast lint release student-release fetch benchmark

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

demo: setup
	$(PY) -m course demo

test: setup
	$(PY) -m pytest

# The tests not marked slow (tests/conftest.py says which are): a few minutes on 2 cores.
test-fast: setup
	$(PY) -m pytest -m "not slow"

lint: setup
	$(PY) -m ruff check .

release: setup
	$(PY) -m course release

# What an instructor publishes to students (a new folder; STUDENT_DIR=... to choose it).
STUDENT_DIR ?= build/student
student-release: setup
	$(PY) -m course student-release $(STUDENT_DIR)

fetch: setup
	$(PY) -m course fetch

benchmark: setup
	$(PY) -m course benchmark conv
	$(PY) -m course benchmark yolo
