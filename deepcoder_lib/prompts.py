"""Requests and messages -> chat messages: the one prompt builder, shared by the local model and the server.

A request (a string) becomes one user message; a list of messages is checked and kept. The evaluation's
prompt styles (plain, system, example) are built here too. No torch: the server client uses it as well.
``inputs.prepare_inputs`` then turns messages into model inputs for a local model; the server sends them as JSON.
"""
from __future__ import annotations

SYSTEM = ("You are an expert Python programmer. Answer with exactly one ```python code block that contains "
          "complete, runnable code and nothing else.")
EXAMPLE = ("Write a Python function `square(x)` that returns x squared.",
           "```python\ndef square(x):\n    return x * x\n```")
PROMPT_STYLES = ("plain", "system", "example")


def check_messages(messages, name: str = "messages") -> list[dict]:
    """``messages`` as a list if it is a non-empty list of {"role", "content"} dicts with some text; else ValueError."""
    if not isinstance(messages, (list, tuple)) or not messages or not all(
            isinstance(m, dict) and {"role", "content"} <= m.keys() for m in messages):
        raise ValueError(f"`{name}` must be a non-empty list of {{'role': ..., 'content': ...}} dicts, "
                         f"got {messages!r}")
    if not any(str(m["content"]).strip() for m in messages):
        raise ValueError(f"`{name}` has only empty messages; write a request in 'content'")
    return list(messages)


def chat_messages(request, name: str = "request") -> list[dict]:
    """A request (str) as one user message; a list of messages checked and returned as a list."""
    if isinstance(request, str):
        if not request.strip():
            raise ValueError(f"`{name}` is an empty string; ask for something, e.g. "
                             "'Write a Python function that returns the area of a circle.'")
        return [{"role": "user", "content": request}]
    if isinstance(request, (list, tuple)):
        return check_messages(request, name)
    raise ValueError(f"`{name}` must be a string (a request) or a list of chat messages, "
                     f"got {type(request).__name__}")


def build_messages(request: str, style: str = "system") -> list[dict]:
    """The chat for one request: 'plain' (request only), 'system' (+ system message), 'example' (+ a worked example)."""
    if style not in PROMPT_STYLES:
        raise ValueError(f"`style` must be one of {PROMPT_STYLES}, got {style!r}")
    messages = [] if style == "plain" else [{"role": "system", "content": SYSTEM}]
    if style == "example":
        messages += [{"role": "user", "content": EXAMPLE[0]}, {"role": "assistant", "content": EXAMPLE[1]}]
    return messages + chat_messages(request)


def with_answer_start(request: str, assistant_prefix: str = "") -> list[dict]:
    """One user request and, if given, the start of the assistant's answer (continued, not closed)."""
    messages = chat_messages(request)
    return messages + [{"role": "assistant", "content": assistant_prefix}] if assistant_prefix else messages
