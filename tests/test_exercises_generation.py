"""The generation notebooks' exercise checks (04 and 05), against the real embedded model: each wrong answer gets its own hint."""
from __future__ import annotations

import pytest
import torch

from deepcoder_lib import generation
from deepcoder_lib.exercises import nb04, nb05

PROMPT = "def circle_area(radius):\n    return"


@pytest.fixture(scope="module")
def next_logits(model, tokenizer):
    return generation.next_token_logits(model, tokenizer, PROMPT)


def test_next_token_right_answer_as_int_or_tensor(model, tokenizer, next_logits):
    best = next_logits.argmax()
    assert nb04.check_next_token(model, tokenizer, PROMPT, int(best))
    assert nb04.check_next_token(model, tokenizer, PROMPT, best)  # a 0-d tensor from .argmax() is fine


def test_next_token_wrong_answers_say_why(model, tokenizer, next_logits):
    second = int(next_logits.topk(2).indices[1])
    assert "Replace `...`" in nb04.check_next_token(model, tokenizer, PROMPT, ...).message
    assert "must be an int" in nb04.check_next_token(model, tokenizer, PROMPT, True).message
    assert "argmax, not argmin" in nb04.check_next_token(model, tokenizer, PROMPT, int(next_logits.argmin())).message
    assert "not a vocabulary id" in nb04.check_next_token(model, tokenizer, PROMPT, next_logits.numel()).message
    result = nb04.check_next_token(model, tokenizer, PROMPT, second)
    assert not result and "candidate number 2" in result.message


def test_length_kwargs():
    assert nb04.check_length_kwargs({"max_new_tokens": 40}, prompt_length=30)
    too_short = nb04.check_length_kwargs({"max_length": 40}, prompt_length=30)
    assert not too_short and "leaves 10 new tokens" in too_short.message
    assert not nb04.check_length_kwargs({"max_new_tokens": 40, "max_length": 70}, prompt_length=30)
    assert "must be a dict" in nb04.check_length_kwargs([40]).message
    assert "exactly 40 new tokens" in nb04.check_length_kwargs({"max_new_tokens": 20}).message


def test_answer_only_names_the_notebooks_variable(model, tokenizer):
    inputs = generation.prepare_inputs(tokenizer, generation.chat_messages("Write a Python function that adds two numbers."),
                                       model=model)
    with torch.inference_mode():
        chat_out = model.generate(**inputs, do_sample=False, max_new_tokens=6)
    n = inputs["input_ids"].shape[1]
    assert nb05.check_answer_only(tokenizer, chat_out, inputs, tokenizer.decode(chat_out[0, n:], skip_special_tokens=True))
    with_prompt = nb05.check_answer_only(tokenizer, chat_out, inputs, tokenizer.decode(chat_out[0], skip_special_tokens=True))
    assert not with_prompt and "slice chat_out[0," in with_prompt.message
    assert "skip_special_tokens=True" in nb05.check_answer_only(tokenizer, chat_out, inputs,
                                                                tokenizer.decode(chat_out[0, n:])).message
    other = nb05.check_answer_only(tokenizer, chat_out, inputs, "print(1)", output_name="out")
    assert not other and "Decode out[0," in other.message
    assert "must be a str" in nb05.check_answer_only(tokenizer, chat_out, inputs, 42).message


def test_least_sure():
    tokens, probs = ["def", " f", "(", " f"], torch.tensor([0.9, 0.3, 0.99, 0.6])
    assert nb05.check_least_sure(" f", tokens, probs)
    assert "Replace `...`" in nb05.check_least_sure(..., tokens, probs).message
    assert "argmin, not argmax" in nb05.check_least_sure("(", tokens, probs).message
    assert "had p = 0.900" in nb05.check_least_sure("def", tokens, probs).message
    assert "not one of the answer's tokens" in nb05.check_least_sure("x", tokens, probs).message
    assert "position or an id" in nb05.check_least_sure(1, tokens, probs).message
    with pytest.raises(ValueError, match="equally long"):
        nb05.check_least_sure("def", tokens, probs[:2])
