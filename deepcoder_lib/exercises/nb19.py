"""Checks for notebook 19 (run the tests): reranked pass@1 from a table of public/hidden verdicts, the "keep the
first that passes" rule written as a function (the course's ``rerank.keep_first_passing``, called in any way, is
refused), and the cost of reranking and repair in answers per solved task. Pure arithmetic: instant."""
from __future__ import annotations

import itertools
import math
from fractions import Fraction

from . import CheckResult, as_number, failed, not_answered, passed, real_number
from .by_hand import course_calls, is_placeholder_function

# The table of exercise 1: per task, (public examples passed, hidden tests passed) for each of 4 answers.
TABLE = {"A": [(False, False), (True, True), (True, True), (False, False)],
         "B": [(False, False), (False, True), (False, False), (False, False)],
         "C": [(True, False), (True, True), (False, False), (False, False)],
         "D": [(False, False), (False, False), (False, False), (False, False)],
         "E": [(False, True), (False, False), (False, False), (False, False)]}
# Exercise 3: the run it describes.
TASKS, N, RERANK_SOLVED, REPAIR_ANSWERS, REPAIR_SOLVED = 40, 6, 5, 22, 4


def _close(a, b) -> bool:
    return math.isclose(a, b, rel_tol=0, abs_tol=0.005)


def check_reranked_pass_at_1(value) -> CheckResult:
    """Reranked pass@1 of ``TABLE``: keep each task's first answer that passed its public examples (else its first
    answer), and average over the tasks whether the kept answer passed the hidden tests."""
    number = as_number(value, "`reranked`", "0.5")
    if isinstance(number, CheckResult):
        return number
    tasks = len(TABLE)
    kept = [answers[next((i for i, (public, _) in enumerate(answers) if public), 0)][1] for answers in TABLE.values()]
    plain = sum(sum(h for _, h in answers) / len(answers) for answers in TABLE.values()) / tasks
    ceiling = sum(any(h for _, h in answers) for answers in TABLE.values()) / tasks
    no_fallback = sum(next((h for p, h in answers if p), False) for answers in TABLE.values()) / tasks
    right = sum(kept) / tasks
    if _close(number, right):
        return passed(f"{number:g}: tasks A and E count (A's first passing answer, E's fallback to its first answer); "
                      f"B, C and D do not. Plain pass@1 here is {plain:g}, pass@n {ceiling:g}.")
    hints = [(sum(kept), f"{number:g} is how many tasks the kept answers solve; pass@1 is that count over the "
                         f"{tasks} tasks."),
             (plain, f"{number:g} is plain pass@1 (the share of all answers that pass the hidden tests); keep one "
                     "answer per task first."),
             (ceiling, f"{number:g} is pass@n: some answer of the task passes. The rule cannot see the hidden "
                       "tests; it keeps the first answer whose public examples pass."),
             (no_fallback, f"{number:g} leaves out the fallback: a task where no answer passes its public examples "
                           "keeps its first answer, and that answer may still pass the hidden tests.")]
    for wrong, hint in hints:
        if _close(number, wrong):
            return failed(hint)
    if not 0 <= number <= 1:
        return failed(f"{number:g} is not a fraction of tasks (between 0 and 1).")
    return failed(f"{number:g} is not it: for each task find the first answer with public ✓ (none: the first "
                  "answer), read its hidden verdict, and average over the tasks.")


def _reference(flags) -> int:
    return next((i for i, ok in enumerate(flags) if ok), 0)


# lists with a passing answer first, so that a rule counting from 1 hears about that before the fallback
_CASES = sorted((list(flags) for size in range(1, 6) for flags in itertools.product([False, True], repeat=size)),
                key=lambda flags: not any(flags))


def check_keep_first(fn) -> CheckResult:
    """Does ``fn(public_passed)`` return the index of the first True, or 0 when there is none, for every list of
    up to 5 True/False values (given as a list), by itself?"""
    if fn is ...:
        return not_answered("`keep_first`", "your function")
    if not callable(fn):
        return failed(f"Pass the function itself, check_keep_first(keep_first), got {fn!r}.")
    if is_placeholder_function(fn):
        return not_answered("the body of `keep_first`", "your code")
    for flags in _CASES:
        shown = f"keep_first({flags})"
        try:
            got, helpers = course_calls(fn, list(flags))
        except Exception as error:  # the learner's code: say what went wrong
            return failed(f"{shown} raised {type(error).__name__}: {error}. Return a position (0, 1, ...).")
        if helpers:
            return failed(f"keep_first calls the course's own {helpers[0]}: write the rule yourself, that is the "
                          "exercise.")
        number = real_number(got)
        if isinstance(got, bool) or number is None or isinstance(number, float) and not number.is_integer():
            return failed(f"{shown} returned {got!r}; return the position of the answer to keep (0 for the "
                          "first), not the verdict or the answer.")
        expected = _reference(flags)
        if int(number) != expected:
            why = ("when no answer passes, keep the first one (position 0): the rule needs an answer to grade"
                   if not any(flags) else "that answer passes too, but the rule keeps the first passing one"
                   if 0 <= int(number) < len(flags) and flags[int(number)]
                   else "positions count from 0" if int(number) == expected + 1
                   else "the first passing answer is the one kept")
            return failed(f"{shown} returned {got!r}, expected {expected}: {why}.")
    return passed(f"Your rule agrees with the course's on all {len(_CASES)} lists of up to 5 verdicts.")


def check_answers_per_solved(rerank_cost, repair_cost) -> CheckResult:
    """Answers generated per solved task in exercise 3's run: reranking (all n answers of every task) and repair
    (one first answer per task plus every repaired answer)."""
    for value, what in ((rerank_cost, "`rerank_cost`"), (repair_cost, "`repair_cost`")):
        if value is ...:
            return not_answered(what, "a number")
    first = as_number(rerank_cost, "`rerank_cost`", "12.5")
    if isinstance(first, CheckResult):
        return first
    second = as_number(repair_cost, "`repair_cost`", "12.5")
    if isinstance(second, CheckResult):
        return second
    rerank = Fraction(TASKS * N, RERANK_SOLVED)
    repair = Fraction(TASKS + REPAIR_ANSWERS, REPAIR_SOLVED)
    if _close(first, float(repair)) and _close(second, float(rerank)):
        return failed("The two numbers are swapped: rerank_cost first, then repair_cost.")
    if not _close(first, float(rerank)):
        hints = {float(Fraction(RERANK_SOLVED, TASKS * N)): "that is solved tasks per answer; turn it round",
                 float(Fraction(TASKS, RERANK_SOLVED)): "count every answer generated, n per task, not one per task",
                 float(N): "that is the n answers of one task; divide all the answers by the tasks solved"}
        hint = next((h for value, h in hints.items() if _close(first, value)), "divide all answers generated "
                    "(every task, n each) by the tasks reranking solved")
        return failed(f"rerank_cost = {first:g} is not it: {hint}.")
    if not _close(second, float(repair)):
        hints = {float(Fraction(REPAIR_ANSWERS, REPAIR_SOLVED)): "the first answer of every task was generated too",
                 float(Fraction(TASKS, REPAIR_SOLVED)): "the repaired answers were generated too",
                 float(Fraction(REPAIR_SOLVED, TASKS + REPAIR_ANSWERS)): "that is solved tasks per answer; turn it round"}
        hint = next((h for value, h in hints.items() if _close(second, value)), "add the first answers (one per task) "
                    "and the repaired answers, and divide by the tasks repair solved")
        return failed(f"repair_cost = {second:g} is not it: {hint}.")
    return passed(f"{float(rerank):g} answers per solved task for reranking ({TASKS} x {N} / {RERANK_SOLVED}), "
                  f"{float(repair):g} for repair (({TASKS} + {REPAIR_ANSWERS}) / {REPAIR_SOLVED}): repair asks only "
                  "where a public example failed.")
