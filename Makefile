# Two commands: `make run` and `make test`. Both create .venv and install pinned requirements first,
# and the terminal's browser libraries (package-lock.json) into node_modules with npm.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup run test lint bench clean browser

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-test.txt
	@echo "==> creating $(VENV) and installing pinned requirements"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-test.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed to install the chart library (apt-get install npm)"; exit 1; }
	@echo "==> installing the terminal's browser libraries (npm ci)"
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The end-to-end tests drive Debian's chromium; Playwright never downloads a browser of its own.
browser:
	@command -v chromium >/dev/null || { echo "==> installing Debian's chromium for the browser tests"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium; }

run: setup
	$(PY) run.py

lint: setup
	$(PY) -m ruff check .

test: setup browser lint
	$(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	$(PY) bench/order_path.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache
