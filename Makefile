# Entry points for people and CI. Both main targets install what they need first.
SHELL := /bin/bash
VENV := tools/venv
PY := $(VENV)/bin/python
# Shell scripts tracked by git, without the recipes' links to egs/TEMPLATE.
SHELL_SCRIPTS := $(shell git ls-files -s '*.sh' | awk '$$1 != "120000" {print $$4}') .ci/run

.PHONY: install demo test test-unit test-stages test-integration lint clean

install:
	tools/install.sh

# The main job: the mini_grid recipe on the generated corpus, stages 0-9, on a CPU.
demo: install
	cd egs/mini_grid && ./run.sh

# The tests, in three tiers by folder (test/conftest.py): unit (test/<package>/, each test
# under a minute), stages (the stage script, recipes, shell tools, bench scripts) and
# integration (recipes end to end). Two pytest-xdist workers, one thread each; files stay
# whole on one worker, so a module's fixtures are built once, and they go out in the order
# test/conftest.py gives them (the longest first), not xdist's own (most tests first).
PYTEST := OMP_NUM_THREADS=1 $(PY) -m pytest -n 2 --dist loadfile --no-loadscope-reorder

# Lint, then every tier in one run: the two workers share the run's built-once artefacts and
# the long integration tests start first, the short tests filling in beside them.
test: install
	$(MAKE) lint
	$(PYTEST)

# The inner loop: the unit tier alone (the other folders are not even imported).
test-unit: install
	$(PYTEST) --tier unit

test-stages: install
	$(PYTEST) --tier stages

test-integration: install
	$(PYTEST) --tier integration

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/shellcheck -x $(SHELL_SCRIPTS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
