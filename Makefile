# Entry points for people and CI. Both main targets install what they need first.
SHELL := /bin/bash
VENV := tools/venv
PY := $(VENV)/bin/python
# Shell scripts tracked by git, without the recipes' links to egs/TEMPLATE.
SHELL_SCRIPTS := $(shell git ls-files -s '*.sh' | awk '$$1 != "120000" {print $$4}') .ci/run

.PHONY: install demo test lint fast-test clean

install:
	tools/install.sh

# The main job: the mini_grid recipe on the generated corpus, stages 0-9, on a CPU.
demo: install
	cd egs/mini_grid && ./run.sh

# Lint (ruff, shellcheck) and the whole test suite, integration tests included.
test: install
	$(MAKE) lint
	$(PY) -m pytest

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/shellcheck -x $(SHELL_SCRIPTS)

# Without the slow and integration tests, for quick iteration.
fast-test:
	$(PY) -m pytest -m "not slow and not integration"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
