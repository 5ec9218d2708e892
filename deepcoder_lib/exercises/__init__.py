"""Instant checks for the notebooks' "Try it" exercises, one module per notebook (nb01.py, ...).

A check never just says False: it returns a ``CheckResult`` that renders as a green tick with a
short confirmation, or a red cross that says what is wrong and gives a hint. This file holds the
shared result type; each notebook's checks live in their own module.
"""
from __future__ import annotations

import html
from dataclasses import dataclass


@dataclass
class CheckResult:
    """The outcome of one exercise check: ``ok`` and a message written for the learner."""
    ok: bool
    message: str

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        return ("✅ " if self.ok else "❌ ") + self.message

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.ok else "#cf222e"
        return (f'<div style="border-left:4px solid {colour};padding:4px 8px;margin:4px 0">'
                f'{"✅" if self.ok else "❌"} {html.escape(self.message)}</div>')


def passed(message: str) -> CheckResult:
    return CheckResult(True, message)


def failed(message: str) -> CheckResult:
    return CheckResult(False, message)


def as_number(value, what: str, example: str = "5", *, whole: bool = False):
    """The learner's answer if it is a number (a whole one when ``whole``); else the failed check saying why.

    Callers return the result when it is a ``CheckResult``. ``what`` names the variable, ``example`` shows one."""
    kind = "a whole number" if whole else "a number"
    if value is ...:
        return failed(f"Replace `...` in {what} with your answer, {kind}, then run the cell again.")
    if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
        return failed(f"{what} must be {kind} such as {example}, got {value!r}.")
    return value


def first_not_number(*named, whole: bool = False):
    """For ``(value, name)`` pairs: the failed check of the first that is not a number (``as_number``), else None."""
    for value, what in named:
        result = as_number(value, what, whole=whole)
        if isinstance(result, CheckResult):
            return result
    return None
