"""deepcoder_lib: the helper library behind the deepcoder notebooks. This file only re-exports.

Modules (one concept each), imported lazily so ``import deepcoder_lib`` stays instant:
prepare (embedded model -> cache folder), models (load; the course-wide checkpoint), course (the device rule),
catalog (sizes, memory), twins (architecture twins), doctor, torchbuild, tokens and playground (notebook 01), bpe
(02), generation (03-05), stepper (05), search (06), sampling and plots (07), livechart and explorer (08), progress
(token counts while generate runs: 08, 19), sandbox, extract and webcheck (09), evaluation, evaluation_cli, passk
and humaneval (10), loss (12), adapters, lora_configs (13), bottleneck (14), fim and fim_tasks (17), format_machines,
constrained and constrained_results (18), examples, public_run and rerank (19), exercises (checks). Grading: judge
(the verdict) and judge_runtime (the code inside its sandboxed processes).
The model interface: interface (the protocol every helper uses), local (a transformers model behind it, and
``answerer``, the one place that tells a local model from a server), server (a class server behind it, through the
openai client); below them prompts (request -> messages), decoding (one settings object), inputs (text -> model
inputs) and checks (argument checks).
"""
import importlib

__version__ = "0.1.0"
__all__ = ["adapters", "bottleneck", "bpe", "catalog", "chartpixels", "checks", "constrained", "constrained_results",
           "course", "decoding", "doctor", "evaluation", "evaluation_cli", "examples", "exercises", "explorer",
           "extract", "fim", "fim_tasks", "format_machines", "generation", "humaneval", "inputs", "interface", "judge",
           "judge_runtime", "launch", "livechart", "local", "logs", "lora_configs", "loss", "models", "passk",
           "playground", "plots", "prepare", "progress", "prompts", "public_run", "rerank", "sampling", "sandbox",
           "search", "server", "stepper", "tokens", "torchbuild", "twins", "webcheck"]


def __getattr__(name):
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
