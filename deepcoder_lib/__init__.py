"""deepcoder_lib: the helper library behind the deepcoder notebooks. This file only re-exports.

Modules (one concept each), imported lazily so ``import deepcoder_lib`` stays instant:
prepare (embedded model -> cache folder), models (load), catalog (sizes, memory), doctor,
tokens and playground (notebook 01), generation and stepper (02/03), sampling, plots, livechart and
explorer (04), sandbox, webcheck, evaluation, passk and humaneval (05), adapters (06), server and
server_course (07), bpe, search and loss (the draft notebooks on BPE, decoding as search and the loss),
exercises (checks).
"""
import importlib

__version__ = "0.1.0"
__all__ = ["adapters", "catalog", "doctor", "evaluation", "evaluation_cli", "exercises", "explorer", "generation",
           "humaneval", "livechart", "models", "passk", "playground", "plots", "prepare", "sampling", "sandbox",
           "stepper", "tokens", "webcheck", "bpe", "search", "loss", "server", "server_course"]


def __getattr__(name):
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
