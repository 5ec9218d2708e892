"""deepcoder_lib.sampling against transformers' own logits warpers, edge cases included."""
from __future__ import annotations

import itertools
import math

import pytest
import torch
from transformers import GenerationConfig
from transformers.generation.logits_process import (LogitsProcessorList, MinPLogitsWarper, TemperatureLogitsWarper,
                                                    TopKLogitsWarper, TopPLogitsWarper)

from deepcoder_lib import sampling
from deepcoder_lib.sampling import (apply_temperature, min_p_filter, sampling_logits, sampling_probs, top_k_filter,
                                    top_p_filter)

VOCAB = 50


def reference_logits(logits, temperature=1.0, top_k=0, top_p=1.0, min_p=0.0):
    """transformers' warpers, chosen and ordered as ``generate(do_sample=True)`` does, on float32 logits."""
    warpers = LogitsProcessorList()
    if temperature != 1.0:
        warpers.append(TemperatureLogitsWarper(float(temperature)))
    if top_k != 0:
        warpers.append(TopKLogitsWarper(top_k))
    if top_p < 1.0:
        warpers.append(TopPLogitsWarper(top_p))
    warpers.append(MinPLogitsWarper(min_p))
    scores = logits.float()
    return warpers(None, scores if scores.ndim == 2 else scores[None])[0 if logits.ndim == 1 else slice(None)]


def reference_probs(logits, **settings):
    return reference_logits(logits, **settings).softmax(dim=-1)


def _logits(kind: str) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    if kind == "uniform":
        return torch.zeros(VOCAB)
    if kind == "ramp":
        return torch.linspace(-3, 3, VOCAB)
    if kind == "peaked":  # x100: most probabilities underflow to exactly 0 in float32
        return torch.randn(VOCAB, generator=g) * 100
    if kind == "ties":  # ties at every cut-off: groups of 5 equal logits
        return torch.arange(VOCAB // 5).float().repeat_interleave(5).flip(0) / 2
    if kind == "neg_inf":  # tokens already banned (e.g. by another processor)
        x = torch.randn(VOCAB, generator=g)
        x[::3] = -float("inf")
        return x
    if kind == "batch":
        return torch.randn(3, VOCAB, generator=g) * 2
    raise AssertionError(kind)


KINDS = ["uniform", "ramp", "peaked", "ties", "neg_inf", "batch"]
SETTINGS = list(itertools.product([1.0, 0.5, 1.7], [0, 1, 3, 7, 10_000], [1.0, 0.9, 0.5, 1e-9], [0.0, 0.1, 1.0]))


@pytest.mark.parametrize("kind", KINDS)
def test_every_combination_equals_transformers(kind):
    logits = _logits(kind)
    for temperature, top_k, top_p, min_p in SETTINGS:
        settings = dict(temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p)
        ours = sampling_probs(logits, **settings)
        assert torch.equal(ours, reference_probs(logits, **settings)), settings
        assert torch.equal(sampling_logits(logits, **settings), reference_logits(logits, **settings)), settings


@pytest.mark.parametrize("step, warper, values", [
    (apply_temperature, TemperatureLogitsWarper, [0.3, 1.0, 2.5]),
    (top_k_filter, TopKLogitsWarper, [1, 2, 5, 12, VOCAB, 10 * VOCAB]),
    (top_p_filter, TopPLogitsWarper, [1e-9, 0.1, 0.25, 0.5, 0.9, 0.999]),
    (min_p_filter, MinPLogitsWarper, [0.0, 0.05, 0.5, 1.0]),
])
@pytest.mark.parametrize("kind", KINDS)
def test_each_step_equals_its_warper_and_leaves_the_input_alone(step, warper, values, kind):
    logits = _logits(kind)
    before = logits.clone()
    for value in values:
        expected = warper(value)(None, logits if logits.ndim == 2 else logits[None])
        assert torch.equal(step(logits, value), expected if logits.ndim == 2 else expected[0]), value
    assert torch.equal(logits, before)


def test_neutral_values_switch_steps_off():
    logits = _logits("ramp")
    for step, neutral in ((apply_temperature, 1.0), (top_k_filter, 0), (top_p_filter, 1.0), (min_p_filter, 0.0)):
        out = step(logits, neutral)
        assert torch.equal(out, logits) and out is not logits  # a new tensor: editing it cannot touch the input
    assert torch.equal(sampling_probs(logits), logits.softmax(-1))


def test_hand_computed_example():
    """logits [2, 1, 0] -> softmax = e^2, e, 1 over 11.107 = 0.665, 0.245, 0.090.

    top_p=0.8: ascending cumulative sums are 0.090, 0.335, 1.0; tokens with cumsum <= 1 - 0.8 = 0.2
    are removed, so only the last (0.090) goes; renormalised: 0.665 / 0.910 = 0.731, 0.269.
    temperature 0.5 doubles the logit gaps: [4, 2, 0] -> 0.867, 0.117, 0.016.
    """
    logits = torch.tensor([2.0, 1.0, 0.0])
    assert sampling_probs(logits, top_p=0.8).tolist() == pytest.approx([0.7311, 0.2689, 0.0], abs=1e-4)
    assert sampling_probs(logits, temperature=0.5).tolist() == pytest.approx([0.8668, 0.1173, 0.0159], abs=1e-4)
    assert sampling_probs(logits, min_p=0.3).tolist() == pytest.approx([0.7311, 0.2689, 0.0], abs=1e-4)


def test_ties_follow_transformers_not_the_tidy_answer():
    logits = torch.tensor([3.0, 2.0, 2.0, 2.0, 1.0])
    # top_k=2 keeps every token tied with the 2nd largest logit: 4 tokens, not 2
    assert sampling.kept_count(sampling_probs(logits, top_k=2)) == 4
    # top_p on 10 equal tokens: 3 are kept (0.1 each; cut where the mass from below exceeds 0.75)
    probs = sampling_probs(torch.zeros(10), top_p=0.25)
    assert sampling.kept_count(probs) == 3
    assert torch.equal(probs, reference_probs(torch.zeros(10), top_p=0.25))


def test_top_p_can_keep_fewer_or_more_tokens_than_a_top_k():
    confident, spread = torch.tensor([5.0, 0, 0, 0, 0, 0]), torch.zeros(6)
    assert sampling.kept_count(sampling_probs(confident, top_p=0.9)) == 1
    assert sampling.kept_count(sampling_probs(spread, top_p=0.9)) == 6


def test_temperature_zero_is_greedy_on_the_first_maximum():
    logits = torch.tensor([[1.0, 4.0, 4.0, -2.0], [0.0, 0.0, 0.0, 0.0]])
    probs = sampling_probs(logits, temperature=0, top_k=3, top_p=0.5, min_p=0.2)
    assert probs.tolist() == [[0.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]]
    assert torch.equal(probs.argmax(-1), logits.argmax(-1))  # what greedy generate picks


def test_top_k_one_is_greedy():
    logits = _logits("batch")
    assert torch.equal(sampling_probs(logits, top_k=1), sampling_probs(logits, temperature=0))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_low_precision_inputs_are_upcast_like_generate(dtype):
    logits = (torch.randn(2, 1000, generator=torch.Generator().manual_seed(1)) * 4).to(dtype)
    for settings in (dict(temperature=0.7, top_k=50, top_p=0.9, min_p=0.05), dict(top_p=0.5), dict()):
        probs = sampling_probs(logits, **settings)
        assert probs.dtype == torch.float32
        assert torch.equal(probs, reference_probs(logits.float(), **settings))


def test_one_row_equals_the_same_row_in_a_batch():
    logits = _logits("batch")
    settings = dict(temperature=0.8, top_k=20, top_p=0.7, min_p=0.02)
    batch = sampling_probs(logits, **settings)
    for i in range(len(logits)):
        assert torch.equal(sampling_probs(logits[i], **settings), batch[i])


@pytest.mark.slow
def test_equals_what_generate_itself_uses(model_and_tokenizer):
    """generate's own processed scores for the first token, from the same raw logits."""
    model, tokenizer = model_and_tokenizer
    inputs = tokenizer.apply_chat_template([{"role": "user", "content": "Write a Python function that adds two numbers."}],
                                           add_generation_prompt=True, return_dict=True, return_tensors="pt")
    settings = dict(temperature=0.7, top_k=40, top_p=0.9, min_p=0.05)
    config = GenerationConfig(do_sample=True, max_new_tokens=1, output_scores=True, output_logits=True,
                              return_dict_in_generate=True, pad_token_id=tokenizer.pad_token_id, **settings)
    torch.manual_seed(0)
    out = model.generate(**inputs, generation_config=config)
    assert torch.equal(sampling_logits(out.logits[0], **settings), out.scores[0])
    probs = sampling_probs(out.logits[0], **settings)
    torch.manual_seed(0)
    assert torch.equal(torch.multinomial(probs, 1)[:, 0], out.sequences[:, -1])  # the same draw, same seed


def test_seeded_draws_are_reproducible():
    probs = sampling_probs(_logits("ramp"), temperature=2.0)
    first, again = sampling.draw(probs, 20, seed=7), sampling.draw(probs, 20, seed=7)
    assert torch.equal(first, again)
    assert not torch.equal(first, sampling.draw(probs, 20, seed=8))
    torch.manual_seed(7)
    assert torch.equal(first, torch.multinomial(probs, 20, replacement=True))  # as torch.manual_seed(7) would


def test_kept_count_and_entropy():
    assert sampling.kept_count(sampling_probs(torch.arange(8.0), top_k=3)) == 3
    assert sampling.kept_count(sampling_probs(torch.zeros(8), top_k=3)) == 8  # all tied with the 3rd
    assert sampling.entropy_bits(sampling_probs(torch.zeros(8))) == pytest.approx(3.0)
    assert sampling.entropy_bits(torch.tensor([1.0, 0.0])) == 0.0
    assert sampling.kept_count(sampling_probs(_logits("batch"), top_k=5)).tolist() == [5, 5, 5]


def test_widget_values_are_coerced():
    assert sampling.coerce_settings(1, 3.0, 1, 0) == {"temperature": 1.0, "top_k": 3, "top_p": 1.0, "min_p": 0.0}
    assert sampling.coerce_settings(torch.tensor(0.5))["temperature"] == 0.5
    assert torch.equal(sampling_probs(_logits("ramp"), temperature=2), sampling_probs(_logits("ramp"), temperature=2.0))


@pytest.mark.parametrize("settings, message", [
    (dict(temperature=-0.5), r"`temperature` must be a finite number >= 0, got -0\.5; use 1\.0 to leave"),
    (dict(temperature=math.inf), r"`temperature` must be a finite number >= 0, got inf"),
    (dict(temperature=float("nan")), r"`temperature` must be a number, got nan; use 1\.0"),
    (dict(temperature="hot"), r"`temperature` must be a number, got 'hot'"),
    (dict(top_k=-1), r"`top_k` must be a whole number >= 0, got -1; use 0 to switch top-k off"),
    (dict(top_k=2.5), r"`top_k` must be a whole number >= 0, got 2\.5"),
    (dict(top_k=True), r"`top_k` must be a number, got True"),
    (dict(top_p=1.5), r"`top_p` must be in \(0, 1\], got 1\.5; use 1\.0 to switch top-p off"),
    (dict(top_p=0), r"`top_p` must be in \(0, 1\], got 0; use 1\.0 to switch top-p off \(top_p=0 would keep nothing"),
    (dict(top_p=-0.1), r"`top_p` must be in \(0, 1\], got -0\.1"),
    (dict(top_p=float("nan")), r"`top_p` must be a number, got nan"),
    (dict(min_p=1.2), r"`min_p` must be in \[0, 1\], got 1\.2; use 0\.0 to switch min-p off"),
    (dict(min_p=-0.01), r"`min_p` must be in \[0, 1\], got -0\.01"),
    (dict(temperature=1e-45), r"`temperature` 1e-45 is so small that logits / temperature overflows"),
])
def test_out_of_range_settings_name_the_argument(settings, message):
    with pytest.raises(ValueError, match=message):
        sampling_probs(torch.tensor([1e3, 0.0]), **settings)


@pytest.mark.parametrize("logits, message", [
    (torch.tensor([1.0, float("nan")]), r"`logits` contain NaN or \+inf"),
    (torch.tensor([1.0, float("inf")]), r"`logits` contain NaN or \+inf"),
    (torch.full((2, 3), -float("inf")), r"every entry is -inf"),
    (torch.tensor([[1.0, 2.0], [-float("inf"), -float("inf")]]), r"every entry is -inf"),  # the second row only
    (torch.tensor([[1.0, 2.0], [3.0, float("nan")]]), r"`logits` contain NaN or \+inf"),
    (torch.tensor([1, 2]), r"`logits` must be a float tensor .* got dtype torch\.int64"),
    (torch.tensor(1.0), r"`logits` must be a float tensor .* shape \(\)"),
])
def test_bad_logits_are_refused(logits, message):
    with pytest.raises(ValueError, match=message):
        sampling_probs(logits)


def test_a_temperature_that_pushes_a_row_below_float32_is_refused():
    """-3e38 / 0.5 is below float32's range: the whole row would be -inf, and softmax NaN."""
    logits = torch.tensor([[1.0, 2.0], [-3e38, -2e38]])
    with pytest.raises(ValueError, match=r"`temperature` 0\.5 pushes every logit of a row below float32's range"):
        sampling_probs(logits, temperature=0.5)
    with pytest.raises(ValueError, match=r"`temperature` 0\.5 pushes every logit"):
        apply_temperature(logits, 0.5)
    assert torch.isfinite(sampling_probs(logits, temperature=2.0)).all()


def test_real_vocabulary_size_matches_transformers():
    logits = torch.randn(49_152, generator=torch.Generator().manual_seed(3)) * 3
    for settings in (dict(temperature=0.6, top_p=0.95), dict(top_k=50, min_p=0.1), dict(temperature=1.4, top_p=0.5)):
        assert torch.equal(sampling_probs(logits, **settings), reference_probs(logits, **settings))
