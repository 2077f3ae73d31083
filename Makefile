# Two commands: `make run` serves the sample app, `make test` runs every check.
# Both create .venv and install what they need on a fresh machine (run: the runtime and
# the emulators; test: every tool too).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run
BROWSER_STAMP := $(VENV)/.browser
# Debian's Chromium and its driver, for the end-to-end browser test (root, or via sudo).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: install run test lint typecheck docs pytest bench bench-http fuzz load clean extensions

# `make run` installs only what serving the sample app needs (requirements-run.txt: the
# runtime and the emulators); `make test` adds the tools (requirements-dev.txt). Each has
# its own stamp, so a second `make run` starts without calling pip.
$(RUN_STAMP): pyproject.toml requirements.txt requirements-run.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-run.txt
	# The Cloud Tasks emulator, in its own environment (it needs protobuf<5): once per machine.
	$(BIN)/python -m gae.emulators.tasks install
	touch $(RUN_STAMP)

$(STAMP): requirements-dev.txt $(RUN_STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

$(BROWSER_STAMP): | $(STAMP)
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  ( $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver )
	touch $(BROWSER_STAMP)

# Debian's wrk, for the HTTP benchmark's smoke test (tests/bench) and `make bench-http`.
WRK_STAMP := $(VENV)/.wrk
$(WRK_STAMP): | $(STAMP)
	command -v wrk >/dev/null || \
	  ( $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk )
	touch $(WRK_STAMP)

install: $(STAMP)

# The Flask extensions whose own test suites run on framework (tests/extensions): their
# packages go into .cache/extensions/site (not .venv) and their sdists, with the tests,
# into .cache/extensions/sdist. Online once; every later run is offline.
EXT := .cache/extensions
EXT_STAMP := $(EXT)/site/.installed
$(EXT_STAMP): tests/extensions/requirements.txt tests/extensions/requirements-pytest.txt | $(STAMP)
	rm -rf $(EXT)/site $(EXT)/pytest-plugins
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps \
	  --target $(EXT)/site -r tests/extensions/requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps \
	  --target $(EXT)/pytest-plugins -r tests/extensions/requirements-pytest.txt
	$(BIN)/python -m tests.extensions.suites download
	touch $(EXT_STAMP)

extensions: $(EXT_STAMP)

run: $(RUN_STAMP)
	HOST=$(HOST) PORT=$(PORT) $(BIN)/python -m sample_app

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy framework gae

# The documentation (Sphinx + MyST) into docs/_build/html. Warnings are errors: a broken
# link or anchor, bad reST in a docstring, or a public name missing from the reference
# fails the build. The pages' code examples run in pytest (tests/docs).
docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -q -E -b html docs docs/_build/html

pytest: $(STAMP) $(BROWSER_STAMP) $(EXT_STAMP) $(WRK_STAMP)
	$(BIN)/pytest

test: lint docs typecheck pytest

# The long fuzz run (`make test` runs a bounded one): FUZZ_EXAMPLES examples per fuzz test;
# the request count is printed at the end (FUZZ_STATS=file.json also writes it there).
FUZZ_EXAMPLES ?= 20000
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest tests/fuzz -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/python -m bench.run

# The scenarios over real HTTP (wrk, 8 connections): our framework on app.yaml's entrypoint
# against Flask on gunicorn, then our framework on each candidate WSGI server; ~12 min.
# Installs Debian's wrk, and the candidate servers into .venv (bjoern needs libev-dev and
# a compiler; when it does not build it is reported as skipped).
HTTP_BENCH_STAMP := $(VENV)/.bench-http
$(HTTP_BENCH_STAMP): bench/requirements-http.txt | $(WRK_STAMP)
	[ -e /usr/include/ev.h ] || \
	  ( $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq libev-dev )
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r bench/requirements-http.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check bjoern==3.2.2 || \
	  echo "bjoern did not build: it is skipped in the server comparison"
	touch $(HTTP_BENCH_STAMP)

bench-http: $(HTTP_BENCH_STAMP)
	$(BIN)/python -m bench.http_run
	$(BIN)/python -m bench.http_run --servers

# The sample app on app.yaml's gunicorn command line against the emulators, loaded for
# LOAD_SECONDS by virtual users (pages, posts, uploads, API): prints requests/s, p50/p99
# latency, errors and the worker's memory; fails on any error or 10 % memory growth.
LOAD_SECONDS ?= 30
load: $(STAMP)
	$(BIN)/python -m tests.load.run --duration $(LOAD_SECONDS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info docs/_build .cache
