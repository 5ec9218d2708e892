"""Checks for notebook 08 (sampling in practice): the filters in generate's order, one token left in the explorer.

``check_generate_order`` takes the learner's function ``my_filters(logits)`` and the notebook's next-token
``logits``. It refuses a function that hands the order to a ready-made composition (the course's
``sampling_logits``/``sampling_probs``, or the processor list ``generate`` builds), runs it on the notebook's
logits and on other logits (so that it must use its argument), and names the order the learner used by
trying all 24 orders of the four filters. ``check_one_token_left`` reads the explorer's sliders
(``explorer.settings()`` and its cached ``explorer.logits``); it never states a bound that would answer it.
"""
from __future__ import annotations

import itertools
import types

import torch

from .. import sampling
from . import CheckResult, error_message, failed, not_answered, passed

GENERATE_ORDER = ("temperature", "top_k", "top_p", "min_p")
_STEPS = {"temperature": sampling.apply_temperature, "top_k": sampling.top_k_filter,
          "top_p": sampling.top_p_filter, "min_p": sampling.min_p_filter}
# ready-made compositions: each applies the four filters in generate's order for the learner
_COMPOSED = {"sampling_logits": sampling.sampling_logits, "sampling_probs": sampling.sampling_probs}
_COMPOSED_NAMES = {*_COMPOSED, "_get_logits_processor", "LogitsProcessorList"}


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


def _names_used(code: types.CodeType) -> set[str]:
    """Global and attribute names a function's code uses, nested functions and lambdas included."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names_used(const)
    return names


def composed_call(function) -> str | None:
    """The name of a ready-made composition ``function`` calls (directly, through an alias or a module), else None."""
    code = getattr(function, "__code__", None)
    if code is None:
        return None
    names = _names_used(code)
    found = names & _COMPOSED_NAMES
    if found:
        return sorted(found)[0]
    namespace = getattr(function, "__globals__", {})
    values = [(name, namespace.get(name)) for name in names]  # an alias made elsewhere: f = sampling.sampling_probs
    for name, cell in zip(code.co_freevars, getattr(function, "__closure__", None) or ()):
        try:
            values.append((name, cell.cell_contents))  # or one held by an enclosing function
        except ValueError:  # an empty cell
            pass
    for name, value in values:
        for composed_name, composed in _COMPOSED.items():
            if value is composed:
                return f"{composed_name} (as `{name}`)"
        if type(value).__name__ == "LogitsProcessorList":
            return f"generate's processor list (`{name}`)"
    return None


def _other_logits(logits: torch.Tensor) -> torch.Tensor:
    """Logits of the same size on which a function that ignores its argument gives other results."""
    return logits.flip(-1) * 0.8


def check_generate_order(my_filters, logits, temperature=0.7, top_k=50, top_p=0.9, min_p=0.05) -> CheckResult:
    """``my_filters(logits)``: the four filters applied to ``logits`` in the order generate applies them."""
    if my_filters is ... or my_filters is None:
        return not_answered("`my_filters`", "your function")
    if isinstance(my_filters, torch.Tensor):
        return failed("`my_filters` must be the function itself (def my_filters(logits): ...), not the logits it "
                      "returns: pass it without calling it.")
    if not callable(my_filters):
        return failed(f"`my_filters` must be a function of the logits, got {type(my_filters).__name__}.")
    settings = dict(temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p)
    try:
        my_logits = my_filters(logits.clone())
    except Exception as error:  # the learner's code: say what went wrong in one line
        return failed(f"Calling my_filters(logits) raised {error_message(error)}")
    if my_logits is ... or my_logits is None:
        return not_answered("the body of `my_filters`", "the four calls nested, the innermost one on `logits`")
    if not isinstance(my_logits, torch.Tensor):
        return failed(f"my_filters(logits) must return a tensor of logits, got {type(my_logits).__name__}.")
    if my_logits.shape != logits.shape:
        return failed(f"Expected logits of shape {tuple(logits.shape)}, got {tuple(my_logits.shape)}: "
                      "filter the whole vector `logits`, without indexing it.")
    helper = composed_call(my_filters)
    if helper is not None:
        return failed(f"my_filters calls {helper}, which applies the four filters in generate's order for you. "
                      "Write the order yourself: nest apply_temperature, top_k_filter, top_p_filter and "
                      "min_p_filter.")
    expected = sampling.sampling_logits(logits, **settings)
    mine = my_logits.detach().float().cpu()
    if torch.equal(mine, expected):
        other = _other_logits(logits)
        try:
            on_other = my_filters(other.clone())
        except Exception as error:
            return failed(f"my_filters works on `logits` but raised {error_message(error)} on other logits.")
        if not (isinstance(on_other, torch.Tensor) and torch.equal(on_other.detach().float().cpu(),
                                                                   sampling.sampling_logits(other, **settings))):
            return failed("my_filters gives the right logits for the notebook's `logits` but not for other logits: "
                          "filter its argument (the innermost call on the parameter `logits`), not a global.")
        orders = orders_giving(logits, mine, **settings)
        others = [" → ".join(o) for o in orders if o != GENERATE_ORDER]
        note = (f" {len(others)} other order(s) give the same logits here, e.g. {others[0]}: dividing by a positive "
                "temperature keeps the ranking, so temperature and top_k commute; top_p and min_p measure "
                "probabilities, which the temperature changes." if others else "")
        return passed(f"Right: temperature → top_k → top_p → min_p, as generate does; "
                      f"{sampling.kept_count(expected.softmax(-1)):,} tokens are left to draw from.{note}")
    if torch.allclose(mine, expected.softmax(-1)):
        return failed("Those are probabilities (after softmax); the filters return logits: leave out the softmax.")
    orders = orders_giving(logits, mine, **settings)
    kept = sampling.kept_count(mine.softmax(-1))
    if orders:
        return failed(f"Your code applies {' → '.join(orders[0])}, which leaves {kept:,} tokens; generate applies "
                      "its filters in another order. Which one changes the probabilities the others measure?")
    return failed(f"Not the four filters in any order with temperature={temperature}, top_k={top_k}, "
                  f"top_p={top_p}, min_p={min_p} ({kept:,} tokens left): check each call's value.")


def check_one_token_left(explorer) -> CheckResult:
    """The explorer's sliders leave exactly one token, removed by the filters: not temperature 0, not top_k=1,
    and not a temperature so low that float32 rounds every other probability to 0 (greedy in disguise)."""
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
    if kept == 1:
        by = [name for name in ("top_p", "min_p") if
              sampling.kept_count(sampling.sampling_probs(explorer.logits, temperature=s["temperature"],
                                                          **{name: s[name]})) == 1]
        how = " and ".join(by) or "the filters together"
        return passed(f"Right: with {shown} one token is left ({how} leave only it), so every draw picks it: "
                      "greedy decoding, reached without temperature 0 or top_k=1.")
    return failed(f"With {shown}, {kept:,} tokens can still be drawn (temperature alone leaves {alone:,}). "
                  "Move a slider, then run this cell again.")
