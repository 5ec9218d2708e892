"""What notebooks 04-06 show and explain, asserted here instead of in their cells.

A lesson cell prints a comparison and explains it; it holds no assert that only the embedded model on a CPU
satisfies (a learner may run the course on Qwen2-0.5B-Instruct or on a GPU in bfloat16, where a near-tie can
go the other way). The facts themselves are checked here: the ones about the algorithms on the embedded model
and on the Qwen2 twin (random weights, but the same arithmetic), the ones about a real model's answers on the
embedded model only. The notebook's own cached loop (04's cell "04-11") is run from the notebook's source.
"""
from __future__ import annotations

import json
import math

import pytest
import torch
from transformers import RepetitionPenaltyLogitsProcessor

from deepcoder_lib import generation, models, twins
from deepcoder_lib.exercises import nb04, nb06
from deepcoder_lib.search import sequence_logprob
from notebook_utils import NOTEBOOK_DIR

REQUEST = "Write a Python function that computes the area of a circle given its radius."
GREEDY = dict(do_sample=False, repetition_penalty=1.0)


def _cell_source(notebook: str, cell_id: str) -> str:
    cells = json.loads((NOTEBOOK_DIR / notebook).read_text())["cells"]
    return "".join(next(c for c in cells if c.get("id") == cell_id)["source"])


@pytest.fixture(scope="module", params=["embedded", "qwen2-twin"])
def loaded(request, model, tokenizer):
    if request.param == "embedded":
        return request.param, model, tokenizer
    twin_model, twin_tokenizer = models.load(str(twins.build_twin("qwen2")))
    return request.param, twin_model, twin_tokenizer


def _inputs(model, tokenizer, request=REQUEST):
    return tokenizer.apply_chat_template([{"role": "user", "content": request}], add_generation_prompt=True,
                                         return_tensors="pt", return_dict=True).to(model.device)


def test_04_hand_loop_cached_loop_and_generate_pick_the_same_ids(loaded):
    """04: the loop without a cache, the notebook's loop with the cache, greedy_by_hand and generate agree."""
    name, model, tokenizer = loaded
    inputs = _inputs(model, tokenizer)
    eos_ids = generation.eos_ids(model.generation_config.eos_token_id)
    plain = generation.greedy_by_hand(model, inputs["input_ids"], 24, eos_token_id=eos_ids, use_cache=False)
    with torch.inference_mode():
        generated = model.generate(**inputs, **GREEDY, max_new_tokens=24)
    namespace = {"torch": torch, "model": model, "inputs": inputs, "eos_ids": eos_ids, "ids": plain,
                 "generated": generated, "generation": generation, "print": lambda *a, **k: None}
    exec(_cell_source("04_generation.ipynb", "04-11"), namespace)  # defines greedy_with_cache, runs it
    assert torch.equal(generated, plain), name
    assert torch.equal(namespace["cached_ids"], plain), name
    assert torch.equal(namespace["library"], plain), name
    cache = namespace["cache"]  # every token but the last one is cached
    assert cache.get_seq_length() == plain.shape[1] - 1
    layers, kv_heads, head_dim = nb04.kv_cache_shape(model.config)
    stored = sum(layer.keys.nbytes + layer.values.nbytes for layer in cache.layers)
    assert stored == layers * cache.get_seq_length() * 2 * kv_heads * head_dim * model.dtype.itemsize


def test_04_kv_cache_exercise_matches_a_measured_cache(loaded):
    """04's exercise: the formula from the config equals the bytes of a real cache, scaled to 4,096 tokens."""
    name, model, _ = loaded
    with torch.inference_mode():
        cache = model(input_ids=torch.arange(16)[None], use_cache=True).past_key_values
    measured = sum(layer.keys.nbytes + layer.values.nbytes for layer in cache.layers) / 16 * 4096 / 2**20
    assert nb04.check_kv_cache_mib(model, measured, tokens=4096), name


def test_04_generate_without_settings_gives_20_new_tokens(model, tokenizer):
    """04: GenerationConfig() sets nothing; generate's fallback max_length=20 becomes 20 NEW tokens, with a warning."""
    from transformers import GenerationConfig
    assert GenerationConfig().max_length is None and GenerationConfig().do_sample is None
    assert GenerationConfig._get_default_generation_params()["max_length"] == 20
    ids = tokenizer.encode("# write a quick sort algorithm in Python\n", return_tensors="pt")
    with pytest.warns(UserWarning, match="model-agnostic default `max_length`"), torch.inference_mode():
        out = model.generate(ids)
    assert out.shape[1] - ids.shape[1] == 20


def test_04_stop_string_ends_the_embedded_models_answer_at_its_fence(model, tokenizer):
    """04 (a real model's answer): the stop string ends the answer at its closing fence, before 80 tokens."""
    inputs = _inputs(model, tokenizer)
    with torch.inference_mode():
        stopped = model.generate(**inputs, **GREEDY, max_new_tokens=80, stop_strings=["```\n"], tokenizer=tokenizer)
    new_ids = stopped[0, inputs["input_ids"].shape[1]:]
    assert len(new_ids) < 80 and "```\n" in tokenizer.decode(new_ids[-2:])


def test_06_beam_beats_greedy_beats_the_sample_on_the_embedded_model(model, tokenizer):
    """06 (a real model's answers): beam search (4 beams, no length penalty) > greedy > an unfiltered sample,
    each scored by one forward pass over its 24-token answer."""
    request = "Write a Python function that returns the square of x."
    inputs = _inputs(model, tokenizer, request)
    n, eos = inputs["input_ids"].shape[1], model.generation_config.eos_token_id
    logprob = {}
    for name, strategy in {"greedy": dict(do_sample=False), "beam": dict(do_sample=False, num_beams=4, length_penalty=0.0),
                           "sample": dict(do_sample=True, temperature=1.0, top_k=0, top_p=1.0)}.items():
        torch.manual_seed(0)
        with torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=24, repetition_penalty=1.0, **strategy)
        logprob[name] = sequence_logprob(model, inputs["input_ids"], out[0, n:], eos_token_id=eos)
    assert logprob["beam"] > logprob["greedy"] > logprob["sample"], logprob


def test_06_penalty_exercise_is_answerable_on_the_embedded_model(model, tokenizer):
    """06's second exercise on the notebook's own step: the top token is in the text, a finite penalty above 1
    changes greedy's pick, and transformers' processor agrees about where."""
    prompt = "def add(a, b):\n    return a + b\n\n"
    raw = tokenizer(prompt, return_tensors="pt")
    with torch.inference_mode():
        looped = model.generate(**raw, **GREEDY, max_new_tokens=80)
        seen = looped[0, :raw["input_ids"].shape[1] + 60]
        logits = model(input_ids=seen[None]).logits[0, -1].float()
    truth = nb06.smallest_switching_penalty(logits, seen)
    assert truth is not None and 1 < truth < math.inf

    def pick(p):
        return int(RepetitionPenaltyLogitsProcessor(p)(seen[None], logits[None].clone())[0].argmax())
    assert pick(truth * 0.999) == int(logits.argmax()) != pick(truth * 1.001)
    assert nb06.check_penalty_to_switch(truth * 1.005, logits, seen)
