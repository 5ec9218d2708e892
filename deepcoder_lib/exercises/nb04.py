"""Checks for notebook 04 (generation): the greedy next token, and the size of the KV cache.

Each check recomputes the true answer from the real model (one forward pass at most, or its config) and
says what was wrong and why. An untouched placeholder (``...``) gets "Not answered yet" and nothing more.
"""
from __future__ import annotations

import math

from .. import generation
from . import CheckResult, as_number, failed, passed

MIB = 2 ** 20


def check_next_token(model, tokenizer, prompt: str, token_id) -> CheckResult:
    """``token_id``: the id greedy decoding picks after the raw text ``prompt`` (an int, a numpy or 0-d torch int)."""
    token_id = as_number(token_id, "`my_token_id`", "1234 (a vocabulary id)", whole=True)
    if isinstance(token_id, CheckResult):
        return token_id
    logits = generation.next_token_logits(model, tokenizer, prompt)
    best = int(logits.argmax())
    if token_id == best:
        return passed(f"{best} = {tokenizer.decode([best])!r}, the argmax of the logits at the last position.")
    if not 0 <= token_id < logits.numel():
        return failed(f"{token_id} is not a vocabulary id (0 to {logits.numel() - 1}).")
    if token_id == int(logits.argmin()):
        return failed("That is the least likely token: take argmax, not argmin.")
    rank = int((logits > logits[token_id]).sum()) + 1
    return failed(f"{token_id} ({tokenizer.decode([token_id])!r}) is candidate number {rank}, not the top one. "
                  "Tokenize the raw prompt (no chat template), use the logits at the LAST position, and take argmax.")


def kv_cache_shape(config) -> tuple[int, int, int]:
    """``(layers, key/value heads, head size)`` of a decoder's config (head size from ``head_dim`` if it is set)."""
    heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    return config.num_hidden_layers, kv_heads, head_dim


def check_kv_cache_mib(model, mib, *, tokens: int = 4096) -> CheckResult:
    """``mib``: the KV cache of one ``tokens``-long sequence, in MiB, in the model's dtype:
    layers x tokens x 2 (keys and values) x key/value heads x head size x bytes per number / 2**20."""
    mib = as_number(mib, "`my_mib`", "12.5")
    if isinstance(mib, CheckResult):
        return mib
    layers, kv_heads, head_dim = kv_cache_shape(model.config)
    size = model.dtype.itemsize
    truth = layers * tokens * 2 * kv_heads * head_dim * size / MIB
    if math.isclose(mib, truth, rel_tol=0.005):
        return passed(f"{layers} layers x {tokens} tokens x 2 (K and V) x {kv_heads} key/value heads x {head_dim} "
                      f"x {size} bytes = {truth * MIB:,.0f} bytes = {truth:g} MiB, for ONE sequence: a batch of 8 "
                      "holds 8 times as much.")
    heads = model.config.num_attention_heads
    hints = [(truth * MIB, "That is in bytes: divide by 2**20 for MiB."),
             (truth * MIB / 1e6, "That is in megabytes (10**6 bytes); a MiB is 2**20 = 1,048,576 bytes."),
             (truth / 2, "That is half: the cache holds the keys AND the values, so count 2 per head."),
             (truth * 1024, "That is in KiB: divide by 1024 once more.")]
    if heads != kv_heads:
        hints.append((truth * heads / kv_heads, f"You counted all {heads} attention (query) heads; the cache stores "
                      f"only the {kv_heads} key/value heads (config.num_key_value_heads), which the query heads share."))
    for other in {1, 2, 4, 8} - {size}:
        hints.append((truth * other / size,
                      f"That counts {other} byte{'s' * (other > 1)} per number; {model.dtype} takes {size}."))
    for value, hint in hints:
        if math.isclose(mib, value, rel_tol=0.005):
            return failed(hint)
    return failed(f"{mib!r} MiB is not it. Multiply layers x tokens x 2 (keys and values) x key/value heads x "
                  "head size x bytes per number (model.dtype.itemsize), then divide by 2**20.")
