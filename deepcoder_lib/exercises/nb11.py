"""Checks for notebook 11 (big models): does a checkpoint fit in this machine's free RAM, and how many GPUs a
mixture of experts needs.

Each check computes the true answer itself (from the catalog or this machine's free RAM) and says what was
wrong and why.
"""
from __future__ import annotations

from .. import catalog
from . import CheckResult, as_number, failed, passed

FITS_CHECKPOINT = "Qwen/Qwen2-0.5B-Instruct"
HEADROOM = 1.2  # the working room models.check_fits and notebook 11 add on top of the weights



def check_fits_here(qwen_fp32_fits, free_here, checkpoint: str = FITS_CHECKPOINT, dtype: str = "float32") -> CheckResult:
    """``free_here``: this machine's free RAM as psutil reports it; ``qwen_fp32_fits``: do the weights of ``checkpoint``
    in ``dtype``, plus 20% working room, fit in ``free_here``?"""
    import psutil
    free_here = as_number(free_here, "`free_here`", "psutil.virtual_memory().available")
    if isinstance(free_here, CheckResult):
        return free_here
    memory = psutil.virtual_memory()
    gib = catalog.GIB
    if free_here == memory.total:
        return failed(f"{free_here:,} bytes is the machine's total RAM; the system and other programs use part of "
                      "it. Use psutil.virtual_memory().available.")
    if free_here < 1e6 <= memory.available:
        return failed(f"{free_here:g} looks like GiB or GB; give bytes, as psutil does.")
    if not 0.75 * memory.available <= free_here <= 1.25 * memory.available:
        return failed(f"{free_here / gib:.1f} GiB is not this machine's free RAM now: psutil says "
                      f"{memory.available / gib:.1f} GiB available. Measure it with psutil.virtual_memory().available.")
    if qwen_fp32_fits is ... or qwen_fp32_fits not in (True, False):
        return failed(f"`qwen_fp32_fits` must be True or False, got {qwen_fp32_fits!r}.")
    need = catalog.estimate_memory(checkpoint, dtype)
    truth = need * HEADROOM <= free_here
    per = catalog.BYTES_PER_PARAM[catalog.normalize_dtype(dtype)]
    why = (f"{catalog.info(checkpoint).params:,} parameters x {per:g} bytes = {need / gib:.2f} GiB in {dtype}, "
           f"x{HEADROOM} working room = {need * HEADROOM / gib:.2f} GiB, against {free_here / gib:.1f} GiB free here.")
    if bool(qwen_fp32_fits) == truth:
        return passed(("Right, it fits: " if truth else "Right, it does not fit: ") + why)
    return failed(("It does fit: " if truth else "It does not fit: ") + why)


def gpus_needed(checkpoint: str = "deepseek", dtype: str = "4bit", gpu_gb: float = 24, seq_len: int = 4096) -> dict:
    """GPUs of ``gpu_gb`` GB (10^9 bytes) that hold ``checkpoint``'s weights in ``dtype`` plus a ``seq_len``-token
    bf16 KV cache, with notebook 11's 20% working room; and the figures on the way (GiB)."""
    import math
    weights = catalog.estimate_memory(checkpoint, dtype) / catalog.GIB
    kv = catalog.kv_cache_bytes(checkpoint, seq_len, 1, "bfloat16") / catalog.GIB
    per_gpu = gpu_gb * 1e9 / catalog.GIB
    need = (weights + kv) * HEADROOM
    return {"weights": weights, "kv": kv, "need": need, "per_gpu": per_gpu, "gpus": math.ceil(need / per_gpu)}


def check_moe_gpus(answer, checkpoint: str = "deepseek", dtype: str = "4bit", gpu_gb: float = 24) -> CheckResult:
    """How many ``gpu_gb`` GB GPUs hold ``checkpoint`` in ``dtype`` with a 4,096-token KV cache and 20% working room?"""
    import math
    answer = as_number(answer, "`gpus`", "3", whole=True)
    if isinstance(answer, CheckResult):
        return answer
    c = catalog.info(checkpoint)
    n = gpus_needed(checkpoint, dtype, gpu_gb)
    why = (f"{c.params / 1e9:.0f}B parameters x {catalog.BYTES_PER_PARAM[dtype]:g} bytes = {n['weights']:.1f} GiB, "
           f"+ {n['kv']:.2f} GiB of KV cache, x{HEADROOM} = {n['need']:.1f} GiB, over {n['per_gpu']:.1f} GiB per "
           f"{gpu_gb:g} GB GPU = {n['need'] / n['per_gpu']:.2f}, rounded up")
    if answer == n["gpus"]:
        return passed(f"Right: {n['gpus']} GPUs. {why}. device_map=\"auto\" would spread the layers over them.")
    active = catalog.estimate_memory_from_params(c.active_params, dtype) / catalog.GIB
    if answer == math.ceil((active + n["kv"]) * HEADROOM / n["per_gpu"]):
        return failed(f"That holds only the {c.active_params / 1e9:.0f}B *active* parameters. The router picks "
                      "different experts for every token, so every expert must be in memory: use the total.")
    if answer == n["gpus"] - 1:
        return failed("One short: did you leave out the 20% working room, or round down? A part of a GPU is a "
                      "whole GPU.")
    other = {d: gpus_needed(checkpoint, d, gpu_gb)["gpus"] for d in ("bfloat16", "int8")}
    for d, count in other.items():
        if answer == count:
            return failed(f"{count} GPUs is the count for {d}; the question asks {dtype} weights "
                          f"({catalog.BYTES_PER_PARAM[dtype]:g} bytes per parameter).")
    return failed(f"Not {answer}. Add the {dtype} weights of all {c.params / 1e9:.0f}B parameters and the KV cache "
                  f"(both in the table above), add 20% working room, and divide by one GPU's {gpu_gb:g} GB.")
