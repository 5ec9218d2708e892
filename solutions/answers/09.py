# Answers for notebooks/09_running_code_safely.ipynb (scripts/make_solutions.py builds solutions/09_running_code_safely.ipynb)

# %% 6dccd344
my_tests = [
    "import math",  # the tests import what they use: a right answer need not import math
    "assert math.isclose(circle_area(3), 9 * math.pi, rel_tol=1e-6)",  # r = 3: the formulas differ here
    "assert math.isclose(circle_area(1.5), 2.25 * math.pi, rel_tol=1e-6)",  # a second radius: no fixed number passes
    "assert circle_area(0) == 0",
]
check_hidden_tests(my_tests)

# %% 9409c25c
print(INPUT_ANSWER)
my_category = "error"  # input() meets an empty stdin and raises EOFError before any test runs
check_failure_category(my_category)
