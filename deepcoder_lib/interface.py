"""One interface, two implementations: what the course asks of a model, whether it runs here or on a server.

``Answerer`` is the protocol (in the manner of transformers' ``BaseStreamer`` or ``LogitsProcessor``): a small
set of methods that ``local.LocalModel`` (a transformers model and its tokenizer) and ``server.Server`` (a
class server, through the official ``openai`` client) both implement. The course's helpers (``generate_code``,
``evaluate``, the streaming and step-through widgets, the sampling explorer) call these methods and never ask
which implementation they got; ``local.answerer(model_or_server, tokenizer)`` is the one place that tells
them apart. ``Head`` is the head of the next-token distribution, the same shape from both. No torch here.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from .decoding import Decoding


@dataclass
class Head:
    """The head of the next-token distribution, ready for a chart of ``len(labels)`` rows.

    ``logits``: what the sampling maths acts on (the whole vocabulary locally; the server's top log-probs,
    which are logits up to a constant). ``ids[i]``: the position in ``logits`` of row ``i``, None for a row
    outside the maths (a blank row, or "other"). ``probs``: the model's probability of each row (temperature
    1, no filter). ``other``: the probability of every token the server did not list (None locally: nothing
    is left out). ``label(i)``: how to name position ``i`` of ``logits``. ``note``: what the view must say
    about where the numbers came from ("" locally).
    """

    logits: Sequence[float]
    ids: list[int | None]
    labels: list[str]
    probs: list[float]
    label: Callable[[int], str]
    other: float | None = None
    note: str = ""


@runtime_checkable
class Stepper(Protocol):
    """A growing answer, one token per ``choose``: ``candidates`` ({"token_id", "token", "prob"}, most likely
    first), ``generated_text``, ``done``, ``reset()``; ``can_choose`` says whether a token other than the
    first candidate may be chosen (a server can only walk its own greedy answer)."""

    candidates: list[dict]
    can_choose: bool

    def choose(self, token_id: int | None = None) -> dict: ...
    def reset(self) -> None: ...


@runtime_checkable
class Answerer(Protocol):
    """What the course asks of a model. ``decoding`` None means ``Decoding()``: greedy, 96 new tokens."""

    name: str  # how the views label it: the checkpoint, or the served model's name

    def generate(self, request, decoding: Decoding | None = None, *, n: int = 1, progress=None) -> list[str]:
        """``n`` answers to a request (str) or messages. ``progress``: an object with transformers' streamer
        methods (``put`` once for the prompt, then once per new token for the whole batch; ``end``); a local model
        feeds it as it generates, a server (whose answers arrive whole) calls ``end`` only."""

    def answer_batch(self, chats: list[list[dict]], decoding: Decoding | None = None, *, n: int = 1
                     ) -> list[list[str]]:
        """``n`` answers per chat (a greedy answer is asked for once and repeated ``n`` times)."""

    def stream(self, request, on_text: Callable[[str], None], *, stop: threading.Event | None = None,
               decoding: Decoding | None = None) -> str:
        """Call ``on_text(piece)`` as text arrives; setting ``stop`` ends it; return all the text."""

    def next_token_head(self, request, n: int = 15) -> Head:
        """The head of the next-token distribution, ``n`` chart rows."""

    def stepper(self, request, n: int = 8, max_new_tokens: int = 48) -> Stepper:
        """A ``Stepper`` over the answer to ``request``, showing ``n`` candidates per step."""
