# `make run`: set everything up and run the main job.  `make test`: set up and run the tests.
VENV ?= .venv
PYTEST_ARGS ?=

.PHONY: setup run test test-notebooks test-slow bench calibrate
setup:
	bash scripts/setup.sh

run: setup
	$(VENV)/bin/aimc metrics

test: setup
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# the notebooks whose fast-profile characterization takes minutes of SPICE (CI runs this after make test)
test-notebooks: setup
	AIMC_SLOW=1 $(VENV)/bin/python -m pytest -m "slow and notebook" $(PYTEST_ARGS)

test-slow: setup
	AIMC_SLOW=1 $(VENV)/bin/python -m pytest $(PYTEST_ARGS)

bench: setup
	$(VENV)/bin/python benchmarks/spice_overhead.py
	$(VENV)/bin/python benchmarks/evaluator_speed.py

calibrate: setup
	$(VENV)/bin/aimc calibrate --block all --profile $(or $(PROFILE),fast)
