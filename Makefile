# lambdalab: `make lab` opens the course, `make test` checks everything, `make bench` measures.
# `make test-load` runs the tests and notebooks beside CPU hogs.

VENV       ?= .venv
CANDIDATES ?= python3.12 python3.11 python3.10 python3
# The first candidate that runs and is >= 3.10, resolved to its real interpreter (pyenv shims
# exist for versions that are not installed, and would send the venv through the shim).
PYTHON     ?= $(shell for p in $(CANDIDATES); do \
                $$p -c 'import sys; assert sys.version_info >= (3, 10); print(sys.executable)' 2>/dev/null \
                && break; done)
BIN        := $(VENV)/bin
WELCOME    := $(wildcard $(CURDIR)/notebooks/00_welcome.ipynb)
# Jupyter refuses to run as root unless told; containers and some WSL set-ups run as root.
LAB_FLAGS  ?= $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: lab test test-load bench clean

# The course's Jupyter settings (.jupyter/: a kernel whose tab was closed is shut down after 15 idle
# minutes). On Binder the repository is the home directory, so .jupyter/ is ~/.jupyter there.
# JupyterLab runs through ./start, the session's environment, as Binder runs it.
lab: $(VENV)/.installed
	JUPYTER_CONFIG_PATH=$(CURDIR)/.jupyter$(if $(JUPYTER_CONFIG_PATH),:$(JUPYTER_CONFIG_PATH)) $(CURDIR)/start $(BIN)/jupyter lab --ServerApp.root_dir=notebooks $(strip $(LAB_FLAGS) $(WELCOME))

# Notebooks are committed unexecuted, and nbval never compares outputs of cells without an
# execution count: each cell must just run without an error, which --nbval-lax states honestly.
# The tests run through ./start, so that nbval runs each chapter in the course's kernel, as a learner does.
test: $(VENV)/.installed-test
	@$(BIN)/python -c 'import sys; print("Python", sys.version.split()[0], "at", sys.executable)'
	$(CURDIR)/start $(BIN)/pytest tests notebooks --nbval-lax
	$(BIN)/ruff check lambdalab tests bench notebooks  # notebooks too: ruff reads .ipynb code cells

# The whole suite and the notebooks beside two CPU hogs per core (10-15 minutes on 2 cores);
# make test runs the timing-sensitive tests that way (tests/test_suite_under_load.py).
test-load: $(VENV)/.installed-test
	$(CURDIR)/start $(BIN)/python tests/under_load.py tests notebooks --nbval-lax

# The performance budget (bench/run.py, with python-lambda-local from the test extra beside it),
# then each chapter's memory in a kernel of its own (bench/memory.py).
bench: $(VENV)/.installed-test
	$(BIN)/python bench/run.py
	$(BIN)/python bench/memory.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info build dist
	find $(wildcard lambdalab tests bench notebooks) -type d \( -name __pycache__ -o -name .ipynb_checkpoints \) \
		-prune -exec rm -rf {} +

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "No Python >= 3.10 among: $(CANDIDATES). Use make PYTHON=/path/to/python3.x" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps inside the venv: reinstall only when pyproject.toml changes (or the venv is new).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed
