# dalleserver: `make run` starts the server, `make test` runs the test suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8080

.PHONY: run test test-repeat test-binary test-browser test-systemd test-olddistro test-cluster test-audit bench lint binary packages deploy-data clean

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

# The whole suite five times in a row: a test that fails one run in ten shows up here.
REPEAT ?= 5
test-repeat: $(VENV)/.installed-test
	for i in $$(seq $(REPEAT)); do echo "run $$i of $(REPEAT)"; $(BIN)/python -m pytest -q -p no:cacheprovider || exit 1; done

# The slow checks: build the single binary and drive it (also run by .ci/run).
test-binary: $(VENV)/.installed-test
	$(BIN)/python -m pytest -m binary -s

# The independent checkers (schemathesis from /openapi.json, h11 on raw answers) and the
# attacks that need root (a pid namespace, a full tmpfs; skipped without root).
test-audit: $(VENV)/.installed-test
	$(BIN)/python -m pytest -m audit

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
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/gallery.py
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[cluster]'
	$(BIN)/python bench/cluster.py
	$(BIN)/python bench/variants.py

# One self-contained executable in dist/ (pinned build tools, fixed hash seed): PyInstaller
# freezes the app into build/onefile/, staticx adds the loader and C libraries (uncompressed:
# xz would add 0.5 s to every start for 2 MB less).
binary: | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-build.txt -e .
	PYTHONHASHSEED=0 SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct 2>/dev/null || echo 0) \
		$(BIN)/pyinstaller --clean --noconfirm --log-level WARN \
		--distpath build/onefile --workpath build/pyinstaller build.spec
	mkdir -p dist
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/staticx --no-compress build/onefile/dalleserver \
		dist/dalleserver.tmp
	chmod 0755 dist/dalleserver.tmp
	mv dist/dalleserver.tmp dist/dalleserver

# The tarball and the .deb around dist/dalleserver (deploy/build-packages.sh; needs dpkg-deb).
packages: binary
	deploy/build-packages.sh dist/dalleserver dist

# The unit and the env example ship inside the package (print-unit, print-env): copy them.
deploy-data:
	cp deploy/dalleserver.service deploy/env.example dalleserver/data/deploy/

# Root-only checks in namespaces on debootstrap roots (kept in build/roots between runs):
# the service under a real systemd, and the binary on Debian 11 and in a busybox-only root.
test-systemd: $(VENV)/.installed-test
	$(BIN)/python -m pytest -m systemd

test-olddistro: $(VENV)/.installed-test
	$(BIN)/python -m pytest -m olddistro

# Cluster mode: instances sharing a data dir through Redis, behind nginx (needs redis-server
# and nginx; the tests start both on 127.0.0.1 themselves).
test-cluster: $(VENV)/.installed-test
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,cluster]'
	$(BIN)/python -m pytest -m cluster

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
