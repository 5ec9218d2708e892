# Answers for notebooks/10_measuring_code.ipynb (scripts/make_solutions.py builds solutions/10_measuring_code.ipynb)

# %% e1169c64
failing_pairs = math.comb(3, 2)  # the 3 failing answers, taken two at a time: AB, AC, BC
check_failing_pairs(failing_pairs)

# %% f2a3b4c5
def my_pass_at_k(n, c, k):
    # the chance that k answers drawn without replacement are all failures is C(n-c, k) / C(n, k)
    return 1 - math.comb(n - c, k) / math.comb(n, k)


check_pass_at_k(my_pass_at_k)
