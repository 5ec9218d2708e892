"""Checks for notebook 10 (measuring code): pass@k by hand, and pass@k written as a function, compared with
the course's unbiased estimator (``deepcoder_lib.passk.pass_at_k``) on every n <= 12. Pure arithmetic: instant."""
from __future__ import annotations

import math

from . import CheckResult, failed, passed

MAX_N = 12  # the check compares on every (n, c, k) with 1 <= k <= n <= MAX_N, 0 <= c <= n


def check_pass_at_2(value) -> CheckResult:
    """5 answers sampled, 2 pass: what is the unbiased pass@2?"""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return failed(f"Give a number between 0 and 1, got {value!r}. Count the pairs of 5 answers: C(5, 2).")
    if math.isclose(value, 0.7, abs_tol=1e-3):
        return passed("0.7: of the C(5,2) = 10 pairs, C(3,2) = 3 contain only failures, so 1 - 3/10.")
    if math.isclose(value, 1 - (1 - 2 / 5) ** 2, abs_tol=1e-3):
        return failed("0.64 is 1 - (1 - c/n)**2: drawing with replacement. pass@k draws k different answers "
                      "from the n: 1 - C(n-c, k) / C(n, k).")
    if math.isclose(value, 0.4, abs_tol=1e-3):
        return failed("0.4 is c/n, which is pass@1. With 2 tries you pass when either of the pair passes.")
    return failed(f"{value} is not it. pass@k = 1 - C(n-c, k) / C(n, k) with n=5, c=2, k=2.")


def check_pass_at_k(fn) -> CheckResult:
    """Does ``fn(n, c, k)`` give the unbiased pass@k for every 1 <= k <= n <= 12 and 0 <= c <= n?"""
    from ..passk import pass_at_k

    if not callable(fn):
        return failed(f"Pass the function itself, check_pass_at_k(my_pass_at_k), got {fn!r}.")
    cases = [(n, c, k) for n in range(1, MAX_N + 1) for c in range(n + 1) for k in range(1, n + 1)]
    for n, c, k in cases:
        expected = pass_at_k(n, c, k)
        try:
            got = fn(n, c, k)
        except Exception as error:  # the learner's code: show what went wrong, where
            return failed(f"my_pass_at_k({n}, {c}, {k}) raised {type(error).__name__}: {error}. "
                          "math.comb(a, b) is 0 when b > a, which is what you want when n - c < k.")
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            return failed(f"my_pass_at_k({n}, {c}, {k}) returned {got!r}; return a number between 0 and 1.")
        if not math.isclose(got, expected, abs_tol=1e-9):
            if math.isclose(got, 1 - (1 - c / n) ** k, abs_tol=1e-9):
                return failed(f"my_pass_at_k({n}, {c}, {k}) = {got:.4f} is 1 - (1 - c/n)**k, drawing with "
                              f"replacement; the unbiased estimate draws k different answers: {expected:.4f}.")
            return failed(f"my_pass_at_k({n}, {c}, {k}) = {got:.4f}, expected {expected:.4f} = "
                          f"1 - C({n - c}, {k}) / C({n}, {k}).")
    return passed(f"Your function agrees with the unbiased estimator on all {len(cases)} cases with n <= {MAX_N}.")
