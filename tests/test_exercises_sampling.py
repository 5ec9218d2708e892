"""Notebooks 07 and 08's exercise checks: natural right answers pass, wrong ones and non-answers do not.

On made-up logits whose probabilities are written out (the checks use the sampling maths that
tests/test_sampling.py compares with transformers), plus the embedded model's real logits for 07's largest
confident temperature and the explorer on the embedded model for 08's one-token-left check. Every check: at
least 3 right answers written differently, at least 5 wrong ones, and an untouched ``...`` that gets "Not
answered yet" without a number in it.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from deepcoder_lib import sampling
from deepcoder_lib.exercises import nb07, nb08
from deepcoder_lib.sampling import apply_temperature, min_p_filter, top_k_filter, top_p_filter

PROBS = [0.5, 0.3, 0.1, 0.06, 0.04]   # the top 2 hold 0.8, the top 3 hold 0.9
LOGITS = torch.log(torch.tensor(PROBS))


def _no_numbers(result) -> bool:
    return not re.search(r"\d", result.message)


# ---- 07 ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("answer", [0.85, np.float64(0.81), torch.tensor(0.9), np.float32(0.88), 0.5 + 0.3 + 0.05])
def test_07_exactly_three_accepts_any_top_p_in_the_window(answer):
    assert nb07.check_exactly_three(LOGITS, top_p=answer)


@pytest.mark.parametrize("answer, words", [
    (0.5, "keeps 1 token; raise it"), (0.8, "keeps 2 tokens; raise it"), (0.95, "keeps 4 tokens; lower it"),
    (1.0, "keeps 5 tokens; lower it"), (2, "must be in (0, 1]"), ("0.85", "must be a number"),
    (True, "must be a number"), (torch.tensor([0.8, 0.9]), "must be a number"), ([0.85], "must be a number")])
def test_07_exactly_three_refuses_and_never_gives_the_window(answer, words):
    result = nb07.check_exactly_three(LOGITS, top_p=answer)
    assert not result and result.answered and words in result.message
    shown = re.sub(r"top_p=[\d.e+-]+|\d+ tokens?|got .*", "", result.message)  # the answer echoed, the count it keeps
    assert not re.search(r"0\.[89]", shown), result.message  # what the top 2 and top 3 hold: never said


def test_07_placeholders_say_not_answered_yet_and_nothing_more():
    for result in (nb07.check_exactly_three(LOGITS, top_p=...), nb07.check_largest_confident_temperature(LOGITS, ...),
                   nb07.check_ratio_at_half_temperature(LOGITS, ...)):
        assert not result and not result.answered and result.label == "Not answered yet" and _no_numbers(result)


# ---- 07, exercise 2: the largest temperature that keeps the top token above 0.9 ----------------------

def _p_top(logits, temperature) -> float:
    """The top token's probability at ``temperature``, as a learner computes it (softmax), in float64."""
    return float((torch.as_tensor(logits).double() / temperature).softmax(-1).max())


def by_a_loop(logits) -> float:
    """What a learner writes: every temperature 0.01 apart, the last one that works (rounded down)."""
    return max(t / 100 for t in range(1, 2001) if (logits / (t / 100)).softmax(-1).max() > 0.9)


def by_bisection(logits) -> torch.Tensor:
    """Another learner's way: bisect between a temperature that works and one that does not (a 0-d tensor)."""
    low, high = torch.tensor(0.001), torch.tensor(20.0)
    for _ in range(40):
        middle = (low + high) / 2
        low, high = (middle, high) if (logits / middle).softmax(-1).max() > 0.9 else (low, middle)
    return low


CONFIDENT = torch.log(torch.tensor([0.99, 0.006, 0.004]))   # 0.99 at T=1: the largest temperature is above 1
TIED = torch.tensor([2.0, 2.0, -1.0, -3.0])                  # two top tokens: each at most 1/2 at any temperature


def _given_away(result, limit) -> bool:
    """Whether the message holds the largest temperature (to 2, 3 or 4 decimals), apart from the answer it echoes
    ("At temperature 0.29 ...", "got '0.28'")."""
    shown = re.sub(r"\b(temperature|got) \S+", "", result.message)
    return any(f"{value:.{d}f}" in shown for value in (limit, math.floor(limit * 100) / 100) for d in (2, 3, 4))


@pytest.mark.parametrize("logits", [LOGITS, CONFIDENT, torch.log(torch.tensor([0.6, 0.3, 0.1])) * 8],
                         ids=["below-1", "above-1", "peaked"])
def test_07_largest_confident_temperature_is_the_edge(logits):
    limit = nb07.largest_confident_temperature(logits)
    assert _p_top(logits, limit * (1 - 1e-9)) > 0.9 >= _p_top(logits, limit * (1 + 1e-9))   # to float64 rounding
    assert abs(float(by_bisection(logits)) - limit) < 1e-4
    assert by_a_loop(logits) == math.floor(limit * 100) / 100


def test_07_largest_confident_temperature_hand_computed():
    """Two tokens, logits 0 and -g: p_top = 1 / (1 + exp(-g / T)) > 0.9 while exp(-g / T) < 1/9, i.e. T < g / ln 9.
    With g = ln 9 * 0.5 the edge is T = 0.5."""
    logits = torch.tensor([0.0, -math.log(9) * 0.5], dtype=torch.float64)
    assert nb07.largest_confident_temperature(logits) == pytest.approx(0.5, abs=1e-9)


@pytest.mark.parametrize("logits", [LOGITS, CONFIDENT], ids=["below-1", "above-1"])
def test_07_largest_confident_temperature_accepts_it_written_differently(logits):
    limit = nb07.largest_confident_temperature(logits)
    for right in (by_a_loop(logits), by_bisection(logits), np.float32(math.floor(limit * 100) / 100),
                  np.float64(limit), round(limit - 0.004, 3), torch.tensor(limit - 0.0099, dtype=torch.float64)):
        result = nb07.check_largest_confident_temperature(logits, right)
        assert result and "Right" in result.message, (right, result.message)


@pytest.mark.parametrize("logits", [LOGITS, CONFIDENT], ids=["below-1", "above-1"])
def test_07_largest_confident_temperature_refuses_and_never_gives_it_away(logits):
    limit = nb07.largest_confident_temperature(logits)
    floor2, ceil2 = math.floor(limit * 100) / 100, math.ceil(limit * 100) / 100
    wrongs = [(0, "greedy"), (0.0, "greedy"), (-floor2, "must be positive"), (str(floor2), "must be a number"),
              (None, "must be a number"), (True, "must be a number"), (torch.tensor([floor2, 0.1]), "must be a number"),
              (float("nan"), "finite"), (math.inf, "finite"),
              (floor2 / 3, "a larger temperature still keeps it above 0.9"),   # works, far from the largest: a guess
              (limit - 0.02, "a larger temperature still keeps it above 0.9"),
              (ceil2, "just under 0.9"), (np.float32(ceil2), "round down"), (limit + 0.005, "a little too large"),
              (limit * 2, "not above 0.9: lower it"), (torch.tensor(10 * limit), "lower it")]
    for wrong, words in wrongs:
        result = nb07.check_largest_confident_temperature(logits, wrong)
        assert not result and result.answered and words in result.message, (wrong, result.message)
        assert not _given_away(result, limit), result.message


def test_07_largest_confident_temperature_refuses_one_on_a_confident_checkpoint_and_a_low_guess():
    """The old exercise ("a temperature above 0.9") passed T=1 here and 0.1 everywhere: both are refused now."""
    assert nb07.largest_confident_temperature(CONFIDENT) > 1
    for guess in (1, 1.0, 0.1, torch.tensor(0.5)):
        result = nb07.check_largest_confident_temperature(CONFIDENT, guess)
        assert not result and "a larger temperature still keeps it above 0.9" in result.message, result.message


def test_07_largest_confident_temperature_where_none_works_says_so():
    assert nb07.largest_confident_temperature(TIED) == 0.0
    for answer in (0.5, 0, by_a_loop(torch.tensor([2.0, 1.0, -1.0])), np.float64(1.0)):
        result = nb07.check_largest_confident_temperature(TIED, answer)
        assert not result and result.answered and "the top 2 tokens tie" in result.message, result.message
    assert nb07.check_largest_confident_temperature(TIED, ...).label == "Not answered yet"
    alone = torch.tensor([3.0, -math.inf, -math.inf])   # one token left: probability 1 at every temperature
    assert nb07.largest_confident_temperature(alone) == math.inf
    result = nb07.check_largest_confident_temperature(alone, 1.0)
    assert not result and "no largest one" in result.message


def test_07_largest_confident_temperature_on_a_near_tie():
    """A gap of 1e-4 between the top two logits: the edge is tiny (about 1e-4 / ln 9 for two tokens), not 0."""
    logits = torch.tensor([2.0, 2.0 - 1e-4], dtype=torch.float64)
    limit = nb07.largest_confident_temperature(logits)
    assert limit == pytest.approx(1e-4 / math.log(9), rel=1e-6)
    assert nb07.check_largest_confident_temperature(logits, limit)
    result = nb07.check_largest_confident_temperature(logits, 0)
    assert not result and "below 0.01" in result.message


@pytest.mark.slow
def test_07_largest_confident_temperature_on_the_embedded_models_logits(model_and_tokenizer):
    """Notebook 07's `logits` (the first token of the reverse-a-string answer) on the real embedded model."""
    model, tokenizer = model_and_tokenizer
    messages = [{"role": "user", "content": "Write a Python function that reverses a string."}]
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**inputs).logits[0, -1].float()
    limit = nb07.largest_confident_temperature(logits)
    assert 0.01 < limit < 20 and _p_top(logits, limit) > 0.9 >= _p_top(logits, limit * 1.001)
    floor2, ceil2 = math.floor(limit * 100) / 100, math.ceil(limit * 100) / 100
    for right in (by_a_loop(logits), by_bisection(logits), np.float64(floor2), torch.tensor(limit)):
        assert nb07.check_largest_confident_temperature(logits, right), right
    for wrong, words in ((floor2 / 2, "a larger temperature"), (ceil2, "round down"), (3 * limit, "lower it"),
                         (0, "greedy"), (-floor2, "positive"), (f"{floor2}", "must be a number")):
        result = nb07.check_largest_confident_temperature(logits, wrong)
        assert not result and words in result.message, (wrong, result.message)
        assert not _given_away(result, limit), result.message


def test_07_ratio_at_half_temperature():
    p1, p2 = 0.5, 0.3
    for right in ((p1 / p2) ** 2, p1 ** 2 / p2 ** 2, torch.tensor(p1 / p2).pow(2), np.exp(2 * np.log(p1 / p2)),
                  2.7778):
        assert nb07.check_ratio_at_half_temperature(LOGITS, right), right
    for wrong, words in ((p1 / p2, "ratio at temperature 1"), (2 * p1 / p2, "Not doubled"), ((p1 / p2) ** 0.5, "not it"),
                         (1.0, "not it"), ("2.78", "must be a number"), (torch.tensor([2.78, 1.0]), "must be a number")):
        result = nb07.check_ratio_at_half_temperature(LOGITS, wrong)
        assert not result and words in result.message, (wrong, result.message)


def test_07_ratio_at_half_temperature_from_the_printed_digits_on_a_confident_checkpoint():
    """The cell prints p1 and p2 to 4 significant digits: a learner who types them in gets within the 1% the check
    allows even where p2 is tiny (to 4 decimals, p2 = 0.0016163 would print as 0.0016: 1% off, 2% once squared)."""
    logits = torch.log(torch.tensor([0.9979, 0.0004837, 0.0016163], dtype=torch.float64))
    p1, p2 = (float(f"{p:.4g}") for p in logits.softmax(-1).topk(2).values.tolist())
    assert nb07.check_ratio_at_half_temperature(logits, (p1 / p2) ** 2)
    assert nb07.check_ratio_at_half_temperature(logits, (0.9979 / 0.0016163) ** 2)
    four_decimals = [float(f"{p:.4f}") for p in logits.softmax(-1).topk(2).values.tolist()]
    assert not nb07.check_ratio_at_half_temperature(logits, (four_decimals[0] / four_decimals[1]) ** 2)


# ---- 08: the four filters with the temperature moved last, written out ----------------------------

CHOSEN = dict(temperature=0.7, top_k=30, top_p=0.9, min_p=0.05)
RAMP = torch.linspace(-4, 4, 200) * 3   # enough tokens for top_k=30 to matter
PEAKED = torch.cat([torch.tensor([10.0]), torch.linspace(-4, -8, 199)])  # both orders keep the top token alone


def nested(logits):
    return apply_temperature(min_p_filter(top_p_filter(top_k_filter(logits, 30), 0.9), 0.05), 0.7)


def step_by_step(logits):
    x = top_k_filter(logits, top_k=30)
    x = top_p_filter(x, top_p=0.9)
    x = min_p_filter(x, min_p=0.05)
    return x / 0.7   # the temperature written as the division it is


def through_the_course_helper(logits):   # the three filters at temperature 1, then the temperature: right too
    return sampling.sampling_logits(logits, temperature=1.0, top_k=30, top_p=0.9, min_p=0.05) * (1 / 0.7)


def in_a_loop(logits):
    for step, value in ((top_k_filter, 30), (top_p_filter, 0.9), (min_p_filter, 0.05), (apply_temperature, 0.7)):
        logits = step(logits, value)
    return logits


def with_transformers_warpers(logits):
    from transformers import (LogitsProcessorList, MinPLogitsWarper, TemperatureLogitsWarper, TopKLogitsWarper,
                              TopPLogitsWarper)
    warpers = LogitsProcessorList([TopKLogitsWarper(30), TopPLogitsWarper(0.9), MinPLogitsWarper(0.05),
                                   TemperatureLogitsWarper(0.7)])
    return warpers(torch.zeros(1, 1, dtype=torch.long), logits[None])[0]


def test_08_the_ramp_tells_the_two_orders_apart():
    """Else generate's order would pass wherever the two happen to agree (as on PEAKED)."""
    assert nb08._kept(nb08.in_order(RAMP, nb08.TEMPERATURE_LAST, CHOSEN)) != \
        nb08._kept(nb08.in_order(RAMP, nb08.GENERATE_ORDER, CHOSEN))
    ramp = nb08._ramp(49_152)
    for settings in (CHOSEN, dict(temperature=0.7, top_k=50, top_p=0.9, min_p=0.05)):
        assert not torch.equal(nb08.in_order(ramp, nb08.TEMPERATURE_LAST, settings),
                               nb08.in_order(ramp, nb08.GENERATE_ORDER, settings))
    assert torch.equal(nb08.in_order(PEAKED, nb08.TEMPERATURE_LAST, CHOSEN),
                       nb08.in_order(PEAKED, nb08.GENERATE_ORDER, CHOSEN))


@pytest.mark.parametrize("answer", [nested, step_by_step, through_the_course_helper, in_a_loop, with_transformers_warpers,
                                    lambda x: nested(x)])
def test_08_temperature_last_accepts_it_written_in_different_ways(answer):
    for logits in (RAMP, PEAKED):
        result = nb08.check_temperature_last(answer, logits, **CHOSEN)
        assert result and "top_k → top_p → min_p → temperature" in result.message, result.message
    kept_last = int(nested(RAMP).isfinite().sum())
    kept_first = sampling.kept_count(sampling.sampling_probs(RAMP, **CHOSEN))
    assert f"{kept_last:,} tokens are left, against {kept_first:,}" in nb08.check_temperature_last(answer, RAMP, **CHOSEN).message


def generate_order(logits):
    return min_p_filter(top_p_filter(top_k_filter(apply_temperature(logits, 0.7), 30), 0.9), 0.05)


def the_helper(logits):
    return sampling.sampling_logits(logits, 0.7, 30, 0.9, 0.05)


def top_p_last(logits):
    return top_p_filter(apply_temperature(min_p_filter(top_k_filter(logits, 30), 0.05), 0.7), 0.9)


def a_global_not_the_argument(logits):
    return nested(RAMP)


def probabilities(logits):
    return nested(logits).softmax(-1)


def wrong_value(logits):
    return apply_temperature(min_p_filter(top_p_filter(top_k_filter(logits, 3), 0.9), 0.05), 0.7)


def three_filters(logits):
    return min_p_filter(top_p_filter(top_k_filter(logits, 30), 0.9), 0.05)


def raises(logits):
    return top_k_filter(logits, -1)


@pytest.mark.parametrize("answer, words", [
    (generate_order, "That is generate's order"), (the_helper, "That is generate's order"),
    (top_p_last, "Your code applies"), (a_global_not_the_argument, "not for other logits"),
    (probabilities, "probabilities"), (wrong_value, "check each call's value"),
    (three_filters, "right tokens are left, but their logits differ"), (raises, "raised ValueError: `top_k` must be"),
    (nested(RAMP), "the function itself"), (lambda logits: logits[:10], "shape"), (42, "must be a function")])
def test_08_temperature_last_refuses_other_orders_and_non_answers(answer, words):
    result = nb08.check_temperature_last(answer, RAMP, **CHOSEN)
    assert not result and result.answered and words in result.message, result.message
    assert str(int(nested(RAMP).isfinite().sum())) + " tokens" not in result.message  # the answer is not given


def test_08_generate_order_fails_also_where_both_orders_agree():
    result = nb08.check_temperature_last(generate_order, PEAKED, **CHOSEN)
    assert not result and "happen to agree" in result.message, result.message


def test_08_temperature_last_placeholders_say_not_answered_yet():
    def untouched(logits):
        return ...
    for answer in (..., untouched, None):
        result = nb08.check_temperature_last(answer, RAMP, **CHOSEN)
        assert not result and not result.answered and result.label == "Not answered yet"
        assert _no_numbers(result), result.message


# ---- 08: one token left in the explorer --------------------------------------------------------

@pytest.fixture(scope="module")
def explorer(model_and_tokenizer):
    from deepcoder_lib.explorer import make_explorer
    model, tokenizer = model_and_tokenizer
    request = "Write a Python function that reverses a string."
    sure = [{"role": "user", "content": request},   # the next token is all but certain: "1"
            {"role": "assistant", "content": "```python\ndef reverse_string(s):\n    return s[::-"}]
    return make_explorer(model, tokenizer, {"first": request, "sure": sure}, live=False)


def _set(explorer, temperature=1.0, top_k=0, top_p=1.0, min_p=0.0):
    explorer.temperature.value, explorer.top_k.value = temperature, top_k
    explorer.top_p.value, explorer.min_p.value = top_p, min_p


def test_08_one_token_left_accepts_filters_that_leave_one(explorer):
    explorer.prompt.value = "first"
    top = float(explorer.logits.softmax(-1).max())
    for settings in (dict(top_p=0.01), dict(min_p=1.0), dict(temperature=0.5, top_p=0.3),
                     dict(temperature=1.5, min_p=0.9, top_k=5), dict(top_p=round(top - 0.01, 2))):
        _set(explorer, **settings)
        result = nb08.check_one_token_left(explorer)
        assert result and explorer.kept == 1, (settings, result.message)


def test_08_one_token_left_refuses_greedy_in_any_disguise(explorer):
    explorer.prompt.value = "first"
    for settings, words in ((dict(temperature=0.0), "temperature 0 is greedy"), (dict(top_k=1), "top_k=1"),
                            (dict(), "can still be drawn"), (dict(temperature=0.7, top_p=0.9), "can still be drawn"),
                            (dict(top_k=3, min_p=0.01), "can still be drawn")):
        _set(explorer, **settings)
        result = nb08.check_one_token_left(explorer)
        assert not result and words in result.message, (settings, result.message)
        top = float(sampling.sampling_probs(explorer.logits, temperature=max(settings.get("temperature", 1.0), 0.01)).max())
        assert f"{top:.3f}" not in result.message  # the top token's probability (the top_p bound) is not given


def test_08_one_token_left_refuses_a_temperature_that_float32_rounds_to_greedy(explorer):
    """Where the model is sure (a gap of 6 between the top two logits, as after `return s[::-`), temperature 0.05
    divides the gap into 120: exp(-120) is 0 in float32, so one token is left before any filter."""
    cached = explorer.logits
    try:
        explorer.logits = torch.cat([torch.tensor([10.0, 4.0, 3.5]), torch.linspace(3, -5, 500)])
        assert sampling.kept_count(sampling.sampling_probs(explorer.logits, temperature=0.05)) == 1
        for settings in (dict(temperature=0.05), dict(temperature=0.05, top_p=0.5), dict(temperature=0.05, min_p=0.2)):
            _set(explorer, **settings)
            result = nb08.check_one_token_left(explorer)
            assert not result and "greedy decoding in disguise" in result.message, result.message
        _set(explorer, temperature=1.0, top_p=0.5)  # at T=1 the filter is what leaves the one token
        assert nb08.check_one_token_left(explorer)
    finally:
        explorer.logits = cached


def test_08_one_token_left_refuses_the_settings_the_page_set(explorer):
    """On a prompt the model is sure of (after `return s[::-`), the sliders as the cell before the exercise left them
    already leave one token: replacing `...` with `explorer` must not pass. Moving a slider yourself does."""
    explorer.prompt.value = "sure"
    try:
        _set(explorer, **nb08.PAGE_SETTINGS)
        assert explorer.kept == 1   # the model is that sure here: the page's own settings leave one token
        result = nb08.check_one_token_left(explorer)
        assert not result and result.answered and "the cell above set" in result.message, result.message
        for settings in (dict(temperature=0.7, top_p=0.85), dict(temperature=1.0, top_p=0.9), dict(min_p=0.5)):
            _set(explorer, **settings)
            assert nb08.check_one_token_left(explorer), settings
    finally:
        explorer.prompt.value = "first"


def test_08_page_settings_are_what_the_notebook_sets():
    import nbformat
    nb = nbformat.read(Path(__file__).parents[1] / "notebooks" / "08_sampling_in_practice.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "explorer.temperature.value, explorer.top_p.value =" in c.source)
    temperature, top_p = re.search(r"explorer\.top_p\.value = ([\d.]+), ([\d.]+)", cell.source).groups()
    assert (float(temperature), float(top_p)) == (nb08.PAGE_SETTINGS["temperature"], nb08.PAGE_SETTINGS["top_p"])
    assert "top_k" not in cell.source and "min_p" not in cell.source   # left at the explorer's start values
    assert nb08.PAGE_SETTINGS["top_k"] == 0 and nb08.PAGE_SETTINGS["min_p"] == 0.0


def test_08_one_token_left_placeholder_gives_nothing_away():
    result = nb08.check_one_token_left(...)
    assert not result and not result.answered and result.label == "Not answered yet"
    assert "token" in result.message and not any(ch.isdigit() for ch in result.message)
