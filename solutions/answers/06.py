# Answers to the "Try it" exercises of notebooks/06_decoding_as_search.ipynb (scripts/make_solutions.py builds the notebook).

# %% 06-20
prob = transition_scores.sum().exp()  # exp of the summed log-probabilities = the product of the probabilities
check_answer_probability(prob, transition_scores)

# %% 06-22
# The penalty scales every token in the text alike, so only a token NOT in the text can overtake the top one:
# it does once top_logit / penalty falls to that token's logit.
in_text = torch.isin(torch.arange(len(logits)), seen)
my_penalty = logits.max() / logits[~in_text].max()
check_penalty_to_switch(my_penalty, logits, seen)
