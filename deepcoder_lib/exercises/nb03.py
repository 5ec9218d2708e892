"""Checks for notebook 03 (loading models): the parameters of one decoder layer, a KV cache from a config.

Each check computes the true answer itself (from the model or the catalog) and says what was wrong and why.
"""
from __future__ import annotations

from .. import catalog
from . import CheckResult, as_number, failed, passed

KV_CHECKPOINT, KV_TOKENS, KV_DTYPE = "Qwen/Qwen2-0.5B-Instruct", 32_768, "bfloat16"



def check_layer_params(model, layer_params) -> CheckResult:
    """``layer_params``: the parameters of one decoder layer of ``model`` (``model.model.layers[0]``)."""
    layer_params = as_number(layer_params, "`layer_params`", "3_000_000")
    if isinstance(layer_params, CheckResult):
        return layer_params
    layers = model.model.layers
    true = sum(p.numel() for p in layers[0].parameters())
    total = sum(p.numel() for p in model.parameters())
    attention = sum(p.numel() for p in layers[0].self_attn.parameters())
    mlp = sum(p.numel() for p in layers[0].mlp.parameters())
    if layer_params == true:
        return passed(f"Right: {true:,} parameters per layer ({attention:,} attention, {mlp:,} MLP, the rest "
                      f"norms). {len(layers)} layers hold {len(layers) * true:,} of the model's {total:,}; the "
                      "embedding matrix holds most of the rest.")
    if layer_params == total:
        return failed("That is the whole model. Sum p.numel() over model.model.layers[0].parameters() only.")
    if abs(layer_params - total / len(layers)) < 1:
        return failed(f"That spreads the whole model over its {len(layers)} layers, but the embedding matrix "
                      "is not in any layer. Count model.model.layers[0] itself.")
    if layer_params in (attention, mlp):
        part = "attention" if layer_params == attention else "MLP"
        return failed(f"That is the {part} block alone; a layer also has the other block and two norms.")
    return failed(f"{layer_params:,} is not it. Sum p.numel() for p in model.model.layers[0].parameters().")


def check_kv_cache(qwen_kv_bytes) -> CheckResult:
    """``qwen_kv_bytes``: the KV cache of Qwen2-0.5B-Instruct for one sequence of 32,768 tokens in bfloat16."""
    qwen_kv_bytes = as_number(qwen_kv_bytes, "`qwen_kv_bytes`", "400_000_000")
    if isinstance(qwen_kv_bytes, CheckResult):
        return qwen_kv_bytes
    c = catalog.info(KV_CHECKPOINT)
    true = catalog.kv_cache_bytes(KV_CHECKPOINT, KV_TOKENS, 1, KV_DTYPE)
    per = catalog.BYTES_PER_PARAM[KV_DTYPE]
    arithmetic = (f"{c.layers} layers x {KV_TOKENS:,} tokens x 2 (K and V) x {c.kv_per_token_per_layer // 2} "
                  f"(key/value heads x head_dim) x {per:g} bytes = {true:,} bytes ({true / catalog.GIB:.2f} GiB)")
    if qwen_kv_bytes == true:
        grouped = c.hidden_size * 2 // c.kv_per_token_per_layer  # query heads per K/V head
        return passed(f"Right: {arithmetic}. Grouped-query attention keeps it small: with one K/V head per "
                      f"query head it would be {grouped} times larger.")
    ratio = qwen_kv_bytes / true if true else 0
    hints = {7.0: "Qwen2 uses grouped-query attention: count num_key_value_heads (2) x head_dim (64), not all 14 "
                  "heads or the whole hidden_size.",
             0.5: "Each layer caches two tensors, K and V: multiply by 2.",
             2.0: "That is float32 (4 bytes per value); bfloat16 takes 2.",
             8.0: "Bits vs bytes: a bfloat16 value is 16 bits = 2 bytes.",
             round(1 / c.layers, 2): f"Every layer keeps its own cache: multiply by the {c.layers} layers."}
    hint = hints.get(round(ratio, 1) if ratio >= 0.5 else round(ratio, 2), "")
    hint = hint + " " if hint else ""
    return failed(f"{qwen_kv_bytes:,} is not it (x{ratio:.3g} the right size). {hint}Multiply layers x tokens x 2 x "
                  "num_key_value_heads x head_dim x bytes per value (head_dim = hidden_size / num_attention_heads).")
