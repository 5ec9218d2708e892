"""HumanEval single-line infilling: one line of a canonical solution masked, the middle graded by the hidden tests.

``single_line_tasks`` masks one code line of HumanEval's canonical solutions (the way HumanEval-Infilling's
single-line set was made): each task holds the ``prefix`` (the cursor after the line's indentation), the ``suffix``
and the true ``middle``. ``first_line`` and ``middle_from_chat`` take the middle out of a model's text,
``exact_match`` compares it with the true line and ``grade_middle`` runs the filled function under HumanEval's
hidden tests through ``judge.grade``; ``chat_request`` asks a chat model (no FIM markers) for the missing line.
The FIM prompt itself (the formats, their markers and tokenizers, a class server's completions) is fim.py's; every
name here is importable from fim too.
"""
from __future__ import annotations

import random

from .checks import code_text


def _is_code(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def make_task(problem: dict, line_index: int) -> dict:
    """One infilling task: line ``line_index`` of the canonical body masked. The cursor sits after the line's
    indentation (as an editor's auto-indent leaves it): prefix = prompt + lines before + indentation,
    middle = the rest of the line, suffix = newline + lines after."""
    lines = problem["canonical_solution"].split("\n")
    if not 0 <= line_index < len(lines) or not _is_code(lines[line_index]):
        raise ValueError(f"`line_index` must point at a code line of the canonical body (0..{len(lines) - 1}), got "
                         f"{line_index!r}; blank and comment-only lines are not masked")
    line = lines[line_index]
    indent = line[:len(line) - len(line.lstrip())]
    prefix = problem["prompt"] + "".join(before + "\n" for before in lines[:line_index]) + indent
    suffix = "\n" + "\n".join(lines[line_index + 1:])
    return {**problem, "name": f"{problem['name']}/line{line_index}", "problem": problem["name"],
            "line_index": line_index, "prefix": prefix, "suffix": suffix, "middle": line.strip()}


def single_line_tasks(n: int | None = None, *, seed: int = 0) -> list[dict]:
    """``n`` HumanEval problems (all 164 when None) drawn with ``seed``, each with one code line masked (also drawn).

    Same seed, same tasks. HumanEval-Infilling's single-line set masks every non-blank line; here each problem
    gives one line, and comment-only lines are skipped (any middle would pass them).
    """
    from . import humaneval

    problems = humaneval.load_tasks()
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= len(problems)):
        raise ValueError(f"`n` must be a whole number from 1 to {len(problems)}, got {n!r}; None takes all of them")
    rng = random.Random(seed)
    chosen = sorted(rng.sample(range(len(problems)), n)) if n is not None else range(len(problems))
    tasks = []
    for k in chosen:
        lines = problems[k]["canonical_solution"].split("\n")
        tasks.append(make_task(problems[k], rng.choice([i for i, line in enumerate(lines) if _is_code(line)])))
    return tasks


def first_line(text: str) -> str:
    """The middle of a single-line task from a model's text: its first non-blank line, stripped ('' if none).

    Lenient on purpose: newlines and spaces before the code are dropped, since the cursor sits after the indentation."""
    return next((line.strip() for line in code_text(text, "text").split("\n") if line.strip()), "")


def filled(task: dict, middle: str) -> str:
    """The whole program with ``middle`` in the hole: prefix + middle + suffix."""
    return task["prefix"] + code_text(middle, "middle") + task["suffix"]


def exact_match(task: dict, middle: str) -> bool:
    return code_text(middle, "middle").strip() == task["middle"]


def grade_middle(task: dict, middle: str, *, timeout: float = 10.0) -> tuple[bool, str, str]:
    """(passed, category, reason): the filled function under HumanEval's hidden tests, in the course sandbox."""
    from .judge import grade

    passed, category, reason, _ = grade(task, filled(task, middle), timeout=timeout)
    return passed, category, reason


HOLE = "<missing line>"
CHAT_REQUEST = ("One line of this Python function is missing; it is marked {hole}. Reply with only that line of "
                "code, nothing else.\n\n```python\n{code}\n```")


def chat_request(task: dict) -> str:
    """The request for a chat model: the code with the hole marked, asking for the missing line only."""
    return CHAT_REQUEST.format(hole=HOLE, code=(task["prefix"] + HOLE + task["suffix"]).strip("\n"))


def middle_from_chat(answer: str) -> str:
    """The missing line from a chat answer: its first line of code outside a ``` fence, indentation dropped."""
    for line in code_text(answer, "answer").split("\n"):
        if line.strip() and not line.strip().startswith("```"):
            return line.strip()
    return ""
