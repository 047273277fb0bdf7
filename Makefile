# dalleserver: `make run` starts the server, `make test` runs the test suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8080

.PHONY: run test test-binary test-browser bench lint binary clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/dalleserver serve --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest

# The slow checks: build the single binary and drive it (also run by .ci/run).
test-binary: $(VENV)/.installed-test
	$(BIN)/python -m pytest -m binary -s

# The preview page in headless Chromium (needs /usr/bin/chromium; .ci/run installs it).
test-browser: $(VENV)/.installed-test
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,browser]'
	$(BIN)/python -m pytest -m browser

lint: $(VENV)/.installed-test
	$(BIN)/ruff check dalleserver tests bench

# Benchmarks with baselines in the same run; the HTTP ones use wrk and nginx when
# installed (apt-get install wrk nginx-light), a Python load generator otherwise.
bench: $(VENV)/.installed
	$(BIN)/python bench/dress.py
	$(BIN)/python bench/generate.py
	$(BIN)/python bench/serving.py
	$(BIN)/python bench/throughput.py
	$(BIN)/python bench/overload.py
	$(BIN)/python bench/workers.py

# One self-contained executable in dist/ (pinned build tools, fixed hash seed).
binary: | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-build.txt -e .
	PYTHONHASHSEED=0 SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct 2>/dev/null || echo 0) \
		$(BIN)/pyinstaller --clean --noconfirm --log-level WARN \
		--distpath dist --workpath build/pyinstaller build.spec

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
