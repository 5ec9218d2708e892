"""Checks for notebook 05 (streaming and speed): decoding only the answer, and the least sure token.

Each check recomputes the answer from the notebook's own objects (the generated ids, the confidence
view's tokens and probabilities) and says what the value was instead.
"""
from __future__ import annotations

import torch

from . import CheckResult, failed, passed


def check_answer_only(tokenizer, output_ids, inputs, answer, *, output_name: str = "chat_out") -> CheckResult:
    """``answer``: only the newly generated text of ``output_ids``, special tokens skipped.

    ``output_name`` is what the notebook calls ``output_ids``, so that the hints name the learner's variable.
    """
    if answer is ...:
        return failed("Replace `...` with your decoded answer (a str), then run again.")
    if not isinstance(answer, str):
        return failed(f"`answer` must be a str (use tokenizer.decode), got {type(answer).__name__}.")
    n = inputs["input_ids"].shape[1]
    true = tokenizer.decode(output_ids[0, n:], skip_special_tokens=True)
    if answer == true:
        return passed("Right: slice off the prompt's tokens, then decode with skip_special_tokens=True.")
    if answer == tokenizer.decode(output_ids[0, n:]):
        return failed("Close: the special tokens (<|im_end|>) are still in. Pass skip_special_tokens=True.")
    if true in answer:
        return failed(f"The prompt is still in: slice {output_name}[0, inputs['input_ids'].shape[1]:] before decoding.")
    return failed(f"That is not the decoded answer. Decode {output_name}[0, inputs['input_ids'].shape[1]:] "
                  "with skip_special_tokens=True.")


def check_least_sure(token, tokens, probs) -> CheckResult:
    """``token``: the answer token the model gave the lowest probability, from the confidence view's
    ``tokens`` (strings) and ``probs`` (one probability each)."""
    if token is ...:
        return failed("Replace `...` with the token (a str from `answer_tokens`), then run again.")
    probs = torch.as_tensor(probs, dtype=torch.float64).flatten()
    if len(tokens) != probs.numel() or not len(tokens):
        raise ValueError(f"`tokens` and `probs` must be equally long and not empty, got {len(tokens)} and {probs.numel()}")
    if hasattr(token, "item") or isinstance(token, int):
        return failed(f"{token!r} looks like a position or an id; give the token itself, answer_tokens[position].")
    if not isinstance(token, str):
        return failed(f"`token` must be a str (one of `answer_tokens`), got {type(token).__name__}.")
    lowest = float(probs.min())
    least = {t for t, p in zip(tokens, probs.tolist()) if p == lowest}
    if token in least:
        return passed(f"Right: {token!r}, p = {lowest:.3f}. argmin over `answer_probs`, then look the position up "
                      "in `answer_tokens`.")
    if token not in tokens:
        return failed(f"{token!r} is not one of the answer's tokens. Take answer_tokens[int(answer_probs.argmin())].")
    highest = float(probs.max())
    if any(t == token and p == highest for t, p in zip(tokens, probs.tolist())):
        return failed(f"{token!r} is the token the model was MOST sure of (p = {highest:.3f}): take argmin, not argmax.")
    mine = max(p for t, p in zip(tokens, probs.tolist()) if t == token)
    return failed(f"{token!r} had p = {mine:.3f}; some token had less ({lowest:.3f}). "
                  "Take answer_tokens[int(answer_probs.argmin())].")
