# Two commands on a fresh machine: `make demo` and `make test` (see README.md). `make demo` installs the
# runtime only (~0.7 GB venv); `make test` adds the test extras to the same venv (Spark, chdb, browsers, linters:
# ~2.1 GB).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYPROJECT_HASH := $(shell cat pyproject.toml | sha1sum | cut -c1-12)
RUNTIME_STAMP := $(VENV)/.runtime-$(PYPROJECT_HASH)
STAMP := $(VENV)/.installed-$(PYPROJECT_HASH)

.PHONY: console docs-shots install install-runtime demo serve test test-py test-sdk lint services bench clean

# The runtime: what `huoli` needs to serve, import and analyse (no test extras).
$(RUNTIME_STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -U pip
	$(PY) -m pip install -q --disable-pip-version-check -e .
	@rm -f $(VENV)/.runtime-* && touch $(RUNTIME_STAMP)

# Everything the tests, benches and linters need, on top of the runtime.
$(STAMP): $(RUNTIME_STAMP)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

# The console: Vue 3 + Element Plus and the other libraries from the npm registry (console/package-lock.json),
# built by Vite into console/dist from console/src and every domain's src/huoli/<domain>/console/ (~3 s).
# Rebuilt when any of those files changes. Node.js (npm) is required, as for the SDK's tests.
CONSOLE_STAMP := console/node_modules/.huoli-installed
$(CONSOLE_STAMP): console/package-lock.json
	@command -v npm >/dev/null || { echo "npm is required to build the console (install Node.js 20+)" >&2; exit 1; }
	cd console && npm ci --prefer-offline --no-audit --no-fund --loglevel=error
	@touch $@

CONSOLE_SOURCES := console/index.html console/vite.config.mjs $(shell find console/src -type f 2>/dev/null) $(shell find src/huoli -path '*/console/*' -type f \( -name '*.vue' -o -name '*.js' -o -name '*.json' -o -name '*.css' \) 2>/dev/null)
CONSOLE_BUILD := console/dist/index.html
$(CONSOLE_BUILD): $(CONSOLE_STAMP) $(CONSOLE_SOURCES)
	cd console && npx vite build --logLevel warn

console: $(CONSOLE_BUILD)

install-runtime: $(RUNTIME_STAMP) $(CONSOLE_BUILD)

install: $(STAMP) $(CONSOLE_BUILD)

demo: install-runtime
	$(VENV)/bin/huoli demo run

serve: install-runtime
	$(VENV)/bin/huoli serve

services:
	@scripts/ensure-services.sh

lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# The example mini-program installs a packed copy of the SDK (and Tencent's miniprogram-simulate): reinstall
# when the SDK changes. A failed install fails the tests.
EXAMPLE_STAMP := examples/miniprogram/node_modules/.huoli-installed
$(EXAMPLE_STAMP): examples/miniprogram/package-lock.json sdk/miniprogram/package.json $(wildcard sdk/miniprogram/dist/*)
	cd examples/miniprogram && npm ci --prefer-offline --no-audit --no-fund --loglevel=error
	@touch $@

# The example's test drives a real `huoli serve` with the test suite's fake WeChat: it needs the test venv.
test-sdk: $(STAMP) $(EXAMPLE_STAMP)
	@command -v node >/dev/null || { echo "node is required for the SDK tests" >&2; exit 1; }
	cd sdk/miniprogram && node --test test/
	cd examples/miniprogram && node --test test/example.test.js

# Tests run in parallel processes (pytest-xdist); at most 4 workers, since each may start a Spark JVM of ~1.5 GB.
# Not --dist loadfile: with it the fuzz test's 280 generated cases reported as 2 and the rest never ran.
PYTEST_WORKERS ?= $(shell $(PYTHON) -c "import os; print(min(4, os.cpu_count() or 1))")
# --durations: every run names its slowest tests, so the 30-minute budget is kept with numbers, not guesses.
PYTEST_ARGS ?= -n $(PYTEST_WORKERS) --dist load --durations=40

# pytest exits 5 when it collected nothing: that must fail loudly, not pass.
test-py: install services
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

test: install services lint test-sdk test-py

bench: install services
	$(PY) bench/run.py
	for b in $$(ls bench/*.py | grep -v -e '/run.py' -e '/common.py' -e '/load_ingest.py' -e '/bench_generator.py'); do $(PY) $$b || exit 1; done

# The console's screenshots in docs/console.md, from the demo walk (first screen of every page, zh and en).
docs-shots: install services
	HUOLI_DOCS_SHOTS=$(CURDIR)/docs/console $(PY) -m pytest -q tests/console/test_demo_walk.py -k every_console_page

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache console/node_modules console/dist examples/miniprogram/node_modules
