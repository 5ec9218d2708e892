"""Instant checks for notebook 13 (LoRA adapters): how many parameters LoRA trains. Each returns a CheckResult.

The expected count comes from the learner's own model (its layer shapes), so the check holds on any checkpoint.
"""
from __future__ import annotations

from .. import lora_configs
from . import CheckResult, as_number, failed, passed

MLP_TARGETS = ("gate_proj", "up_proj")


def check_lora_params(model, answer, r: int = 4, targets=MLP_TARGETS) -> CheckResult:
    """How many parameters does LoRA of rank ``r`` on ``targets`` (every decoder block) train in ``model``?"""
    answer = as_number(answer, "`lora_mlp_params`", "123456", whole=True)
    if isinstance(answer, CheckResult):
        return answer
    shapes = lora_configs.target_shapes(model, targets)
    expected = lora_configs.lora_parameter_count(shapes, r)
    blocks = len(shapes) // len(targets)
    total = sum(p.numel() for p in model.parameters())
    d_in, d_out = shapes[0]
    if answer == expected:
        return passed(f"Right: {blocks} blocks x {len(targets)} layers x {r} x ({d_in} + {d_out}) = {expected:,} "
                      f"trainable parameters, {100 * expected / total:.2f}% of the model.")
    if answer in (expected // blocks, expected // len(shapes)):
        return failed(f"{answer:,} is one block's (or one layer's) worth: the adapter sits in all {blocks} blocks.")
    if answer == sum(d_i * d_o for d_i, d_o in shapes) or answer == d_in * d_out * len(shapes):
        return failed("That is the size of the frozen weight matrices W themselves; LoRA trains A (r x in) "
                      "and B (out x r) beside each one.")
    if answer in (expected * 2, expected // 2, expected * 4):
        return failed(f"Check the rank: the question asks r={r}.")
    if answer in (len(shapes) * r * d_in, len(shapes) * r * d_out, len(shapes) * r * d_in * 2):
        return failed("Count both matrices: A has r x in_features parameters and B has out_features x r.")
    return failed(f"Not {answer:,}. Per targeted layer LoRA adds A with shape (r, in_features) and B with shape "
                  f"(out_features, r); read in and out of {' and '.join(targets)} from the model and count every "
                  "decoder block.")
