# Two commands: `make run` (embedded app: web + worker) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint check clean browser-deps compose-check k8s-check kernels

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Stamp files re-run the install whenever a requirements file changes.
$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

# The audio kernels compiled ahead of time (recordings/audio/aot.py), so that
# the worker never loads numba and LLVM (over 100 MB of its memory). Rebuilt
# when their sources change. It needs a C compiler: without one `make run`
# goes on and the worker compiles them through numba (recordings/audio/kernels.py);
# `make test` stops, since the tests check the compiled module.
EXT_SUFFIX := $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
KERNELS := recordings/audio/_compiled$(EXT_SUFFIX)
$(KERNELS): $(addprefix recordings/audio/,_align.py _align_kernel.py _dsp.py _jit.py kernels.py aot.py) | $(VENV)/.runtime
	$(PY) -m recordings.audio.aot

kernels:
	@$(MAKE) --no-print-directory $(KERNELS) || echo "Could not compile the audio kernels" \
		"(is a C compiler installed?): the worker compiles them through numba instead."

# `make run PORT=8080` (and HOST=0.0.0.0 to be reached from other machines).
# The admin's one-time password is printed last, once the server and worker are up.
run: $(VENV)/.runtime kernels
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py seed_demo
	$(PY) manage.py run_embedded --host $(HOST) --port $(PORT) --ensure-admin

# Browser tests drive Debian's Chromium; fonts-beng draws Bangla (without it, boxes).
# Installed only when missing. If that fails the browser tests skip, saying why;
# with SHRUTIK_FAIL_ON_SKIP=1 (CI: .ci/run) a skip fails the run, so stop here.
browser-deps:
	@if [ ! -x /usr/bin/chromium ] || ! dpkg -s fonts-beng >/dev/null 2>&1; then \
		(apt-get update && apt-get install -y --no-install-recommends chromium fonts-beng) \
		|| if [ "$$SHRUTIK_FAIL_ON_SKIP" = 1 ]; then \
			echo "Could not install chromium/fonts-beng, which the browser tests need." >&2; \
			exit 1; \
		else \
			echo "Could not install chromium/fonts-beng: browser tests will be skipped."; \
		fi; \
	fi

test: $(VENV)/.dev browser-deps $(KERNELS)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Schema and migration checks need no server: they run on the embedded shape.
check: $(VENV)/.dev compose-check k8s-check
	env -u DATABASE_URL SHRUTIK_VAR_DIR=var/check $(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null
	env -u DATABASE_URL SHRUTIK_VAR_DIR=var/check $(PY) manage.py makemigrations --check --dry-run

# docker-compose.yml validated without a container engine: Debian's
# docker-compose (1.29) parses, interpolates and checks it. Installed when missing.
compose-check:
	@command -v docker-compose >/dev/null 2>&1 || \
		(apt-get update && apt-get install -y --no-install-recommends docker-compose)
	docker-compose -f docker-compose.yml config -q

# The Kubernetes recipe validated offline against the schemas of a pinned
# Kubernetes version (kubernetes-validate, strict: unknown fields fail).
# kustomization.yaml files and KEDA's ScaledObjects have no schema there;
# shrutik/tests/test_k8s.py renders both overlays and checks them.
K8S_VERSION := 1.33.0
K8S_MANIFESTS := $(filter-out %/kustomization.yaml,$(wildcard deploy/k8s/base/*.yaml)) \
	deploy/k8s/secret.example.yaml
k8s-check: $(VENV)/.dev
	$(VENV)/bin/kubernetes-validate --kubernetes-version $(K8S_VERSION) --strict --quiet $(K8S_MANIFESTS)

clean:
	rm -rf $(VENV) var recordings/audio/_compiled*
