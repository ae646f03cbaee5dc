# Fresh machine: `make demo` (set up + main job) or `make test` (set up + tests).
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
# CPU torch for setup here; the library itself declares a range (see pyproject.toml).
TORCH   ?= torch==2.13.0
STAMP   := $(VENV)/.installed
OUT     ?= runs/demo

.PHONY: setup test lint demo world clean bench

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned, so nothing later resolves a multi-GB CUDA build
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[test]' $(TORCH)
	touch $(STAMP)

setup: $(STAMP)

test: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

demo: setup
	$(BIN)/mllm demo --out $(OUT)

world: setup
	$(BIN)/mllm world generate --out runs/world --train 2000 --test 500 --seed 0
	$(BIN)/mllm world preview --data runs/world --out runs/world/preview.png

clean:
	rm -rf $(VENV) runs
