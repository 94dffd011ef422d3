# Two commands: `make demo` and `make test`. Both create .venv with pip when missing.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.vaekit-installed
EXTRAS ?= train,gpu,demo,dev
PYTEST_ARGS ?=

RUNTIME_VENV ?= build/runtime-only-venv

.PHONY: setup browser npm-deps old-clients lint test runtime-only demo bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[$(EXTRAS)]'
	@touch $(STAMP)

setup: $(STAMP)

# Debian's Chromium for the browser test (Playwright drives /usr/bin/chromium).
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian's chromium for the browser test"; \
		apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "chromium missing and apt-get unavailable: the browser test will be skipped"; fi

# onnxruntime-web (web/) and onnxruntime-node (examples/node/) from npm, at the versions pinned
# in each package-lock.json, for the browser-decode and Node tests. --ignore-scripts: the
# onnxruntime-node install script downloads CUDA files; the CPU binaries ship in the package.
NPM_DIRS := web examples/node
npm-deps:
	@if ! command -v npm >/dev/null 2>&1; then \
		echo "npm missing: the browser-decode and Node tests will be skipped"; \
	else for d in $(NPM_DIRS); do \
		if [ ! -f $$d/node_modules/.package-lock.json ] || [ $$d/package-lock.json -nt $$d/node_modules/.package-lock.json ]; then \
			echo "npm ci in $$d"; \
			(cd $$d && ONNXRUNTIME_NODE_INSTALL=skip npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) \
			|| echo "npm ci failed in $$d (registry unreachable?): its tests will be skipped"; \
		fi; \
	done; fi

# Clients of the graph compatibility matrix (tests/embed/test_matrix.py) that cannot share the
# main venv, each in its own venv: the oldest ONNX Runtime the graphs are written for (IR 8,
# opset 18) and OpenCV DNN 4. Skipped with a message where PyPI is unreachable.
OLD_CLIENTS := build/ort-oldest:onnxruntime==1.16.3:numpy==1.26.4 build/opencv-4:opencv-python-headless==4.14.0.94
old-clients:
	@for spec in $(OLD_CLIENTS); do \
		dir=$${spec%%:*}; pkgs=$$(echo $${spec#*:} | tr ':' ' '); \
		if [ -x $$dir/bin/python ]; then continue; fi; \
		if python3 -m venv $$dir && $$dir/bin/python -m pip install -q --disable-pip-version-check $$pkgs; then \
			echo "$$pkgs in $$dir for the client matrix"; \
		else rm -rf $$dir; echo "could not install $$pkgs (PyPI unreachable?): its matrix test will be skipped"; fi; \
	done

# pytest exits 5 when it collects no test: that is a pass with a message, not a failure.
test: setup browser npm-deps old-clients
	$(VENV)/bin/ruff check .
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

# What a runtime-only user gets: a fresh venv with only `pip install '.[cpu,demo]'` (no torch)
# runs the runtime and starts the demo on every shipped model (.ci/runtime_only.py; ~1.5 min).
# It runs outside the checkout so that only the installed package is imported.
runtime-only:
	rm -rf $(RUNTIME_VENV)
	python3 -m venv $(RUNTIME_VENV)
	$(RUNTIME_VENV)/bin/python -m pip install -q --disable-pip-version-check '.[cpu,demo]'
	cd $(RUNTIME_VENV) && bin/python $(CURDIR)/.ci/runtime_only.py $(wildcard $(CURDIR)/checkpoints/*/onnx)

# Export any shipped checkpoint whose ONNX graphs are missing or stale, then serve the app.
demo: setup
	@for c in checkpoints/*/; do \
		if [ -f "$$c/model.safetensors" ]; then $(PY) -m vaekit.export "$$c" --if-missing --quiet || exit 1; fi; \
	done
	$(PY) -m vaekit.demo $(DEMO_ARGS)

bench: setup
	$(PY) -m benchmarks.run

clean:
	rm -rf build *.egg-info .pytest_cache test-artifacts
