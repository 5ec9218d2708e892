# Answers for notebooks/18_constrained_output.ipynb (scripts/make_solutions.py writes solutions/18_constrained_output.ipynb).

# %% c18-ex1
after = '{"name": "'
allowed_count = sum(1 for s in strings if s and fmt.allows(after + s))  # each token's text, tried after the prefix
check_allowed_count(allowed_count, fmt, table, '{"name": "')

# %% c18-ex2
request = "How many bytes are in a kilobyte? Answer with a number."
first_logits = local.answerer(model, tokenizer).next_token_head(request).logits  # one forward pass, notebook 04
digits_mask = torch.tensor([s != "" and all(c in "0123456789" for c in s) for s in strings])
removed = 1 - torch.softmax(first_logits, dim=-1)[digits_mask].sum()  # what the mask keeps, taken from 1
check_digits_only(digits_mask, removed, first_logits, strings)

# %% c18-ex3
class DigitsOnly(LogitsProcessor):
    def __init__(self, digit_ids, eos_id, prompt_length):
        self.digit_ids, self.eos_id, self.prompt_length = digit_ids, eos_id, prompt_length

    def __call__(self, input_ids, scores):
        out = torch.full_like(scores, -float("inf"))
        out[:, self.digit_ids] = scores[:, self.digit_ids]
        return out


class DigitsThenStop(DigitsOnly):
    def __call__(self, input_ids, scores):
        out = super().__call__(input_ids, scores)
        if input_ids.shape[1] > self.prompt_length:  # at least one token written: the answer may end
            out[:, self.eos_id] = scores[:, self.eos_id]
        return out


check_digits_then_stop(DigitsThenStop, strings, eos[0])
