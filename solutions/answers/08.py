# Answers for notebooks/08_sampling_in_practice.ipynb: each exercise cell, answered, under its cell id.

# %% 08-try-1
def temperature_last(logits):
    # top_k, top_p and min_p now measure the model's own probabilities; the temperature comes after them
    filtered = min_p_filter(top_p_filter(top_k_filter(logits, 50), 0.9), 0.05)
    return apply_temperature(filtered, 0.7)

check_temperature_last(temperature_last, logits, **chosen)

# %% 08-try-2
explorer.top_p.value = 0.05   # the top token alone holds more than 5%, so top_p keeps only it
check_one_token_left(explorer)
