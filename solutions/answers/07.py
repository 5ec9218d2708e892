# Answers for notebooks/07_sampling.ipynb: each exercise cell, answered, under its cell id.

# %% 01de675f
top = logits.softmax(-1).sort(descending=True).values   # probabilities, most likely first
my_top_p = (top[:2].sum() + top[:3].sum()) / 2   # between what the top 2 hold and what the top 3 hold
check_exactly_three(logits, top_p=my_top_p)

# %% d05cc8fe
temperatures = [t / 100 for t in range(1, 1001)]   # 0.01, 0.02, ..., 10.00
confident = [t for t in temperatures if (logits / t).softmax(-1).max() > 0.9]
my_temperature = max(confident)   # the top token's probability falls as T rises: the last one that still works
print(f"T = {my_temperature}: top token {(logits / my_temperature).softmax(-1).max():.4f}")
check_largest_confident_temperature(logits, temperature=my_temperature)

# %% fff5bee9
return_logits = next_token_logits(PROMPTS["reverse a string: after `return`"])
p1, p2 = return_logits.softmax(-1).topk(2).values.tolist()
print(f"p1 = {p1:.4g}, p2 = {p2:.4g}, ratio at T=1: {p1 / p2:.4g}")  # 4 significant digits, even for a tiny p2

my_ratio = (p1 / p2) ** 2   # p1/p2 = exp(gap); at T=0.5 the gap doubles, so the ratio is squared
check_ratio_at_half_temperature(return_logits, my_ratio)
