"""One contract, two implementations: the embedded model (local.LocalModel) and the real llama.cpp server
(server.Server) answer the same calls, and the course's helpers take either (interface.Answerer).

Every test runs twice, ``[local]`` and ``[server]``. The server runs the embedded model's own 4-bit GGUF, so
the two do not write the same text (other weights, other kernels); each test compares an implementation with
itself, through the helper and directly.
"""
import html
import math
import threading

import pytest

from deepcoder_lib import evaluation, generation, local, stepper
from deepcoder_lib.decoding import Decoding
from deepcoder_lib.explorer import make_explorer
from deepcoder_lib.interface import Answerer, Head
from deepcoder_lib import server as server_module
from server_utils import MODEL_ALIAS

REQUEST = "Write a Python function that returns the area of a circle."


@pytest.fixture(scope="module")
def srv(llama_server):
    s = server_module.connect()
    yield s
    s.close()


@pytest.fixture(params=["local", "server"])
def pair(request):
    """(model or server, tokenizer or None): what a learner passes to the course's helpers."""
    if request.param == "local":
        return request.getfixturevalue("model"), request.getfixturevalue("tokenizer")
    return request.getfixturevalue("srv"), None


@pytest.fixture
def impl(pair):
    return local.answerer(*pair)


def test_answerer_is_the_one_place_that_tells_them_apart(pair, impl):
    assert isinstance(impl, Answerer) and local.answerer(impl) is impl
    assert isinstance(impl, server_module.Server) == (pair[1] is None)
    assert impl.name in ("smollm2-135m-instruct", MODEL_ALIAS) or "SmolLM2" in impl.name or impl.name


def test_answerer_errors_name_the_argument(model):
    with pytest.raises(ValueError, match="`tokenizer` is None, but a local model needs its tokenizer"):
        local.answerer(model)
    with pytest.raises(ValueError, match=r"`model` must be a transformers model .* or a class server .*, got .gpt."):
        local.answerer("gpt")


def test_greedy_is_deterministic_and_generate_code_takes_either(pair, impl):
    first = impl.generate(REQUEST, max_new_tokens=24)
    assert impl.generate(REQUEST, Decoding(max_new_tokens=24), n=3) == first * 3  # greedy: one answer, n times
    assert generation.generate_code(*pair, REQUEST, max_new_tokens=24, do_sample=False) == first[0]
    assert first[0].strip()


def test_sampling_gives_n_answers(impl):
    answers = impl.generate(REQUEST, Decoding(max_new_tokens=12, temperature=1.3, seed=1), n=3)
    assert len(answers) == 3 and all(isinstance(a, str) for a in answers) and len(set(answers)) > 1


def test_answer_batch_answers_every_chat(impl):
    chats = [evaluation.build_messages("Write a function that reverses a string.", "plain"),
             evaluation.build_messages(REQUEST, "system")]
    answers = impl.answer_batch(chats, Decoding(max_new_tokens=12), n=2)
    assert [len(a) for a in answers] == [2, 2] and all(a[0] == a[1] for a in answers)
    assert answers[1][0] == impl.generate(chats[1], max_new_tokens=12)[0]  # as test_evaluation: 12 tokens


def test_stream_gives_the_same_text_and_stops_on_the_flag(impl):
    pieces = []
    text = impl.stream(REQUEST, pieces.append, max_new_tokens=24)
    assert len(pieces) > 1 and "".join(pieces) == text == impl.generate(REQUEST, max_new_tokens=24)[0]
    stop, seen = threading.Event(), []

    def on_text(piece):
        seen.append(piece)
        stop.set()

    impl.stream(REQUEST, on_text, stop=stop, max_new_tokens=200)
    assert 1 <= len(seen) < 10  # the local streamer may hold a few pieces decoded before the flag was read


def test_next_token_head(impl):
    head = impl.next_token_head(REQUEST, n=8)
    assert isinstance(head, Head) and len(head.labels) == len(head.ids) == len(head.probs) == 8
    inside = [p for i, p in zip(head.ids, head.probs) if i is not None]
    assert inside == sorted(inside, reverse=True) and all(0 < p <= 1 for p in inside)
    assert math.isclose(sum(head.probs), 1.0, abs_tol=1e-6) if head.other is not None else sum(head.probs) <= 1 + 1e-6
    assert len(head.logits) >= len(inside) and isinstance(head.label(head.ids[0]), str)


def test_stepper_walks_the_greedy_answer(impl):
    steps = impl.stepper(REQUEST, n=4, max_new_tokens=12)
    assert len(steps.candidates) in (4, 5)  # a server adds "other"
    for _ in range(3):
        steps.choose()
    assert steps.generated_text == impl.generate(REQUEST, max_new_tokens=3)[0]
    steps.reset()
    assert steps.generated_text == ""


def test_widgets_take_either(pair, impl):
    box = stepper.step_through_widget(*pair, REQUEST, n=4, max_new_tokens=12)
    box.next_button.click()
    assert not box.errors.outputs and box.stepper.generated_text and "%" in box.bars.value
    assert box.choice.disabled == (not box.stepper.can_choose)
    stream = stepper.streaming_widget(*pair, REQUEST, max_new_tokens=16)
    stream.generate_button.click()
    stream.thread.join(120)
    assert stream.status.value == "done" and stream.output.value == impl.generate(REQUEST, max_new_tokens=16)[0]
    stream.request.value = ""
    stream.generate_button.click()
    stream.thread.join(60)
    assert stream.status.value.startswith("ValueError: `request` is an empty string")


def test_evaluate_takes_either_and_shows_progress(pair, capsys):
    tasks = evaluation.load_tasks(["circle_area", "reverse_string"])
    rows = evaluation.evaluate(*pair, tasks, temperatures=(0.0, 0.8), n=4, max_new_tokens=96, progress=True)
    assert len(rows) == 2 * 2 * 4 and {r["category"] for r in rows} <= {"pass", "no_code", "error", "wrong", "timeout"}
    greedy = [r for r in rows if r["temperature"] == 0.0]
    assert greedy[0]["answer"] == greedy[1]["answer"]  # greedy: one answer counted n times
    assert "answers graded" in capsys.readouterr().err  # the progress bar, on either implementation
    table = evaluation.summarize(rows, ks=(1, 2))
    assert [t["temperature"] for t in table] == [0.0, 0.8] and all(0 <= t["pass@1"] <= t["pass@2"] <= 1 for t in table)


def test_explorer_takes_either(pair, impl):
    import torch

    from deepcoder_lib import sampling
    explorer = make_explorer(*pair, [REQUEST], n=8, num_samples=2, max_new_tokens=16, live=False)
    head = impl.next_token_head(REQUEST, n=8)
    assert explorer.forward_passes == 1 and len(explorer.labels) == 8
    assert explorer.logits.numel() == len(head.logits) and explorer.model_probs == pytest.approx(head.probs)
    explorer.top_k.value = 3
    expected = sampling.sampling_probs(torch.as_tensor(head.logits, dtype=torch.float32), temperature=1.0, top_k=3,
                                       top_p=1.0, min_p=0.0)
    assert torch.allclose(explorer.probs, expected) and explorer.kept == 3
    assert head.note in html.unescape(explorer.header.value) and ("other" in head.note) == (head.other is not None)
    explorer.temperature.value = 0.8
    assert len(explorer.sample()) == 2
    explorer.temperature.value = 0.0
    assert explorer.sample() == impl.generate(REQUEST, max_new_tokens=16)
