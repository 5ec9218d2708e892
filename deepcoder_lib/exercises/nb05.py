"""Checks for notebook 05 (batches, streaming and speed): decoding only the answer, and counting unsure tokens.

Each check recomputes the answer from the notebook's own objects (the generated ids, the confidence
view's probabilities) and says what the value was instead. An untouched placeholder (``...``) gets
"Not answered yet" and nothing more.
"""
from __future__ import annotations

import torch

from . import CheckResult, as_number, failed, not_answered, passed


def check_answer_only(tokenizer, output_ids, inputs, answer, *, output_name: str = "chat_out") -> CheckResult:
    """``answer``: only the newly generated text of ``output_ids``, special tokens skipped.

    ``output_name`` is what the notebook calls ``output_ids``, so that the hints name the learner's variable.
    """
    if answer is ...:
        return not_answered("`my_answer`", "the decoded answer (a str)")
    if isinstance(answer, list) and len(answer) == 1 and isinstance(answer[0], str):
        return failed("That is a list of one answer (batch_decode returns one str per row): take its [0].")
    if not isinstance(answer, str):
        return failed(f"`answer` must be a str (use tokenizer.decode), got {type(answer).__name__}.")
    n = inputs["input_ids"].shape[1]
    true = tokenizer.decode(output_ids[0, n:], skip_special_tokens=True)
    if answer == true or answer.strip() == true.strip():
        return passed("Slice off the prompt's tokens, then decode with skip_special_tokens=True.")
    if answer == tokenizer.decode(output_ids[0, n:]):
        return failed("Close: the special tokens (<|im_end|>) are still in. Pass skip_special_tokens=True.")
    if true in answer:
        return failed(f"The prompt is still in: slice {output_name}[0, inputs['input_ids'].shape[1]:] before decoding.")
    return failed(f"That is not the decoded answer. Decode {output_name}[0, inputs['input_ids'].shape[1]:] "
                  "with skip_special_tokens=True.")


def check_unsure_count(count, probs, *, below: float = 0.5) -> CheckResult:
    """``count``: how many of the answer's tokens had a probability under ``below`` (``probs``: one per token)."""
    count = as_number(count, "`my_count`", "7", whole=True)
    if isinstance(count, CheckResult):
        return count
    probs = torch.as_tensor(probs, dtype=torch.float64).flatten()
    if not probs.numel():
        raise ValueError("`probs` must hold one probability per token, got an empty sequence")
    truth = int((probs < below).sum())
    n = probs.numel()
    if count == truth:
        return passed(f"{truth} of {n} tokens had p < {below:g}: at those steps the other candidates together "
                      "were more likely than greedy's pick, so sampling would often have written something else.")
    if count == n - truth:
        return failed(f"{count} is the number of tokens at or above {below:g}: count those BELOW it, (answer_probs < {below:g}).sum().")
    if count == int((probs <= below).sum()) and count != truth:
        return failed(f"Strictly below {below:g}: use <, not <=.")
    if count == n:
        return failed(f"{n} is every token of the answer; count only those with a probability below {below:g}.")
    if count < 0 or count > n:
        return failed(f"The answer has {n} tokens, so the count is between 0 and {n}; got {count}.")
    return failed(f"{count} is not it. Compare answer_probs with {below:g} (a tensor of True/False) and count the "
                  "True ones, e.g. with .sum().")
