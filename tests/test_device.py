"""Inputs follow the model: every public helper puts the tensors it builds on the model's input device.

CI has no GPU, so the test makes a device mismatch visible on the CPU: it runs each helper with PyTorch's
default device set to "meta" while the model stays on the CPU. A helper that builds a tensor without naming
the device (``torch.tensor(...)``, ``tokenizer(..., return_tensors="pt")`` without ``.to(...)``) then makes
it on "meta", and a pre-hook on the input embeddings records that. A helper that follows the model
(``generation.input_device(model)``) feeds CPU ids. On a GPU the same mistake is "Expected all tensors to
be on the same device" (issue 12); scripts/device_check.py runs the helpers on a real GPU.
"""
import contextlib

import pytest
import torch

from deepcoder_lib import adapters, evaluation, explorer, generation, plots, sampling, stepper
from deepcoder_lib.models import default_checkpoint

REQUEST = "Write a Python function that returns the area of a circle."
MESSAGES = [{"role": "user", "content": REQUEST}]


@pytest.fixture(scope="module")
def tiny(tokenizer):
    """A 2-layer random-weight model of the embedded model's architecture: fast, and its own object."""
    from transformers import AutoConfig, AutoModelForCausalLM
    config = AutoConfig.from_pretrained(default_checkpoint(), num_hidden_layers=2)
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(config).eval()


@contextlib.contextmanager
def inputs_must_follow(model):
    """Run the body with the default device on "meta"; yield the devices of every batch of ids the model got."""
    seen = []
    hook = model.get_input_embeddings().register_forward_pre_hook(lambda module, args: seen.append(args[0].device))
    try:
        with torch.device("meta"):
            yield seen
    finally:
        hook.remove()
    assert seen, "the helper never called the model"
    assert set(seen) == {generation.input_device(model)}, f"ids reached the model on {set(seen)}"


def test_the_check_catches_a_hard_coded_device(tiny):
    """The test itself can fail: ids built without a device are caught."""
    with pytest.raises(AssertionError, match="ids reached the model on"):
        with inputs_must_follow(tiny):
            tiny(input_ids=torch.tensor([[1, 2, 3]]))


def test_input_device_is_the_embeddings_device(tiny):
    assert generation.input_device(tiny) == tiny.get_input_embeddings().weight.device == torch.device("cpu")


@pytest.mark.parametrize("prompt_or_messages", ["def area(r):", MESSAGES])
def test_prepare_inputs_builds_on_the_model_device(tiny, tokenizer, prompt_or_messages):
    with torch.device("meta"):
        inputs = generation.prepare_inputs(tokenizer, prompt_or_messages, model=tiny)
        batch = generation.prepare_batch(tokenizer, [MESSAGES, MESSAGES[:1]], model=tiny)
    assert {t.device for t in [*inputs.values(), *batch.values()]} == {torch.device("cpu")}


def test_next_token_logits_and_candidates(tiny, tokenizer):
    with inputs_must_follow(tiny):
        logits = generation.next_token_logits(tiny, tokenizer, MESSAGES)
        candidates = generation.top_candidates(logits, tokenizer, n=3)
    assert logits.device.type == "cpu" and len(candidates) == 3


def test_greedy_by_hand_and_token_probs(tiny, tokenizer):
    inputs = generation.prepare_inputs(tokenizer, MESSAGES, model=tiny)
    with inputs_must_follow(tiny):
        ids = generation.greedy_by_hand(tiny, inputs["input_ids"], 4)
        probs = generation.token_probs(tiny, ids, inputs["input_ids"].shape[1])
    assert probs.device.type == "cpu" and probs.shape == (ids.shape[1] - inputs["input_ids"].shape[1],)


def test_generate_code_and_stream(tiny, tokenizer):
    with inputs_must_follow(tiny):
        text = generation.generate_code(tiny, tokenizer, REQUEST, max_new_tokens=4)
    pieces = []
    with inputs_must_follow(tiny):  # generate runs in a thread; its inputs are built here, in the caller's
        streamed = generation.stream_generate(tiny, tokenizer, REQUEST, pieces.append, max_new_tokens=4)
    assert streamed == text == "".join(pieces)


def test_stepper_and_its_widgets(tiny, tokenizer):
    with inputs_must_follow(tiny):
        s = stepper.Stepper(tiny, tokenizer, MESSAGES, n=3)
        s.choose()
        s.choose(s.candidates[1]["token_id"])
        widget = stepper.step_through_widget(tiny, tokenizer, MESSAGES, n=3)
        widget.next_button.click()  # the button's handler runs the model once more
        html, tokens, probs = stepper.confidence_view(tiny, tokenizer, REQUEST, max_new_tokens=4)
    assert len(s.input_ids[0]) == len(s.prompt_ids[0]) + 2 and len(tokens) == len(probs)
    assert widget.stepper.input_ids.shape[1] == widget.stepper.prompt_ids.shape[1] + 1, widget.errors


def test_streaming_widget(tiny, tokenizer):
    box = stepper.streaming_widget(tiny, tokenizer, REQUEST, max_new_tokens=4)
    with inputs_must_follow(tiny):
        box.generate_button.click()
        box.thread.join(60)
    assert box.status.value == "done", box.status.value


def test_explorer(tiny, tokenizer):
    with inputs_must_follow(tiny):
        ex = explorer.make_explorer(tiny, tokenizer, {"circle": REQUEST}, n=5, num_samples=2, max_new_tokens=3)
        ex.temperature.value = 0.7
        samples = ex.sample()
    assert ex.logits.device.type == "cpu" and len(samples) == 2


def test_evaluation_batches(tiny, tokenizer):
    chats = [evaluation.build_messages(REQUEST), evaluation.build_messages("Reverse a string.")]
    with inputs_must_follow(tiny):
        answers = evaluation.generate_answers(tiny, tokenizer, chats, n=2, temperature=0.8, max_new_tokens=3)
    assert [len(a) for a in answers] == [2, 2]


def test_adapters(tokenizer):
    from transformers import AutoConfig, AutoModelForCausalLM
    config = AutoConfig.from_pretrained(default_checkpoint(), num_hidden_layers=2)
    peft_model = adapters.add_lora(AutoModelForCausalLM.from_config(config).eval())
    with inputs_must_follow(peft_model.get_base_model()):
        inputs = adapters.chat_inputs(tokenizer, REQUEST, "```python\ndef area(r", model=peft_model)
        rows = adapters.next_token_probs(peft_model, tokenizer, REQUEST, "```python\ndef area(r", n=3)
        compared = adapters.compare_outputs(peft_model, tokenizer, [REQUEST], max_new_tokens=3)
        merged, diff = adapters.merge_and_compare(peft_model, inputs)
    assert rows and compared and diff < 1e-3


def test_sampling_draws_on_the_probabilities_device():
    probs = torch.softmax(torch.tensor([1.0, 2.0, 3.0]), -1)
    with torch.device("meta"):  # a generator made without a device would be on "meta": multinomial would refuse
        ids = sampling.draw(probs, 5, seed=0)
    assert ids.device == probs.device and torch.equal(ids, sampling.draw(probs, 5, seed=0))


def test_plots_take_what_a_model_returns(tiny, tokenizer):
    logits = generation.next_token_logits(tiny, tokenizer, MESSAGES)
    probs = sampling.sampling_probs(logits, temperature=0.7, top_k=5)
    plots.plot_top_tokens(logits.softmax(-1), probs, tokenizer, n=5)
    plots.plot_draws(sampling.draw(probs, 20, seed=0), probs, tokenizer, n=5)


def test_course_device_settings_on_this_machine(monkeypatch):
    from deepcoder_lib import course
    monkeypatch.delenv("DEEPCODER_DEVICE", raising=False)
    if not torch.cuda.is_available():
        assert course.device() == "cpu"  # MPS is opt-in: a Mac stays on the CPU unless DEEPCODER_DEVICE=mps
    monkeypatch.setenv("DEEPCODER_DEVICE", "cpu")
    assert course.device_settings() == {}  # the CPU stays the tested default: float32, no device_map
    assert course.from_pretrained_call() == "AutoModelForCausalLM.from_pretrained(checkpoint)"
    assert course.describe().startswith("cpu (DEEPCODER_DEVICE)")
    assert course.from_pretrained_call({"device_map": "auto", "dtype": torch.bfloat16}) == \
        "AutoModelForCausalLM.from_pretrained(checkpoint, device_map='auto', dtype=torch.bfloat16)"


def test_mps_is_opt_in(monkeypatch):
    from deepcoder_lib import course
    monkeypatch.setattr(course, "_available", lambda: {"cuda": False, "mps": True})  # a Mac, as torch sees it
    monkeypatch.delenv("DEEPCODER_DEVICE", raising=False)
    assert course.device() == "cpu" and course.device_settings() == {}
    assert "DEEPCODER_DEVICE=mps" in course.describe()
    monkeypatch.setenv("DEEPCODER_DEVICE", "mps")
    assert course.device() == "mps" and course.device_settings()["device_map"] == "mps"


@pytest.mark.parametrize("value,match", [("gpu", r"`DEEPCODER_DEVICE` must be one of auto, cpu, cuda, mps, got 'gpu'"),
                                         ("cuda", r"torch sees no CUDA device here")])
def test_course_device_bad_values(monkeypatch, value, match):
    from deepcoder_lib import course
    if value == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    monkeypatch.setenv("DEEPCODER_DEVICE", value)
    with pytest.raises(ValueError, match=match):
        course.device_settings()
