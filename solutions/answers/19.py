# Answers for notebooks/19_run_the_tests.ipynb (scripts/make_solutions.py builds solutions/19_run_the_tests.ipynb)

# %% r19-ex1
for name, answers in TABLE.items():
    print(name, "  ".join(f"({'✓' if p else '✗'} public, {'✓' if h else '✗'} hidden)" for p, h in answers))
# the first answer with public ✓ in each task (none: the first answer), then its hidden verdict:
# A keeps answer 1 (hidden ✓), B none passes -> answer 0 (✗), C answer 0 (✗), D answer 0 (✗), E answer 0 (✓)
reranked = 2 / 5
check_reranked_pass_at_1(reranked)

# %% r19-ex2
def keep_first(public_passed):
    for position, ok in enumerate(public_passed):
        if ok:
            return position
    return 0  # none passed: keep the first answer


check_keep_first(keep_first)

# %% r19-ex3
rerank_cost = 40 * 6 / 5  # every task's n answers, per task solved
repair_cost = (40 + 22) / 4  # one first answer per task plus the repaired ones
check_answers_per_solved(rerank_cost, repair_cost)
