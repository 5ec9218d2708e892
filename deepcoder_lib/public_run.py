"""Run an answer on its public examples inside the course sandbox, and say which example failed and why.

``run_public`` loads the answer as the grader does (``judge_runtime.load_answer``, in a ``sandbox.run_code``
process: the answer never runs in this process), evaluates each call of ``examples.public_examples``, and compares
the value with the expected one. ``PublicResult.failure`` is one sentence a model can be shown in a repair turn.
Unlike judge.py, whose verdict the answer cannot forge, this compares inside the answer's own process: a hint for
picking and repairing answers (rerank.py), never a grade. Only the hidden tests (judge.py) grade an answer.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from .examples import Example
from .sandbox import run_code


@dataclass
class PublicResult:
    """How an answer did on its public examples: ``passed`` (all of them, and at least one), ``failure`` (a
    sentence about the first failing example, or the error while loading; '' when all passed), ``results``."""
    passed: bool
    failure: str = ""
    results: list = field(default_factory=list)


# Runs inside the sandbox: load the answer as the grader does (judge_runtime.load_answer), evaluate each call,
# compare with the expected value (equal; floats within 1e-6; a list and a tuple by their items, as prompts write
# either for a sequence), write one JSON record per example to the
# result channel (judge_runtime.start: what the answer prints goes to stderr, never among the records).
_PUBLIC = r'''
def _main():
    import ast, math
    data, emit = start(stdin_eof=True)
    namespace = load_answer(answer_sources(), emit, chars=200)
    def same(a, b):
        if isinstance(a, float) or isinstance(b, float):
            try:
                return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)
            except TypeError:
                return False
        return type(a) == type(b) and a == b or (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple))
                                                  and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b)))
    for call, expected in data["examples"]:
        want = ast.literal_eval(expected)
        try:
            got = eval(call, namespace)
        except BaseException as e:
            emit({"ok": False, "error": f"{type(e).__name__}: {str(e)[:200]}"})
            continue
        try:
            ok = bool(same(got, want))
            shown = repr(got)[:200]
        except BaseException as e:
            ok, shown = False, f"(a value that cannot be compared: {type(e).__name__})"
        emit({"ok": ok, "got": shown})
    os._exit(0)
_main()
'''


def run_public(task: dict, code: str, examples: list[Example], *, timeout: float = 5.0) -> PublicResult:
    """Run ``code`` (an extracted answer to HumanEval ``task``) on ``examples`` in the sandbox.

    ``passed`` is False when there is no example (nothing was checked), when the answer fails to load, or when
    any example raises or gives another value; ``failure`` then says which, as the repair turn shows it.
    """
    from . import humaneval
    from .judge import runtime_source

    if not examples:
        return PublicResult(False, "the prompt shows no example to run")
    files = humaneval.answer_files(task, code)
    run = run_code(runtime_source() + _PUBLIC, files=files, timeout=timeout,
                   stdin=json.dumps({"examples": [[e.call, e.expected] for e in examples]}))
    records = []
    for line in run.stdout.splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            break
    if records and "load_error" in records[0]:
        return PublicResult(False, f"loading the function raised {records[0]['load_error']}")
    for example, record in zip(examples, records):
        if not isinstance(record, dict) or not record.get("ok"):
            what = (f"raised {record['error']}" if isinstance(record, dict) and "error" in record else
                    f"gave {record.get('got')}" if isinstance(record, dict) else "wrote something unreadable")
            return PublicResult(False, f"`{example.call}` should give {example.expected}, but it {what}", records)
    if len(records) < len(examples):
        call = examples[len(records)].call
        return PublicResult(False, f"the run stopped before `{call}` finished ({run.verdict})", records)
    return PublicResult(True, "", records)
