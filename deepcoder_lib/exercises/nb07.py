"""Checks for notebook 07 (sampling): top_p counts, temperature and confidence, temperature as division.

Each check takes the notebook's own next-token ``logits`` (one distribution of shape (vocab_size,))
and the learner's value (a Python, numpy or one-element torch number), recomputes with
``deepcoder_lib.sampling`` and says what the value did. An untouched ``...`` gets "Not answered yet" and
nothing more; a wrong value hears which way to go, never the range of right values.
"""
from __future__ import annotations

import math

import torch

from .. import sampling
from . import CheckResult, as_number, failed, passed


def _top_mass(logits: torch.Tensor, n: int) -> float:
    return float(logits.float().softmax(-1).sort(descending=True).values[:n].sum())


def check_exactly_three(logits, top_p) -> CheckResult:
    """With top_p alone (temperature 1, no top_k, no min_p), keep exactly 3 tokens.

    A wrong answer hears how many tokens it keeps and which way to move, never the window of right values."""
    top_p = as_number(top_p, "`my_top_p`", "0.5")
    if isinstance(top_p, CheckResult):
        return top_p
    try:
        kept = sampling.kept_count(sampling.sampling_probs(logits, top_p=top_p))
    except ValueError as error:
        return failed(str(error))
    two, three = _top_mass(logits, 2), _top_mass(logits, 3)
    window = f"above {two:.3f} (what the top 2 hold) and at most {three:.3f} (the top 3)"
    if kept == 3:
        return passed(f"Right: top_p={top_p:g} keeps 3 tokens. Any top_p {window} does: top_p keeps the "
                      "smallest set of most likely tokens whose probability reaches p.")
    direction = "raise" if kept < 3 else "lower"
    return failed(f"top_p={top_p:g} keeps {kept:,} token{'s' * (kept != 1)}; {direction} it. Add up the top tokens' "
                  "probabilities: how much do the top 2 hold, and the top 3?")


def _top_prob(logits, temperature: float) -> float:
    """The top token's probability at ``temperature``: 1 / sum(exp((logit - max) / T)), softmax's max."""
    x = torch.as_tensor(logits).float()
    return float(1 / torch.exp((x - x.max()) / temperature).sum())


def largest_confident_temperature(logits, level: float = 0.9) -> float:
    """The largest temperature at which the top token's probability is still above ``level`` (bisection).

    The top probability falls as the temperature rises (for a single most likely token), so the
    temperatures that work are exactly (0, this value).
    """
    low, high = 1e-3, 10.0
    if _top_prob(logits, low) <= level:
        return 0.0
    for _ in range(30):  # 10 / 2**30: far finer than the answer needs
        middle = (low + high) / 2
        low, high = (middle, high) if _top_prob(logits, middle) > level else (low, middle)
    return low


def check_confident_temperature(logits, temperature) -> CheckResult:
    """A positive temperature at which the top token's probability exceeds 0.9."""
    temperature = as_number(temperature, "`my_temperature`", "0.5")
    if isinstance(temperature, CheckResult):
        return temperature
    if temperature == 0:
        return failed("temperature 0 is greedy: the top token gets probability 1 by definition. "
                      "Find a positive temperature that makes the model itself that confident.")
    try:
        top = float(sampling.sampling_probs(logits, temperature=temperature).max())
    except ValueError as error:
        return failed(str(error))
    at_one, limit = _top_prob(logits, 1.0), largest_confident_temperature(logits)
    if top > 0.9:
        return passed(f"Right: at temperature {temperature:g} the top token has probability {top:.3f} "
                      f"(at 1.0 it has {at_one:.3f}). Every temperature below about {limit:.3f} works: "
                      "dividing the logits by T < 1 widens the gaps between them.")
    hint = "lower it: T < 1 sharpens" if temperature >= 1 else "lower it further"
    return failed(f"At temperature {temperature:g} the top token has probability {top:.3f}, not above 0.9; {hint}.")


def check_ratio_at_half_temperature(logits, answer) -> CheckResult:
    """Predict p1/p2 (the top two tokens) at temperature 0.5 from their probabilities at temperature 1."""
    answer = as_number(answer, "`my_ratio`", "(p1 / p2) * 2")
    if isinstance(answer, CheckResult):
        return answer
    top2 = torch.as_tensor(logits).float().topk(2).values
    ratio_at_one = math.exp(float(top2[0] - top2[1]))
    truth = math.exp(float(top2[0] - top2[1]) / 0.5)
    if math.isclose(answer, truth, rel_tol=0.01):
        return passed(f"Right: {truth:.3f} = {ratio_at_one:.3f}². p1/p2 = exp((logit1 - logit2) / T), so halving "
                      "the temperature doubles the gap between the logits and squares the ratio.")
    if math.isclose(answer, ratio_at_one, rel_tol=0.01):
        return failed("That is the ratio at temperature 1. Temperature divides the logits before the softmax, "
                      "so the ratio changes: what is exp((logit1 - logit2) / 0.5)?")
    if math.isclose(answer, 2 * ratio_at_one, rel_tol=0.01):
        return failed("Not doubled: dividing by 0.5 doubles the *gap between the logits*; the ratio is the "
                      "exponential of that gap. exp(2x) = exp(x)²...")
    return failed(f"{answer:g} is not it. At T=1, p1/p2 = {ratio_at_one:.3f} = exp(logit1 - logit2). "
                  "What happens to that exponent when the logits are divided by 0.5?")
