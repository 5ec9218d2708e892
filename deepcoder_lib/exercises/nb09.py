"""Checks for notebook 09 (running code safely): hidden tests that catch a wrong formula, and predicting
the verdict the sandbox gives an answer that reads input(). Each check runs in a second or two (the sandbox)."""
from __future__ import annotations

from . import CheckResult, failed, passed

CORRECT = "import math\n\ndef circle_area(radius):\n    return math.pi * radius ** 2\n"
WRONG = {
    "the circumference 2*pi*r": "import math\n\ndef circle_area(radius):\n    return 2 * math.pi * radius\n",
    "pi*r without the square": "import math\n\ndef circle_area(radius):\n    return math.pi * radius\n",
    "the diameter squared, pi*(2r)**2": "import math\n\ndef circle_area(radius):\n    return math.pi * (2 * radius) ** 2\n",
}
INPUT_ANSWER = ("Here is the program:\n```python\nradius = float(input('Radius: '))\n"
                "print('Area:', 3.14159 * radius ** 2)\n```")
CATEGORIES = ("pass", "no_code", "error", "wrong", "timeout")


def check_hidden_tests(tests) -> CheckResult:
    """Do ``tests`` (a list of assert statements) accept the right circle_area and reject three wrong ones?"""
    from ..evaluation import check_answer

    if isinstance(tests, str):
        tests = [tests]
    if not isinstance(tests, (list, tuple)) or not tests or not all(isinstance(t, str) for t in tests):
        return failed("Write `my_tests` as a list of strings, e.g. ['assert abs(circle_area(1) - 3.14159) < 1e-3'].")
    task = {"name": "circle_area", "kind": "python", "tests": list(tests)}
    right = check_answer(task, f"```python\n{CORRECT}```", timeout=5)
    if not right.passed:
        return failed(f"Your tests reject a correct circle_area (math.pi * radius ** 2): {right.reason}")
    slipped = [name for name, code in WRONG.items() if check_answer(task, f"```python\n{code}```", timeout=5).passed]
    if slipped:
        hint = (" At radius 2, 2*pi*r and pi*r**2 are both 12.566: test another radius."
                if "the circumference 2*pi*r" in slipped else "")
        return failed(f"Your tests let through {', '.join(slipped)}.{hint}")
    return passed(f"Your {len(tests)} test(s) accept the right formula and catch all {len(WRONG)} wrong ones.")


def check_failure_category(category) -> CheckResult:
    """Predict ``check_answer``'s category for INPUT_ANSWER on the circle_area task."""
    from ..evaluation import check_answer, load_tasks

    if category not in CATEGORIES:
        return failed(f"Choose one of {CATEGORIES}, got {category!r}.")
    outcome = check_answer(load_tasks(["circle_area"])[0], INPUT_ANSWER, timeout=5)
    if category == outcome.category:
        return passed(f"'{outcome.category}': {outcome.reason}. The sandbox's stdin is empty, so input() fails "
                      "before the tests run, and there is no circle_area function to test anyway.")
    return failed(f"Not '{category}'. Think about what input() does when nobody types: the sandbox gives the code "
                  "an empty stdin. Run check_answer(load_tasks(['circle_area'])[0], INPUT_ANSWER) to see.")
