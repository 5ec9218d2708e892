"""Every public course helper on each architecture twin: Qwen2-Instruct, DeepSeek-Coder-V2-Lite, StarCoderBase.

A twin (``deepcoder_lib.twins``) is the real architecture with random weights, the published generation config
and a real or stand-in tokenizer, so what a learner with that checkpoint would hit shows here: Qwen2-Instruct's
config samples by default (T 0.7, top_p 0.8, top_k 20, repetition_penalty 1.1) and lists two EOS ids; DeepSeek's
attention is MLA and its MLP a mixture of experts; StarCoderBase is a base model with no chat template and
fused attention (``c_attn``). The answers are noise, so every check compares a helper with another path to the
same numbers (a hand loop, a forward pass, transformers' own code), never with what a model "should" say.

Decisions tested here: the course's helpers state their decoding (greedy unless asked, and none of the
checkpoint's own knobs: ``generation.decoding_overrides``); on a tokenizer without a chat template a request
string is the plain prompt, and chat messages are refused with a message that says what to do.
"""
from __future__ import annotations

import math
import threading
import warnings

import pytest
import torch

from deepcoder_lib import adapters, catalog, evaluation, explorer, generation, models, plots, sampling, search, stepper, twins

NAMES = list(twins.TWINS)
CHAT = ("qwen2", "deepseek-coder-v2-lite")
REQUEST = "Write a Python function that adds two numbers."
PROMPT = "def add(a, b):\n"
MESSAGES = [{"role": "user", "content": REQUEST}, {"role": "assistant", "content": "```python\ndef add("}]
LORA_TARGETS = {"qwen2": ("q_proj", "v_proj"), "deepseek-coder-v2-lite": ("q_proj", "kv_a_proj_with_mqa"),
                "starcoderbase-7b": ("c_attn",)}  # attention projections, named per architecture
NEW = 8  # new tokens per generation: enough to compare paths, cheap on a 2-core machine


@pytest.fixture(scope="module", params=NAMES)
def twin(request):
    """(name, folder, model, tokenizer): loaded once per twin, in float32, through the course's loader."""
    folder = twins.build_twin(request.param)
    model, tokenizer = models.load(str(folder))
    return request.param, folder, model, tokenizer


def _request(name):
    """What a learner sends: a chat request, or a code prompt to a base model."""
    return REQUEST if name in CHAT else PROMPT


def _greedy_ids(model, inputs, n=NEW):
    """The greedy loop by hand, stopped at any of the checkpoint's EOS ids: only the new ids."""
    ids = generation.greedy_by_hand(model, inputs["input_ids"], n, eos_token_id=model.generation_config.eos_token_id)
    return ids[0, inputs["input_ids"].shape[1]:]


# ---- loading and memory --------------------------------------------------------------------------------------
def test_load_and_memory_estimate_use_the_real_parameter_counts(twin):
    name, folder, model, _ = twin
    assert model.dtype == torch.float32 and not model.training
    counted = sum(p.numel() for p in model.parameters())
    assert catalog.info(str(folder)).params == counted  # the twin's folder: its own (tiny) count
    assert models.estimate_memory(str(folder), "float32") == counted * 4
    real = catalog.CATALOG[twins.TWINS[name].checkpoint]  # the published checkpoint: the catalog's count
    for dtype, size in (("float32", 4), ("bfloat16", 2), ("int8", 1), ("4bit", 0.5)):
        assert models.estimate_memory(real.checkpoint, dtype) == math.ceil(real.params * size)
    assert real.params > 20 * counted  # a learner's memory check on the real id is not the twin's
    assert models.check_fits(str(folder), "float32") == counted * 4


# ---- chat inputs ---------------------------------------------------------------------------------------------
def test_chat_inputs_follow_the_template_or_refuse_without_one(twin):
    name, _, model, tokenizer = twin
    plain = generation.prepare_inputs(tokenizer, PROMPT, model=model)
    assert plain["input_ids"][0].tolist() == tokenizer(PROMPT)["input_ids"]
    if name in CHAT:
        inputs = generation.prepare_inputs(tokenizer, MESSAGES[:1], model=model)
        assert inputs["input_ids"][0].tolist() == tokenizer.apply_chat_template(
            MESSAGES[:1], add_generation_prompt=True, return_dict=True)["input_ids"]
        continued = tokenizer.decode(generation.prepare_inputs(tokenizer, MESSAGES)["input_ids"][0])
        assert continued.endswith("```python\ndef add(")  # the answer's start is continued, not closed
        assert generation.chat_messages(REQUEST, tokenizer) == [{"role": "user", "content": REQUEST}]
        assert torch.equal(adapters.chat_inputs(tokenizer, REQUEST, model=model)["input_ids"], inputs["input_ids"])
    else:  # StarCoderBase: no chat format to invent, so a request is the plain prompt and messages are refused
        assert tokenizer.chat_template is None
        assert generation.chat_messages(PROMPT, tokenizer) == PROMPT
        with pytest.raises(ValueError, match=r"`prompt_or_messages` is a list of chat messages, but this tokenizer "
                                             r"\(.*\) has no chat template: .*base model.*plain prompt string"):
            generation.prepare_inputs(tokenizer, MESSAGES)
        with pytest.raises(ValueError, match="`chats` is a list of chat messages.*no chat template"):
            generation.prepare_batch(tokenizer, [MESSAGES[:1]])
        assert torch.equal(adapters.chat_inputs(tokenizer, "def add(", "a, b):")["input_ids"],
                           generation.prepare_inputs(tokenizer, "def add(a, b):")["input_ids"])


# ---- logits, candidates, the greedy loop, token probabilities ------------------------------------------------
def test_next_token_logits_candidates_and_token_probs(twin):
    name, _, model, tokenizer = twin
    request = generation.chat_messages(_request(name), tokenizer)
    logits = generation.next_token_logits(model, tokenizer, request)
    inputs = generation.prepare_inputs(tokenizer, request, model=model)
    with torch.no_grad():
        expected = model(**inputs).logits[0, -1]
    assert logits.shape == (model.config.vocab_size,) and torch.allclose(logits, expected)
    top = generation.top_candidates(logits, tokenizer, 5)
    assert [c["token_id"] for c in top] == logits.topk(5).indices.tolist()
    assert top[0]["prob"] == pytest.approx(float(logits.softmax(-1).max()))
    ids = generation.greedy_by_hand(model, inputs["input_ids"], 4)
    assert torch.equal(ids, generation.greedy_by_hand(model, inputs["input_ids"], 4, use_cache=False))
    assert int(ids[0, inputs["input_ids"].shape[1]]) == top[0]["token_id"]
    probs = generation.token_probs(model, ids, inputs["input_ids"].shape[1])
    assert probs.shape == (4,) and probs[0] == pytest.approx(top[0]["prob"], rel=1e-4)


def test_greedy_by_hand_stops_at_any_of_several_eos_ids(twin):
    _, _, model, tokenizer = twin
    ids = generation.prepare_inputs(tokenizer, PROMPT)["input_ids"]
    first = int(generation.greedy_by_hand(model, ids, 1)[0, -1])
    unused = (first + 1) % model.config.vocab_size
    # a list such as Qwen2-Instruct's [151645, 151643]: the loop used to compare the id with the whole list
    assert generation.greedy_by_hand(model, ids, 5, eos_token_id=[unused, first]).shape[1] == ids.shape[1] + 1
    assert generation.greedy_by_hand(model, ids, 5, eos_token_id=first).shape[1] == ids.shape[1] + 1
    assert generation.greedy_by_hand(model, ids, 5, eos_token_id=unused).shape[1] == ids.shape[1] + 5


# ---- generate_code: the course default and explicit greedy, whatever the checkpoint's config says -----------
def test_greedy_is_the_hand_loop_even_when_the_checkpoint_samples(twin):
    name, _, model, tokenizer = twin
    published = twins.twin_config(name)[1]
    assert bool(model.generation_config.do_sample) == published.get("do_sample", False)  # Qwen2: True
    request = _request(name)
    inputs = generation.prepare_inputs(tokenizer, generation.chat_messages(request, tokenizer), model=model)
    hand = _greedy_ids(model, inputs)
    by_default = generation.generate_code(model, tokenizer, request, max_new_tokens=NEW)
    greedy = generation.generate_code(model, tokenizer, request, max_new_tokens=NEW, do_sample=False)
    torch.manual_seed(1)  # greedy draws nothing, so another seed changes nothing
    again = generation.generate_code(model, tokenizer, request, max_new_tokens=NEW)
    assert by_default == greedy == again == tokenizer.decode(hand, skip_special_tokens=True)
    # the processed scores generate picks from are the raw logits: no repetition penalty, no filter
    kwargs = generation.generate_kwargs(model, inputs, {"max_new_tokens": 3})
    out = model.generate(**inputs, **kwargs, output_scores=True, output_logits=True, return_dict_in_generate=True)
    assert all(torch.equal(s, raw) for s, raw in zip(out.scores, out.logits))
    if name == "qwen2":  # published: T 0.7, top_p 0.8, top_k 20, repetition_penalty 1.1, all put back
        assert generation.decoding_overrides(model) == {"temperature": 1.0, "top_k": 50, "top_p": 1.0,
                                                        "repetition_penalty": 1.0}
        plain = model.generate(**inputs, do_sample=False, max_new_tokens=3, output_scores=True, output_logits=True,
                               return_dict_in_generate=True)  # a plain generate keeps the checkpoint's penalty
        assert not torch.equal(plain.scores[1], plain.logits[1])
    else:
        assert generation.decoding_overrides(model) == {}


def test_neutral_decoding_is_transformers_own_defaults():
    from transformers import GenerationConfig
    defaults = GenerationConfig._get_default_generation_params()  # private: checked here, not used by the library
    assert {k: defaults.get(k) for k in generation.NEUTRAL_DECODING} == generation.NEUTRAL_DECODING




def test_sampling_is_the_asked_temperature_with_transformers_defaults(twin):
    _, _, model, tokenizer = twin
    inputs = generation.prepare_inputs(tokenizer, PROMPT, model=model)
    kwargs = generation.generate_kwargs(model, inputs, {"do_sample": True, "temperature": 0.7, "max_new_tokens": 2})
    torch.manual_seed(0)
    out = model.generate(**inputs, **kwargs, output_scores=True, output_logits=True, return_dict_in_generate=True)
    kept = torch.isfinite(out.scores[0][0])
    assert int(kept.sum()) == 50  # transformers' default top_k, not Qwen2's 20 or its top_p 0.8
    assert torch.allclose(out.scores[0][0][kept], (out.logits[0][0] / 0.7)[kept])  # only the temperature
    torch.manual_seed(3)
    first = generation.generate_code(model, tokenizer, PROMPT, max_new_tokens=4, do_sample=True, temperature=0.7)
    torch.manual_seed(3)
    assert generation.generate_code(model, tokenizer, PROMPT, max_new_tokens=4, do_sample=True, temperature=0.7) == first


# ---- streaming, the stepper, the confidence view -------------------------------------------------------------
def test_stream_generate_and_its_stop_flag(twin):
    name, _, model, tokenizer = twin
    pieces = []
    text = generation.stream_generate(model, tokenizer, _request(name), pieces.append, max_new_tokens=NEW)
    assert text == "".join(pieces) == generation.generate_code(model, tokenizer, _request(name), max_new_tokens=NEW)
    stop = threading.Event()
    stop.set()  # a Stop pressed before the first token: generate stops after one
    short = generation.stream_generate(model, tokenizer, _request(name), lambda _: None, stop=stop, max_new_tokens=NEW)
    assert len(tokenizer(short, add_special_tokens=False)["input_ids"]) <= 2
    box = stepper.streaming_widget(model, tokenizer, _request(name), max_new_tokens=4)
    box.generate_button.click()
    box.thread.join(60)
    assert box.status.value == "done" and box.output.value == generation.generate_code(
        model, tokenizer, _request(name), max_new_tokens=4)


def test_stepper_widget_and_confidence_view_follow_the_greedy_path(twin):
    name, _, model, tokenizer = twin
    request = generation.chat_messages(_request(name), tokenizer)
    inputs = generation.prepare_inputs(tokenizer, request, model=model)
    hand = _greedy_ids(model, inputs, 3)
    steps = stepper.Stepper(model, tokenizer, request, n=4)
    chosen = [steps.choose() for _ in range(len(hand))]
    assert [c["token_id"] for c in chosen] == hand.tolist()
    probs = generation.token_probs(model, steps.input_ids, inputs["input_ids"].shape[1])
    assert [c["prob"] for c in chosen] == pytest.approx(probs.tolist(), rel=1e-4)
    box = stepper.step_through_widget(model, tokenizer, request, n=4)
    box.next_button.click()
    assert not box.errors.outputs and box.stepper.input_ids[0, -1] == hand[0]
    html, tokens, token_probs = stepper.confidence_view(model, tokenizer, _request(name), max_new_tokens=NEW)
    answer = _greedy_ids(model, inputs)
    assert tokens == [tokenizer.decode([int(i)]) for i in answer] and len(token_probs) == len(answer)
    assert "probability the model gave each token" in html.data
    if name not in CHAT:
        with pytest.raises(ValueError, match="no chat template"):
            stepper.Stepper(model, tokenizer, MESSAGES)


# ---- the sampling explorer, the sampling maths and the plots --------------------------------------------------
def test_explorer_sliders_samples_and_greedy(twin):
    name, _, model, tokenizer = twin
    prompts = [_request(name), MESSAGES] if name in CHAT else [_request(name), "def sub(a, b):\n"]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")  # random weights: any script
        ex = explorer.make_explorer(model, tokenizer, prompts, n=8, num_samples=2, max_new_tokens=4, live=False)
        assert ex.forward_passes == 1 and ex.logits.shape == (model.config.vocab_size,)
        ex.temperature.value, ex.top_k.value, ex.top_p.value = 0.8, 20, 0.9
        assert ex.forward_passes == 1 and not ex.message.value  # a slider never re-runs the model
        assert torch.allclose(ex.probs, sampling.sampling_probs(ex.logits, 0.8, 20, 0.9))
        samples = ex.sample()
        assert len(samples) == 2 and ex.sample() == samples  # same seed and settings, same samples
        ex.temperature.value = 0.0
        assert ex.kept == 1 and ex.sample() == [generation.generate_code(model, tokenizer, _request(name),
                                                                          max_new_tokens=4)]
        ex.prompt.value = ex.prompt.options[1]
        assert ex.forward_passes == 2 and not ex.message.value
    if name not in CHAT:
        with pytest.raises(ValueError, match="no chat template"):
            explorer.make_explorer(model, tokenizer, [MESSAGES], live=False)


def test_sampling_maths_and_plots_on_the_twins_vocabulary(twin):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from transformers import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper
    name, _, model, tokenizer = twin
    logits = generation.next_token_logits(model, tokenizer, PROMPT)
    reference = TopPLogitsWarper(0.9)(None, TopKLogitsWarper(40)(None, TemperatureLogitsWarper(0.7)(None, logits[None])))
    assert torch.allclose(sampling.sampling_probs(logits, 0.7, 40, 0.9), reference[0].softmax(-1))
    probs = sampling.sampling_probs(logits, temperature=0.7, top_k=40)
    assert sampling.kept_count(probs) == 40
    draws = sampling.draw(probs, 6, seed=0)
    assert torch.equal(draws, sampling.draw(probs, 6, seed=0)) and all(probs[draws] > 0)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        axes = [plots.plot_top_tokens(logits.softmax(-1), probs, tokenizer, n=8),
                plots.plot_cumulative(logits, top_p=0.9), plots.plot_temperatures(logits, tokenizer, n=4),
                plots.plot_entropy(logits), plots.plot_draws(draws, probs, tokenizer, n=4)]
    assert all(ax.get_xlabel() or ax.get_ylabel() for ax in axes)
    plt.close("all")


# ---- evaluation batching --------------------------------------------------------------------------------------
def test_generate_answers_pads_on_the_left_and_matches_one_at_a_time(twin):
    name, folder, model, tokenizer = twin
    chats = [evaluation.build_messages(REQUEST), evaluation.build_messages("Reverse a string, please.", "plain")]
    if name not in CHAT:  # the task suite is chats; a base model needs prompts written for it
        with pytest.raises(ValueError, match="`chats` is a list of chat messages.*no chat template"):
            evaluation.generate_answers(model, tokenizer, chats, max_new_tokens=4)
        return
    from transformers import AutoTokenizer
    padless = AutoTokenizer.from_pretrained(folder)
    padless.pad_token = None  # as StarCoder's and Llama's tokenizers ship
    for tok in (tokenizer, padless):
        side = tok.padding_side
        batch = generation.prepare_batch(tok, chats, model=model)
        lengths = batch["attention_mask"].sum(-1)
        assert lengths[0] != lengths[1] and batch["attention_mask"][:, -1].all()  # left padding: ends line up
        assert tok.padding_side == side and (tok.pad_token is None) == (tok is padless)  # the tokenizer unchanged
        answers = evaluation.generate_answers(model, tok, chats, n=2, max_new_tokens=NEW)
        for chat, pair in zip(chats, answers):
            assert pair[0] == pair[1] == generation.generate_code(model, tokenizer, chat, max_new_tokens=NEW)
    sampled = evaluation.generate_answers(model, padless, chats, n=2, temperature=0.8, max_new_tokens=4, seed=5)
    assert [len(a) for a in sampled] == [2, 2]
    assert evaluation.generate_answers(model, padless, chats, n=2, temperature=0.8, max_new_tokens=4, seed=5) == sampled


def test_greedy_vs_beam_greedy_is_the_hand_loop(twin):
    name, _, model, tokenizer = twin
    greedy, beam = search.greedy_vs_beam(model, tokenizer, _request(name), max_new_tokens=4, num_beams=2)
    assert greedy.text == generation.generate_code(model, tokenizer, _request(name), max_new_tokens=4)
    assert beam.logprob >= greedy.logprob - 1e-4  # no checkpoint penalty: beam search ranks by plain log-probability


# ---- LoRA: add, train, merge -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_lora_add_train_merge_per_architecture(name):
    model, tokenizer = models.load(str(twins.build_twin(name)))  # a fresh copy: merging writes into the weights
    targets = LORA_TARGETS[name]
    assert set(targets) <= set(adapters.linear_layer_names(model))
    if name != "qwen2":  # the default targets are Llama/Qwen names; the error lists this model's own
        missing = {"starcoderbase-7b": r"\['q_proj', 'v_proj'\]", "deepseek-coder-v2-lite": r"\['v_proj'\]"}[name]
        with pytest.raises(adapters.AdapterError, match=missing + r" name no layer.*" + repr(targets[-1])):
            adapters.add_lora(model)
    base = {k: v.clone() for k, v in model.state_dict().items()}
    peft_model = adapters.add_lora(model, r=4, target_modules=targets)
    counts = adapters.count_parameters(peft_model)
    assert 0 < counts["trainable"] < counts["total"] / 10
    rows = adapters.load_dataset()["train"][:4]
    losses = adapters.train_lora(peft_model, tokenizer, rows, steps=3, batch_size=2, progress=False)
    assert len(losses) == 3 and all(math.isfinite(x) for x in losses)
    trained_b = [p for n, p in peft_model.named_parameters() if "lora_B" in n]
    assert trained_b and all(p.abs().sum() > 0 for p in trained_b)  # B starts at zero: training moved it
    row = adapters.compare_outputs(peft_model, tokenizer, [_request(name)], max_new_tokens=3)[0]
    assert set(row) == {"request", "base", "adapter"}
    inputs = adapters.chat_inputs(tokenizer, _request(name), model=peft_model)
    merged, diff = adapters.merge_and_compare(peft_model, inputs)
    assert type(merged).__name__ == twins.published_config(name)["architectures"][0] and diff < 1e-4
    changed = [k for k, v in merged.state_dict().items() if not torch.equal(v, base[k])]
    assert changed and all(any(t in k for t in targets) for k in changed)  # only the targeted layers were merged into
