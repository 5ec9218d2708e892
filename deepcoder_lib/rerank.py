"""Run the tests the prompt already shows: public examples, reranking n answers on them, and self-repair.

A HumanEval prompt's docstring carries a few worked examples (``>>> f(1)`` then ``2``, or ``f(1) == 2``,
or ``f(1) => 2``). ``public_examples`` turns them into (call, expected) pairs; ``run_public`` runs an answer
on them inside the course sandbox (``sandbox.run_code``: the answer never runs in this process) and says
which example failed and why, in words a model can be shown. The hidden tests stay with ``judge.py``.

``keep_first_passing`` is the reranking rule (the first answer whose public examples all pass, else the first
answer); ``repair_messages`` is the follow-up chat turn of self-repair. ``summarize_run`` turns a stored run's
rows into plain pass@1, reranked pass@1, pass@n and pass@1 after repair, each with a 95% bootstrap band over
tasks (passk.bootstrap_band), and the answers generated per solved task. notebooks/19_run_the_tests.ipynb writes
the simple ``>>>`` parser and the two loops out; benchmarks/bench_rerank.py measures them through the class server.
"""
from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field

from .passk import bootstrap_band
from .progress import TokenBar  # noqa: F401  (notebook 19 imports it from here)
from .sandbox import run_code

_AFTER = re.compile(r"^\s*(?:#\s*)?(?:==>|==|=>|➞|->|=|returns|should return|should be)\s*(?P<value>.+)$")


@dataclass(frozen=True)
class Example:
    """One public example: ``call`` (Python source, e.g. "add(2, 3)") should give the value of ``expected``."""
    call: str
    expected: str


@dataclass
class PublicResult:
    """How an answer did on its public examples: ``passed`` (all of them, and at least one), ``failure`` (a
    sentence about the first failing example, or the error while loading; '' when all passed), ``results``."""
    passed: bool
    failure: str = ""
    results: list = field(default_factory=list)


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


def keep_first_passing(public_passed) -> int:
    """The reranking rule: the index of the first answer whose public examples passed, else 0 (the first answer)."""
    flags = list(public_passed)
    if not flags:
        raise ValueError("`public_passed` is empty: rerank at least one answer (one True/False per answer)")
    return next((i for i, ok in enumerate(flags) if ok), 0)


REPAIR = ("Your function fails an example from its docstring: {failure}. Fix the function. Answer with the whole "
          "function in one ```python code block.")


def repair_messages(messages: list[dict], answer: str, failure: str) -> list[dict]:
    """The chat for one repair round: the conversation so far, the model's answer, and the failing example."""
    if not failure:
        raise ValueError("`failure` is empty: repair only answers that failed a public example")
    return [*messages, {"role": "assistant", "content": answer},
            {"role": "user", "content": REPAIR.format(failure=failure)}]


def summarize_run(rows: list[dict], *, seed: int = 0) -> dict:
    """Figures of a stored run (benchmarks/bench_rerank.py's rows), each with a 95% bootstrap band over tasks.

    A row is one answer: ``task``, ``chain`` (which of the n samples), ``round`` (0: sampled; 1, 2: repairs of
    that sample), ``public_passed``, ``hidden_passed``. Plain pass@1 is the mean over tasks of c/n (round 0);
    reranked pass@1 grades the answer ``keep_first_passing`` picks; pass@n is "any of the n passed"; repair
    pass@1 grades the last round of each repaired chain, averaged over the repaired chains of a task.
    """
    def flag(value):
        return value in (True, "True", 1, "1")

    tasks: dict[str, dict] = {}
    for row in rows:
        entry = tasks.setdefault(row["task"], {"sampled": {}, "chains": {}})
        chain, rnd = int(row["chain"]), int(row["round"])
        pair = (flag(row["public_passed"]), flag(row["hidden_passed"]))
        if rnd == 0:
            entry["sampled"][chain] = pair
        entry["chains"].setdefault(chain, {})[rnd] = pair
    plain, reranked, any_, repaired, cost = [], [], [], [], {"plain": 0, "reranked": 0, "repair": 0}
    repaired_chains = sorted({int(r["chain"]) for r in rows if int(r["round"]) > 0} or {0})
    for entry in tasks.values():
        sampled = [entry["sampled"][c] for c in sorted(entry["sampled"])]
        hidden = [h for _, h in sampled]
        plain.append(sum(hidden) / len(hidden))
        reranked.append(float(hidden[keep_first_passing(p for p, _ in sampled)]))
        any_.append(float(any(hidden)))
        finals = [entry["chains"][c][max(entry["chains"][c])][1] for c in repaired_chains if c in entry["chains"]]
        repaired.append(sum(finals) / len(finals))
        cost["plain"] += 1
        cost["reranked"] += len(sampled)
        cost["repair"] += sum(len(entry["chains"][c]) for c in repaired_chains if c in entry["chains"]) / len(finals)
    figures = {"tasks": len(tasks), "n": min(len(e["sampled"]) for e in tasks.values())}
    for name, values in (("plain pass@1", plain), ("reranked pass@1", reranked), ("pass@n", any_),
                         ("repair pass@1", repaired)):
        low, high = bootstrap_band(values, seed=seed)
        figures[name] = {"value": sum(values) / len(values), "low": low, "high": high}
    for name, key in (("plain pass@1", "plain"), ("reranked pass@1", "reranked"), ("repair pass@1", "repair")):
        solved = figures[name]["value"] * len(tasks)
        figures[name]["answers"] = cost[key]
        figures[name]["answers_per_solved"] = cost[key] / solved if solved else float("inf")
    return figures


_SERIES = (("plain pass@1", "#0072B2", "o"), ("reranked pass@1", "#E69F00", "s"),
           ("repair pass@1", "#009E73", "D"), ("pass@n", "#CC79A7", "^"))  # Okabe-Ito, one marker each


def plot_figures(figures: dict, ax=None):
    """The figures of ``summarize_run`` as points with their 95% bands, one named column each (0-1 scale).

    pass@n is drawn with a dashed line across: no rule that picks one of the n answers can score above it.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    shown = [(name, colour, marker) for name, colour, marker in _SERIES if name in figures]
    for x, (name, colour, marker) in enumerate(shown):
        f = figures[name]
        ax.errorbar([x], [f["value"]], yerr=[[f["value"] - f["low"]], [f["high"] - f["value"]]], color=colour,
                    marker=marker, markersize=8, capsize=4, linestyle="none", label=f"{name}: {f['value']:.3f}")
        ax.annotate(f"{f['value']:.3f}", (x, f["value"]), textcoords="offset points", xytext=(10, -3), fontsize=8)
    if "pass@n" in figures:
        ax.axhline(figures["pass@n"]["value"], color="#CC79A7", linestyle="--", linewidth=1,
                   label="pass@n: the ceiling of any rule")
    ax.set_xticks(range(len(shown)), [name for name, _, _ in shown])
    ax.set_xlim(-0.5, len(shown) - 0.5)
    ax.set_ylabel("fraction of tasks solved (95% band)")
    ax.set_ylim(0, max(0.1, min(1.0, max(figures[n]["high"] for n, _, _ in shown) * 1.25)))
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8, loc="upper left")
    return ax
