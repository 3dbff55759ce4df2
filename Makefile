# Two commands for a fresh machine:  `make run`  and  `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit setup clean bench browser

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,otel,temporal]'
	touch $(STAMP)

setup: $(STAMP)

# The demo runs on a throw-away database, so the README's tour starts from an empty one.
run: $(STAMP)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  $(BIN)/duralua run examples/shop --call app:demo --fast-forward --db "$$tmp/demo.db"

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint browser
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/pip install -q -e '.[dev,bench,temporal]'
	$(BIN)/python bench/functions.py

# Debian's Chromium and ChromeDriver for the web UI's browser tests (tests/ui); nothing to do
# when they are installed. Without root or network the browser tests skip and say why.
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  ( $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver ) \
	    || echo "could not install chromium: the browser tests will be skipped"; \
	fi

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache
