# Answers for notebooks/08_sampling_in_practice.ipynb: each exercise cell, answered, under its cell id.

# %% 08-try-1
def my_filters(logits):
    # generate's order: temperature first, then top_k, top_p and min_p
    return min_p_filter(top_p_filter(top_k_filter(apply_temperature(logits, 0.7), 50), 0.9), 0.05)

check_generate_order(my_filters, logits, **chosen)

# %% 08-try-2
explorer.top_p.value = 0.05   # the top token alone holds more than 5%, so top_p keeps only it
check_one_token_left(explorer)
