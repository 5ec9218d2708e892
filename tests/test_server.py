"""deepcoder_lib.server and server_course against a real llama.cpp server on loopback (never a mock).

The one exception is the "no logprobs" case: llama.cpp always returns them when asked, so a plain
loopback HTTP server that speaks the protocol without logprobs stands in (tests/server_utils.py).
"""
import math
import threading

import pytest

from deepcoder_lib import evaluation, server, server_course
from server_utils import API_KEY, MODEL_ALIAS, free_port

REQUEST = "Write a Python function that returns the area of a circle."


@pytest.fixture(scope="module")
def srv(llama_server):
    s = server.connect()  # from DEEPCODER_SERVER / DEEPCODER_API_KEY, which the fixture set
    yield s
    s.close()


def test_connect_reads_environment_and_takes_the_one_model(srv, llama_server):
    assert srv.base_url == llama_server and srv.model == MODEL_ALIAS
    assert server.connect(llama_server.removesuffix("/v1"), api_key=API_KEY).base_url == llama_server


def test_greedy_is_deterministic_and_answers_with_code(srv):
    first, second = srv.generate(REQUEST, max_new_tokens=48)[0], srv.generate(REQUEST, max_new_tokens=48)[0]
    assert first == second and "def" in first


def test_n_answers_even_though_llama_cpp_returns_one_choice(srv):
    answers = srv.generate(REQUEST, n=3, temperature=1.2, max_new_tokens=16, seed=1)
    assert len(answers) == 3 and len(set(answers)) > 1  # sampled, with a new seed per request


def test_stop_and_sampling_knobs_reach_the_server(srv):
    text = srv.generate("Count from 1 to 20, separated by spaces.", max_new_tokens=60, stop=["7"],
                        top_k=1, min_p=0.0)[0]
    assert "7" not in text and text.strip()


def test_stream_gives_the_same_text_as_generate(srv):
    pieces = []
    text = srv.stream(REQUEST, pieces.append, max_new_tokens=32)
    assert len(pieces) > 3 and "".join(pieces) == text == srv.generate(REQUEST, max_new_tokens=32)[0]


def test_stream_stops_when_the_flag_is_set(srv):
    stop, pieces = threading.Event(), []

    def on_text(piece):
        pieces.append(piece)
        stop.set()

    srv.stream(REQUEST, on_text, stop=stop, max_new_tokens=200)
    assert len(pieces) == 1


def test_next_token_logprobs_head_and_tail(srv):
    pairs = srv.next_token_logprobs(REQUEST, top=20)
    assert len(pairs) == 20 and [lp for _, lp in pairs] == sorted((lp for _, lp in pairs), reverse=True)
    head, other = server.head_and_tail(pairs)
    assert all(0 < p <= 1 for _, p in head) and 0 <= other < 1
    assert math.isclose(sum(p for _, p in head) + other, 1.0, abs_tol=1e-6)
    # the most likely token is the one greedy generation writes first
    assert srv.generate(REQUEST, max_new_tokens=1)[0].startswith(pairs[0][0].strip() or pairs[0][0])


def test_bad_arguments_name_the_argument(srv):
    with pytest.raises(ValueError, match="`top` must be an int from 1 to 20, got 50"):
        srv.next_token_logprobs(REQUEST, top=50)
    with pytest.raises(ValueError, match="`top_p` must be in"):
        srv.generate(REQUEST, top_p=1.5)
    with pytest.raises(ValueError, match="`request_or_messages` is an empty string"):
        srv.generate("  ")
    with pytest.raises(ValueError, match="`base_url` must start with http"):
        server.connect("localhost:8000")


def test_wrong_url_is_a_clear_error():
    with pytest.raises(server.ServerError, match="cannot reach .* after 2 tries; check DEEPCODER_SERVER"):
        server.connect(f"http://127.0.0.1:{free_port()}/v1", retries=1)


def test_wrong_path_says_where_v1_belongs(llama_server):
    with pytest.raises(server.ServerError, match="HTTP 404"):
        server.connect(llama_server + "/v1", api_key=API_KEY)


def test_wrong_key_is_a_clear_error(llama_server):
    with pytest.raises(server.ServerError, match="refused the API key .*DEEPCODER_API_KEY"):
        server.connect(llama_server, api_key="not-the-key")


def test_unserved_model_is_a_clear_error(llama_server):
    with pytest.raises(ValueError, match="`model` 'deepseek-coder' is not served .*smollm2-135m-instruct"):
        server.connect(llama_server, model="deepseek-coder")


def test_server_without_logprobs_is_a_clear_error(no_logprobs_server):
    s = server.connect(no_logprobs_server)
    assert s.generate("hi") == ["ok"]
    with pytest.raises(server.ServerError, match="answered without logprobs"):
        s.next_token_logprobs("hi")


def test_describe(llama_server, monkeypatch):
    ok, line = server.describe()
    assert ok and MODEL_ALIAS in line and "returns logprobs" in line
    monkeypatch.delenv("DEEPCODER_SERVER")
    assert server.describe() == (True, "not configured (DEEPCODER_SERVER is unset; the course uses the local model)")
    monkeypatch.setenv("DEEPCODER_SERVER", f"http://127.0.0.1:{free_port()}")
    ok, line = server.describe()
    assert not ok and "cannot reach" in line


def test_course_generate_code_and_pass_at_k(srv):
    assert server_course.generate_code(srv, REQUEST, max_new_tokens=48) == srv.generate(REQUEST, max_new_tokens=48)[0]
    tasks = evaluation.load_tasks(["circle_area", "reverse_string"])
    rows = server_course.evaluate(srv, tasks, temperatures=(0.0, 0.8), n=4, max_new_tokens=120)  # pass@2 needs n >= 4
    assert len(rows) == 2 * 2 * 4 and {r["category"] for r in rows} <= {"pass", "no_code", "error", "wrong", "timeout"}
    greedy = [r for r in rows if r["temperature"] == 0.0]
    assert greedy[0]["answer"] == greedy[1]["answer"]  # greedy: one answer counted n times
    table = evaluation.summarize(rows, ks=(1, 2))
    assert [t["temperature"] for t in table] == [0.0, 0.8] and all(0 <= t["pass@1"] <= t["pass@2"] <= 1 for t in table)


def test_streaming_widget_streams_and_shows_errors(srv):
    box = server_course.streaming_widget(srv, REQUEST, max_new_tokens=24)
    box.generate_button.click()
    box.thread.join(60)
    assert box.status.value == "done" and box.output.value == srv.generate(REQUEST, max_new_tokens=24)[0]
    box.request.value = ""
    box.generate_button.click()
    box.thread.join(60)
    assert box.status.value.startswith("ValueError: `request_or_messages` is an empty string")


def test_answer_logprobs_walks_the_greedy_answer(srv):
    steps = srv.answer_logprobs(REQUEST, max_new_tokens=24)
    assert "".join(s["token"] for s in steps) == srv.generate(REQUEST, max_new_tokens=24)[0]
    for step in steps:
        # at most 20: llama-cpp-python keys top_logprobs by token text, so ids with the same text merge
        assert 1 <= len(step["top"]) <= 20 and step["top"][0][0] == step["token"]  # greedy takes the head
        assert [lp for _, lp in step["top"]] == sorted((lp for _, lp in step["top"]), reverse=True)
    with pytest.raises(ValueError, match="`top` must be an int from 1 to 20"):
        srv.answer_logprobs(REQUEST, top=50)


def test_server_stepper_shows_the_head_and_other(srv):
    stepper = server_course.ServerStepper(srv, REQUEST, n=5, max_new_tokens=12)
    candidates = stepper.candidates
    assert len(candidates) == 6 and candidates[-1]["token"] == "other"
    assert math.isclose(sum(c["prob"] for c in candidates), 1.0, abs_tol=1e-6)  # head + other is everything
    first = stepper.choose()
    assert first["token"] == candidates[0]["token"] and stepper.generated_text == first["token"]
    with pytest.raises(ValueError, match="cannot continue from another token"):
        stepper.choose(2)
    while not stepper.done:
        stepper.choose()
    assert stepper.generated_text == srv.generate(REQUEST, max_new_tokens=12)[0]
    with pytest.raises(ValueError, match="no more tokens"):
        stepper.choose()
    with pytest.raises(ValueError, match="`n` .* from 1 to 20"):
        server_course.ServerStepper(srv, REQUEST, n=21)


def test_local_helpers_take_a_server_in_place_of_the_model(srv):
    """One setting: the same calls as for the local model, with the server where the model goes."""
    from deepcoder_lib import generation, stepper
    greedy = srv.generate(REQUEST, max_new_tokens=24)[0]
    assert generation.generate_code(srv, None, REQUEST, max_new_tokens=24, do_sample=False) == greedy
    box = stepper.step_through_widget(srv, None, REQUEST, n=4)
    box.next_button.click()
    assert box.stepper.position == 1 and not box.errors.outputs and "other" in box.bars.value
    box = stepper.streaming_widget(srv, None, REQUEST, max_new_tokens=24)
    box.generate_button.click()
    box.thread.join(60)
    assert box.output.value == greedy
    rows = evaluation.evaluate(srv, None, evaluation.load_tasks(["reverse_string"]), max_new_tokens=96)
    assert len(rows) == 1 and rows[0]["kind"] == "python"


def test_server_sampling_translates_generate_arguments():
    assert server_course.server_sampling({}) == {"temperature": 0.0}
    assert server_course.server_sampling({"do_sample": True, "top_k": 5}) == {"temperature": 1.0, "top_k": 5}
    assert server_course.server_sampling({"do_sample": False, "temperature": 0.7}) == {"temperature": 0.0}
    assert server_course.server_sampling({"stop_strings": ["```\n"]}) == {"temperature": 0.0, "stop": ["```\n"]}
    with pytest.raises(ValueError, match=r"\['num_beams'\] cannot be sent to a server"):
        server_course.server_sampling({"num_beams": 4})


def test_explorer_on_the_server_uses_its_head_and_shows_other(srv):
    """The sampling explorer on a server: the maths runs on the top 20 log-probs, the rest is one bar."""
    import torch

    from deepcoder_lib import sampling
    from deepcoder_lib.explorer import make_explorer
    explorer = make_explorer(srv, None, [REQUEST], n=8, num_samples=2, max_new_tokens=16, live=False)
    pairs = srv.next_token_logprobs(REQUEST, top=20)
    assert explorer.forward_passes == 1 and explorer.logits.numel() == len(pairs)
    assert explorer.labels[-1] == "(other: not sent)" and len(explorer.labels) == 8
    head, other = server.head_and_tail(pairs)
    assert math.isclose(explorer.model_probs[-1], other + sum(p for _, p in head[7:]), abs_tol=1e-6)
    explorer.top_k.value = 3
    expected = sampling.sampling_probs(torch.tensor([lp for _, lp in pairs]), temperature=1.0, top_k=3, top_p=1.0, min_p=0.0)
    assert torch.allclose(explorer.probs, expected) and explorer.kept == 3
    assert "only the server's top" in explorer.header.value
    explorer.temperature.value = 0.8
    samples = explorer.sample()
    assert len(samples) == 2 and all(isinstance(s, str) for s in samples)
    with pytest.raises(ValueError, match="cannot continue"):
        explorer._from_server([{"role": "user", "content": REQUEST}, {"role": "assistant", "content": "def"}])


def test_evaluate_command_line_with_a_server(llama_server, tmp_path):
    """``evaluate --server URL``: the one setting on the command line; the JSON beside the CSV names the model."""
    import json

    from deepcoder_lib import evaluation_cli
    out = tmp_path / "run.csv"
    assert evaluation_cli.main(["--server", llama_server, "--tasks", "reverse_string", "--temperatures", "0",
                                "-n", "1", "-k", "1", "--output", str(out)]) == 0
    rows = evaluation.read_csv(out)
    assert [r["task"] for r in rows] == ["reverse_string"]
    info = json.loads(out.with_suffix(".json").read_text())
    assert "--server" in info["command"] and MODEL_ALIAS in info["answered_by"] and "cores" in info["machine"]
