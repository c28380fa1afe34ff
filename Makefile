# Two commands set up a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TOY := data/toy
OUT := out

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test,plot]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check lmmlasso_cli tests bench data/toy
	$(BIN)/ruff format --check lmmlasso_cli tests bench data/toy

bench: $(STAMP)
	bash bench/run_all.sh

demo: $(STAMP)
	bash scripts/demo.sh $(BIN) $(TOY) $(OUT)

clean:
	rm -rf $(OUT) .pytest_cache
