"""For "by hand" exercises (10's pass@k, 12's perplexity): did the learner's function call the course's own code?

``course_calls(fn, *args)`` runs ``fn(*args)`` with a profile hook that records every Python function of
``deepcoder_lib`` it enters (outside this exercises package), so that a check can refuse
``def my_pass_at_k(n, c, k): return pass_at_k(n, c, k)`` however it is spelled: imported under another name,
wrapped in a lambda, reached through ``deepcoder_lib.passk``. Calls into math, numpy, torch or scipy are the
learner's own work and are not recorded.
"""
from __future__ import annotations

import sys
from pathlib import Path

_LIBRARY = str(Path(__file__).resolve().parents[1])
_EXERCISES = str(Path(__file__).resolve().parent)


def course_calls(fn, *args):
    """``(result, names)``: what ``fn(*args)`` returned and the deepcoder_lib functions it called, in order.

    Exceptions from ``fn`` propagate (the hook is removed first)."""
    names: list[str] = []

    def hook(frame, event, arg):
        if event == "call":
            filename = frame.f_code.co_filename
            if filename.startswith(_LIBRARY) and not filename.startswith(_EXERCISES):
                module = frame.f_globals.get("__name__", "deepcoder_lib")
                name = f"{module}.{frame.f_code.co_name}"
                if name not in names:
                    names.append(name)

    previous = sys.getprofile()
    sys.setprofile(hook)
    try:
        result = fn(*args)
    finally:
        sys.setprofile(previous)
    return result, names


def number_by_hand(fn, args: tuple, *, name: str, call: str, raised_hint: str, helper_hint: str,
                   number_hint: str):
    """Run a "by hand" exercise's ``fn(*args)``: the number it returned (Python int or float), or the CheckResult
    that says why not: it raised (``raised_hint``), called the course's own code (``helper_hint``), still holds
    its ``...`` placeholder, or returned no number (``number_hint``). ``call`` shows the call, e.g. "f(1, 2)"."""
    from . import failed, not_answered, real_number
    try:
        raw, helpers = course_calls(fn, *args)
    except Exception as error:  # the learner's code: show what went wrong, where
        return failed(f"{call} raised {type(error).__name__}: {error}. {raised_hint}")
    if helpers:
        return failed(f"{name} calls the course's own {helpers[0]}: {helper_hint}, that is the exercise.")
    got = real_number(raw)
    if raw is None and is_placeholder_function(fn):
        return not_answered(f"the body of `{name}`", "your code")
    if got is None:
        return failed(f"{call} returned {raw!r}; {number_hint}.")
    return got


def is_placeholder_function(fn) -> bool:
    """True when ``fn``'s body is still the exercise's placeholder ``...`` (a docstring aside)."""
    import ast
    import inspect
    import textwrap

    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return False
    defs = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    if not defs:
        return False
    body = [s for s in defs[0].body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)
                                             and isinstance(s.value.value, str))]
    return (len(body) == 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
            and body[0].value.value is ...)
