"""Checks for notebook 10 (measuring code): counting the pairs behind pass@2, and pass@k written by hand as a
function, compared with the course's unbiased estimator (``deepcoder_lib.passk.pass_at_k``) on every n <= 12.
Pure arithmetic: instant."""
from __future__ import annotations

import math

from . import CheckResult, as_number, failed, not_answered, passed
from .by_hand import number_by_hand

MAX_N = 12  # the check compares on every (n, c, k) with 1 <= k <= n <= MAX_N, 0 <= c <= n


def check_failing_pairs(count) -> CheckResult:
    """5 answers sampled, 2 pass: how many of the C(5, 2) = 10 pairs hold no passing answer?"""
    number = as_number(count, "`failing_pairs`", "4", whole=True)
    if isinstance(number, CheckResult):
        return number
    if number == 3:
        return passed("3: the 3 failing answers make C(3, 2) = 3 pairs, so pass@2 = 1 - 3/10 = 0.7; "
                      "in general 1 - C(n-c, k) / C(n, k).")
    hints = {7: "7 pairs hold at least one passing answer: you counted the other side.",
             1: "1 pair holds two passing answers; count the pairs with no passing answer at all.",
             6: "6 pairs hold exactly one passing answer; count the pairs with none.",
             10: "10 is every pair, C(5, 2); count only those made of failing answers."}
    if number in hints:
        return failed(hints[number])
    if not 0 <= number <= 10:
        return failed(f"{number} cannot be a count of pairs out of 10.")
    return failed(f"{number} is not it: name the answers A-E, say which 2 pass, and list the pairs of the other 3.")


def check_pass_at_k(fn) -> CheckResult:
    """Does ``fn(n, c, k)`` give the unbiased pass@k for every 1 <= k <= n <= 12 and 0 <= c <= n, by itself?"""
    from ..passk import pass_at_k

    if fn is ...:
        return not_answered("`my_pass_at_k`", "your function")
    if not callable(fn):
        return failed(f"Pass the function itself, check_pass_at_k(my_pass_at_k), got {fn!r}.")
    cases = [(n, c, k) for n in range(1, MAX_N + 1) for c in range(n + 1) for k in range(1, n + 1)]
    for n, c, k in cases:
        expected = pass_at_k(n, c, k)
        got = number_by_hand(fn, (n, c, k), name="my_pass_at_k", call=f"my_pass_at_k({n}, {c}, {k})",
                             raised_hint="math.comb(a, b) is 0 when b > a, which is what you want when n - c < k.",
                             helper_hint="write the formula yourself with math.comb (or a product)",
                             number_hint="return a number between 0 and 1")
        if isinstance(got, CheckResult):
            return got
        if not math.isclose(got, expected, abs_tol=1e-9):
            if math.isclose(got, 1 - (1 - c / n) ** k, abs_tol=1e-9):
                return failed(f"my_pass_at_k({n}, {c}, {k}) = {got:.4f} is 1 - (1 - c/n)**k, drawing with "
                              f"replacement; the unbiased estimate draws k different answers: {expected:.4f}.")
            return failed(f"my_pass_at_k({n}, {c}, {k}) = {got:.4f}, expected {expected:.4f} = "
                          f"1 - C({n - c}, {k}) / C({n}, {k}).")
    return passed(f"Your function agrees with the unbiased estimator on all {len(cases)} cases with n <= {MAX_N}.")
