"""Checks for notebook 07 (sampling): top_p counts, the largest confident temperature, temperature as division.

Each check takes the notebook's own next-token ``logits`` (one distribution of shape (vocab_size,))
and the learner's value (a Python, numpy or one-element torch number), recomputes (with
``deepcoder_lib.sampling``, or in float64 for the temperature) and says what the value did. An untouched
``...`` gets "Not answered yet" and nothing more; a wrong value hears which way to go, never the range of
right values. Exercise 2 asks for the *largest* temperature that keeps the top token above 0.9 (to two
decimals), so that neither T=1 on a confident checkpoint nor a low guess such as 0.1 passes.
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


LEVEL = 0.9   # exercise 2: the top token's probability must stay above this


def _top_prob(logits, temperature: float) -> float:
    """The top token's probability at ``temperature``: 1 / sum(exp((logit - max) / T)), softmax's max.

    In float64, so that it falls strictly as T rises and the bisection below finds the same edge each time."""
    x = torch.as_tensor(logits).double()
    return float(1 / torch.exp((x - x.max()) / temperature).sum())


def largest_confident_temperature(logits, level: float = LEVEL) -> float:
    """The largest temperature at which the top token's probability is still above ``level`` (bisection).

    With one most likely token, its probability falls from 1 (T -> 0) towards 1 / (tokens left) as T rises, so
    the temperatures that work are exactly (0, this value). 0.0 when none does (top tokens tied: each has at
    most 1/2); ``math.inf`` when it never falls to ``level`` (one token left, the others removed at -inf).
    """
    x = torch.as_tensor(logits).double()
    if int((x == x.max()).sum()) > 1:
        return 0.0
    if int(x.isfinite().sum()) == 1:
        return math.inf
    low, high = 1.0, 1.0
    for _ in range(1000):   # halve down to where it works (a near-tie needs a tiny T), double up to where it fails
        if _top_prob(x, low) > level:
            break
        low /= 2
    else:
        return 0.0
    while _top_prob(x, high) > level:   # ends: at a large T every finite token gets about the same share
        high *= 2
    for _ in range(100):   # float64 steps: far finer than any answer needs
        middle = (low + high) / 2
        low, high = (middle, high) if _top_prob(x, middle) > level else (low, middle)
    return low


def _just_under(p: float, level: float = LEVEL) -> str:
    """``p`` with enough decimals to show it is below ``level`` (0.8997, 0.899999)."""
    for decimals in range(4, 12):
        if float(f"{p:.{decimals}f}") < level:
            return f"{p:.{decimals}f}"
    return repr(p)


def check_largest_confident_temperature(logits, temperature) -> CheckResult:
    """The largest temperature at which the top token's probability is still above 0.9, to two decimals.

    Right: any T with limit - 0.01 <= T <= limit (rounded down to two decimals, or given more precisely),
    where ``limit`` is ``largest_confident_temperature(logits)``. A wrong answer hears what its temperature
    does, never the limit."""
    temperature = as_number(temperature, "`my_temperature`", "0.5")
    if isinstance(temperature, CheckResult):
        return temperature
    limit = largest_confident_temperature(logits)
    x = torch.as_tensor(logits).double()
    tied = int((x == x.max()).sum())
    if limit == 0:
        why = (f"the top {tied} tokens tie (the same logit), so at every temperature each has the same probability, "
               f"at most 1/{tied}" if tied > 1 else "the top tokens are so close that float64 cannot tell them apart")
        return failed(f"On these logits no positive temperature works: {why}. This exercise needs logits with one "
                      "top token (a real checkpoint's; a twin's random bfloat16 logits can tie).")
    if limit == math.inf:
        return failed("On these logits the top token is the only one left (every other logit is -inf), so it has "
                      "probability 1 at every temperature: there is no largest one. Use the model's own `logits`.")
    if not math.isfinite(temperature):
        return failed(f"`my_temperature` must be a finite number, got {temperature!r}.")
    if temperature == 0:
        return failed("Temperature 0 is greedy decoding: the top token gets probability 1 by definition, not because "
                      "the model is sure. Find the largest positive temperature that keeps it above 0.9."
                      + (" (Here the answer is below 0.01: give more decimals.)" if limit < 0.01 else ""))
    if temperature < 0:
        return failed(f"A temperature must be positive, got {temperature:g}: the logits are divided by it, and a "
                      "negative one would make the least likely token the most likely.")
    p = _top_prob(x, temperature)
    # given more precisely, a float32 softmax over a large vocabulary can put the edge 1e-5 higher: allow for it
    if limit - 0.01 - 1e-9 <= temperature <= limit * (1 + 1e-4):
        return passed(f"Right: at temperature {temperature:g} the top token has probability {p:.4f}, and above "
                      f"{limit:.4g} it falls to 0.9 or below (at 1.0 it has {_top_prob(x, 1.0):.3f}). Each logit is "
                      "divided by T: the smaller T, the wider the gaps and the surer the top token.")
    if temperature < limit:
        return failed(f"At temperature {temperature:g} the top token has p={p:.4f}: above 0.9, but a larger "
                      "temperature still keeps it above 0.9. Try larger ones (a loop over temperatures, or bisection).")
    if temperature <= limit + 0.01:
        return failed(f"At temperature {temperature:g} the top token has p={_just_under(p)}, just under 0.9: that "
                      "temperature is a little too large. If you rounded, round down: the answer is the largest "
                      "temperature that still works, cut to two decimals.")
    hint = " T > 1 flattens the distribution." if temperature > 1 and _top_prob(x, 1.0) <= LEVEL else ""
    return failed(f"At temperature {temperature:g} the top token has p={_just_under(p)}, not above 0.9: "
                  f"lower it.{hint}")


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
