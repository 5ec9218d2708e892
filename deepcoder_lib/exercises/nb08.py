"""Checks for notebook 08 (sampling in practice): the filters with the temperature moved last, one token left.

``check_temperature_last`` takes the learner's function ``temperature_last(logits)``: the notebook's four filters
with the temperature applied after top-k, top-p and min-p instead of first (generate's order, which the notebook
prints). The page never prints that nesting or what it leaves: the check runs the function on the notebook's
logits, on other logits (so that it must filter its argument) and on a ramp where moving the temperature changes
the result (so that generate's own order cannot pass where the two happen to agree), compares with the reference
within float32 rounding (``x / 0.7`` and ``x * (1 / 0.7)`` both pass), and names the order a wrong answer used by
trying all 24 orders. ``check_one_token_left`` reads the explorer's sliders (``explorer.settings()`` and its
cached ``explorer.logits``); it never states a bound that would answer it, and refuses the sliders as the page
left them (temperature 0.7, top_p 0.9), which leave one token by themselves on a prompt the model is sure of.
"""
from __future__ import annotations

import itertools

import torch

from .. import sampling
from . import CheckResult, error_message, failed, not_answered, passed

GENERATE_ORDER = ("temperature", "top_k", "top_p", "min_p")
TEMPERATURE_LAST = ("top_k", "top_p", "min_p", "temperature")
_STEPS = {"temperature": sampling.apply_temperature, "top_k": sampling.top_k_filter,
          "top_p": sampling.top_p_filter, "min_p": sampling.min_p_filter}


def in_order(logits, order, settings) -> torch.Tensor:
    """The four filters applied to ``logits`` in ``order`` (names from ``GENERATE_ORDER``) with ``settings``."""
    x = logits
    for name in order:
        x = _STEPS[name](x, settings[name])
    return x


def _same(mine: torch.Tensor, expected: torch.Tensor) -> bool:
    """The same tokens removed (-inf) and the same logits elsewhere, up to float32 rounding."""
    return mine.shape == expected.shape and torch.allclose(mine, expected, rtol=1e-5, atol=1e-5)


def orders_giving(logits, my_logits, **settings) -> list[tuple[str, ...]]:
    """Every order of the four filters (with ``settings``) whose result equals ``my_logits`` (to rounding)."""
    mine = torch.as_tensor(my_logits).float()
    return [order for order in itertools.permutations(GENERATE_ORDER) if _same(mine, in_order(logits, order, settings))]


def _other_logits(logits: torch.Tensor) -> torch.Tensor:
    """Logits of the same size on which a function that ignores its argument gives other results."""
    return logits.flip(-1) * 0.8


def _ramp(size: int) -> torch.Tensor:
    """Evenly spaced logits, 0.1 apart at the top: flat enough that top_p and min_p cut at a place the
    temperature moves, so the temperature first and last give different results (for every T != 1 the notebook
    may use)."""
    return torch.cat([torch.arange(0, -30, -0.1), torch.full((max(size - 300, 0),), -100.0)])[:size]


def _kept(logits: torch.Tensor) -> int:
    return int(logits.isfinite().sum())


def check_temperature_last(temperature_last, logits, temperature=0.7, top_k=50, top_p=0.9, min_p=0.05) -> CheckResult:
    """``temperature_last(logits)``: top_k, top_p and min_p in generate's order, then the temperature, on ``logits``."""
    if temperature_last is ... or temperature_last is None:
        return not_answered("`temperature_last`", "your function")
    if isinstance(temperature_last, torch.Tensor):
        return failed("`temperature_last` must be the function itself (def temperature_last(logits): ...), not the "
                      "logits it returns: pass it without calling it.")
    if not callable(temperature_last):
        return failed(f"`temperature_last` must be a function of the logits, got {type(temperature_last).__name__}.")
    settings = dict(temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p)
    try:
        mine = temperature_last(logits.clone())
    except Exception as error:  # the learner's code: say what went wrong in one line
        return failed(f"Calling temperature_last(logits) raised {error_message(error)}")
    if mine is ... or mine is None:
        return not_answered("the body of `temperature_last`", "the four calls, the innermost one on `logits`")
    if not isinstance(mine, torch.Tensor):
        return failed(f"temperature_last(logits) must return a tensor of logits, got {type(mine).__name__}.")
    if mine.shape != logits.shape:
        return failed(f"Expected logits of shape {tuple(logits.shape)}, got {tuple(mine.shape)}: "
                      "filter the whole vector `logits`, without indexing it.")
    mine = mine.detach().float().cpu()
    expected = in_order(logits, TEMPERATURE_LAST, settings)
    generate = in_order(logits, GENERATE_ORDER, settings)
    if not _same(mine, expected):
        if torch.allclose(mine, expected.softmax(-1)):
            return failed("Those are probabilities (after softmax); the filters return logits: leave out the softmax.")
        orders = orders_giving(logits, mine, **settings)
        if GENERATE_ORDER in orders:
            return failed(f"That is generate's order, the temperature first ({_kept(generate):,} tokens left): "
                          "move the temperature to the end, after min_p.")
        if orders:
            return failed(f"Your code applies {' → '.join(orders[0])}, which leaves {_kept(mine):,} tokens: "
                          "keep top_k → top_p → min_p as generate has them and apply the temperature last.")
        if torch.equal(mine.isfinite(), expected.isfinite()):
            return failed("The right tokens are left, but their logits differ: divide by the temperature "
                          f"({temperature}) once, after the three filters.")
        return failed(f"Not the four filters in any order with temperature={temperature}, top_k={top_k}, "
                      f"top_p={top_p}, min_p={min_p} ({_kept(mine):,} tokens left): check each call's value.")
    for name, other in (("other logits", _other_logits(logits)), ("a ramp of logits", _ramp(logits.numel()))):
        try:
            on_other = temperature_last(other.clone())
        except Exception as error:
            return failed(f"temperature_last works on `logits` but raised {error_message(error)} on {name}.")
        if not (isinstance(on_other, torch.Tensor)
                and _same(on_other.detach().float().cpu(), in_order(other, TEMPERATURE_LAST, settings))):
            if isinstance(on_other, torch.Tensor) and _same(on_other.detach().float().cpu(),
                                                            in_order(other, GENERATE_ORDER, settings)):
                return failed("On these logits the temperature first and last happen to agree, but on other logits "
                              "your function gives generate's order: apply the temperature after min_p.")
            return failed(f"temperature_last gives the right logits for the notebook's `logits` but not for {name}: "
                          "filter its argument (the innermost call on the parameter `logits`), not a global.")
    way = "sharpened" if temperature < 1 else "flattened"
    if _kept(expected) == _kept(generate):
        effect = (f"here both orders leave the same {_kept(expected):,} tokens, so the same logits (the cuts fall at "
                  "the same place on these logits); on flatter logits they differ")
    else:
        effect = (f"{_kept(expected):,} tokens are left, against {_kept(generate):,} in generate's order: top_p and "
                  f"min_p measured the model's own probabilities, before the temperature {way} them")
    return passed(f"Right: top_k → top_p → min_p → temperature; {effect}.")


# What the notebook's cell before the exercise sets on the explorer (the other sliders at their start values):
# on a checkpoint sure enough of the prompt's next token it leaves one token already, and does not count.
PAGE_SETTINGS = dict(temperature=0.7, top_k=0, top_p=0.9, min_p=0.0)


def _is_page_setting(settings: dict) -> bool:
    return all(abs(settings[name] - value) < 1e-9 for name, value in PAGE_SETTINGS.items())


def check_one_token_left(explorer) -> CheckResult:
    """The explorer's sliders leave exactly one token, removed by the filters: not temperature 0, not top_k=1,
    not a temperature so low that float32 rounds every other probability to 0 (greedy in disguise), and not the
    settings the page itself set (``PAGE_SETTINGS``), which leave one token wherever the model is sure."""
    if explorer is ...:
        return CheckResult(False, "Replace `...` with `explorer` once its sliders leave exactly one token, then run "
                           "the cell again.", answered=False)
    try:
        s = explorer.settings()
    except ValueError as error:
        return failed(str(error))
    kept = sampling.kept_count(sampling.sampling_probs(explorer.logits, **s))
    shown = ", ".join(f"{name}={value:g}" for name, value in s.items())
    if s["temperature"] == 0:
        return failed("temperature 0 is greedy by definition. Move it above 0 and leave one token with another slider.")
    if s["top_k"] == 1:
        return failed("top_k=1 is the obvious way. Set top_k to 0 (off) or above 1 and leave one token with "
                      "another slider.")
    alone = sampling.kept_count(sampling.sampling_probs(explorer.logits, temperature=s["temperature"]))
    if alone == 1:
        return failed(f"At temperature {s['temperature']:g} every token but one already has probability exactly 0 "
                      "before any filter: float32 rounds exp(-gap / T) to 0 when T is that small, so this is "
                      "greedy decoding in disguise. Raise the temperature until the filters are what leaves one token.")
    if kept == 1 and _is_page_setting(s):
        return failed("These are the settings the cell above set (temperature 0.7, top_p 0.9), and on this prompt "
                      "they already leave one token: the model is that sure here, so they show nothing you did. "
                      "Move the sliders yourself and find your own setting that leaves one token.")
    if kept == 1:
        by = [name for name in ("top_p", "min_p") if
              sampling.kept_count(sampling.sampling_probs(explorer.logits, temperature=s["temperature"],
                                                          **{name: s[name]})) == 1]
        how = " and ".join(by) or "the filters together"
        return passed(f"Right: with {shown} one token is left ({how} leave only it), so every draw picks it: "
                      "greedy decoding, reached without temperature 0 or top_k=1.")
    return failed(f"With {shown}, {kept:,} tokens can still be drawn (temperature alone leaves {alone:,}). "
                  "Move a slider, then run this cell again.")
