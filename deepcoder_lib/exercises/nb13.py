"""Instant checks for notebook 13 (LoRA adapters): how many parameters LoRA trains. Each returns a CheckResult."""
from __future__ import annotations

from .. import catalog
from . import CheckResult, failed, passed

SMOLLM2 = {"layers": 30, "hidden": 576, "kv_out": 3 * 64}  # q_proj: 576 -> 576, v_proj: 576 -> 192


def lora_param_count(r: int, layers: int = 30, hidden: int = 576, kv_out: int = 192) -> int:
    """Trainable parameters of LoRA rank ``r`` on q_proj and v_proj: per layer r*(in+out) for each."""
    return layers * (r * (hidden + hidden) + r * (hidden + kv_out))


def check_lora_params(answer, r: int = 4) -> CheckResult:
    """How many parameters does LoRA with rank ``r`` on q_proj and v_proj train in SmolLM2-135M?"""
    expected = lora_param_count(r)
    if answer is None or isinstance(answer, bool) or not isinstance(answer, (int, float)):
        return failed(f"Give a number (an int), got {answer!r}.")
    if answer == expected:
        return passed(f"Right: 30 layers x ({r}x(576+576) + {r}x(576+192)) = {expected:,} trainable parameters, "
                      f"{100 * expected / catalog.info('smollm2').params:.2f}% of the model.")
    if answer == expected // 30:
        return failed(f"{answer:,} is one layer's worth: the adapter sits in all 30 layers.")
    if answer == 30 * r * (576 + 576) * 2:
        return failed("v_proj is smaller than q_proj: SmolLM2 has 3 key/value heads of 64, so v_proj maps "
                      "576 -> 192, not 576 -> 576.")
    if answer == 30 * 2 * 576 * 576 or answer == 30 * (576 * 576 + 576 * 192):
        return failed("That is the size of the frozen weight matrices W themselves; LoRA trains A (r x in) "
                      "and B (out x r) beside each one.")
    return failed(f"Not {answer:,}. Per targeted layer LoRA adds A with shape (r, in_features) and B with shape "
                  "(out_features, r); q_proj is 576 -> 576, v_proj 576 -> 192; 30 layers.")
