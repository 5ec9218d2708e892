"""Notebook 19's exercise checks: reranked pass@1 from a table, the "keep the first that passes" rule written by
hand (the course's keep_first_passing, called in any way, is refused), and answers per solved task."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch

from deepcoder_lib import rerank
from deepcoder_lib.exercises import nb19


# --- 1. reranked pass@1 of the table --------------------------------------------------------------------------
@pytest.mark.parametrize("value", [0.4, 2 / 5, Fraction(2, 5), np.float64(0.4), torch.tensor(0.4), 0.40000001])
def test_reranked_right(value):
    result = nb19.check_reranked_pass_at_1(value)
    assert result and "A and E" in result.message


def test_reranked_answer_follows_the_course_rule():
    kept = [answers[rerank.keep_first_passing(p for p, _ in answers)][1] for answers in nb19.TABLE.values()]
    assert sum(kept) / len(kept) == pytest.approx(0.4)


@pytest.mark.parametrize("value, says", [
    (2, "how many tasks"), (0.25, "plain pass@1"), (0.8, "pass@n"), (0.2, "fallback"), (1.5, "not a fraction"),
    (0.6, "is not it"), ("0.4", "must be a number"), (True, "must be a number"), (torch.tensor([0.4, 0.4]), "must be"),
])
def test_reranked_wrong(value, says):
    result = nb19.check_reranked_pass_at_1(value)
    assert not result and result.answered and says in result.message, result


def test_reranked_placeholder_gives_nothing_away():
    result = nb19.check_reranked_pass_at_1(...)
    assert not result.answered and "0.4" not in result.message and "2" not in result.message


# --- 2. keep_first written by hand ----------------------------------------------------------------------------
def loop(public_passed):
    for i, ok in enumerate(public_passed):
        if ok:
            return i
    return 0


def with_next(flags):
    return next((i for i, ok in enumerate(flags) if ok), 0)


def with_index(flags):
    try:
        return list(flags).index(True)
    except ValueError:
        return 0


def numpy_argmax(flags):
    return np.argmax(np.array(flags)) if any(flags) else np.int64(0)  # argmax of all False is 0 too


def torch_way(flags):
    return torch.tensor([int(f) for f in flags]).argmax()


@pytest.mark.parametrize("fn", [loop, with_next, with_index, numpy_argmax, torch_way])
def test_keep_first_right(fn):
    assert nb19.check_keep_first(fn), nb19.check_keep_first(fn)


def last_passing(flags):
    return max((i for i, ok in enumerate(flags) if ok), default=0)


def no_fallback(flags):
    return next((i for i, ok in enumerate(flags) if ok), -1)


def one_based(flags):
    return next((i + 1 for i, ok in enumerate(flags) if ok), 1)


def the_verdict(flags):
    return any(flags)


def first_failing(flags):
    return next((i for i, ok in enumerate(flags) if not ok), 0)


def always_first(flags):
    return 0


def course_helper(flags):
    return rerank.keep_first_passing(flags)


def course_helper_renamed(flags):
    import deepcoder_lib.rerank as r
    pick = r.keep_first_passing
    return (lambda f: pick(f))(flags)


def crashes(flags):
    return flags.index(True)


@pytest.mark.parametrize("fn, says", [
    (last_passing, "keeps the first passing"), (no_fallback, "keep the first one"), (one_based, "count from 0"),
    (the_verdict, "not the verdict"), (first_failing, "expected"), (always_first, "expected 1"),
    (course_helper, "course's own"), (course_helper_renamed, "course's own"), (crashes, "raised ValueError"),
    (42, "function itself"),
])
def test_keep_first_wrong(fn, says):
    result = nb19.check_keep_first(fn)
    assert not result and result.answered and says in result.message, result


def test_keep_first_placeholder():
    def keep_first(public_passed):
        ...  # your code

    for value in (keep_first, ...):
        result = nb19.check_keep_first(value)
        assert not result.answered and "0" not in result.message


# --- 3. answers per solved task -------------------------------------------------------------------------------
@pytest.mark.parametrize("rerank_cost, repair_cost", [
    (48, 15.5), (40 * 6 / 5, (40 + 22) / 4), (np.float64(48.0), torch.tensor(15.5)), (Fraction(240, 5), Fraction(31, 2)),
])
def test_cost_right(rerank_cost, repair_cost):
    result = nb19.check_answers_per_solved(rerank_cost, repair_cost)
    assert result and "48" in result.message and "15.5" in result.message


@pytest.mark.parametrize("rerank_cost, repair_cost, says", [
    (15.5, 48, "swapped"), (5 / 240, 15.5, "turn it round"), (6, 15.5, "n answers of one task"),
    (40 / 5, 15.5, "n per task"), (48, 22 / 4, "first answer of every task"), (48, 40 / 4, "repaired answers"),
    (48, 4 / 62, "turn it round"), (60, 15.5, "divide all answers"), ("48", 15.5, "must be a number"),
])
def test_cost_wrong(rerank_cost, repair_cost, says):
    result = nb19.check_answers_per_solved(rerank_cost, repair_cost)
    assert not result and result.answered and says in result.message, result


@pytest.mark.parametrize("args", [(..., ...), (48, ...), (..., 15.5)])
def test_cost_placeholder(args):
    result = nb19.check_answers_per_solved(*args)
    assert not result.answered and "48" not in result.message and "15.5" not in result.message
