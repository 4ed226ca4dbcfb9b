# lsrconv: build, test, demo.  `make help` lists the targets.
#
# Everything a target needs is installed by the target itself: the Debian -dev packages
# (`deps`, with sudo when not root) and, for the interop check, a Python venv with pinned
# safetensors + numpy (.venv-interop/).  Override any variable on the command line, e.g.
#   make test BUILD_DIR=.build-ci        make interop-light LSRCONV=.build/release/lsrconv

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

SWIFT ?= swift
PYTHON ?= python3
BUILD_DIR ?= .build
SWIFT_BUILD_FLAGS ?=
# swift-testing already runs tests in parallel in one process; --parallel only affects XCTest,
# which this package does not use, so it is left out and XCTest's empty run is skipped.
SWIFT_TEST_FLAGS ?= --disable-xctest
# A hung test must not hang CI: the whole `swift test` process group is killed after this long.
TEST_TIMEOUT ?= 1200
# A `swift test --filter` regex; empty runs every test.
SWIFT_TEST_FILTER ?=
# The suites whose results come from BLAS (or LAPACK) arithmetic: `make test` runs them a second
# time under another OpenBLAS core (`lsrconv env`'s contrasting_core), so that an assertion that
# holds only under one kernel's rounding fails on every machine, not only on a stranger's.
NUMERIC_TESTS := ^(LSREngineTests|LSRAdaptersTests|LSRModelTests\.ForwardParityTests|LSRTrainTests\.(LearningTests|TrajectoryTests)|LSRCommandsTests\.(ConvertAdapterCommandTests|DistributedTrainTests|EnvCommandTests|ExportCommandTests|FreshHeadCommandTests|MergeCommandTests|PredictCommandTests|ResumeCommandTests|TrainCommandTests))

DEBUG_BIN := $(BUILD_DIR)/debug/lsrconv
RELEASE_BIN := $(BUILD_DIR)/release/lsrconv
LSRCONV ?= $(DEBUG_BIN)

APT_PACKAGES := libopenblas-dev zlib1g-dev libjson-c-dev pkg-config openmpi-bin libopenmpi-dev
PKG_CONFIG_MODULES := openblas zlib json-c
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

VENV := .venv-interop
INTEROP_REQUIREMENTS := Tests/interop/requirements.txt
INTEROP_STAMP := $(VENV)/requirements.installed

DEMO_OUT := out/demo
# Open MPI refuses root without --allow-run-as-root; --oversubscribe lets 2 ranks run on 1 core.
MPIRUN_FLAGS := --oversubscribe $(if $(filter 0,$(shell id -u)),--allow-run-as-root,)

TORCH_VENV := .venv-gen
TORCH_REQUIREMENTS := Fixtures/generate/requirements.txt
TORCH_STAMP := $(TORCH_VENV)/requirements.installed

# `make fuzz`: libFuzzer + ASan harnesses under Fuzz/, each run FUZZ_SECONDS (README "Fuzzing").
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
FUZZ_BUILD_DIR ?= .build-fuzz

.PHONY: help deps build debug test fuzz swift-test swift-test-other-core interop interop-light venv venv-torch bench demo schemas readme clean distclean

help:
	@echo "make build      release build (deps first): $(RELEASE_BIN)"
	@echo "make debug      debug build with the test bundle: $(DEBUG_BIN)"
	@echo "make test       debug build, swift test, the numeric suites again under another OpenBLAS core,"
	@echo "                then the light interop check (safetensors, numpy, jsonschema)"
	@echo "make interop    light + heavy interop: transformers/PEFT load what merge/export write (venv with torch, ~6 GB)"
	@echo "make interop-light / interop-torch  one half (LSRCONV=path, default $(DEBUG_BIN))"
	@echo "make schemas    regenerate Sources/LSRCommands/BundledSchemas.swift from schemas/"
	@echo "make demo       release build, then the whole pipeline on the bundled fixtures (the README's walk-through)"
	@echo "make readme     rewrite README.md's command reference from --help and its walk-through from examples/"
	@echo "make bench      forward pass and LSR train step, lsrconv beside PyTorch (venv with torch: $(TORCH_VENV)/, ~6 GB);"
	@echo "                one of them: make bench BENCH=forward, make bench BENCH=train;"
	@echo "                make bench BENCH=data-parallel: 1 rank, 2 MPI ranks (1 thread each), 1 process × 2 threads"
	@echo "make fuzz       build the libFuzzer+ASan harnesses (Fuzz/) and run each for FUZZ_SECONDS (default 60);"
	@echo "                fails on any crash, leak, timeout or OOM. FUZZ_TARGETS=\"zip pickle\" picks some"
	@echo "                (safetensors zip pickle json torch-legacy schema tokenizer charsmap dataset); inputs: $(FUZZ_BUILD_DIR)/fuzz/<target>/artifacts/"
	@echo "make deps       install missing Debian packages: $(APT_PACKAGES)"
	@echo "make clean      remove build products and out/ (keeps fetched dependencies)"
	@echo "make distclean  also remove $(BUILD_DIR)/ and $(VENV)/"

# Installs only what is missing; runs apt-get update once, and only then.
deps:
	@if command -v dpkg-query >/dev/null 2>&1; then \
	    missing=""; \
	    for p in $(APT_PACKAGES); do \
	        dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q ' installed$$' || missing="$$missing $$p"; \
	    done; \
	    if [ -n "$$missing" ]; then \
	        echo "deps: installing$$missing"; \
	        $(SUDO) apt-get update -qq; \
	        $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	    fi; \
	elif ! pkg-config --exists $(PKG_CONFIG_MODULES) 2>/dev/null; then \
	    echo "error: no dpkg here and pkg-config cannot find: $(PKG_CONFIG_MODULES)" >&2; \
	    echo "       install OpenBLAS, zlib and json-c development files and pkg-config" >&2; \
	    exit 1; \
	fi

build: deps
	$(SWIFT) build -c release --scratch-path $(BUILD_DIR) $(SWIFT_BUILD_FLAGS)

debug: deps
	$(SWIFT) build --build-tests --scratch-path $(BUILD_DIR) $(SWIFT_BUILD_FLAGS)

# Runs every part even when one fails, then fails if any did.
test: debug
	@status=0; \
	$(MAKE) --no-print-directory swift-test || status=1; \
	$(MAKE) --no-print-directory swift-test-other-core || status=1; \
	$(MAKE) --no-print-directory interop-light LSRCONV=$(DEBUG_BIN) || status=1; \
	if [ $$status -eq 0 ]; then echo "make test: all passed"; else echo "make test: FAILED (see above)"; fi; \
	exit $$status

# swift-testing prints a "started" line per test; only results are kept.
swift-test:
	timeout $(TEST_TIMEOUT) $(SWIFT) test --skip-build --scratch-path $(BUILD_DIR) $(SWIFT_TEST_FLAGS) \
	    $(if $(SWIFT_TEST_FILTER),--filter '$(SWIFT_TEST_FILTER)') 2>&1 \
	    | sed -u '/^◇ .* started\.$$/d' \
	    || { rc=$$?; [ $$rc -ne 124 ] || echo "error: swift test still running after $(TEST_TIMEOUT) s: stopped" >&2; exit $$rc; }

# The numeric suites under a core whose sgemm rounds differently from the one the binary runs:
# Haswell where it runs an AVX-512 core, SkylakeX where the CPU has AVX-512 and it runs less,
# Sandybridge (no FMA) on an AVX2-only CPU (BLASKernels.contrastingCore). Issue 14.
swift-test-other-core:
	@core=$$($(DEBUG_BIN) env --json | $(PYTHON) -c 'import json, sys; print(json.load(sys.stdin)["blas"]["contrasting_core"])') || exit 1; \
	echo "make test: the numeric suites again, under OPENBLAS_CORETYPE=$$core"; \
	OPENBLAS_CORETYPE=$$core $(MAKE) --no-print-directory swift-test SWIFT_TEST_FILTER='$(NUMERIC_TESTS)'

# (Re)creates the venv when it is missing or requirements.txt differs from what it was built from.
venv:
	@if ! cmp -s $(INTEROP_REQUIREMENTS) $(INTEROP_STAMP); then \
	    echo "interop: creating $(VENV)/ from $(INTEROP_REQUIREMENTS)"; \
	    rm -rf $(VENV); \
	    $(PYTHON) -m venv $(VENV) || { echo "error: '$(PYTHON) -m venv' failed (Debian/Ubuntu: apt-get install python3-venv)" >&2; exit 1; }; \
	    $(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r $(INTEROP_REQUIREMENTS); \
	    cp $(INTEROP_REQUIREMENTS) $(INTEROP_STAMP); \
	fi

# The light check, run by `make test` (no PyTorch): what lsrconv writes read by safetensors,
# numpy and python-jsonschema.
interop-light: venv
	@test -x $(LSRCONV) || { echo "error: $(LSRCONV) not built (make debug)" >&2; exit 1; }
	$(VENV)/bin/python Tests/interop/check_safetensors.py $(LSRCONV)
	$(VENV)/bin/python Tests/interop/check_schemas.py $(LSRCONV)

# The heavy interop check (torch, transformers, peft in $(TORCH_VENV)/): merged models through
# from_pretrained, PEFT exports through PeftModel.from_pretrained, PEFT-made LoRA through
# convert-adapter (Tests/interop/check_torch.py).
.PHONY: interop-torch
interop-torch: venv-torch
	@test -x $(LSRCONV) || { echo "error: $(LSRCONV) not built (make debug)" >&2; exit 1; }
	$(TORCH_VENV)/bin/python Tests/interop/check_torch.py $(LSRCONV)

# Both checks (DESIGN: CI never needs PyTorch; `make interop` does).
interop: interop-light interop-torch

# The pipeline: read (safetensors, PyTorch, fairseq), tokenize, predict; then import the
# learning task's .bin (Fixtures/learning), train an LSR adapter on it, eval, inspect and
# validate it, train it again on 2 MPI ranks (where Open MPI is installed), merge it, export
# it for PEFT, predict with the merged model.
demo: build
	$(RELEASE_BIN) inspect Fixtures/tiny-roberta
	$(RELEASE_BIN) import Fixtures/tiny-roberta/model.safetensors --out $(DEMO_OUT)/tiny-roberta --force
	$(RELEASE_BIN) import Fixtures/torch/zip/pytorch_model.bin --out $(DEMO_OUT)/from-torch --force
	$(RELEASE_BIN) import Fixtures/torch/fairseq/model.pt --out $(DEMO_OUT)/from-fairseq --force
	$(RELEASE_BIN) tokenize --tokenizer $(DEMO_OUT)/tiny-roberta --text "LSR adapters, on the CPU."
	$(RELEASE_BIN) predict --model $(DEMO_OUT)/tiny-roberta --text "A fine film." --pair "I liked it."
	$(RELEASE_BIN) import Fixtures/learning/model/pytorch_model.bin --out $(DEMO_OUT)/order-model --force
	@echo "demo: the README's walk-through (examples/roberta-to-classifier.sh), from a pretrained checkpoint without a head"
	LSRCONV=$(RELEASE_BIN) BASE=Fixtures/pretrained-mlm TRAIN=Fixtures/learning/train.jsonl DEV=Fixtures/learning/dev.jsonl \
	    LABELS=ordered,reversed TEXT="map open leaf close bird bus" WORK=$(DEMO_OUT)/walkthrough \
	    TRAIN_FLAGS="--epochs 6 --lr 1e-2 --batch-size 16 --warmup-ratio 0.1 --separation-rank 4" \
	    sh examples/roberta-to-classifier.sh
	@if command -v mpirun >/dev/null && ldd $(RELEASE_BIN) | grep -q libmpi; then \
	    echo "demo: the same training on 2 MPI ranks (8 rows each per update)"; \
	    mpirun $(MPIRUN_FLAGS) -np 2 $(RELEASE_BIN) train --model $(DEMO_OUT)/walkthrough/base --train Fixtures/learning/train.jsonl \
	        --eval Fixtures/learning/dev.jsonl --labels ordered,reversed --out $(DEMO_OUT)/adapter-mpi --epochs 6 --lr 1e-2 --batch-size 8 \
	        --warmup-ratio 0.1 --separation-rank 4 --force; \
	else echo "demo: no mpirun or lsrconv built without MPI: the 2-rank training is left out (make deps installs Open MPI)"; fi
	$(RELEASE_BIN) inspect $(DEMO_OUT)/walkthrough/adapter
	$(RELEASE_BIN) predict --model $(DEMO_OUT)/walkthrough/classifier --text "leaf close sun bird hat open"

# README.md's command reference (each command's --help) and walk-through (the script), rewritten
# from the debug binary and examples/; ReadmeTests fails while they differ.
readme: debug
	LSRCONV_UPDATE_README=1 $(MAKE) swift-test SWIFT_TEST_FILTER=ReadmeTests

# The PyTorch venv (pinned as the fixture generator pins it): fixtures, benchmarks.
venv-torch:
	@if ! cmp -s $(TORCH_REQUIREMENTS) $(TORCH_STAMP); then \
	    echo "creating $(TORCH_VENV)/ from $(TORCH_REQUIREMENTS) (torch, transformers, peft: a few minutes)"; \
	    rm -rf $(TORCH_VENV); \
	    $(PYTHON) -m venv $(TORCH_VENV); \
	    $(TORCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r $(TORCH_REQUIREMENTS); \
	    cp $(TORCH_REQUIREMENTS) $(TORCH_STAMP); \
	fi

# Side-by-side timings (BENCH: forward, train, data-parallel); results in out/bench/forward.json,
# out/bench/train.json and out/bench/data-parallel.json, the tables on stdout. Not a test: nothing fails on a missed target.
BENCH ?= forward train data-parallel
bench: deps venv-torch
	$(SWIFT) build -c release --scratch-path $(BUILD_DIR) --product lsrbench $(SWIFT_BUILD_FLAGS)
	$(SWIFT) build -c release --scratch-path $(BUILD_DIR) --product lsrconv $(SWIFT_BUILD_FLAGS)
	$(TORCH_VENV)/bin/python bench/run.py --lsrbench $(BUILD_DIR)/release/lsrbench --bench "$(BENCH)"

# After editing schemas/*.schema.json: regenerate the copies compiled into the binary.
schemas:
	$(PYTHON) schemas/bundle.py .

clean:
	$(SWIFT) package clean --scratch-path $(BUILD_DIR)
	rm -rf out

distclean: clean
	rm -rf $(BUILD_DIR) $(VENV)

fuzz: deps
	SWIFT=$(SWIFT) FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_BUILD_DIR=$(FUZZ_BUILD_DIR) Fuzz/run.sh $(FUZZ_TARGETS)
