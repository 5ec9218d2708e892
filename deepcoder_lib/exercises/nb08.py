"""Checks for notebook 08 (sampling in practice): the filters in generate's order, one token left in the explorer.

``check_generate_order`` takes the notebook's next-token ``logits`` and the learner's filtered logits, and
names the order the learner used by trying all 24 orders of the four filters. ``check_one_token_left``
reads the explorer's sliders (``explorer.settings()`` and its cached ``explorer.logits``).
"""
from __future__ import annotations

import itertools

import torch

from .. import sampling
from . import CheckResult, failed, passed

GENERATE_ORDER = ("temperature", "top_k", "top_p", "min_p")
_STEPS = {"temperature": sampling.apply_temperature, "top_k": sampling.top_k_filter,
          "top_p": sampling.top_p_filter, "min_p": sampling.min_p_filter}


def _in_order(logits, order, settings) -> torch.Tensor:
    x = logits
    for name in order:
        x = _STEPS[name](x, settings[name])
    return x


def orders_giving(logits, my_logits, **settings) -> list[tuple[str, ...]]:
    """Every order of the four filters (with ``settings``) whose result equals ``my_logits`` exactly."""
    mine = torch.as_tensor(my_logits).float()
    return [order for order in itertools.permutations(GENERATE_ORDER)
            if torch.equal(_in_order(logits, order, settings), mine)]


def check_generate_order(logits, my_logits, temperature=0.7, top_k=50, top_p=0.9, min_p=0.05) -> CheckResult:
    """``my_logits``: the four filters applied to ``logits`` in the order generate applies them."""
    if my_logits is ... or my_logits is None:
        return failed("Replace `...` with your answer, then run the cell again.")
    if not isinstance(my_logits, torch.Tensor):
        return failed(f"Expected a tensor of logits, got {type(my_logits).__name__}: nest the four filter calls.")
    settings = dict(temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p)
    if my_logits.shape != logits.shape:
        return failed(f"Expected logits of shape {tuple(logits.shape)}, got {tuple(my_logits.shape)}: "
                      "filter the whole vector `logits`, without indexing it.")
    expected = sampling.sampling_logits(logits, **settings)
    if torch.equal(my_logits.float(), expected):
        orders = orders_giving(logits, my_logits, **settings)
        others = [" → ".join(o) for o in orders if o != GENERATE_ORDER]
        note = (f" {len(others)} other order(s) give the same logits here, e.g. {others[0]}: dividing by a positive "
                "temperature keeps the ranking, so temperature and top_k commute; top_p and min_p measure "
                "probabilities, which the temperature changes." if others else "")
        return passed(f"Right: temperature → top_k → top_p → min_p, as generate does; "
                      f"{sampling.kept_count(expected.softmax(-1)):,} tokens are left to draw from.{note}")
    if torch.allclose(my_logits.float(), expected.softmax(-1)):
        return failed("Those are probabilities (after softmax); the filters return logits: leave out the softmax.")
    orders = orders_giving(logits, my_logits, **settings)
    kept = sampling.kept_count(my_logits.float().softmax(-1))
    if orders:
        return failed(f"Your code applies {' → '.join(orders[0])}, which leaves {kept:,} tokens; generate applies "
                      "temperature first, then top_k, top_p and min_p, and leaves "
                      f"{sampling.kept_count(expected.softmax(-1)):,}.")
    return failed(f"Not the four filters in any order with temperature={temperature}, top_k={top_k}, "
                  f"top_p={top_p}, min_p={min_p} ({kept:,} tokens left): check each call's value.")


def check_one_token_left(explorer) -> CheckResult:
    """The explorer's sliders leave exactly one token, with temperature above 0 and top_k other than 1."""
    try:
        s = explorer.settings()
    except ValueError as error:
        return failed(str(error))
    probs = sampling.sampling_probs(explorer.logits, **s)
    kept = sampling.kept_count(probs)
    shown = ", ".join(f"{name}={value:g}" for name, value in s.items())
    if s["temperature"] == 0:
        return failed("temperature 0 is greedy by definition. Move it above 0 and leave one token with another slider.")
    if s["top_k"] == 1:
        return failed("top_k=1 is the obvious way. Set top_k to 0 (off) or above 1 and leave one token with "
                      "top_p or min_p.")
    if kept == 1:
        alone = [name for name in ("top_p", "min_p") if
                 sampling.kept_count(sampling.sampling_probs(explorer.logits, temperature=s["temperature"],
                                                             **{name: s[name]})) == 1]
        how = " and ".join(alone) or "the filters together"
        return passed(f"Right: with {shown} one token is left ({how} leave only it), so every draw picks it: "
                      "greedy decoding, reached without temperature 0 or top_k=1.")
    top = float(sampling.sampling_probs(explorer.logits, temperature=s["temperature"]).max())
    return failed(f"With {shown}, {kept:,} tokens can still be drawn. Hint: top_p at or below the top token's "
                  f"probability ({top:.3f} at this temperature) keeps only it; so does min_p=1.0. "
                  "Move a slider, then run this cell again.")
