"""Instant checks for notebook 16 (one shared server for the class). Each returns a CheckResult."""
from __future__ import annotations

import math

from . import CheckResult, as_number, failed, passed


def check_other_mass(pairs: list[tuple[str, float]], answer) -> CheckResult:
    """The probability of every token the server did not list: 1 - sum(exp(logprob)) over ``pairs``."""
    answer = as_number(answer, "`my_other`", "0.25")
    if isinstance(answer, CheckResult):
        return answer
    head = sum(math.exp(logprob) for _, logprob in pairs)
    expected = max(0.0, 1.0 - head)
    if math.isclose(answer, expected, abs_tol=1e-4):
        return passed(f"The {len(pairs)} listed tokens hold {head:.4f}, so all other tokens of the "
                      f"vocabulary together hold {expected:.4f}; how it splits among them, the server never sent.")
    if math.isclose(answer, head, abs_tol=1e-4):
        return failed("That is the mass of the listed tokens themselves, not of the tokens left out.")
    if math.isclose(answer, 1.0 - sum(logprob for _, logprob in pairs), abs_tol=1e-4):
        return failed("Those are log-probabilities: a probability is math.exp of a log-probability.")
    if answer < 0 or answer > 1:
        return failed(f"{answer} is not a probability; it must lie between 0 and 1.")
    return failed(f"Not {answer:.4f}: it is the probability of every token the server did not list.")
