"""deepcoder_lib: the helper library behind the deepcoder notebooks. This file only re-exports.

Modules (one concept each), imported lazily so ``import deepcoder_lib`` stays instant:
prepare (embedded model -> cache folder), models (load), catalog (sizes, memory), doctor,
tokens and playground (notebook 01), generation and stepper (02/03), sampling, plots and
explorer (04), sandbox, webcheck and evaluation (05), adapters (06), exercises (checks);
bpe, search and loss (the draft notebooks on BPE, decoding as search, logits and loss).
"""
import importlib

__version__ = "0.1.0"
__all__ = ["adapters", "bpe", "catalog", "doctor", "evaluation", "exercises", "explorer", "generation", "loss",
           "models", "playground", "plots", "prepare", "sampling", "sandbox", "search", "stepper", "tokens", "webcheck"]


def __getattr__(name):
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
