"""Argument checks shared by the library: one rule for "a whole number in a range", one wording.

Bad input gets a ``ValueError`` that names the argument, echoes the value and says what to do. No torch and
no other course module is imported here, so every module (the torch-free server client included) can use it.
"""
from __future__ import annotations

import numbers


def whole_number(value, name: str, *, minimum: int = 1, maximum: int | None = None, hint: str = "") -> int:
    """``value`` as an int if it is a whole number (not a bool) from ``minimum`` to ``maximum``; else a ValueError.

    >>> whole_number(3, "n")
    3
    """
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if ok and minimum <= int(value) and (maximum is None or int(value) <= maximum):
        return int(value)
    wanted = (f"a whole number from {minimum} to {maximum}" if maximum is not None
              else "a positive whole number" if minimum == 1 else f"a whole number >= {minimum}")
    raise ValueError(f"`{name}` must be {wanted}, got {value!r}" + (f"; {hint}" if hint else ""))


def positive_int(value, name: str, hint: str = "") -> int:
    """``whole_number(value, name, minimum=1)``: the check the library used to write out by hand."""
    return whole_number(value, name, minimum=1, hint=hint)
