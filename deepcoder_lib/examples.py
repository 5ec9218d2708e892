"""The public examples of a HumanEval prompt: the worked calls its docstring shows, as (call, expected) pairs.

A prompt's docstring carries a few examples (``>>> f(1)`` then ``2``, or ``f(1) == 2``, or ``f(1) => 2``).
``public_examples`` finds them with the standard library's ``ast`` alone and keeps only what can run and be
compared: a call of the entry point on literal arguments, with a literal expected value. Nothing runs here:
public_run.py runs an answer on the examples in the sandbox, rerank.py uses the verdicts to pick and repair
answers, and the hidden tests stay with judge.py. notebooks/19_run_the_tests.ipynb writes a simple ``>>>`` parser
out by hand.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass

_AFTER = re.compile(r"^\s*(?:#\s*)?(?:==>|==|=>|➞|->|=|returns|should return|should be)\s*(?P<value>.+)$")


@dataclass(frozen=True)
class Example:
    """One public example: ``call`` (Python source, e.g. "add(2, 3)") should give the value of ``expected``."""
    call: str
    expected: str


def _parses(source: str, mode: str = "eval") -> bool:
    try:
        ast.parse(source, mode=mode)
        return True
    except SyntaxError:
        return False


def _literal(source: str) -> bool:
    try:
        ast.literal_eval(source)
        return True
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False


def _calls(source: str, name: str) -> bool:
    """Whether the expression ``source`` calls ``name`` and names nothing else (no variable of the prose)."""
    nodes = list(ast.walk(ast.parse(source, mode="eval")))
    return (any(isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name for node in nodes)
            and all(node.id == name for node in nodes if isinstance(node, ast.Name)))


def _split(line: str, name: str) -> tuple[str, str] | None:
    """(call, what follows it) when ``line`` holds a call of ``name`` that parses, else None."""
    start = line.find(name + "(")
    if start < 0 or (start and (line[start - 1].isalnum() or line[start - 1] in "_.")):
        return None
    for end in range(start + len(name) + 1, len(line)):
        if line[end] == ")" and _parses(line[start:end + 1]):
            return line[start:end + 1], line[end + 1:]
    return None


def _expected(rest: str) -> str | None:
    """The expected value after a call: ``==> 2``, ``== 2``, ``=> 2``, ``-> 2``, ``= 2``, ``returns 2``,
    ``should return 2.`` (also after a ``#``); a trailing comment or remark in brackets is dropped."""
    match = _AFTER.match(rest)
    if not match:
        return None
    text = match["value"].strip()
    for cut in (text.split(" #")[0], text, text.split(" (")[0]):
        cut = cut.strip().rstrip(".,;").strip()
        if cut and _literal(cut):
            return cut
    return None


def public_examples(prompt: str, entry_point: str) -> list[Example]:
    """The examples in ``prompt`` that call ``entry_point`` on literal arguments, in order, without repeats.

    Two layouts: doctest (``>>> call`` with the expected value on the next line(s), up to a blank line or the
    next ``>>>``), and one line (``call ==> value``, ``call == value``, ``call => value``, ``call -> value``,
    ``call = value``, ``call returns value``, ``call should return value``). A call that names a variable of
    the prose (``f(n)``) or an expected value that is not a Python literal (``true``) is skipped, so every
    example can run and be compared.
    """
    if not isinstance(prompt, str) or not isinstance(entry_point, str) or not entry_point.isidentifier():
        raise ValueError(f"`prompt` must be a str and `entry_point` a function name, got {entry_point!r}; "
                         "pass a HumanEval task's task['prompt'] and task['entry_point']")
    found: list[Example] = []
    lines = [line.strip() for line in prompt.splitlines()]
    for i, line in enumerate(lines):
        split = _split(line, entry_point)
        if split is None:
            continue
        call, rest = split
        expected = _expected(rest)
        if expected is None and line.startswith(">>>") and not rest.strip():  # doctest: the value is below
            below = []
            for after in lines[i + 1:]:
                if not after or after.startswith(">>>") or after.startswith('"""'):
                    break
                below.append(after)
            expected = " ".join(below).strip() or None
        if expected and _literal(expected) and _calls(call, entry_point):
            example = Example(call, expected)
            if example not in found:
                found.append(example)
    return found
