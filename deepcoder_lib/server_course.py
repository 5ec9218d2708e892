"""The course's pieces on a shared server: generate_code, the streaming widget and pass@k.

They mirror ``generation.generate_code``, ``stepper.streaming_widget`` and ``evaluation.evaluate``
for the local model, but send the requests to a ``server.Server``. The grading is the same:
``evaluation.check_answer`` runs every answer in the sandbox, ``evaluation.summarize`` computes pass@k.
"""
from __future__ import annotations

from deepcoder_lib import evaluation
from deepcoder_lib.server import Server


def generate_code(server: Server, request, **kwargs) -> str:
    """One answer to ``request`` (a string or messages) from the server; greedy, 96 new tokens by default."""
    return server.generate(request, **kwargs, n=1)[0]


def evaluate(server: Server, tasks: list[dict], *, temperatures=(0.0,), n: int = 1, styles=("system",),
             max_new_tokens: int = 160, seed: int = 0) -> list[dict]:
    """The rows ``evaluation.evaluate`` returns, with the answers written by the server's model.

    Greedy (temperature 0) is deterministic, so one answer is asked for and counted ``n`` times,
    as the local evaluation does. Feed the rows to ``evaluation.summarize`` for pass@k.
    """
    rows = []
    for style in styles:
        for temperature in temperatures:
            for task in tasks:
                messages = evaluation.build_messages(task["request"], style)
                asked = n if float(temperature) > 0 else 1
                answers = server.generate(messages, n=asked, temperature=temperature,
                                          max_new_tokens=max_new_tokens, seed=seed)
                for i, answer in enumerate(answers * (n // asked)):
                    outcome = evaluation.check_answer(task, answer)
                    rows.append({"task": task["name"], "kind": task["kind"], "style": style,
                                 "temperature": temperature, "sample": i, "passed": outcome.passed,
                                 "category": outcome.category, "reason": outcome.reason, "answer": answer})
    return rows


def streaming_widget(server: Server, request: str = "", **sampling):
    """A request box, Generate and Stop buttons, and the server's text as it arrives.

    ``stepper.streaming_box`` around ``server.stream``: the same layout and attributes as
    ``stepper.streaming_widget`` (``.request``, ``.generate_button``, ``.stop_button``, ``.output``,
    ``.status``, ``.stop`` and ``.thread``, which tests join).
    """
    from .stepper import streaming_box

    def stream(text, on_text, stop):
        server.stream(text, on_text, stop=stop, **sampling)
    return streaming_box(stream, request, label=f"model: {server.model}")
