"""Instant checks for notebook 06 (bigger models and adapters). Each returns a CheckResult."""
from __future__ import annotations

import ast

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


def check_moe_memory(answer_gib, checkpoint: str = "deepseek-ai/DeepSeek-Coder-V2-Lite-Instruct",
                     dtype: str = "bfloat16") -> CheckResult:
    """GiB needed for the weights of ``checkpoint`` in ``dtype`` (weights alone)."""
    c = catalog.info(checkpoint)
    expected = catalog.estimate_memory(checkpoint, dtype) / catalog.GIB
    if not isinstance(answer_gib, (int, float)) or isinstance(answer_gib, bool):
        return failed(f"Give a number of GiB, got {answer_gib!r}.")
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


def _calls(tree) -> list[ast.Call]:
    return sorted((n for n in ast.walk(tree) if isinstance(n, ast.Call)), key=lambda n: (n.lineno, n.col_offset))


def _name(call: ast.Call) -> str:
    return call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")


def check_fixed_snippet(code: str) -> CheckResult:
    """Is the source snippet fixed: adapter kept, generation length set, attention mask passed?"""
    try:
        tree = ast.parse(code)
    except SyntaxError as err:
        return failed(f"The code does not parse: {err.msg} (line {err.lineno}).")
    calls = _calls(tree)
    peft_at = [c.lineno for c in calls if _name(c) == "from_pretrained" and isinstance(c.func, ast.Attribute)
               and getattr(c.func.value, "id", "") == "PeftModel"]
    if not peft_at:
        return failed("Keep the adapter: the snippet must still call PeftModel.from_pretrained(model, adapter).")
    model_loads = [c.lineno for c in calls if _name(c) == "from_pretrained"
                   and getattr(getattr(c.func, "value", None), "id", "") == "AutoModelForCausalLM"]
    if any(line > peft_at[0] for line in model_loads):
        return failed("A second AutoModelForCausalLM.from_pretrained(...) after PeftModel.from_pretrained "
                      "rebinds `model` to a fresh base model: the adapter is thrown away. Load the base once, "
                      "move it with device_map= (or .to(device)) before wrapping it.")
    generate = [c for c in calls if _name(c) == "generate"]
    if not generate:
        return failed("Call model.generate(...) to produce the completion.")
    kwargs = {k.arg for k in generate[-1].keywords}
    if not kwargs & {"max_new_tokens", "max_length"}:
        return failed("generate() without a length stops after 20 new tokens (the generic default "
                      "max_length=20): pass max_new_tokens=... (e.g. 128).")
    if None not in kwargs and "attention_mask" not in kwargs:
        return failed("Pass the tokenizer's whole output: inputs = tokenizer(prompt, return_tensors='pt') and "
                      "model.generate(**inputs, ...), so generate gets the attention_mask too.")
    return passed("Fixed: one base model wrapped by the adapter, an explicit length, and the attention mask.")
