"""deepcoder_lib.server against a real llama.cpp server on loopback (never a mock): what only a server has.

What both implementations share is tested once, on both, in test_interface.py.

The one exception is the "no logprobs" case: llama.cpp always returns them when asked, so a plain
loopback HTTP server that speaks the protocol without logprobs stands in (tests/server_utils.py).
"""
import math
import threading

import pytest

import httpx
import openai

from deepcoder_lib import evaluation, server
from deepcoder_lib.decoding import Decoding
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


def test_n_answers_even_though_llama_cpp_returns_one_choice(srv):
    answers = srv.generate(REQUEST, n=3, temperature=1.2, max_new_tokens=16, seed=1)
    assert len(answers) == 3 and len(set(answers)) > 1  # sampled, with a new seed per request


def test_stop_and_sampling_knobs_reach_the_server(srv):
    text = srv.generate("Count from 1 to 20, separated by spaces.", max_new_tokens=60, stop=["7"],
                        top_k=1, min_p=0.0)[0]
    assert "7" not in text and text.strip()


def test_next_token_logprobs_head_and_tail(srv):
    pairs = srv.next_token_logprobs(REQUEST, top=20)
    assert len(pairs) == 20 and [lp for _, lp in pairs] == sorted((lp for _, lp in pairs), reverse=True)
    head, other = server.head_and_tail(pairs)
    assert all(0 < p <= 1 for _, p in head) and 0 <= other < 1
    assert math.isclose(sum(p for _, p in head) + other, 1.0, abs_tol=1e-6)
    # the most likely token is the one greedy generation writes first
    assert srv.generate(REQUEST, max_new_tokens=1)[0].startswith(pairs[0][0].strip() or pairs[0][0])


def test_bad_arguments_name_the_argument(srv):
    with pytest.raises(ValueError, match="`top` must be a whole number from 1 to 20, got 50"):
        srv.next_token_logprobs(REQUEST, top=50)
    with pytest.raises(ValueError, match="`top_p` must be in"):
        srv.generate(REQUEST, top_p=1.5)
    with pytest.raises(ValueError, match="`request` is an empty string"):
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


def test_answer_logprobs_walks_the_greedy_answer(srv):
    steps = srv.answer_logprobs(REQUEST, max_new_tokens=24)
    assert "".join(s["token"] for s in steps) == srv.generate(REQUEST, max_new_tokens=24)[0]
    for step in steps:
        # at most 20: llama-cpp-python keys top_logprobs by token text, so ids with the same text merge
        assert 1 <= len(step["top"]) <= 20 and step["top"][0][0] == step["token"]  # greedy takes the head
        assert [lp for _, lp in step["top"]] == sorted((lp for _, lp in step["top"]), reverse=True)
    with pytest.raises(ValueError, match="`top` must be a whole number from 1 to 20"):
        srv.answer_logprobs(REQUEST, top=50)


def test_server_stepper_shows_the_head_and_other(srv):
    stepper = server.ServerStepper(srv, REQUEST, n=5, max_new_tokens=12)
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
    with pytest.raises(ValueError, match="`n` must be a whole number from 1 to 20, got 21"):
        server.ServerStepper(srv, REQUEST, n=21)


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
    # what reached the server: one greedy request (sent again if the client retried it), every knob stated
    tries = info["sent"]["requests"]
    assert info["sent"] == {"requests": tries, "seed": [0, 0], "n": None, "bodies": [
        {"requests": tries, "model": MODEL_ALIAS, "max_tokens": 192, "temperature": 0.0, "top_p": 1.0, "top_k": 0,
         "min_p": 0.0, "repeat_penalty": 1.0, "repetition_penalty": 1.0}]}
    assert info["decoding"]["temperature 0.0"]["repetition_penalty"] == 1.0 and len(info["load_average_at_start"]) == 3


# ---- the server's decoding, stated -------------------------------------------------------------------------
COUNT = "Write the numbers from 1 to 60, separated by commas, and nothing else."
NEUTRAL = {"repeat_penalty": 1.0, "top_k": 0, "min_p": 0.0}
LLAMA_CPP_DEFAULTS = {"repeat_penalty": 1.1, "top_k": 40, "min_p": 0.05}  # llama-cpp-python 0.3.36's own


# A request where llama.cpp's default repeat penalty changes the greedy answer: the list of zeros is cut short
ZEROS = "Write a Python function that returns the list [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]."


def _raw(url: str, prompt: str = COUNT, max_tokens: int = 200, **body) -> str:
    """One greedy chat request sent with the plain openai client: only what ``body`` names, nothing stated."""
    client = openai.OpenAI(base_url=url, api_key=API_KEY, max_retries=0)
    reply = client.chat.completions.create(model=MODEL_ALIAS, messages=[{"role": "user", "content": prompt}],
                                           temperature=0.0, max_tokens=max_tokens, **body)
    return reply.choices[0].message.content


def test_every_request_states_each_knob(srv):
    """The JSON body that reaches the server names every decoding knob, greedy or sampled."""
    srv.generate(REQUEST, max_new_tokens=8)
    assert srv.last_request == {"model": MODEL_ALIAS, "messages": [{"role": "user", "content": REQUEST}],
                                "max_tokens": 8, "temperature": 0.0, "top_p": 1.0, "top_k": 0, "min_p": 0.0,
                                "repeat_penalty": 1.0, "repetition_penalty": 1.0}
    srv.generate(REQUEST, Decoding(max_new_tokens=8, temperature=0.8, top_p=0.95, top_k=5, min_p=0.1, seed=3))
    body = srv.last_request
    assert {k: body[k] for k in ("temperature", "top_p", "top_k", "min_p", "repeat_penalty", "seed")} == {
        "temperature": 0.8, "top_p": 0.95, "top_k": 5, "min_p": 0.1, "repeat_penalty": 1.0, "seed": 3}
    srv.stream(REQUEST, lambda piece: None, max_new_tokens=4)
    assert srv.last_request["stream"] is True and srv.last_request["repeat_penalty"] == 1.0
    assert srv.request_body(REQUEST, max_new_tokens=8) == {k: v for k, v in srv.last_request.items()
                                                           if k != "stream"} | {"max_tokens": 8}


def test_stated_greedy_is_the_neutral_decoder_not_the_server_default(srv, llama_server):
    """Left to itself llama.cpp's server decodes "greedy" with its defaults on top (a request that states nothing
    answers as one that sends repeat penalty 1.1, top_k 40, min_p 0.05); the course's request answers as one that
    sends the neutral values. On a counting prompt the two agree; on ZEROS the default's repeat penalty cuts the
    list short, so the course's greedy answer differs from the server-default answer, as the local model's would."""
    for prompt, max_tokens in ((COUNT, 200), (ZEROS, 120)):
        stated = srv.generate(prompt, max_new_tokens=max_tokens)[0]
        assert stated == _raw(llama_server, prompt, max_tokens, extra_body=NEUTRAL)
        unstated = _raw(llama_server, prompt, max_tokens)
        assert unstated == _raw(llama_server, prompt, max_tokens, extra_body=LLAMA_CPP_DEFAULTS)  # "unstated" means these
    assert stated != unstated, "on ZEROS the stated (neutral) greedy and the server's default greedy must differ"


def test_local_only_helpers_refuse_a_server(srv):
    from deepcoder_lib import generation, loss, search, stepper
    for call in (lambda: stepper.confidence_view(srv, None, REQUEST), lambda: stepper.Stepper(srv, None, REQUEST),
                 lambda: generation.next_token_logits(srv, None, REQUEST),
                 lambda: generation.greedy_by_hand(srv, None, 4), lambda: loss.token_losses(srv, None, "x = 1"),
                 lambda: search.greedy_vs_beam(srv, None, REQUEST)):
        with pytest.raises(ValueError, match=r"`model` must be a local transformers model .*got Server\("):
            call()


def test_the_client_and_the_doctor_check_import_without_torch():
    """The doctor checks the class server on a machine whose torch may be broken: server.py must not need it."""
    import subprocess
    import sys
    code = ("import sys; from deepcoder_lib import doctor, server; doctor.check_class_server; "
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
