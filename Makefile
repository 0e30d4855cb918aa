# Developer shortcuts; the README's two commands need none of these.
PYTHON ?= .venv/bin/python

.PHONY: bench lint test

bench:
	$(PYTHON) -m bench.run_all

lint:
	$(PYTHON) -m ruff check . && $(PYTHON) -m ruff format --check . && $(PYTHON) -m mypy

test:
	$(PYTHON) -m pytest
