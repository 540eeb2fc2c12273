# Quick start (fresh Debian/Ubuntu, as root):  make demo  |  make test
VENV      ?= .venv
PYTHON    ?= python3
BIN       := $(VENV)/bin
# System packages: FUSE (pyfuse3 builds against libfuse3), and the real tools the tests use:
# age (encrypt fixtures), skopeo + docker-registry + htpasswd (pull-secret test), strace, inotifywait (a volume's
# events); kubectl (Debian's kubernetes-client, unless a kubectl is already there) against the stand-in API server;
# vim and nano (secret edit runs the real editors), ssh-keygen (openssh-client).
APT_PACKAGES := fuse3 libfuse3-dev pkg-config gcc patch python3-venv age skopeo docker-registry apache2-utils strace \
                vim nano openssh-client inotify-tools

.PHONY: demo test lint system-deps venv clean bench

system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	command -v kubectl >/dev/null 2>&1 || missing="$$missing kubernetes-client"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "make: need root to install:$$missing" >&2; exit 1; fi; \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(BIN)/injector: pyproject.toml | system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]' > $(VENV)/pip.log 2>&1 || { cat $(VENV)/pip.log; exit 1; }
	sh vendor/build-pyfuse3.sh $(BIN) >> $(VENV)/pip.log 2>&1 || { cat $(VENV)/pip.log; exit 1; }
	@# Byte-compile as a non-editable install does: start-up then costs no compiling, even where
	@# PYTHONDONTWRITEBYTECODE keeps Python from caching it.
	$(BIN)/python -m compileall -q injector fuse >/dev/null
	@touch $@

venv: system-deps $(BIN)/injector

demo: venv
	@sh examples/demo.sh $(abspath $(BIN))/injector

test: venv
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check injector fuse tests benchmarks scripts
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: venv
	$(BIN)/python benchmarks/run_overhead.py
	$(BIN)/python benchmarks/fuse_read.py
	$(BIN)/python benchmarks/fuse_update.py
	$(BIN)/python benchmarks/rotation.py
	$(BIN)/python benchmarks/run_restart.py
	$(BIN)/python benchmarks/webhook.py
	$(BIN)/python benchmarks/footprint.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
