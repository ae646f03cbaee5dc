# Fresh machine: `make demo` (set up + main job) or `make test` (set up + tests).
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
# CPU torch for setup here; the library itself declares a range (see pyproject.toml).
TORCH   ?= torch==2.13.0
STAMP   := $(VENV)/.installed
OUT     ?= runs/demo

.PHONY: setup test lint demo world clean bench-demo

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

# Re-record every figure built on the demo model, in the order they depend on each other
# (~3 h on 2 cores). Run it on an otherwise idle machine: wall times, speedups and request
# rates are among the figures. Each step starts from nothing (the judge's run folder too,
# which would otherwise continue a judge tuned from an earlier demo model).
bench-demo: setup
	$(BIN)/python benchmarks/demo.py --out runs/demo
	$(BIN)/python benchmarks/reduce.py --model runs/demo/train/model --data runs/demo/world
	$(BIN)/python benchmarks/serve_load.py --model runs/demo/train/model --data runs/demo/world
	$(BIN)/python benchmarks/eval_overhead.py --rows 5000 --model runs/demo/train/model \
		--model-limit 1000
	$(BIN)/mllm world judge-data --data runs/demo/world --train-modes score \
		--answer-first-scores --train-per-question 3
	rm -rf runs/judge
	$(BIN)/mllm train src/mllmkit/configs/judge.yaml --data-root runs/demo/world --out runs/judge
	$(BIN)/python benchmarks/judge.py --judge-model runs/judge/model --data runs/demo/world \
		--pointwise --answer-first --batch-size 64
	$(BIN)/python benchmarks/demo.py --config demo_long --name demo_long --out runs/demo_long

clean:
	rm -rf $(VENV) runs
