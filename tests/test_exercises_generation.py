"""The exercise checks of notebooks 04-06, against the real embedded model where they need one.

Each check gets at least three right answers written differently (Python, numpy and 0-d torch numbers, other
code), at least five wrong ones (each with the hint it earns), and the untouched placeholder, which gets
"Not answered yet" and not one word about the answer.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from deepcoder_lib import generation
from deepcoder_lib.exercises import nb04, nb05, nb06

PROMPT = "def circle_area(radius):\n    return"


def _untouched(result):
    """The placeholder's result: not answered, and no number or hint in it."""
    assert not result and not result.answered and result.label == "Not answered yet"
    assert not any(ch.isdigit() for ch in result.message), result.message
    return True


# ---- 04: the greedy next token ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def next_logits(model, tokenizer):
    return generation.next_token_logits(model, tokenizer, PROMPT)


def test_next_token_right_answers(model, tokenizer, next_logits):
    with torch.inference_mode():
        by_hand = model(**tokenizer(PROMPT, return_tensors="pt")).logits[0, -1].argmax()  # 0-d tensor
    for answer in (int(next_logits.argmax()), by_hand, next_logits.numpy().argmax(),
                   max(range(next_logits.numel()), key=lambda i: next_logits[i])):
        result = nb04.check_next_token(model, tokenizer, PROMPT, answer)
        assert result and result.label == "Correct", (answer, result)


def test_next_token_wrong_answers_say_why(model, tokenizer, next_logits):
    second = int(next_logits.topk(2).indices[1])
    assert _untouched(nb04.check_next_token(model, tokenizer, PROMPT, ...))
    assert "whole number" in nb04.check_next_token(model, tokenizer, PROMPT, True).message
    assert "whole number" in nb04.check_next_token(model, tokenizer, PROMPT, "42").message
    assert "whole number" in nb04.check_next_token(model, tokenizer, PROMPT, 3.5).message
    assert "argmax, not argmin" in nb04.check_next_token(model, tokenizer, PROMPT, next_logits.argmin()).message
    assert "not a vocabulary id" in nb04.check_next_token(model, tokenizer, PROMPT, next_logits.numel()).message
    assert "not a vocabulary id" in nb04.check_next_token(model, tokenizer, PROMPT, -1).message
    result = nb04.check_next_token(model, tokenizer, PROMPT, second)
    assert not result and result.answered and "candidate number 2" in result.message


# ---- 04: the KV cache's size ------------------------------------------------------------------------------

def test_kv_cache_right_answers(model):
    c = model.config
    head_dim = c.hidden_size // c.num_attention_heads
    python = c.num_hidden_layers * 4096 * 2 * c.num_key_value_heads * head_dim * 4 / 2**20
    assert python == 180.0  # SmolLM2-135M: 30 layers, 3 key/value heads of 64, float32
    with torch.inference_mode():  # measured: the cache of a 10-token prompt, scaled to 4,096 tokens
        cache = model(input_ids=torch.arange(10)[None], use_cache=True).past_key_values
    measured = sum(layer.keys.nbytes + layer.values.nbytes for layer in cache.layers) / 10 * 4096 / 2**20
    tensor = torch.tensor(c.num_hidden_layers * 4096 * 2 * c.num_key_value_heads * head_dim) * 4 / 2**20  # 0-d
    for answer in (python, measured, tensor, np.float32(180), 180, 180.2):
        result = nb04.check_kv_cache_mib(model, answer, tokens=4096)
        assert result and result.label == "Correct", (answer, result)


@pytest.mark.parametrize("answer, hint", [
    (180 * 2**20, "in bytes"),
    (180 * 2**20 / 1e6, "megabytes"),
    (90, "keys AND the values"),
    (540, "attention (query) heads"),
    (45, "1 byte per number"),
    (360, "8 bytes per number"),
    (180 * 1024, "KiB"),
    (123, "is not it"),
    ("180", "must be a number"),
    ([180], "must be a number"),
])
def test_kv_cache_wrong_answers(model, answer, hint):
    result = nb04.check_kv_cache_mib(model, answer, tokens=4096)
    assert not result and hint in result.message, result


def test_kv_cache_untouched(model):
    assert _untouched(nb04.check_kv_cache_mib(model, ..., tokens=4096))


# ---- 05: decoding only the answer -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def chat(model, tokenizer):
    inputs = generation.prepare_inputs(tokenizer, generation.chat_messages("Write a Python function that adds two numbers."),
                                       model=model)
    with torch.inference_mode():
        out = model.generate(**inputs, do_sample=False, repetition_penalty=1.0, max_new_tokens=6)
    return inputs, out


def test_answer_only_right_answers(tokenizer, chat):
    inputs, out = chat
    n = inputs["input_ids"].shape[1]
    for answer in (tokenizer.decode(out[0, n:], skip_special_tokens=True),
                   tokenizer.batch_decode(out[:, n:], skip_special_tokens=True)[0],
                   tokenizer.decode(out[0].tolist()[n:], skip_special_tokens=True).strip(),
                   tokenizer.decode(out[0][len(inputs["input_ids"][0]):], skip_special_tokens=True)):
        result = nb05.check_answer_only(tokenizer, out, inputs, answer, output_name="reference")
        assert result and result.label == "Correct", (answer, result)


def test_answer_only_wrong_answers_name_the_notebooks_variable(tokenizer, chat):
    inputs, out = chat
    n = inputs["input_ids"].shape[1]
    check = lambda answer: nb05.check_answer_only(tokenizer, out, inputs, answer, output_name="reference")  # noqa: E731
    assert _untouched(check(...))
    assert "slice reference[0," in check(tokenizer.decode(out[0], skip_special_tokens=True)).message
    assert "skip_special_tokens=True" in check(tokenizer.decode(out[0, n:])).message
    assert "Decode reference[0," in check("print(1)").message
    assert "must be a str" in check(42).message
    assert "take its [0]" in check(tokenizer.batch_decode(out[:, n:], skip_special_tokens=True)).message
    assert "must be a str" in check(out[0, n:]).message


# ---- 05: counting the unsure tokens ---------------------------------------------------------------------

PROBS = torch.tensor([0.9, 0.3, 0.5, 0.45, 0.99, 0.12, 0.8, 0.7])  # below 0.5: 0.3, 0.45, 0.12 -> 3


def test_unsure_count_right_answers():
    for answer in ((PROBS < 0.5).sum(), int((PROBS < 0.5).sum()), sum(p < 0.5 for p in PROBS.tolist()),
                   np.count_nonzero(PROBS.numpy() < 0.5), 3.0, len([p for p in PROBS if p < 0.5])):
        result = nb05.check_unsure_count(answer, PROBS)
        assert result and result.label == "Correct", (answer, result)


@pytest.mark.parametrize("answer, hint", [
    (3.5, "whole number"),
    (2, "is not it"),
    (4, "use <, not <="),         # 0.5 itself counted
    (5, "at or above"),           # the sure ones
    (8, "every token"),
    (-1, "between 0 and 8"),
    (9, "between 0 and 8"),
    ("3", "whole number"),
    (True, "whole number"),
    (PROBS < 0.5, "whole number"),  # the mask, not its count
])
def test_unsure_count_wrong_answers(answer, hint):
    result = nb05.check_unsure_count(answer, PROBS)
    assert not result and hint in result.message, result


def test_unsure_count_untouched_and_bad_input():
    assert _untouched(nb05.check_unsure_count(..., PROBS))
    with pytest.raises(ValueError, match="one probability per token"):
        nb05.check_unsure_count(1, [])


# ---- 06: the whole answer's probability -----------------------------------------------------------------

SCORES = torch.tensor([-0.5, -0.1, -1.0])


def test_answer_probability_right_answers():
    for answer in (math.exp(-1.6), SCORES.sum().exp(), np.exp(SCORES.numpy().sum()), torch.prod(SCORES.exp()),
                   math.prod(math.exp(s) for s in SCORES.tolist())):
        result = nb06.check_answer_probability(answer, SCORES)
        assert result and result.label == "Correct", (answer, result)


@pytest.mark.parametrize("answer, hint", [
    (-1.6, "log-probability"),
    (float(SCORES.exp().sum()), "product"),
    (float(SCORES.exp().mean()), "average per token"),
    (math.exp(float(SCORES.mean())), "average per token"),
    (0.5, "is not it"),
    ("0.2", "must be a number"),
    (True, "must be a number"),
    (SCORES.exp(), "must be a number"),
])
def test_answer_probability_wrong_answers(answer, hint):
    result = nb06.check_answer_probability(answer, SCORES)
    assert not result and hint in result.message, result


def test_answer_probability_untouched():
    assert _untouched(nb06.check_answer_probability(..., SCORES))


# ---- 06: the smallest penalty that changes greedy's pick ------------------------------------------------

# ids 0..5: the top token 0 (logit 5) and the runner-up 1 (4) are in the text, the best new token is 2 (logit 2)
LOGITS = torch.tensor([5.0, 4.0, 2.0, -1.0, 1.0, 0.5])
SEEN = torch.tensor([7 % 6, 0, 1, 3, 0])  # ids 1, 0, 1, 3, 0: repeats count once


def _grid_search():
    """What a learner may write: try penalties in steps of 0.01 with transformers' own processor."""
    from transformers import RepetitionPenaltyLogitsProcessor
    for p in np.arange(1.0, 5.0, 0.01):
        if RepetitionPenaltyLogitsProcessor(float(p))(SEEN[None], LOGITS[None].clone())[0].argmax() != 0:
            return p


def test_switching_penalty_right_answers():
    assert nb06.smallest_switching_penalty(LOGITS, SEEN) == 2.5
    unseen = ~torch.isin(torch.arange(6), SEEN)
    for answer in (2.5, LOGITS[0] / LOGITS[unseen].max(), np.float64(5 / 2), _grid_search(), 2.52):
        result = nb06.check_penalty_to_switch(answer, LOGITS, SEEN)
        assert result and result.label == "Correct", (answer, result)


@pytest.mark.parametrize("answer, hint", [
    (1.0, "changes nothing"),
    (0.4, "RAISES"),
    (1.25, "runner-up is in the text too"),
    (math.exp(3.0), "ratio of probabilities"),
    (2.0, "still picks the same token"),
    (3.0, "already does at a smaller penalty"),
    ("2.5", "must be a number"),
    (None, "must be a number"),
])
def test_switching_penalty_wrong_answers(answer, hint):
    result = nb06.check_penalty_to_switch(answer, LOGITS, SEEN)
    assert not result and hint in result.message, result


def test_switching_penalty_edge_cases():
    assert _untouched(nb06.check_penalty_to_switch(..., LOGITS, SEEN))
    new_top = nb06.check_penalty_to_switch(2.0, LOGITS, torch.tensor([1, 3]))  # the top token is not in the text
    assert not new_top and "not in the text yet" in new_top.message
    no_positive_new = torch.tensor([5.0, 4.0, -2.0])  # the only new token has a negative logit: never switches
    assert nb06.smallest_switching_penalty(no_positive_new, torch.tensor([0, 1])) == math.inf
    assert nb06.check_penalty_to_switch(math.inf, no_positive_new, torch.tensor([0, 1]))
    negative = torch.tensor([-1.0, -3.0, -2.0])  # all negative: -1 * p falls below -2 at p = 2
    assert nb06.smallest_switching_penalty(negative, torch.tensor([0, 1])) == 2.0
