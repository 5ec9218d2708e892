"""Checks for notebook 11 (big models): does a checkpoint fit in this machine's free RAM, the weights of a
mixture of experts.

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


def check_moe_memory(answer_gib, checkpoint: str = "deepseek-ai/DeepSeek-Coder-V2-Lite-Instruct",
                     dtype: str = "bfloat16") -> CheckResult:
    """GiB needed for the weights of ``checkpoint`` in ``dtype`` (weights alone)."""
    answer_gib = as_number(answer_gib, "`answer_gib`", "12.5 (GiB)")
    if isinstance(answer_gib, CheckResult):
        return answer_gib
    c = catalog.info(checkpoint)
    expected = catalog.estimate_memory(checkpoint, dtype) / catalog.GIB
    if abs(answer_gib - expected) <= 0.05 * expected:
        return passed(f"Right: {c.params:,} parameters x {catalog.BYTES_PER_PARAM[dtype]:g} bytes = "
                      f"{expected:.1f} GiB, before the KV cache and activations.")
    active = c.active_params * catalog.BYTES_PER_PARAM[dtype] / catalog.GIB
    if abs(answer_gib - active) <= 0.05 * active:
        return failed(f"{answer_gib:.1f} GiB counts only the {c.active_params / 1e9:.1f}B *active* parameters. "
                      "A mixture-of-experts model must keep every expert in memory, because the router picks "
                      "different experts for every token: use the total parameter count.")
    gb = c.params * catalog.BYTES_PER_PARAM[dtype] / 1e9
    if abs(answer_gib - gb) <= 0.01 * gb:
        return failed(f"{answer_gib:.1f} is in GB (10^9 bytes); the question asks GiB (2^30 bytes).")
    return failed(f"Not {answer_gib}. Use catalog.info(checkpoint).params (total parameters) x bytes per "
                  f"parameter for {dtype} ({catalog.BYTES_PER_PARAM[dtype]:g}), divided by 2**30.")
