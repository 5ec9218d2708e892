"""deepcoder_lib: the helper library behind the deepcoder notebooks. This file only re-exports.

Modules (one concept each), imported lazily so ``import deepcoder_lib`` stays instant:
prepare (embedded model -> cache folder), models (load; the course-wide checkpoint), course (the device),
catalog (sizes, memory), twins (architecture twins), doctor, tokens and playground (notebook 01), bpe (02),
generation (03-05), stepper (05), search (06), sampling and plots (07), livechart and explorer (08), sandbox and
webcheck (09), evaluation, passk and humaneval (10), loss (12), adapters (13), bottleneck (14), server and
server_course (15), exercises (checks).
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
