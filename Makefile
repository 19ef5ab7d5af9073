# dnlts: the two commands a newcomer needs are `make reproduce` and `make test`.
# Nothing to install by hand: libtorch is fetched on first use (see scripts/fetch-libtorch.sh).
#
#   make reproduce [PROFILE=tiny|ci|small|fashion|paper] [TORCH=cpu|cuda] [ARGS="--include fig6"]
#                  ARGS="--devices cuda:0,cuda:1" trains independent stages on both GPUs at once
#                  PROFILE=paper first runs the preflight `dnlts doctor` on IMAGENET=DIR YFCC=DIR WEIGHTS=DIR
#   make test      formatting, clippy and every test (what CI runs)
#   make bench     criterion benchmarks
#   make bench-pytorch  dnlts bench vs the same steps in PyTorch eager, side by side [PYTHON=…]
#   make golden    re-bless the golden files after an intended change; prints what moved
#   make classifiers  train the small profile's shipped classifiers again (fixtures/classifiers/small)
#   make fashion-mnist  install Fashion-MNIST (Debian package) for PROFILE=fashion
#   make gpu-check checks the CUDA path on an NVIDIA GPU (builds with TORCH=cuda; results/gpu-check)
#   make mutants   mutation testing of src/metrics/ against the fast metric tests (hours; docs/mutants.md)
#   make mutants-diff  the same, only for the lines changed since BASE (default main)

PROFILE ?= small
TORCH ?= cpu
ARGS ?=
IMAGENET ?=
YFCC ?=
WEIGHTS ?=
export TORCH

WITH_TORCH := scripts/with-libtorch.sh
ifeq ($(TORCH),cuda)
TARGET_DIR := target/cuda
else
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
endif
DNLTS := $(TARGET_DIR)/release/dnlts

# Everything builds in release: one profile means libtorch's bindings compile once, and the
# tests that train small networks run at full speed.
CARGO_FLAGS := --release --workspace --locked

.PHONY: all build reproduce test bench bench-pytorch golden classifiers libtorch fashion-mnist gpu-check \
	mutants mutants-diff clean help

all: build

help:
	@sed -n '1,17p' Makefile

libtorch:
	@$(WITH_TORCH) true

build:
	$(WITH_TORCH) cargo build $(CARGO_FLAGS)

fashion-mnist:
	@scripts/install-fashion-mnist.sh

# The fashion profile reads Fashion-MNIST; everything else is embedded or user-supplied.
# The paper profile checks all its inputs first (`dnlts doctor`) and stops on any missing one.
DATA_OPTS := $(if $(IMAGENET),--imagenet $(IMAGENET)) $(if $(YFCC),--yfcc $(YFCC)) \
	$(if $(WEIGHTS),--weights $(WEIGHTS))
DOCTOR_OPTS := $(DATA_OPTS) $(if $(filter cuda,$(TORCH)),--device cuda)
# TORCH=cuda runs on the first GPU, unless ARGS names the devices (--devices cuda:0,cuda:1).
REPRODUCE_DEVICE := $(if $(filter cuda,$(TORCH)),$(if $(findstring --devices,$(ARGS)),,--device cuda))
reproduce: build $(if $(filter fashion,$(PROFILE)),fashion-mnist)
ifeq ($(PROFILE),paper)
	$(DNLTS) doctor --profile paper $(DOCTOR_OPTS)
endif
	$(DNLTS) reproduce --profile $(PROFILE) $(DATA_OPTS) $(REPRODUCE_DEVICE) $(ARGS)

test:
	$(WITH_TORCH) cargo fmt --all --check
	$(WITH_TORCH) cargo clippy $(CARGO_FLAGS) --all-targets -- -D warnings
	$(WITH_TORCH) cargo test $(CARGO_FLAGS)

# CUDA build of dnlts and of the generator study (which makes the out-of-memory step).
gpu-check:
	TORCH=cuda $(WITH_TORCH) cargo build --release --locked -p dnlts-suite --bin dnlts
	TORCH=cuda $(WITH_TORCH) cargo build --release --locked -p dnlts --example generator_study
	TORCH=cuda $(WITH_TORCH) cargo test --release --locked -p dnlts-suite --test golden --no-run
	DNLTS=target/cuda/release/dnlts scripts/gpu-check.sh results/gpu-check

bench:
	$(WITH_TORCH) cargo bench --workspace --locked

# The small profile's steps in dnlts and in PyTorch eager (torch 2.11, as our libtorch), both
# layouts, runs alternating, each side in its own process; prints ms/step and the ratio dnlts
# speed / PyTorch speed per stage.
# PyTorch eager comes from a virtualenv of the project's own (.venv-bench, torch 2.11.0 as our
# libtorch, from PyPI: about 3 GB with its CUDA libraries), made on first use; PYTHON=… a Python
# that already has torch 2.11.0.
PYTHON ?= .venv-bench/bin/python
BENCH_PYTORCH_ARGS ?= --threads 2 --steps 3 --rounds 3
.venv-bench/bin/python:
	python3 -m venv .venv-bench
	.venv-bench/bin/python -m pip install --quiet torch==2.11.0 numpy

bench-pytorch: build $(if $(filter .venv-bench/bin/python,$(PYTHON)),.venv-bench/bin/python)
	$(PYTHON) scripts/bench_pytorch_small.py --compare $(DNLTS) $(BENCH_PYTORCH_ARGS)
	$(PYTHON) scripts/bench_pytorch_small.py --compare $(DNLTS) $(BENCH_PYTORCH_ARGS) --channels-last

# Re-bless every golden file after an intended change, then print what moved (review the diff!).
# STAGES=1 also replaces the fixed stages of the evaluation layer by a fresh ci run's.
# Training first: with STAGES=1 it replaces the fixed stages the evaluation layer then reads.
GOLDEN_LAYERS := _layer_matches_golden
BLESS := DNLTS_BLESS=1 DNLTS_BLESS_STAGES=$(if $(filter 1,$(STAGES)),1,0) $(WITH_TORCH) cargo test \
	$(CARGO_FLAGS) -p dnlts-suite --test golden
golden:
	INSTA_UPDATE=always $(WITH_TORCH) cargo test $(CARGO_FLAGS) -- --skip $(GOLDEN_LAYERS)
	$(BLESS) -- --nocapture training_layer_matches_golden
	$(BLESS) -- --nocapture evaluation_layer_matches_golden

# The small profile's shipped classifiers, made again with the long recipes: two processes of
# one thread each (I and L, then R, V and A), about 35 min on 2 cores. Each family joins the set
# when it is done; `--resume` (ARGS=--resume) continues a stopped run. Review the manifest's diff
# before committing it (docs/experiments/shipped-classifiers.md).
SHIP := $(DNLTS) ship-classifiers --profile small --set fixtures/classifiers/small --threads 1 $(ARGS)
classifiers: build
	$(SHIP) --families I,L --out results/ship-small-1 & first=$$!; \
	$(SHIP) --families R,V,A --out results/ship-small-2; second=$$?; \
	wait $$first && exit $$second

# Mutation testing (cargo-mutants, pinned, installed on first use; settings in
# .cargo/mutants.toml). Not part of `make test`: each mutant rebuilds the metrics crate
# (`dnlts-metrics`) and its tests. Results in mutants.out/ (caught.txt, missed.txt, …).
# MUTANTS_ARGS="--file src/metrics/rrc.rs" narrows a run.
MUTANTS_ARGS ?=
BASE ?= main
mutants:
	scripts/with-cargo-mutants.sh $(MUTANTS_ARGS)

# Only the mutants on lines this branch changed since it left BASE (`git diff BASE...`).
mutants-diff:
	mkdir -p $(TARGET_DIR)
	git diff $(BASE)... > $(TARGET_DIR)/mutants.diff
	scripts/with-cargo-mutants.sh --in-diff $(CURDIR)/$(TARGET_DIR)/mutants.diff $(MUTANTS_ARGS)

clean:
	cargo clean
