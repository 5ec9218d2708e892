"""The class server's implementation of the course's model interface, through the official ``openai`` client.

A class cannot run a 16B or 236B model on every laptop; one machine serves it over HTTP (vLLM, SGLang,
llama.cpp's server) and every notebook talks to it. ``connect`` checks the server and picks its model;
``Server`` implements ``interface.Answerer`` as ``local.LocalModel`` does for a model on this machine:
answers (``client.chat.completions.create``), batched chats, streaming with a stop flag, the head of the
next-token distribution (the server's ``top_logprobs``, the rest shown as "other") and a stepper over its
greedy answer. Every request states each decoding knob (``decoding.Decoding.request_body``), so the server's
own defaults (llama.cpp: repeat penalty 1.1, top_k 40, min_p 0.05) never decide for it; ``last_request``
holds the JSON body last sent. Retries and timeouts are the client's own. No torch: the doctor imports this.
"""
from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Callable

import httpx
import openai

from .checks import positive_int, whole_number
from .decoding import Decoding, settings
from .interface import Head
from .prompts import chat_messages

ENV_URL, ENV_KEY = "DEEPCODER_SERVER", "DEEPCODER_API_KEY"
RETRIES = 3       # retries after the first try, for refused connections, 408, 409, 429 and 5xx answers
TIMEOUT = 120.0   # seconds to wait for an answer: a busy class server queues requests
MAX_TOP = 20      # OpenAI's API (and vLLM's default) sends at most 20 top_logprobs
START_HINT = ("no class server? start one on this machine with `python -m llama_cpp.server --model "
              "$(python -c 'from deepcoder_lib.prepare import find_gguf; print(find_gguf())') --model_alias "
              "smollm2-135m-instruct --chat_format chatml --port 8000` (in a terminal; it serves the embedded "
              "model) and set DEEPCODER_SERVER=http://127.0.0.1:8000/v1, or set it to the URL your teacher gave you")


class ServerError(RuntimeError):
    """The server could not be reached, refused the request, or answered without what was asked."""


class Server:
    """One model on one OpenAI-compatible server. Build it with ``connect``."""

    def __init__(self, base_url: str, *, api_key: str | None = None, model: str | None = None,
                 timeout: float = TIMEOUT, retries: int = RETRIES):
        self.base_url, self.model, self.retries = base_url, model, retries
        self.last_request: dict | None = None
        # every POST body passes _record; a run's record may add its own hook here (evaluation_cli does)
        self.http = http = httpx.Client(event_hooks={"request": [self._record]})
        # a server without a key ignores it; the client insists on one
        self.client = openai.OpenAI(base_url=base_url, api_key=api_key or "no-key", max_retries=retries,
                                    timeout=httpx.Timeout(timeout, connect=10.0), http_client=http)

    @property
    def name(self) -> str:
        """The served model's name for labels: llama.cpp lists a model by its file path, so only the file name."""
        return os.path.basename(str(self.model).rstrip("/")) or str(self.model)

    def __repr__(self) -> str:
        return f"Server({self.base_url!r}, model={self.name!r})"

    def close(self) -> None:
        self.client.close()

    def _record(self, request: httpx.Request) -> None:
        if request.method == "POST":
            self.last_request = json.loads(request.content or b"{}")

    # --- errors a learner can act on ------------------------------------------------------------
    def _call(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except openai.APITimeoutError:
            raise ServerError(f"{self.base_url} did not answer within {TIMEOUT:.0f} s; the server may be overloaded, "
                              "try again or ask for fewer tokens") from None
        except openai.APIConnectionError as exc:
            cause = exc.__cause__ or exc
            raise ServerError(f"cannot reach {self.base_url} ({type(cause).__name__}) after {self.retries + 1} "
                              f"tries; check {ENV_URL} and that the server is running. {START_HINT}") from None
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise ServerError(f"{self.base_url} refused the API key (HTTP {exc.status_code}); set {ENV_KEY} (or "
                              "api_key=) to the key the teacher gave you") from None
        except openai.NotFoundError as exc:
            raise ServerError(f"{self.base_url} answered HTTP 404 for {exc.response.request.url.path}: is it an "
                              f"OpenAI-compatible server, and does the URL end in /v1? {exc.response.text[:200]}") from None
        except openai.APIStatusError as exc:
            raise ServerError(f"{self.base_url} answered HTTP {exc.status_code}: {exc.response.text[:300]}") from None

    def _create(self, messages, decoding: Decoding, **extra):
        body = decoding.request_body()
        return self._call(self.client.chat.completions.create, model=self.model, messages=messages, **body, **extra)

    def models(self) -> list[str]:
        """The model names the server lists at /v1/models."""
        return [entry.id for entry in self._call(self.client.models.list).data]

    def request_body(self, request, decoding: Decoding | None = None, **given) -> dict:
        """The JSON body ``generate`` would send for ``request``: every decoding knob stated (for the notebook)."""
        body = settings(decoding, given).request_body()
        return {"model": self.model, "messages": chat_messages(request), **body.pop("extra_body"), **body}

    # --- the course's interface (interface.Answerer) --------------------------------------------
    def generate(self, request, decoding: Decoding | None = None, *, n: int = 1, progress=None,
                 **given) -> list[str]:
        """``n`` answers to the chat; keyword settings (``max_new_tokens=48``) or a ``Decoding``; greedy by default.
        ``progress`` (a streamer-like object) only gets ``end()``: the server's answers arrive whole.

        OpenAI's API has ``n``, but llama.cpp's server ignores it and returns one choice, so this asks
        again until it holds ``n`` answers (a new seed each time). Greedy asks once and repeats the answer.
        """
        n, decoding = positive_int(n, "n", "use 1 for one answer"), settings(decoding, given)
        try:
            return self._answers(chat_messages(request), decoding, n)
        finally:
            if progress is not None:
                progress.end()

    def _answers(self, messages, decoding: Decoding, n: int) -> list[str]:
        if decoding.greedy:
            return [self._text(self._create(messages, decoding))] * n
        answers: list[str] = []
        while len(answers) < n:
            reply = self._create(messages, decoding, n=n - len(answers))
            answers += [choice.message.content or "" for choice in reply.choices]
            if decoding.seed is not None:
                decoding = decoding.with_(seed=decoding.seed + 1)  # a fixed seed would repeat the same sample
        return answers[:n]

    @staticmethod
    def _text(reply) -> str:
        return (reply.choices[0].message.content or "") if reply.choices else ""

    def answer_batch(self, chats, decoding: Decoding | None = None, *, n: int = 1) -> list[list[str]]:
        """``n`` answers per chat, one chat after another (the server batches concurrent requests itself)."""
        if not isinstance(chats, (list, tuple)) or not chats:
            raise ValueError(f"`chats` must be a non-empty list of message lists, got {chats!r}")
        return [self.generate(chat, decoding, n=n) for chat in chats]

    def stream(self, request, on_text: Callable[[str], None], *, stop: threading.Event | None = None,
               decoding: Decoding | None = None, **given) -> str:
        """Call ``on_text(piece)`` as the server streams text; return all of it. Setting ``stop`` ends it."""
        decoding = settings(decoding, given)
        pieces = []
        chunks = self._create(chat_messages(request), decoding, stream=True)
        try:
            for chunk in chunks:
                if stop is not None and stop.is_set():
                    break  # closing the connection tells the server to stop generating
                piece = chunk.choices[0].delta.content if chunk.choices else None
                if piece:
                    pieces.append(piece)
                    on_text(piece)
        finally:
            chunks.close()
        return "".join(pieces)

    def _logprobs(self, request, max_new_tokens: int, top: int) -> list:
        top = whole_number(top, "top", maximum=MAX_TOP, hint=f"servers send at most {MAX_TOP}")
        messages = chat_messages(request)
        if messages[-1]["role"] == "assistant":
            raise ValueError("`request` ends with an assistant message: the course's client sends plain chat "
                             "requests, which cannot continue a half-written answer (OpenAI's hosted API cannot "
                             "either; vLLM can, with continue_final_message); give a request, or use the local model")
        reply = self._create(messages, Decoding(max_new_tokens=max_new_tokens), logprobs=True, top_logprobs=top)
        content = reply.choices[0].logprobs.content if reply.choices and reply.choices[0].logprobs else None
        if not content or not content[0].top_logprobs:
            raise ServerError(f"{self.base_url} answered without logprobs; this server (or model) does not "
                              "return them, so the next-token views need the local model or another server")
        return content

    def next_token_logprobs(self, request, top: int = MAX_TOP) -> list[tuple[str, float]]:
        """The ``top`` most likely next tokens and their log-probabilities, most likely first.

        The server sends only this head of the distribution, not a probability for every token of the
        vocabulary; ``head_and_tail`` says how much is left over.
        """
        pairs = [(entry.token, float(entry.logprob)) for entry in self._logprobs(request, 1, top)[0].top_logprobs]
        return sorted(pairs, key=lambda pair: -pair[1])[:top]

    def answer_logprobs(self, request, *, max_new_tokens: int = 32, top: int = MAX_TOP) -> list[dict]:
        """The server's greedy answer, token by token, with the head of the distribution at each step.

        One request with ``logprobs`` at every position: each entry is ``{"token", "logprob", "top"}``,
        ``top`` being the (token, logprob) pairs the server listed for that position (at most ``top``:
        llama-cpp-python keys them by token text, so two ids that decode alike appear once).
        """
        return [{"token": entry.token, "logprob": float(entry.logprob),
                 "top": sorted(((t.token, float(t.logprob)) for t in entry.top_logprobs), key=lambda p: -p[1])[:top]}
                for entry in self._logprobs(request, max_new_tokens, top)]

    def next_token_head(self, request, n: int = 15) -> Head:
        """The server's top 20 log-probs as the logits the sliders act on, in ``min(n, 21)`` rows, the last "other"."""
        rows = min(positive_int(n, "n", "how many tokens to show, e.g. 15"), MAX_TOP + 1)
        pairs = self.next_token_logprobs(request, top=MAX_TOP)
        head, other = head_and_tail(pairs)
        shown = head[:rows - 1]  # the last row is "other"
        blank = rows - 1 - len(shown)  # fewer listed than rows: empty rows keep the chart's shape
        labels = [repr(token) for token, _ in shown] + [""] * blank + ["(other: not sent)"]
        rest = other + sum(p for _, p in head[len(shown):])
        return Head(logits=[lp for _, lp in pairs], ids=list(range(len(shown))) + [None] * (blank + 1),
                    labels=labels, probs=[p for _, p in shown] + [0.0] * blank + [rest], other=rest,
                    label=lambda i: labels[i] if i < len(shown) else "a token the server did not list",
                    note=f"from {self.name}: only the server's top {len(pairs)} tokens are known; the sliders act "
                         "on them, renormalised, and the rest is the grey \"other\" bar")

    def stepper(self, request, n: int = 8, max_new_tokens: int = 48) -> "ServerStepper":
        return ServerStepper(self, request, n, max_new_tokens)


class ServerStepper:
    """The server's greedy answer, one token per step, with the head of the distribution at each step.

    The same role as ``local.Stepper``, with two honest differences: the candidates are the server's top
    ``n`` (at most 20) plus "other", the mass of every token it did not list; and the path is the server's
    own greedy answer (``choose`` takes only the top token): the course's client sends plain chat requests,
    which cannot resume a half-written assistant message.
    """

    can_choose = False

    def __init__(self, server: Server, request, n: int = 8, max_new_tokens: int = 48):
        self.n = whole_number(n, "n", maximum=MAX_TOP, hint="how many candidates to show; servers send at most 20")
        self.server = server
        self.steps = server.answer_logprobs(request, max_new_tokens=max_new_tokens, top=MAX_TOP)
        self.reset()

    def reset(self) -> None:
        self.position = 0

    @property
    def done(self) -> bool:
        return self.position >= len(self.steps)

    @property
    def candidates(self) -> list[dict]:
        """Top ``n`` as {"token", "prob"} (most likely first) and a last {"token": "other", ...} entry."""
        if self.done:
            return []
        head, other = head_and_tail(self.steps[self.position]["top"])
        rows = [{"token_id": i, "token": token, "prob": prob} for i, (token, prob) in enumerate(head[:self.n])]
        rest = other + sum(prob for _, prob in head[self.n:])
        return rows + [{"token_id": -1, "token": "other", "prob": rest}]

    def choose(self, token_id: int | None = None) -> dict:
        """Take the server's next token (``token_id`` None or 0, the most likely one)."""
        if self.done:
            raise ValueError("the server's answer has no more tokens; press reset to start again")
        if token_id not in (None, 0):
            raise ValueError(f"`token_id` must be None or 0 on a server, got {token_id!r}: the server cannot "
                             "continue from another token; use the local model to explore other paths")
        step = self.steps[self.position]
        self.position += 1
        return {"token_id": 0, "token": step["token"], "prob": math.exp(step["logprob"])}

    @property
    def generated_text(self) -> str:
        return "".join(step["token"] for step in self.steps[:self.position])


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
                         f"e.g. connect('http://10.0.0.5:8000/v1'). {START_HINT}")
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


def try_connect(**kwargs) -> tuple[Server | None, str]:
    """``(connect(**kwargs), "")``, or ``(None, why)`` when no server is configured or reachable: for a notebook
    that runs its other cells without one."""
    try:
        return connect(**kwargs), ""
    except (ServerError, ValueError) as exc:
        return None, str(exc)


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
        return True, f"{server.base_url} serves {server.name!r}, {logprobs}"
    except (ServerError, ValueError) as exc:
        return False, str(exc)
