"""A client for one shared, OpenAI-compatible inference server (vLLM, SGLang, llama.cpp's server).

A class cannot run a 16B or 236B model on every laptop; one machine serves it over HTTP and every
notebook talks to it. This module is that client: ``connect`` checks the server and picks its model,
``Server.generate`` / ``Server.stream`` send a chat with the course's sampling settings, and
``Server.next_token_logprobs`` reads the head of the next-token distribution from ``top_logprobs``.
It speaks plain HTTP through ``httpx`` (already installed with huggingface_hub), so no extra SDK is
needed. The course pieces built on it (generate_code, streaming widget, pass@k) are in
``server_course.py``; the local model's counterparts stay in ``generation.py`` and ``evaluation.py``.
"""
from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Callable

import httpx

ENV_URL, ENV_KEY = "DEEPCODER_SERVER", "DEEPCODER_API_KEY"
RETRIES = 3       # attempts after the first, for refused connections, 429 and 5xx answers
BACKOFF = 0.5     # seconds before the first retry; doubled after each
TIMEOUT = 120.0   # seconds to wait for an answer: a busy class server queues requests


class ServerError(RuntimeError):
    """The server could not be reached, refused the request, or answered without what was asked."""


def _messages(request_or_messages) -> list[dict]:
    if isinstance(request_or_messages, str):
        if not request_or_messages.strip():
            raise ValueError("`request_or_messages` is an empty string; ask for something, e.g. "
                             "'Write a Python function that returns the area of a circle.'")
        return [{"role": "user", "content": request_or_messages}]
    if not isinstance(request_or_messages, list) or not all(isinstance(m, dict) for m in request_or_messages):
        raise ValueError(f"`request_or_messages` must be a string or a list of message dicts, "
                         f"got {request_or_messages!r}")
    return request_or_messages


def _sampling(max_new_tokens, temperature, top_p, top_k, min_p, stop) -> dict:
    if not isinstance(max_new_tokens, int) or isinstance(max_new_tokens, bool) or max_new_tokens < 1:
        raise ValueError(f"`max_new_tokens` must be a positive int, got {max_new_tokens!r}; try 96")
    temperature, top_p = float(temperature), float(top_p)
    if temperature < 0:
        raise ValueError(f"`temperature` must be >= 0, got {temperature}; 0 means greedy")
    if not 0 < top_p <= 1:
        raise ValueError(f"`top_p` must be in (0, 1], got {top_p}; use 1.0 to switch top-p off")
    body = {"max_tokens": max_new_tokens, "temperature": temperature, "top_p": top_p}
    if top_k is not None:  # not part of OpenAI's API; vLLM, SGLang and llama.cpp accept it
        body["top_k"] = int(top_k)
    if min_p is not None:
        body["min_p"] = float(min_p)
    if stop is not None:
        body["stop"] = [stop] if isinstance(stop, str) else list(stop)
    return body


class Server:
    """One model on one OpenAI-compatible server. Build it with ``connect``."""

    def __init__(self, base_url: str, *, api_key: str | None = None, model: str | None = None,
                 timeout: float = TIMEOUT, retries: int = RETRIES):
        self.base_url, self.model, self.retries = base_url, model, retries
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(base_url=base_url, headers=headers,
                                   timeout=httpx.Timeout(timeout, connect=10.0))

    def __repr__(self) -> str:
        return f"Server({self.base_url!r}, model={self.model!r})"

    def close(self) -> None:
        self.client.close()

    # --- HTTP, with retries and errors a learner can act on -------------------------------------
    def _check(self, response: httpx.Response) -> None:
        if response.status_code in (401, 403):
            raise ServerError(f"{self.base_url} refused the API key (HTTP {response.status_code}); set "
                              f"{ENV_KEY} (or api_key=) to the key the teacher gave you")
        if response.status_code == 404:
            raise ServerError(f"{self.base_url} has no {response.request.url.path} (HTTP 404): is it an "
                              f"OpenAI-compatible server, and does the URL end in /v1? {response.text[:200]}")
        if response.status_code >= 400:
            raise ServerError(f"{self.base_url} answered HTTP {response.status_code}: {response.text[:300]}")

    def _send(self, method: str, path: str, body: dict | None = None, *, stream: bool = False):
        delay = BACKOFF
        for attempt in range(self.retries + 1):
            try:
                request = self.client.build_request(method, path, json=body)
                response = self.client.send(request, stream=stream)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError) as exc:
                if attempt == self.retries:
                    raise ServerError(f"cannot reach {self.base_url} ({type(exc).__name__}: {exc}) after "
                                      f"{attempt + 1} tries; check {ENV_URL} and that the server is running") from None
            except httpx.TimeoutException:
                raise ServerError(f"{self.base_url} did not answer within {self.client.timeout.read} s; "
                                  "the server may be overloaded, try again or ask for fewer tokens") from None
            else:
                if response.status_code != 429 and response.status_code < 500 or attempt == self.retries:
                    if stream and response.status_code >= 400:
                        response.read()
                    self._check(response)
                    return response
                response.close()
            time.sleep(delay)
            delay *= 2

    def _chat(self, messages, **body) -> dict:
        response = self._send("POST", "/chat/completions", {"model": self.model, "messages": messages, **body})
        try:
            return response.json()
        except ValueError:
            raise ServerError(f"{self.base_url} answered with something that is not JSON: {response.text[:200]}") from None

    def models(self) -> list[str]:
        """The model names the server lists at /v1/models."""
        data = self._send("GET", "/models").json()
        return [entry["id"] for entry in data.get("data", [])]

    # --- What the course asks of a model --------------------------------------------------------
    def generate(self, request_or_messages, *, max_new_tokens: int = 96, temperature: float = 0.0,
                 top_p: float = 1.0, n: int = 1, top_k: int | None = None, min_p: float | None = None,
                 stop=None, seed: int | None = None) -> list[str]:
        """``n`` answers to the chat. temperature 0 means greedy; top_k / min_p None leave the server's default.

        OpenAI's API has ``n``, but llama.cpp's server ignores it and returns one choice, so this asks
        again until it holds ``n`` answers (one request each when the server does not batch them).
        """
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"`n` must be a positive int, got {n!r}; use 1 for one answer")
        messages = _messages(request_or_messages)
        body = _sampling(max_new_tokens, temperature, top_p, top_k, min_p, stop)
        if seed is not None:
            body["seed"] = int(seed)
        answers: list[str] = []
        while len(answers) < n:
            reply = self._chat(messages, **body, n=n - len(answers))
            answers += [choice["message"].get("content") or "" for choice in reply["choices"]]
            if "seed" in body:
                body["seed"] += 1  # a fixed seed would repeat the same sample on each new request
        return answers[:n]

    def stream(self, request_or_messages, on_text: Callable[[str], None], *,
               stop: threading.Event | None = None, max_new_tokens: int = 96, temperature: float = 0.0,
               top_p: float = 1.0, top_k: int | None = None, min_p: float | None = None) -> str:
        """Call ``on_text(piece)`` as the server streams text; return all of it. Setting ``stop`` ends it.

        The same contract as ``generation.stream_generate``, so the course's streaming widget can use it.
        """
        body = _sampling(max_new_tokens, temperature, top_p, top_k, min_p, None)
        body.update(model=self.model, messages=_messages(request_or_messages), stream=True)
        pieces = []
        response = self._send("POST", "/chat/completions", body, stream=True)
        try:
            for line in response.iter_lines():
                if stop is not None and stop.is_set():
                    break  # closing the connection tells the server to stop generating
                if not line.startswith("data:") or line.strip() == "data: [DONE]":
                    continue
                choices = json.loads(line[5:]).get("choices") or [{}]
                piece = (choices[0].get("delta") or {}).get("content")
                if piece:
                    pieces.append(piece)
                    on_text(piece)
        finally:
            response.close()
        return "".join(pieces)

    def next_token_logprobs(self, request_or_messages, top: int = 20) -> list[tuple[str, float]]:
        """The ``top`` most likely next tokens and their log-probabilities, most likely first.

        The server sends only this head of the distribution (OpenAI caps ``top_logprobs`` at 20), not
        a probability for every token of the vocabulary; ``head_and_tail`` says how much is left over.
        """
        if not isinstance(top, int) or isinstance(top, bool) or not 1 <= top <= 20:
            raise ValueError(f"`top` must be an int from 1 to 20, got {top!r}; servers send at most 20")
        reply = self._chat(_messages(request_or_messages), max_tokens=1, temperature=0.0,
                           logprobs=True, top_logprobs=top)
        content = ((reply.get("choices") or [{}])[0].get("logprobs") or {}).get("content")
        if not content or not content[0].get("top_logprobs"):
            raise ServerError(f"{self.base_url} answered without logprobs; this server (or model) does not "
                              "return them, so the next-token views need the local model or another server")
        pairs = [(entry["token"], float(entry["logprob"])) for entry in content[0]["top_logprobs"]]
        return sorted(pairs, key=lambda pair: -pair[1])[:top]


    def answer_logprobs(self, request_or_messages, *, max_new_tokens: int = 32,
                        top: int = 20) -> list[dict]:
        """The server's greedy answer, token by token, with the head of the distribution at each step.

        One request with ``logprobs`` at every position: each entry is ``{"token", "logprob", "top"}``,
        ``top`` being the (token, logprob) pairs the server listed for that position (at most ``top``:
        llama-cpp-python keys them by token text, so two ids that decode alike appear once). The
        step-through view on a server walks this list; it cannot choose another token and continue,
        because the chat API has no way to resume a half-written assistant message.
        """
        if not isinstance(top, int) or isinstance(top, bool) or not 1 <= top <= 20:
            raise ValueError(f"`top` must be an int from 1 to 20, got {top!r}; servers send at most 20")
        body = _sampling(max_new_tokens, 0.0, 1.0, None, None, None)
        reply = self._chat(_messages(request_or_messages), **body, logprobs=True, top_logprobs=top)
        content = ((reply.get("choices") or [{}])[0].get("logprobs") or {}).get("content")
        if not content or not content[0].get("top_logprobs"):
            raise ServerError(f"{self.base_url} answered without logprobs; this server (or model) does not "
                              "return them, so the next-token views need the local model or another server")
        return [{"token": entry["token"], "logprob": float(entry["logprob"]),
                 "top": sorted(((t["token"], float(t["logprob"])) for t in entry["top_logprobs"]),
                               key=lambda pair: -pair[1])[:top]}
                for entry in content]


def head_and_tail(logprobs: list[tuple[str, float]]) -> tuple[list[tuple[str, float]], float]:
    """(token, probability) for the head the server sent, and the probability of everything else.

    The tail is 1 minus the head's total: all other tokens of the vocabulary together, shown as
    "other". Its split among those tokens is unknown: the server never sent it.
    """
    head = [(token, math.exp(logprob)) for token, logprob in logprobs]
    return head, max(0.0, 1.0 - sum(prob for _, prob in head))


def _base_url(base_url: str) -> str:
    url = base_url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"`base_url` must start with http:// or https://, got {base_url!r}; "
                         "e.g. http://10.0.0.5:8000/v1")
    return url if url.endswith("/v1") else url + "/v1"


def connect(base_url: str | None = None, *, api_key: str | None = None, model: str | None = None,
            timeout: float = TIMEOUT, retries: int = RETRIES) -> Server:
    """A ``Server`` for ``base_url`` (default $DEEPCODER_SERVER), checked by listing its models.

    ``api_key`` defaults to $DEEPCODER_API_KEY. ``model`` None takes the one model the server lists.
    """
    base_url = base_url or os.environ.get(ENV_URL)
    if not base_url:
        raise ValueError(f"`base_url` is None and {ENV_URL} is not set; pass the URL the teacher gave you, "
                         "e.g. connect('http://10.0.0.5:8000/v1')")
    api_key = api_key if api_key is not None else os.environ.get(ENV_KEY) or None
    server = Server(_base_url(base_url), api_key=api_key, model=model, timeout=timeout, retries=retries)
    served = server.models()
    if model is None:
        if len(served) != 1:
            raise ValueError(f"`model` is None but {server.base_url} serves {len(served)} models: {served}; "
                             "pass model= one of them")
        server.model = served[0]
    elif model not in served:
        raise ValueError(f"`model` {model!r} is not served by {server.base_url}; it serves {served}")
    return server


def describe() -> tuple[bool, str]:
    """For the doctor: (ok, one line) about $DEEPCODER_SERVER. Unset is 'not configured', not a failure."""
    if not os.environ.get(ENV_URL):
        return True, f"not configured ({ENV_URL} is unset; the course uses the local model)"
    try:
        server = connect(retries=1)
        try:
            server.next_token_logprobs("Say hi.", top=1)
            logprobs = "returns logprobs"
        except ServerError:
            logprobs = "returns NO logprobs (next-token views will not work)"
        return True, f"{server.base_url} serves {server.model!r}, {logprobs}"
    except (ServerError, ValueError) as exc:
        return False, str(exc)
