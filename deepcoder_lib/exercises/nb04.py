"""Checks for notebook 04 (generation): the greedy next token, and asking for a number of new tokens.

Each check recomputes the true answer with the real model (one forward pass at most, well under a
second) and says what was wrong and why.
"""
from __future__ import annotations

from .. import generation
from . import CheckResult, failed, passed


def check_next_token(model, tokenizer, prompt: str, token_id) -> CheckResult:
    """``token_id``: the id greedy decoding picks after the raw text ``prompt``."""
    if token_id is ...:
        return failed("Replace `...` with the id of the most likely next token (an int), then run again.")
    if hasattr(token_id, "item"):
        token_id = token_id.item()
    if isinstance(token_id, bool) or not isinstance(token_id, int):
        return failed(f"`token_id` must be an int (a vocabulary id), got {token_id!r}.")
    logits = generation.next_token_logits(model, tokenizer, prompt)
    best = int(logits.argmax())
    if token_id == best:
        return passed(f"Right: {best} = {tokenizer.decode([best])!r}, the argmax of the logits at the last position.")
    if token_id == int(logits.argmin()):
        return failed("That is the least likely token: take argmax, not argmin.")
    if not 0 <= token_id < logits.numel():
        return failed(f"{token_id} is not a vocabulary id (0 to {logits.numel() - 1}).")
    rank = int((logits > logits[token_id]).sum()) + 1
    return failed(f"{token_id} ({tokenizer.decode([token_id])!r}) is candidate number {rank}, not the top one. "
                  "Use the logits at the LAST position, logits[0, -1], and take argmax.")


def check_length_kwargs(kwargs, prompt_length: int = 45, wanted_new: int = 40) -> CheckResult:
    """``kwargs`` for generate so that at most ``wanted_new`` NEW tokens come, whatever the prompt length."""
    if kwargs is ...:
        return failed("Replace `...` with a dict of keyword arguments for generate, then run again.")
    if not isinstance(kwargs, dict):
        return failed(f"`kwargs` must be a dict such as {{'max_new_tokens': 10}}, got {kwargs!r}.")
    if kwargs.get("max_new_tokens") == wanted_new and "max_length" not in kwargs:
        return passed(f"Right: max_new_tokens={wanted_new} counts only new tokens, so a longer prompt "
                      "does not eat into the answer.")
    if "max_length" in kwargs:
        n = kwargs["max_length"]
        left = n - prompt_length if isinstance(n, int) else "?"
        return failed(f"max_length counts the prompt too: with a {prompt_length}-token prompt, max_length={n} "
                      f"leaves {left} new tokens, and it changes with every prompt. Use max_new_tokens.")
    return failed(f"Ask for exactly {wanted_new} new tokens at most with max_new_tokens, got {kwargs!r}.")
