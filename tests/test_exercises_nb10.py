"""Notebook 10's exercise checks: counting the failing pairs, and pass@k written by hand (the course's own
estimator, called in any way, is refused). Pure arithmetic."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch

import deepcoder_lib
from deepcoder_lib import passk
from deepcoder_lib.evaluation import pass_at_k as reexported
from deepcoder_lib.exercises import nb10


@pytest.mark.parametrize("count", [3, 3.0, math.comb(3, 2), np.int64(3), torch.tensor(3)])
def test_failing_pairs_right(count):
    result = nb10.check_failing_pairs(count)
    assert result and "1 - 3/10 = 0.7" in result.message


@pytest.mark.parametrize("count, says", [
    (7, "other side"), (1, "two passing"), (6, "exactly one"), (10, "every pair"), (0.3, "whole number"),
    (0.7, "whole number"), ((1 - passk.pass_at_k(5, 2, 2)) * 10, "whole number"), (12, "cannot be a count"),
    (2, "is not it"), ("3", "whole number"), (True, "whole number"),
])
def test_failing_pairs_wrong(count, says):
    result = nb10.check_failing_pairs(count)
    assert not result and says in result.message, result


def test_failing_pairs_placeholder():
    result = nb10.check_failing_pairs(...)
    assert not result.answered and "3" not in result.message


def binomial(n, c, k):
    return 1 - math.comb(n - c, k) / math.comb(n, k)


def product(n, c, k):
    if n - c < k:
        return 1.0
    return 1 - math.prod((n - c - i) / (n - i) for i in range(k))


def fraction_loop(n, c, k):
    fail = Fraction(1)
    for i in range(k):
        fail *= Fraction(max(n - c - i, 0), n - i)
    return 1 - fail


def torch_0d(n, c, k):
    return 1 - torch.tensor(math.comb(n - c, k) / math.comb(n, k), dtype=torch.float64)


@pytest.mark.parametrize("fn", [binomial, product, fraction_loop, torch_0d, lambda n, c, k: np.float64(binomial(n, c, k))],
                         ids=["binomial", "product", "fraction", "torch 0-d", "numpy"])
def test_pass_at_k_right(fn):
    result = nb10.check_pass_at_k(fn)
    assert result and "all 728 cases" in result.message  # sum over n <= 12 of n * (n + 1) = 650 + 78


def test_pass_at_k_wrong_each_say_why():
    shortcut = nb10.check_pass_at_k(lambda n, c, k: 1 - (1 - c / n) ** k)
    assert not shortcut and "with replacement" in shortcut.message and "(2, 1, 2)" in shortcut.message
    off_by_one = nb10.check_pass_at_k(lambda n, c, k: 1 - math.comb(n - c, k) / math.comb(n + 1, k))
    assert not off_by_one and "(1, 0, 1) = 0.5000, expected 0.0000 = 1 - C(1, 1) / C(1, 1)" in off_by_one.message
    crash = nb10.check_pass_at_k(lambda n, c, k: 1 - math.perm(n - c, k) / (n - c - k))
    assert not crash and "raised ZeroDivisionError" in crash.message
    assert "Pass the function itself" in nb10.check_pass_at_k(0.7).message
    assert "return a number" in nb10.check_pass_at_k(lambda n, c, k: "0.5").message
    assert "return a number" in nb10.check_pass_at_k(lambda n, c, k: torch.tensor([0.5, 0.5])).message
    pass_at_1 = nb10.check_pass_at_k(lambda n, c, k: c / n)
    assert not pass_at_1 and "expected" in pass_at_1.message


@pytest.mark.parametrize("fn", [
    reexported,
    lambda n, c, k: passk.pass_at_k(n, c, k),
    lambda n, c, k: deepcoder_lib.passk.pass_at_k(n, c, k=k) * 1.0,
    lambda n, c, k: passk.estimate({"t": [True] * c + [False] * (n - c)}, (k,))[f"pass@{k}"],
], ids=["the helper itself", "wrapped", "through the package", "through estimate"])
def test_pass_at_k_refuses_the_course_helper(fn):
    result = nb10.check_pass_at_k(fn)
    assert not result and "course's own deepcoder_lib.passk" in result.message, result


def test_pass_at_k_placeholder_and_missing_return():
    def my_pass_at_k(n, c, k):
        ...  # your code

    result = nb10.check_pass_at_k(my_pass_at_k)
    assert not result.answered and "comb" not in result.message
    assert not nb10.check_pass_at_k(...).answered

    def forgot_return(n, c, k):
        1 - math.comb(n - c, k) / math.comb(n, k)

    result = nb10.check_pass_at_k(forgot_return)
    assert result.answered and not result and "returned None" in result.message
