"""Choosing a LoRA adapter's settings, and grading an adapter with tests instead of by eye.

The maths of LoRA's knobs as small pure functions: the scale ``lora_alpha / r`` (``/ sqrt(r)`` with
rsLoRA), the trainable-parameter count ``r * (in + out)`` per targeted layer, and the extra work an
*unmerged* adapter does per token (two thin matmuls per targeted layer). Then the grading of held-out
requests: the answer-token loss on reference answers, the house-style rule, and the answer's first
function run against tests in the course's sandbox (``evaluation.check_answer``).
``adapters.py`` attaches, trains, saves and loads adapters; this module compares configurations.
"""
from __future__ import annotations

import ast
import json
import math
from pathlib import Path

from .checks import positive_int, positive_number

HELD_OUT_PATH = Path(__file__).parent / "data" / "lora_held_out.json"
ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj")           # Llama / Qwen / SmolLM2 attention projections
MLP = ("gate_proj", "up_proj", "down_proj")
ALL_LINEAR = ATTENTION + MLP                                   # peft's "all-linear": every linear layer but lm_head


def lora_scaling(r: int, lora_alpha: float, use_rslora: bool = False) -> float:
    """The factor in front of ``B A x``: ``lora_alpha / r`` (peft's default) or ``lora_alpha / sqrt(r)`` (rsLoRA)."""
    positive_int(r, "r", "it is the rank; 4 to 16 is typical")
    positive_number(lora_alpha, "lora_alpha", "2 * r is a common choice")
    return lora_alpha / (math.sqrt(r) if use_rslora else r)


def target_shapes(model, target_modules) -> list[tuple[int, int]]:
    """``(in_features, out_features)`` of every linear layer whose last name part is in ``target_modules``.

    Works on a plain model and on one peft has wrapped (its LoRA layers hold the original as ``base_layer``).
    """
    import torch
    names = {target_modules} if isinstance(target_modules, str) else set(target_modules)
    layers = [getattr(m, "base_layer", m) for name, m in model.named_modules() if name.rsplit(".", 1)[-1] in names]
    shapes = [(m.in_features, m.out_features) for m in layers if isinstance(m, torch.nn.Linear)]
    if not shapes:
        raise ValueError(f"`target_modules` {sorted(names)} match no linear layer of this {type(model).__name__}; "
                         "adapters.linear_layer_names(model) lists the names it has")
    return shapes


def lora_parameter_count(shapes: list[tuple[int, int]], r: int) -> int:
    """Trainable parameters of rank-``r`` LoRA on layers of these shapes: A is (r, in), B is (out, r)."""
    lora_scaling(r, 1)  # validates r
    return sum(r * (d_in + d_out) for d_in, d_out in shapes)


def extra_flops_per_token(shapes: list[tuple[int, int]], r: int) -> dict:
    """Multiply-adds x 2 per token: the frozen layers (``2 in out``) and an unmerged adapter's ``2 r (in + out)``.

    After ``merge_and_unload`` the adapter's part is 0: ``W + scale B A`` has W's shape.
    """
    base = sum(2 * d_in * d_out for d_in, d_out in shapes)
    extra = 2 * lora_parameter_count(shapes, r)
    return {"base": base, "adapter": extra, "percent": 100 * extra / base, "extra_matmuls": 2 * len(shapes)}


def load_held_out(path: str | Path = HELD_OUT_PATH) -> list[dict]:
    """The held-out requests of the LoRA dataset with a reference answer and tests each."""
    return json.loads(Path(path).read_text(encoding="utf-8"))["held_out"]


def first_function(code: str) -> str | None:
    """Name of the first top-level ``def`` in ``code`` (None if there is none or the code does not parse)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    return next((node.name for node in tree.body if isinstance(node, ast.FunctionDef)), None)


def grade_answer(answer: str, tests: list[str], *, timeout: float = 10.0):
    """Run ``tests`` (which call ``f``) on the answer's first function, in the sandbox; an ``evaluation.Outcome``."""
    from .evaluation import Outcome, check_answer
    from .sandbox import extract_code
    try:
        name = first_function(extract_code(answer))
    except ValueError as err:
        return Outcome(False, "no_code", str(err))
    if name is None:
        return Outcome(False, "no_code", "the answer's code defines no function (or does not parse)")
    task = {"name": "held_out", "kind": "python", "tests": [f"f = {name}", *tests]}
    outcome = check_answer(task, answer, timeout=timeout)
    if outcome.passed:  # check_answer counted the `f = name` line as a test
        outcome.reason = f"all {len(tests)} tests passed on {name}()"
    return outcome


def answer_loss(model, tokenizer, rows: list[dict]) -> float:
    """Mean cross-entropy (nats per answer token) of the reference ``response`` after each ``request``.

    The prompt is chat-formatted as in training (``adapters.build_examples``); every answer token counts
    once, so long answers weigh more than short ones, as in one batch of training.
    """
    import torch
    from .adapters import build_examples
    from .inputs import input_device
    total, count, device = 0.0, 0, input_device(model)  # the course's one device rule: where the embeddings are
    with torch.no_grad():
        for example in build_examples(tokenizer, rows):
            ids, labels = (torch.tensor([example[k]], device=device) for k in ("input_ids", "labels"))
            n = int((labels[0, 1:] != -100).sum())  # transformers shifts: label t is predicted at t - 1
            total += model(input_ids=ids, labels=labels).loss.item() * n
            count += n
    return total / count
