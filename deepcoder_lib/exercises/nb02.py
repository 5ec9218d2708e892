"""Checks for notebook 02 (loading models): count parameters, bytes per dtype, will it fit.

Each check computes the true answer from the prepared checkpoint or the catalog and says what
was wrong and why.
"""
from __future__ import annotations

from .. import catalog
from . import CheckResult, failed, passed

GB = 10 ** 9  # laptops are sold in decimal gigabytes; catalog.GIB is 2**30


def _number(value, what: str, example: str) -> int | float | CheckResult:
    if value is ...:
        return failed(f"Replace `...` in {what} with your answer, then run the cell again.")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return failed(f"{what} must be a number such as {example}, got {value!r}.")
    return value


def check_param_count(model, n_params) -> CheckResult:
    """``n_params`` should be the model's parameter count (tied embeddings counted once)."""
    n_params = _number(n_params, "`n_params`", "134_000_000")
    if isinstance(n_params, CheckResult):
        return n_params
    true = sum(p.numel() for p in model.parameters())
    if n_params == true:
        return passed(f"Right: {true:,} parameters. model.parameters() yields the tied embedding matrix once, "
                      "although it serves as both input embedding and output layer.")
    if n_params == true + model.get_input_embeddings().weight.numel():
        return failed("You counted the embedding matrix twice: input embedding and lm_head are the same tensor "
                      "(tie_word_embeddings=True). Sum p.numel() over model.parameters().")
    return failed(f"{n_params:,} is not it. Sum p.numel() for p in model.parameters().")


def check_weight_bytes(n_bytes, dtype: str = "bfloat16",
                       checkpoint: str = "HuggingFaceTB/SmolLM2-135M-Instruct") -> CheckResult:
    """``n_bytes``: bytes the weights of ``checkpoint`` take in ``dtype`` (parameters x bytes per parameter)."""
    n_bytes = _number(n_bytes, "`n_bytes`", "270_000_000")
    if isinstance(n_bytes, CheckResult):
        return n_bytes
    true = catalog.estimate_memory(checkpoint, dtype)
    per = catalog.BYTES_PER_PARAM[catalog.normalize_dtype(dtype)]
    if abs(n_bytes - true) <= 0.01 * true:
        return passed(f"Right: {catalog.info(checkpoint).params:,} x {per:g} bytes = {true:,} bytes "
                      f"({true / catalog.GIB:.2f} GiB) in {dtype}.")
    ratio = n_bytes / true if true else 0
    hint = {2.0: "That is float32 (4 bytes); bfloat16 takes 2.", 0.5: "Too small by half: 2 bytes, not 1.",
            8.0: "Bits vs bytes: a bfloat16 number is 16 bits = 2 bytes."}.get(round(ratio, 1), "")
    return failed(f"{n_bytes:,} is not it (off by x{ratio:.2f}). {hint} Multiply the parameter count by the "
                  f"bytes per parameter of {dtype} ({per:g}).")


def check_will_it_fit(answer, checkpoint: str = "deepseek-ai/DeepSeek-Coder-V2-Lite-Instruct",
                      dtype: str = "bfloat16", ram_gb: float = 8) -> CheckResult:
    """``answer`` (True/False): do the weights of ``checkpoint`` in ``dtype`` fit in ``ram_gb`` GB of RAM?"""
    if answer is ...:
        return failed("Replace `...` with True or False, then run the cell again.")
    if answer not in (True, False):
        return failed(f"`answer` must be True or False, got {answer!r}.")
    need = catalog.estimate_memory(checkpoint, dtype)
    c = catalog.info(checkpoint)
    fits = need < ram_gb * GB
    why = (f"{c.params / 1e9:.1f}B parameters x {catalog.BYTES_PER_PARAM[catalog.normalize_dtype(dtype)]:g} bytes "
           f"= {need / GB:.1f} GB of weights alone, against {ram_gb:g} GB of RAM (shared with the system).")
    if c.active_params < c.params:
        why += (f" Only {c.active_params / 1e9:.1f}B parameters are active per token, but a mixture-of-experts "
                "model must keep every expert in memory: memory follows the total, speed the active count.")
    if bool(answer) == fits:
        return passed(("Right, it fits: " if fits else "Right, it does not fit: ") + why)
    return failed(("It does fit: " if fits else "It does not fit: ") + why)
