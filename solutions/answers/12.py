# Answers for notebooks/12_logits_and_loss.ipynb (scripts/make_solutions.py builds solutions/12_logits_and_loss.ipynb)

# %% a570336a
row = input_ids.shape[1] - 2   # row t scores token t+1, so the last token (n-1) is scored by row n-2
check_shift(row, input_ids)

# %% 30b5b62e
def my_perplexity(losses):
    return torch.tensor(losses).mean().exp()  # exp(mean loss); a 0-d tensor is a number too


check_perplexity(my_perplexity, good)

# %% 8e91e504
print(BUGGY)
buggy_losses = token_losses(model, tokenizer, BUGGY)
after_return = buggy_losses[[item.token for item in buggy_losses].index(" return") + 1:]
bug_token = max(after_return, key=lambda item: item.loss).token
check_bug_token(bug_token, buggy_losses)
