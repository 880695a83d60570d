# Two commands: `make run` and `make test`. Both create .venv and install pinned requirements first.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: setup run test lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-test.txt
	@echo "==> creating $(VENV) and installing pinned requirements"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-test.txt
	@touch $@

run: setup
	$(PY) run.py

lint: setup
	$(PY) -m ruff check .

test: setup lint
	$(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	$(PY) bench/order_path.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
