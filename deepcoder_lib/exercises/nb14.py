"""Instant check for notebook 14 (adapters in practice): ``check_extra_work`` asks what an unmerged adapter adds
to every generated token. Returns a CheckResult.
"""
from __future__ import annotations

from .. import lora_configs
from . import CheckResult, as_number, failed, passed


def check_extra_work(model, answer, r: int = 16, targets=("gate_proj", "up_proj", "down_proj")) -> CheckResult:
    """Multiply-adds per generated token that an unmerged LoRA of rank ``r`` on ``targets`` adds, over all layers."""
    answer = as_number(answer, "`extra_multiply_adds`", "1234567", whole=True)
    if isinstance(answer, CheckResult):
        return answer
    shapes = lora_configs.target_shapes(model, targets)
    expected = lora_configs.lora_parameter_count(shapes, r)
    frozen = sum(d_in * d_out for d_in, d_out in shapes)
    why = (f"{len(shapes)} layers x {r} x (in + out): A x costs r*in, B (A x) costs out*r multiply-adds "
           f"(as many as the adapter has parameters), against {frozen:,} for the frozen W x of those layers "
           f"({100 * expected / frozen:.1f}%).")
    if answer == expected:
        return passed(f"Right: {expected:,}. " + why)
    if answer == 2 * expected:
        return failed("That counts FLOPs (a multiply and an add each): the question asks multiply-adds.")
    if answer == frozen or answer == 2 * frozen:
        return failed("That is what the frozen weights W of those layers cost; the question asks what the "
                      "adapter adds beside them.")
    per_layer = {expected // n for n in (len(shapes), len(shapes) // max(len(targets), 1)) if n}
    if answer in per_layer:
        return failed(f"{answer:,} is too few: count every targeted layer in every decoder block "
                      f"({len(shapes)} layers in all).")
    if answer in (expected * 8 // r, expected * 2 // r * 4):
        return failed(f"Check the rank: the question asks r={r}.")
    if answer == sum(r * r * 2 for _ in shapes) or answer == sum(r * d_in * d_out for d_in, d_out in shapes):
        return failed("A has shape (r, in) and B (out, r): A x costs r x in, B (A x) costs out x r.")
    return failed(f"Not {answer:,}. For each targeted layer, A x costs r x in multiply-adds and B (A x) costs "
                  "out x r; read in and out of gate_proj, up_proj and down_proj from the model "
                  "(print(model.model.layers[0].mlp)) and count every decoder block.")
