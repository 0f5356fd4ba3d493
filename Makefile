# Quick start: `make run` (set up and start the chat page) and `make test` (set up and test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TORCH ?= torch==2.13.0

.PHONY: run test build build-ray ray bench setup browser clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# the CPU build first, so nothing pulls a multi-GB CUDA build
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	# the tests use Ray (tests/test_distributed.py); the base install stays without it
	$(BIN)/python -m pip install --quiet -e ".[test,ray]"
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/python app.py

build: $(STAMP)
	$(BIN)/python -m bot build

# Ray for `python -m bot build --ray` (already there after `make test`)
ray: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[ray]"

# the index built on a local Ray instance, or on a cluster: make build-ray RAY_ADDRESS=auto
build-ray: ray
	$(BIN)/python -m bot build --ray $(RAY_ADDRESS)

# Debian's chromium (no browser download) and CJK fonts for the browser tests; where apt-get is
# unavailable the browser tests skip with a loud reason.
BROWSER_PKGS := chromium fonts-noto-cjk
browser:
	@missing=""; for p in $(BROWSER_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing$$missing (apt-get)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	      || echo "WARNING: could not install$$missing; browser tests will be skipped"; \
	  else echo "WARNING:$$missing missing and apt-get unavailable; browser tests will be skipped"; fi; fi

test: $(STAMP) browser
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) index/current index/build-* index/.build-*
