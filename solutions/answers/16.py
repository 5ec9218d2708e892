# Answers for notebooks/16_shared_server.ipynb (scripts/make_solutions.py writes solutions/16_shared_server.ipynb).

# %% e2f6ce6e
listed = sum(math.exp(logprob) for _, logprob in pairs)  # the probabilities of the tokens the server sent
my_other = 1 - listed
check_other_mass(pairs, my_other)
