"""Notebook 09's exercise checks, in the real sandbox: hidden tests must accept every right circle_area and catch
wrong ones by calling the function; the verdict prediction accepts the category however it is typed."""
from __future__ import annotations

import pytest

from deepcoder_lib.exercises import nb09

RIGHT_TESTS = {
    "math.isclose, import math": ["import math", "assert math.isclose(circle_area(3), 9 * math.pi, rel_tol=1e-6)",
                                  "assert math.isclose(circle_area(1), math.pi, rel_tol=1e-6)"],
    "abs difference, no import": ["assert abs(circle_area(3) - 28.274) < 0.01", "assert abs(circle_area(1) - 3.1416) < 1e-3"],
    "round in one assert": ["assert round(circle_area(3), 2) == 28.27 and round(circle_area(0.5), 3) == 0.785"],
    "a loop in one string": "import math\nfor r in (1, 3, 0.5):\n    assert math.isclose(circle_area(r), math.pi * r * r)",
    "a tuple, pytest.approx": ("import pytest", "assert circle_area(3) == pytest.approx(28.2743, rel=1e-4)",
                               "assert circle_area(1.5) == pytest.approx(7.0686, rel=1e-4)"),
}


@pytest.mark.parametrize("tests", RIGHT_TESTS.values(), ids=RIGHT_TESTS)
def test_hidden_tests_right_answers(tests):
    result = nb09.check_hidden_tests(tests)
    assert result and "catch all 5 wrong ones" in result.message, result


@pytest.mark.parametrize("tests, says", [
    (["assert abs(circle_area(2) - 12.566) < 0.01"], "test another radius"),
    (["assert abs(circle_area(3) - 28.274) < 0.01"], "cannot tell a formula from a fixed number"),
    (["assert math.isclose(circle_area(3), 9 * math.pi)", "assert math.isclose(circle_area(1), math.pi)"],
     "without importing it"),
    (["import math", "assert circle_area(3) == math.pi * 3 ** 2", "assert circle_area(1) == math.pi"],
     "compare floats exactly"),
    (["import inspect", "assert 'radius ** 2' in inspect.getsource(circle_area)"], "through inspect"),
    (["assert '** 2' in open('solution.py').read()", "assert circle_area(3) > 28"], "through open"),
    (["assert circle_area.__code__.co_consts[1] == 2"], "instead of calling it"),
    (["assert True"], "let through the circumference"),
    (["assert circle_area(1) == 0"], "reject a correct circle_area"),
    (["assert circle_area(3) =="], "not valid Python"),
    ([], "list of strings"),
    (3, "list of strings"),
])
def test_hidden_tests_wrong_answers(tests, says):
    result = nb09.check_hidden_tests(tests)
    assert not result and result.answered and says in result.message, result


def test_hidden_tests_placeholder_says_nothing_more():
    result = nb09.check_hidden_tests(...)
    assert not result and not result.answered and result.label == "Not answered yet"
    assert "radius" not in result.message and "math" not in result.message


@pytest.mark.parametrize("category", ["error", "ERROR", " Error\n"])
def test_failure_category_right(category):
    assert nb09.check_failure_category(category)


@pytest.mark.parametrize("category, says", [("pass", "Not 'pass'"), ("wrong", "Not 'wrong'"), ("no_code", "Not 'no_code'"),
                                            ("timeout", "Not 'timeout'"), ("oops", "Choose one of"), (3, "Choose one of"),
                                            (True, "Choose one of")])
def test_failure_category_wrong(category, says):
    result = nb09.check_failure_category(category)
    assert not result and says in result.message


def test_failure_category_placeholder():
    result = nb09.check_failure_category(...)
    assert not result.answered and "error" not in result.message.replace("'error'", "")
