"""Tests for deepcoder_lib.generation: checked against transformers' own generate, on the real model."""
import threading

import pytest
import torch

from deepcoder_lib import generation

REQUEST = "Write a Python function that returns the area of a circle given its radius."
MESSAGES = [{"role": "user", "content": REQUEST}]


# ---- bad inputs: no model call needed beyond tokenizing ------------------------------------------

@pytest.mark.parametrize("bad", ["", "   ", [], [{"role": "user", "content": "  "}]])
def test_empty_prompt_is_rejected(model, tokenizer, bad):
    with pytest.raises(ValueError, match="`prompt_or_messages`"):
        generation.next_token_logits(model, tokenizer, bad)


def test_messages_must_have_role_and_content(model, tokenizer):
    with pytest.raises(ValueError, match="role"):
        generation.next_token_logits(model, tokenizer, [{"text": "hi"}])


def test_empty_request_is_rejected(model, tokenizer):
    with pytest.raises(ValueError, match="`request` is an empty string"):
        generation.generate_code(model, tokenizer, "")


@pytest.mark.parametrize("bad", [0, -5, 2.5, True])
def test_max_new_tokens_must_be_positive_int(model, tokenizer, bad):
    with pytest.raises(ValueError, match=r"`max_new_tokens` must be a positive whole number, got "):
        generation.generate_code(model, tokenizer, REQUEST, max_new_tokens=bad)


def test_prompt_longer_than_context(model, tokenizer):
    long_prompt = "x = 1\n" * 5000  # ~10,000 tokens > 8,192
    with pytest.raises(ValueError, match=r"context length 8192"):
        generation.next_token_logits(model, tokenizer, long_prompt)
    with pytest.raises(ValueError, match=r"`request` is \d+ tokens"):
        generation.generate_code(model, tokenizer, long_prompt)


def test_prompt_plus_new_tokens_longer_than_context(model, tokenizer):
    with pytest.raises(ValueError, match=r"`max_new_tokens` is 9000"):
        generation.generate_code(model, tokenizer, REQUEST, max_new_tokens=9000)


def test_top_candidates_n(tokenizer):
    with pytest.raises(ValueError, match=r"`n` must be a positive whole number, got 0; how many candidates to show"):
        generation.top_candidates(torch.zeros(10), tokenizer, 0)


# ---- inputs ----------------------------------------------------------------------------------------

def test_messages_get_the_chat_template_with_generation_prompt(tokenizer):
    inputs = generation.prepare_inputs(tokenizer, MESSAGES)
    text = tokenizer.decode(inputs["input_ids"][0])
    assert text.endswith("<|im_start|>assistant\n")
    assert REQUEST in text
    assert inputs["attention_mask"].shape == inputs["input_ids"].shape


def test_string_is_raw_text(tokenizer):
    inputs = generation.prepare_inputs(tokenizer, "def area(r):")
    assert tokenizer.decode(inputs["input_ids"][0]) == "def area(r):"


# ---- the real model ------------------------------------------------------------------------------

@pytest.mark.slow
def test_next_token_logits_match_a_forward_pass(model, tokenizer):
    logits = generation.next_token_logits(model, tokenizer, MESSAGES)
    assert logits.shape == (model.config.vocab_size,) and logits.ndim == 1
    inputs = tokenizer.apply_chat_template(MESSAGES, add_generation_prompt=True, return_tensors="pt",
                                           return_dict=True)
    with torch.inference_mode():
        expected = model(**inputs).logits[0, -1]
    torch.testing.assert_close(logits, expected)
    # the greedy choice is what generate picks first
    with torch.inference_mode():
        first = model.generate(**inputs, max_new_tokens=1, do_sample=False)[0, -1]
    assert int(logits.argmax()) == int(first)


@pytest.mark.slow
def test_top_candidates_are_sorted_probabilities(model, tokenizer):
    logits = generation.next_token_logits(model, tokenizer, "def circle_area(radius):\n    return")
    cands = generation.top_candidates(logits, tokenizer, n=5)
    probs = [c["prob"] for c in cands]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0 + 1e-6
    assert cands[0]["token_id"] == int(logits.argmax())
    assert cands[0]["prob"] == pytest.approx(float(torch.softmax(logits, -1).max()))


@pytest.mark.slow
@pytest.mark.parametrize("use_cache", [True, False])
def test_hand_loop_equals_generate(model, tokenizer, use_cache):
    inputs = generation.prepare_inputs(tokenizer, MESSAGES)
    by_hand = generation.greedy_by_hand(model, inputs["input_ids"], 12, use_cache=use_cache)
    with torch.inference_mode():
        expected = model.generate(**inputs, max_new_tokens=12, do_sample=False, min_new_tokens=12)
    assert torch.equal(by_hand, expected)


@pytest.mark.slow
def test_generate_code_returns_only_new_text_and_default_is_exact(model, tokenizer):
    fast = generation.generate_code(model, tokenizer, REQUEST, max_new_tokens=24)
    inputs = generation.prepare_inputs(tokenizer, MESSAGES)
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=24, do_sample=False)
    plain = tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    assert fast == plain  # prompt-lookup decoding changes speed, not the greedy answer
    assert "<|im_start|>" not in fast and REQUEST not in fast


@pytest.mark.slow
def test_token_probs_match_compute_transition_scores(model, tokenizer):
    inputs = generation.prepare_inputs(tokenizer, MESSAGES)
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=8, do_sample=False, output_scores=True,
                             return_dict_in_generate=True)
        expected = model.compute_transition_scores(out.sequences, out.scores, normalize_logits=True).exp()[0]
    probs = generation.token_probs(model, out.sequences, inputs["input_ids"].shape[1])
    torch.testing.assert_close(probs, expected, atol=1e-4, rtol=1e-3)


@pytest.mark.slow
def test_stream_generate_streams_the_same_text(model, tokenizer):
    pieces = []
    text = generation.stream_generate(model, tokenizer, REQUEST, pieces.append, max_new_tokens=16)
    assert len(pieces) > 1 and "".join(pieces) == text
    assert text == generation.generate_code(model, tokenizer, REQUEST, max_new_tokens=16)


@pytest.mark.slow
def test_stream_generate_stops_when_the_flag_is_set(model, tokenizer):
    stop = threading.Event()
    pieces = []

    def on_text(piece):
        pieces.append(piece)
        stop.set()  # as if the learner pressed Stop after the first words

    text = generation.stream_generate(model, tokenizer, REQUEST, on_text, stop=stop, max_new_tokens=64)
    n_tokens = len(tokenizer(text)["input_ids"])
    assert 0 < n_tokens < 20, text


def test_stop_on_flag_criterion():
    flag = threading.Event()
    crit = generation.StopOnFlag(flag)
    ids = torch.zeros((2, 3), dtype=torch.long)
    assert crit(ids, None).tolist() == [False, False]
    flag.set()
    assert crit(ids, None).tolist() == [True, True]


# ---- opt-in compiled decoding ----------------------------------------------------------------------

@pytest.mark.parametrize("bad", [0, 1, -5, 2.5, "256", True, None, 10 ** 6])
def test_compile_decoding_rejects_bad_cache_length(model, bad):
    with pytest.raises(ValueError, match="max_cache_len"):
        generation.compile_decoding(model, max_cache_len=bad)
    assert model.generation_config.compile_config is None  # nothing was switched on


def test_compile_decoding_without_a_cxx_compiler_says_so(model, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("CXX", raising=False)
    assert generation.cxx_compiler() is None
    with pytest.raises(RuntimeError, match="C\\+\\+ compiler"):
        generation.compile_decoding(model)
    assert model.generation_config.compile_config is None


@pytest.mark.slow
def test_compiled_decoding_gives_the_same_greedy_answers(tokenizer):
    """The opt-in compiles for real (about a minute here) and changes speed, not tokens."""
    import os
    if generation.cxx_compiler() is None:
        if os.environ.get("DEEPCODER_REQUIRE_COMPILER") == "1":
            pytest.fail("DEEPCODER_REQUIRE_COMPILER=1 but no C++ compiler (g++) is installed")
        pytest.skip("no C++ compiler (g++), which torch.compile needs on a CPU")
    from transformers import AutoModelForCausalLM

    from deepcoder_lib.models import default_checkpoint
    eager = AutoModelForCausalLM.from_pretrained(default_checkpoint(), dtype=torch.bfloat16)
    compiled = generation.compile_decoding(
        AutoModelForCausalLM.from_pretrained(default_checkpoint(), dtype=torch.bfloat16), max_cache_len=128)
    requests = [REQUEST, "Write a Python function that reverses a string, with a docstring and type hints."]
    for request in requests:  # prompts of different lengths share the one 128-position graph
        expected = generation.generate_code(eager, tokenizer, request, max_new_tokens=24)
        assert generation.generate_code(compiled, tokenizer, request, max_new_tokens=24) == expected
    assert hasattr(compiled, "_compiled_call"), "generate did not take the compiled path"
    assert not hasattr(eager, "_compiled_call")


# ---- a checkpoint whose generation_config samples and penalizes repetition (the Qwen2 twin) ---------

@pytest.fixture(scope="module")
def qwen2_twin():
    """Qwen2-Instruct's architecture, tokenizer and generation_config (do_sample, repetition_penalty 1.1,
    two EOS ids) with random weights, in float32."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from deepcoder_lib.twins import build_twin
    folder = build_twin("qwen2")
    return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32), AutoTokenizer.from_pretrained(folder)


@pytest.mark.parametrize("value, expected", [(None, []), (2, [2]), ([151645, 151643], [151645, 151643]),
                                             (torch.tensor(7), [7])])
def test_eos_ids_is_always_a_list(value, expected):
    assert generation.eos_ids(value) == expected


@pytest.mark.slow
def test_helpers_decode_greedily_whatever_the_checkpoint_says(qwen2_twin):
    """The twin's generation_config would sample and apply repetition_penalty=1.1; the helpers' default is the
    plain argmax loop, stopped at the first of the two EOS ids."""
    model, tokenizer = qwen2_twin
    assert model.generation_config.do_sample and model.generation_config.repetition_penalty == 1.1
    inputs = generation.prepare_inputs(tokenizer, MESSAGES, model=model)
    n = inputs["input_ids"].shape[1]
    by_hand = generation.greedy_by_hand(model, inputs["input_ids"], 24,
                                        eos_token_id=model.generation_config.eos_token_id)
    text = generation.generate_code(model, tokenizer, REQUEST, max_new_tokens=24)
    assert text == tokenizer.decode(by_hand[0, n:], skip_special_tokens=True)
    with torch.inference_mode():  # the checkpoint's own penalty does change greedy's picks on this twin
        penalized = model.generate(**inputs, do_sample=False, max_new_tokens=24)
    assert not torch.equal(penalized, by_hand)


def test_greedy_by_hand_stops_at_any_of_several_eos_ids(model, tokenizer):
    inputs = generation.prepare_inputs(tokenizer, MESSAGES)
    first = generation.greedy_by_hand(model, inputs["input_ids"], 1)[0, -1].item()
    stopped = generation.greedy_by_hand(model, inputs["input_ids"], 5, eos_token_id=[first + 1, first])
    assert stopped.shape[1] == inputs["input_ids"].shape[1] + 1


@pytest.mark.parametrize("pad, eos, expected", [(5, 2, 5), (None, 2, 2), (None, [151645, 151643], 151645),
                                                (None, None, None), (0, [1, 2], 0)])
def test_generation_pad_id_is_one_id_from_the_generation_config(pad, eos, expected):
    from types import SimpleNamespace
    model = SimpleNamespace(generation_config=SimpleNamespace(pad_token_id=pad, eos_token_id=eos))
    assert generation.generation_pad_id(model) == expected
