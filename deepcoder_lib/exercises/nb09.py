"""Checks for notebook 09 (running code safely): hidden tests that tell right answers from wrong ones, and
predicting the verdict the sandbox gives an answer that reads input(). Each check runs in a second or a few
(the sandbox).

Hidden tests are judged the way a grader uses them: they must accept every right ``circle_area``, written in
any of several ways (pi from math, from numpy or written out with no import, a result that differs in the 12th
digit), reject plausible wrong ones (the three the notebook names and two it does not), and call the function
rather than read its source text.
"""
from __future__ import annotations

import ast

from . import CheckResult, failed, is_placeholder, not_answered, passed

RIGHT = {
    "math.pi * radius ** 2": "import math\n\ndef circle_area(radius):\n    return math.pi * radius ** 2\n",
    "radius * radius * pi (from math import pi)": "from math import pi\n\ndef circle_area(radius):\n"
                                                  "    return radius * radius * pi\n",
    "pi written out, without `import math`": "def circle_area(radius):\n    return 3.141592653589793 * radius ** 2\n",
    "numpy's pi and square": "import numpy as np\n\ndef circle_area(radius):\n    return np.pi * np.square(radius)\n",
    "a result 1 part in 10**12 off (float rounding)": "import math\n\ndef circle_area(radius):\n"
                                                      "    return math.pi * radius ** 2 * (1 + 1e-12)\n",
}
CORRECT = RIGHT["math.pi * radius ** 2"]
WRONG = {
    "the circumference 2*pi*r": "import math\n\ndef circle_area(radius):\n    return 2 * math.pi * radius\n",
    "pi*r without the square": "import math\n\ndef circle_area(radius):\n    return math.pi * radius\n",
    "the diameter squared, pi*(2r)**2": "import math\n\ndef circle_area(radius):\n    return math.pi * (2 * radius) ** 2\n",
    "r**2 without pi": "def circle_area(radius):\n    return radius ** 2\n",
    "the area at radius 3 whatever the radius": "def circle_area(radius):\n    return 28.274333882308138\n",
}
# Names a test would need to read the answer's text or bytecode instead of calling it
READS_SOURCE = {"open", "inspect", "getsource", "dis", "ast", "linecache", "tokenize", "pathlib", "Path", "io",
                "os", "sys", "__code__", "__globals__", "__file__", "__module__", "globals", "vars"}
INPUT_ANSWER = ("Here is the program:\n```python\nradius = float(input('Radius: '))\n"
                "print('Area:', 3.14159 * radius ** 2)\n```")
CATEGORIES = ("pass", "no_code", "error", "wrong", "timeout")


def _names(node) -> list[str]:
    """The names one AST node uses: a variable, an attribute, or the top-level modules it imports."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        return [node.attr]
    if isinstance(node, ast.Import):
        return [alias.name.split(".")[0] for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        return [(node.module or "").split(".")[0]] + [alias.name for alias in node.names]
    return []


def _reads_source(test: str) -> str:
    """The name through which a test reads code instead of calling it ('' if none); ``test`` must parse."""
    for node in ast.walk(ast.parse(test)):
        for name in _names(node):
            if name in READS_SOURCE or name.startswith("co_"):
                return name
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and ".py" in node.value:
            return repr(node.value)
    return ""


def _refused_right(name: str, outcome) -> CheckResult:
    text = f"{outcome.reason}\n{outcome.detail}"
    if "NameError" in text and "'math'" in text:
        return failed("Your tests use `math` without importing it: they only work when the answer happens to import "
                      f"math, and a right one ({name}) does not. Put 'import math' in your tests.")
    if name.startswith("a result 1 part"):
        return failed("Your tests compare floats exactly: a right circle_area whose result differs in the 12th digit "
                      f"fails them ({outcome.reason}). Compare with a tolerance (math.isclose, or abs(a - b) < 1e-6).")
    return failed(f"Your tests reject a correct circle_area ({name}): {outcome.reason}")


def check_hidden_tests(tests) -> CheckResult:
    """Do ``tests`` (assert statements, a list of strings) accept right circle_areas and reject wrong ones?"""
    from ..evaluation import check_answer

    if is_placeholder(tests):
        return not_answered("`my_tests`", "a list of assert statements (strings)")
    if isinstance(tests, str):
        tests = [tests]
    if not isinstance(tests, (list, tuple)) or not tests or not all(isinstance(t, str) for t in tests):
        return failed(f"Write `my_tests` as a list of strings, each a Python statement such as an assert, got {tests!r}.")
    for i, test in enumerate(tests):
        try:
            reads = _reads_source(test)
        except SyntaxError as error:
            return failed(f"Test {i} ({test!r}) is not valid Python: {error.msg}.")
        if reads:
            return failed(f"Test {i} reads the code (through {reads}) instead of calling it. A right answer can be "
                          "written in many ways: call circle_area and check what it returns.")
    task = {"name": "circle_area", "kind": "python", "tests": list(tests)}
    for name, code in RIGHT.items():
        outcome = check_answer(task, f"```python\n{code}```", timeout=5)
        if not outcome.passed:
            return _refused_right(name, outcome)
    slipped = [name for name, code in WRONG.items() if check_answer(task, f"```python\n{code}```", timeout=5).passed]
    if slipped:
        hint = (" At radius 2, 2*pi*r and pi*r**2 are both 12.566: test another radius."
                if "the circumference 2*pi*r" in slipped else
                " One radius cannot tell a formula from a fixed number: test two." if len(slipped) == 1
                and slipped[0].startswith("the area at radius 3") else "")
        return failed(f"Your tests let through {', '.join(slipped)}.{hint}")
    return passed(f"Your {len(tests)} test(s) accept {len(RIGHT)} right circle_areas, written differently, and "
                  f"catch all {len(WRONG)} wrong ones.")


def check_failure_category(category) -> CheckResult:
    """Predict ``check_answer``'s category for INPUT_ANSWER on the circle_area task."""
    from ..evaluation import check_answer, load_tasks

    if is_placeholder(category):
        return not_answered("`my_category`", "one of " + ", ".join(repr(c) for c in CATEGORIES))
    if not isinstance(category, str) or category.strip().lower() not in CATEGORIES:
        return failed(f"Choose one of {CATEGORIES}, got {category!r}.")
    category = category.strip().lower()
    outcome = check_answer(load_tasks(["circle_area"])[0], INPUT_ANSWER, timeout=5)
    if category == outcome.category:
        return passed(f"'{outcome.category}': {outcome.reason}. The sandbox's stdin is empty, so input() fails "
                      "before the tests run, and there is no circle_area function to test anyway.")
    return failed(f"Not '{category}'. Think about what input() does when nobody types: the sandbox gives the code "
                  "an empty stdin. Run check_answer(load_tasks(['circle_area'])[0], INPUT_ANSWER) to see.")
