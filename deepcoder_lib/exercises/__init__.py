"""Instant checks for the notebooks' "Try it" exercises, one module per notebook (nb01.py, ...).

A check never just says False: it returns a ``CheckResult`` that says in words whether the answer is
right ("Correct", "Not yet") and, when it is not, what is wrong and a hint. An exercise the learner has
not touched yet (its placeholder ``...`` still in place, e.g. after Run All) gets "Not answered yet" and
nothing more, so running the notebook top to bottom never gives an answer away. This file holds the
shared result type and the shared number check; each notebook's checks live in their own module.
"""
from __future__ import annotations

import html
import numbers
from dataclasses import dataclass

# Words first, symbols second: without an emoji font the symbols render as boxes, the words still read.
_LABELS = {True: ("Correct", "✓", "#1a7f37"), False: ("Not yet", "✗", "#cf222e"),
           None: ("Not answered yet", "…", "#6e7781")}


@dataclass
class CheckResult:
    """The outcome of one exercise check: ``ok`` and a message written for the learner.

    ``answered`` is False for an exercise whose placeholder is still in place: then ``ok`` is False
    and the message only says how to answer, never what the answer is."""
    ok: bool
    message: str
    answered: bool = True

    def __bool__(self) -> bool:
        return self.ok

    @property
    def label(self) -> str:
        return _LABELS[self.ok if self.answered else None][0]

    def __str__(self) -> str:
        word, symbol, _ = _LABELS[self.ok if self.answered else None]
        return f"{symbol} {word}: {self.message}"

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        word, symbol, colour = _LABELS[self.ok if self.answered else None]
        return (f'<div style="border-left:4px solid {colour};padding:4px 8px;margin:4px 0">'
                f'<b>{symbol} {word}:</b> {html.escape(self.message)}</div>')


def passed(message: str) -> CheckResult:
    return CheckResult(True, message)


def failed(message: str) -> CheckResult:
    return CheckResult(False, message)


def not_answered(what: str, kind: str = "your answer") -> CheckResult:
    """The result for an untouched exercise: how to answer, and not one word about the answer."""
    return CheckResult(False, f"Replace `...` in {what} with {kind}, then run the cell again.", answered=False)


def is_placeholder(value) -> bool:
    """True for the placeholder an exercise cell starts with (``...``; ``None`` where a cell starts with it)."""
    return value is ... or value is None


def real_number(value):
    """``value`` as a Python int or float if it is one real number (Python, numpy or a one-element torch
    tensor, e.g. ``scores.sum().exp()``), else None. Booleans are not numbers here."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return None
    if hasattr(value, "numel") and hasattr(value, "item"):        # torch.Tensor, without importing torch
        if value.numel() != 1 or value.dtype.is_complex or str(value.dtype) == "torch.bool":
            return None
        value = value.item()
    elif hasattr(value, "ndim") and hasattr(value, "item") and hasattr(value, "dtype"):   # numpy scalar/array
        if getattr(value, "size", 1) != 1 or value.dtype.kind not in "iuf":
            return None
        value = value.item()
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return None


def as_number(value, what: str, example: str = "5", *, whole: bool = False):
    """The learner's answer as a Python number (a whole one when ``whole``); else the failed check saying why.

    Accepts Python, numpy and one-element torch numbers; a float that is a whole number counts as whole
    (``10.0``). Callers return the result when it is a ``CheckResult``. ``what`` names the variable,
    ``example`` shows one."""
    kind = "a whole number" if whole else "a number"
    if value is ...:
        return not_answered(what, kind)
    number = real_number(value)
    if number is None:
        return failed(f"{what} must be {kind} such as {example}, got {value!r}.")
    if whole:
        if isinstance(number, float):
            if not number.is_integer():
                return failed(f"{what} must be {kind} such as {example}, got {number!r}.")
            number = int(number)
    return number


def first_not_number(*named, whole: bool = False):
    """For ``(value, name)`` pairs: the failed check of the first that is not a number (``as_number``), else None."""
    for value, what in named:
        result = as_number(value, what, whole=whole)
        if isinstance(result, CheckResult):
            return result
    return None


def error_message(error: BaseException) -> str:
    """One line for a deliberate error shown to a learner: its type and message, no library traceback."""
    return f"{type(error).__name__}: {error}"
