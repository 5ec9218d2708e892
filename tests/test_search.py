"""search.py: sequence log-probabilities by hand equal transformers' transition scores; beam beats greedy;
the anti-repetition transforms equal transformers' logits processors."""
from __future__ import annotations

import pytest
import torch
from transformers import NoRepeatNGramLogitsProcessor, RepetitionPenaltyLogitsProcessor

from deepcoder_lib.generation import chat_messages, prepare_inputs
from deepcoder_lib.search import (greedy_vs_beam, no_repeat_ngram, repetition_penalty, scores_from_generate,
                                  sequence_logprob, token_logprobs)

REQUEST = "Write a Python function that returns the square of x."
ATOL = 1e-3  # fp32: a cached step-by-step decode and one full forward pass differ by ~1e-5 per token


@pytest.fixture(scope="module")
def inputs(model, tokenizer):
    return prepare_inputs(tokenizer, chat_messages(REQUEST), model=model)


def _generate(model, inputs, **kwargs):
    return model.generate(**inputs, max_new_tokens=12, output_scores=True, return_dict_in_generate=True,
                          pad_token_id=model.generation_config.eos_token_id, **kwargs)


@pytest.mark.parametrize("kwargs", [{"do_sample": False},
                                    {"do_sample": True, "top_k": 0, "top_p": 1.0, "temperature": 1.0}],
                         ids=["greedy", "sampled"])
def test_hand_logprobs_equal_transition_scores(model, inputs, kwargs):
    torch.manual_seed(0)
    out = _generate(model, inputs, **kwargs)
    n = inputs["input_ids"].shape[1]
    scores = scores_from_generate(model, out)
    assert scores.shape == (1, out.sequences.shape[1] - n)
    by_hand = token_logprobs(model, inputs["input_ids"], out.sequences[0, n:])
    assert torch.allclose(by_hand, scores[0], atol=ATOL), (by_hand - scores[0]).abs().max()
    assert abs(sequence_logprob(model, inputs["input_ids"], out.sequences[0, n:]) - float(scores.sum())) < ATOL


def test_warpers_change_the_scores(model, inputs):
    """With top_k=5 the scores are those of the truncated, renormalized distribution: never below the model's."""
    torch.manual_seed(0)
    out = _generate(model, inputs, do_sample=True, top_k=5)
    n = inputs["input_ids"].shape[1]
    by_hand = token_logprobs(model, inputs["input_ids"], out.sequences[0, n:])
    warped = scores_from_generate(model, out)[0]
    assert (warped >= by_hand - ATOL).all() and (warped - by_hand).max() > 0.01


def test_beam_sequences_scores_are_summed_transition_scores(model, inputs):
    """transformers 5.23: sequences_scores = sum of transition scores / (new tokens ** length_penalty);
    with length_penalty=0 the plain sum, and that is the hand forward-pass log-probability."""
    out = _generate(model, inputs, num_beams=3, num_return_sequences=3, length_penalty=0.0, do_sample=False)
    n = inputs["input_ids"].shape[1]
    scores = scores_from_generate(model, out)
    assert torch.allclose(out.sequences_scores.float().cpu(), scores.sum(-1), atol=1e-4)
    eos = model.generation_config.eos_token_id
    for row, total in zip(out.sequences, out.sequences_scores):
        assert abs(sequence_logprob(model, inputs["input_ids"], row[n:], eos_token_id=eos) - float(total)) < ATOL


def test_greedy_is_not_the_most_likely_answer(model, tokenizer):
    """A fact about the embedded model: on this request beam search (4 beams, 24 new tokens, no length penalty)
    finds an answer the model rates higher than greedy's (measured: -3.54 vs -3.90)."""
    greedy, beam = greedy_vs_beam(model, tokenizer, REQUEST, max_new_tokens=24, num_beams=4)
    assert greedy.text != beam.text
    assert beam.logprob > greedy.logprob + 0.1
    # same code, different prose after it: they part only after the function
    first = next(i for i, (g, b) in enumerate(zip(greedy.output_ids, beam.output_ids)) if g != b)
    assert "return x ** 2" in tokenizer.decode(greedy.output_ids[:first])


LOGITS = {"ramp": torch.linspace(-3, 4, 11), "peaked": torch.linspace(-3, 4, 11) * 100,
          "signs": torch.tensor([2.0, -2.0, 0.0, 1.5, -0.5, 3.0, -1.0, 0.5, 0.0, -3.0, 1.0])}


@pytest.mark.parametrize("name", LOGITS)
@pytest.mark.parametrize("penalty", [1.0, 1.3, 0.7, 2.0])
def test_repetition_penalty_equals_transformers(name, penalty):
    logits, seen = LOGITS[name], torch.tensor([3, 1, 3, 9, 0, 1])
    before = logits.clone()
    expected = RepetitionPenaltyLogitsProcessor(penalty)(seen[None], logits[None].clone())[0]
    assert torch.allclose(repetition_penalty(logits, seen, penalty), expected)
    assert torch.equal(logits, before)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
@pytest.mark.parametrize("seen", [[1, 2, 3, 1, 2], [5, 5, 5, 5], [1, 2], [4, 3, 2, 1, 4, 3, 2, 1, 4, 3]])
def test_no_repeat_ngram_equals_transformers(n, seen):
    logits = LOGITS["ramp"]
    seen = torch.tensor(seen)
    expected = NoRepeatNGramLogitsProcessor(n)(seen[None], logits[None].clone())[0]
    assert torch.equal(no_repeat_ngram(logits, seen, n), expected)


def test_no_repeat_ngram_hand_case():
    """ids 1 2 3 1 2 with n=3: the last two ids (1, 2) were followed by 3 before, so 3 is banned."""
    out = no_repeat_ngram(torch.zeros(5), [1, 2, 3, 1, 2], 3)
    assert out.tolist() == [0, 0, 0, float("-inf"), 0]


def test_errors_name_the_argument(model, tokenizer):
    with pytest.raises(ValueError, match="`penalty` must be a positive number, got 0"):
        repetition_penalty(torch.zeros(3), [1], 0)
    with pytest.raises(ValueError, match="`n` must be a positive whole number, got 0; it is the n-gram size"):
        no_repeat_ngram(torch.zeros(3), [1], 0)
    with pytest.raises(ValueError, match="`logits` must be a 1-D tensor"):
        repetition_penalty(torch.zeros(1, 3), [1], 1.2)
    with pytest.raises(ValueError, match="`output_ids` must be one non-empty sequence"):
        token_logprobs(model, [1, 2], [])
    with pytest.raises(ValueError, match="`num_beams` must be a whole number >= 2, got 1"):
        greedy_vs_beam(model, tokenizer, REQUEST, num_beams=1)
    with pytest.raises(ValueError, match="`out` has no scores"):
        scores_from_generate(model, model.generate(torch.tensor([[1, 2]]), max_new_tokens=1, pad_token_id=2,
                                                   return_dict_in_generate=True))


def test_token_logprobs_stop_at_the_first_of_several_eos_ids(model, inputs):
    answer = torch.tensor([5, 6, 7, 8])
    full = token_logprobs(model, inputs["input_ids"], answer)
    assert torch.equal(token_logprobs(model, inputs["input_ids"], answer, eos_token_id=[8, 6]), full[:2])
    assert torch.equal(token_logprobs(model, inputs["input_ids"], answer, eos_token_id=7), full[:3])
