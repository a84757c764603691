# The two README commands: `make run` and `make test`. Both set everything up on a fresh machine
# (Python 3.11 and make are all they need): a virtual environment in .venv with pinned packages.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test dev dashboard sandbox metrics bench lint lock clean debian-packages

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)  ## the main job over the last 7 complete days on the embedded defaults
	$(BIN)/qeasy run

test: $(STAMP) debian-packages  ## the whole test suite (what .ci/run calls)
	$(BIN)/ruff check .
	$(BIN)/pytest

# tests/test_ui.py drives Debian's Chromium through ChromeDriver (a CJK font makes the shop names
# readable in its screenshots); tests/test_monitoring.py has Debian's Prometheus scrape qeasy. A fresh
# machine has none of them: install them, or fail saying so.
DEBIAN_FILES := /usr/bin/chromium /usr/bin/chromedriver /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc \
	/usr/bin/prometheus
DEBIAN_PACKAGES := chromium chromium-driver fonts-wqy-zenhei prometheus
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo -n)
DEBIAN_HELP := make test needs Debian's $(DEBIAN_PACKAGES): install them

debian-packages:
	@ls $(DEBIAN_FILES) >/dev/null 2>&1 || { \
	  command -v apt-get >/dev/null && { [ -z "$(SUDO)" ] || command -v sudo >/dev/null; } \
	    || { echo "$(DEBIAN_HELP) (no apt-get, or not root and no sudo)"; exit 1; }; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBIAN_PACKAGES) \
	    || { echo "$(DEBIAN_HELP) (apt-get failed)"; exit 1; }; }

dev: $(STAMP)  ## the Dagster UI on http://127.0.0.1:3000 with the sandbox running, the dashboard on :8080
	$(BIN)/qeasy dev

dashboard: $(STAMP)  ## the eight BI screens on http://127.0.0.1:8080
	$(BIN)/qeasy dashboard

sandbox: $(STAMP)  ## serve the ERP sandbox on http://127.0.0.1:8900
	$(BIN)/qeasy sandbox

metrics: $(STAMP)  ## Prometheus metrics of the pipeline on http://127.0.0.1:9464/metrics
	$(BIN)/qeasy metrics

# dlt, the tool bench/ingest_vs_dlt.py compares against, lives in its own venv: never a project dependency.
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed

$(BENCH_STAMP): bench/requirements-dlt.txt
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r bench/requirements-dlt.txt
	touch $(BENCH_STAMP)

bench: $(STAMP) $(BENCH_STAMP)  ## benchmarks: print figures (see bench/README.md)
	$(BIN)/python bench/run_all.py

lint: $(STAMP)
	$(BIN)/ruff check .

lock: $(STAMP)  ## re-pin every transitive dependency after changing pyproject.toml
	$(BIN)/python -m pip freeze --exclude-editable --exclude qeasy > constraints.txt

clean:
	rm -rf $(VENV) $(BENCH_VENV) .qeasy .pytest_cache .ruff_cache tests/output
