# Set-up and entry points. `make run` and `make test` work on a fresh machine:
# they create .venv with the torch pin from constraints.txt and install the project.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test lint check-wheel clean

setup: $(STAMP)

$(STAMP): pyproject.toml setup.py constraints.txt
	bash tools/system-deps.sh
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt -e '.[dev,eval]'
	touch $(STAMP)

run: setup
	$(BIN)/sv2tts toolbox

test: setup
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check models toolbox tests

# Build the sdist and wheel, install the wheel outside the tree and use it offline (CI runs this too).
check-wheel:
	bash tools/system-deps.sh
	bash tools/check-wheel.sh $(PYTHON)

clean:
	rm -rf $(VENV)
