"""Notebook 03's exercise checks, against the real embedded model: each wrong answer gets its own hint."""
from __future__ import annotations

import pytest
import torch

from deepcoder_lib import generation
from deepcoder_lib.exercises import nb03

PROMPT = "def circle_area(radius):\n    return"


@pytest.fixture(scope="module")
def next_logits(model, tokenizer):
    return generation.next_token_logits(model, tokenizer, PROMPT)


def test_next_token_right_answer_as_int_or_tensor(model, tokenizer, next_logits):
    best = next_logits.argmax()
    assert nb03.check_next_token(model, tokenizer, PROMPT, int(best))
    assert nb03.check_next_token(model, tokenizer, PROMPT, best)  # a 0-d tensor from .argmax() is fine


def test_next_token_wrong_answers_say_why(model, tokenizer, next_logits):
    second = int(next_logits.topk(2).indices[1])
    assert "Replace `...`" in nb03.check_next_token(model, tokenizer, PROMPT, ...).message
    assert "must be an int" in nb03.check_next_token(model, tokenizer, PROMPT, True).message
    assert "argmax, not argmin" in nb03.check_next_token(model, tokenizer, PROMPT, int(next_logits.argmin())).message
    assert "not a vocabulary id" in nb03.check_next_token(model, tokenizer, PROMPT, next_logits.numel()).message
    result = nb03.check_next_token(model, tokenizer, PROMPT, second)
    assert not result and "candidate number 2" in result.message


def test_length_kwargs():
    assert nb03.check_length_kwargs({"max_new_tokens": 40}, prompt_length=30)
    too_short = nb03.check_length_kwargs({"max_length": 40}, prompt_length=30)
    assert not too_short and "leaves 10 new tokens" in too_short.message
    assert not nb03.check_length_kwargs({"max_new_tokens": 40, "max_length": 70}, prompt_length=30)
    assert "must be a dict" in nb03.check_length_kwargs([40]).message
    assert "exactly 40 new tokens" in nb03.check_length_kwargs({"max_new_tokens": 20}).message


def test_answer_only_names_the_notebooks_variable(model, tokenizer):
    inputs = generation.prepare_inputs(tokenizer, generation.chat_messages("Write a Python function that adds two numbers."),
                                       model=model)
    with torch.inference_mode():
        chat_out = model.generate(**inputs, do_sample=False, max_new_tokens=6)
    n = inputs["input_ids"].shape[1]
    assert nb03.check_answer_only(tokenizer, chat_out, inputs, tokenizer.decode(chat_out[0, n:], skip_special_tokens=True))
    with_prompt = nb03.check_answer_only(tokenizer, chat_out, inputs, tokenizer.decode(chat_out[0], skip_special_tokens=True))
    assert not with_prompt and "slice chat_out[0," in with_prompt.message
    assert "skip_special_tokens=True" in nb03.check_answer_only(tokenizer, chat_out, inputs,
                                                                tokenizer.decode(chat_out[0, n:])).message
    other = nb03.check_answer_only(tokenizer, chat_out, inputs, "print(1)", output_name="out")
    assert not other and "Decode out[0," in other.message
    assert "must be a str" in nb03.check_answer_only(tokenizer, chat_out, inputs, 42).message
