# Two commands: `make demo` and `make test`. Each creates its own venv with pip when missing:
# `make demo` a light one (.venv-demo: numpy, ONNX Runtime, Gradio; no torch), `make test` the
# full one (.venv: PyTorch, ONNX Runtime, Gradio, the test tools). A stamp per extras set
# reinstalls a venv when pyproject.toml or its extras change.

comma := ,

# onnxruntime-gpu where it has a wheel and a GPU is there (Linux x86_64 with an NVIDIA
# driver), else onnxruntime (macOS, Windows on ARM, machines without a GPU).
ORT_EXTRA ?= $(shell if [ "$$(uname -s)-$$(uname -m)" = Linux-x86_64 ] && nvidia-smi -L >/dev/null 2>&1; then echo gpu; else echo cpu; fi)
# the full set always tries onnxruntime-gpu on Linux x86_64 (it runs on the CPU too)
FULL_ORT ?= $(shell if [ "$$(uname -s)-$$(uname -m)" = Linux-x86_64 ]; then echo gpu; else echo cpu; fi)

VENV   ?= .venv
PY     := $(VENV)/bin/python
EXTRAS ?= train,$(FULL_ORT),demo,dev
STAMP  := $(VENV)/.vaekit-installed-$(subst $(comma),-,$(EXTRAS))

DEMO_VENV   ?= .venv-demo
DEMO_PY     := $(DEMO_VENV)/bin/python
DEMO_EXTRAS ?= $(ORT_EXTRA),demo
DEMO_STAMP  := $(DEMO_VENV)/.vaekit-installed-$(subst $(comma),-,$(DEMO_EXTRAS))

PYTEST_ARGS ?=

RUNTIME_VENV ?= build/runtime-only-venv

.PHONY: setup demo-setup browser npm-deps old-clients lint test test-quick runtime-only demo bench clean

# $(call venv_install,VENV,EXTRAS,STAMP): a venv with the package and EXTRAS, stamped
define venv_install
	@test -x $(1)/bin/python || python3 -m venv $(1)
	$(1)/bin/python -m pip install -q --upgrade pip
	$(1)/bin/python -m pip install -q -e '.[$(2)]'
	@rm -f $(1)/.vaekit-installed*
	@touch $(3)
endef

$(STAMP): pyproject.toml
	$(call venv_install,$(VENV),$(EXTRAS),$(STAMP))

$(DEMO_STAMP): pyproject.toml
	$(call venv_install,$(DEMO_VENV),$(DEMO_EXTRAS),$(DEMO_STAMP))

setup: $(STAMP)

demo-setup: $(DEMO_STAMP)

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

# The developer's loop: lint, then every test not marked slow (no browser, Node, demo server,
# model exports or subprocess trainings); `make test` (and CI) runs them all.
test-quick: setup
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

# What a runtime-only user gets: a fresh venv with only `pip install '.[cpu,demo]'` (no torch)
# runs the runtime and starts the demo on every shipped model (.ci/runtime_only.py; ~1.5 min).
# It runs outside the checkout so that only the installed package is imported.
runtime-only:
	rm -rf $(RUNTIME_VENV)
	python3 -m venv $(RUNTIME_VENV)
	$(RUNTIME_VENV)/bin/python -m pip install -q --disable-pip-version-check '.[cpu,demo]'
	cd $(RUNTIME_VENV) && bin/python $(CURDIR)/.ci/runtime_only.py $(wildcard $(CURDIR)/checkpoints/*/onnx)

# Serve every shipped model from the light venv. A checkpoint whose graphs are missing or
# older than its weights is exported first when a venv with torch is there (.venv after
# `make setup` or `make test`, or torch installed in $(DEMO_VENV)); without torch the committed
# graphs are served (the runtime warns about a stale one, naming the export command).
demo: demo-setup
	@exporter=""; for py in $(DEMO_PY) $(PY); do \
		if [ -x $$py ] && $$py -c "import torch" >/dev/null 2>&1; then exporter=$$py; break; fi; \
	done; \
	for c in checkpoints/*/; do \
		[ -f "$$c/model.safetensors" ] || continue; \
		if [ -n "$$exporter" ]; then $$exporter -m vaekit.export "$$c" --if-missing --quiet || exit 1; \
		elif [ ! -f "$$c/onnx/vaekit.json" ]; then \
			echo "$$c: no exported graphs and no torch to export them (make setup installs it): not served"; \
		fi; \
	done
	$(DEMO_PY) -m vaekit.demo $(DEMO_ARGS)

# The unconditional shipped models, as in the committed report: every shipped checkpoint plus
# the fresh RGB config would not fit the run's 14-minute budget on 2 cores (the cases past it
# are skipped and listed). `make bench BENCH_MODELS=mnist-vamp,mnist-z2` picks others.
BENCH_MODELS ?= celeba64,mnist-z2,mnist-z32,fashion-mnist-z16

bench: setup
	$(PY) -m benchmarks.run --models $(BENCH_MODELS)

clean:
	rm -rf build *.egg-info .pytest_cache test-artifacts
