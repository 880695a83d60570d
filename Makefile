# Two commands: `make run` and `make test`. Both create .venv and install pinned requirements first,
# and the terminal's browser libraries (package-lock.json) into node_modules with npm.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup run test lint bench clean browser compose-tool binary

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

# The container files are validated with Debian's docker-compose (no engine is needed for `config`).
compose-tool:
	@command -v docker-compose >/dev/null || { echo "==> installing Debian's docker-compose to validate compose.yaml"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q docker-compose; }

run: setup
	$(PY) run.py

lint: setup
	$(PY) -m ruff check .

test: setup browser compose-tool lint
	$(PY) -m pytest $(PYTEST_ARGS)

# The single binary: dist/troupe/troupe with its dist/troupe/_internal (one folder: see troupe.spec for
# why not one file). The build prints its time, its size and the newest glibc symbol it needs.
$(VENV)/.build-installed: $(VENV)/.installed requirements-build.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-build.txt
	@touch $@

binary: setup $(VENV)/.build-installed
	@command -v objdump >/dev/null || { echo "==> installing binutils (objdump) for the glibc report"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q binutils; }
	@echo "==> building dist/troupe with PyInstaller (one folder)"
	@start=$$(date +%s); \
	$(PY) -m PyInstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build troupe.spec && \
	echo "==> built dist/troupe in $$(( $$(date +%s) - start )) s: $$(du -sh dist/troupe | cut -f1) on disk"
	@echo "==> it needs glibc >= $$(find dist/troupe -type f \( -name '*.so*' -o -perm -u+x \) \
		-exec objdump -T {} + 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1 | cut -d_ -f2)" \
		"(built on: $$(ldd --version | head -1))"

bench: setup
	$(PY) bench/order_path.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache build dist
