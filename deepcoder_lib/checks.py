"""Argument checks shared by the library: one rule for "a number", "a positive number" and "a whole number in a
range", one wording.

Bad input gets a ``ValueError`` that names the argument, echoes the value and says what to do. No torch and
no other course module is imported here, so every module (the torch-free server client included) can use it.
The decoding knobs' own rules (temperature, top_k, top_p, min_p, the repetition penalty) are built on these in
``decoding.py``.
"""
from __future__ import annotations

import math
import numbers


def number(value, name: str, hint: str = "") -> float:
    """``value`` as a float if it is a real number (Python, numpy, a one-element torch tensor); else a ValueError.

    Bools, strings and NaN are not numbers here: ``"0.5"`` from a text box is refused, not read.

    >>> number(0.5, "top_p")
    0.5
    """
    message = f"`{name}` must be a number, got {value!r}" + (f"; {hint}" if hint else "")
    if isinstance(value, (bool, str, bytes)):
        raise ValueError(message)
    try:
        result = float(value)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(message) from None
    if math.isnan(result):
        raise ValueError(message)
    return result


def positive_number(value, name: str, hint: str = "") -> float:
    """``value`` as a float if it is a finite number > 0; else a ValueError naming ``name``."""
    result = number(value, name, hint)
    if not 0 < result < math.inf:
        raise ValueError(f"`{name}` must be a positive number, got {value!r}" + (f"; {hint}" if hint else ""))
    return result


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


def code_text(value, name: str) -> str:
    """``value`` if it is a string (code, or a model's text around a cursor); else a ValueError naming ``name``."""
    if not isinstance(value, str):
        raise ValueError(f"`{name}` must be a string (the code on that side of the cursor), got {value!r}; "
                         "use '' for none")
    return value
