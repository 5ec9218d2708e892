"""The course's pieces on a shared server: generate_code, the streaming widget, step-through and pass@k.

They mirror ``generation.generate_code``, ``stepper.streaming_widget``, ``stepper.step_through_widget``
and ``evaluation.evaluate`` for the local model, but send the requests to a ``server.Server``. Those
local functions hand over to these when given a ``Server`` where they take a model, so a learner
switches with one setting. The grading is the same: ``evaluation.check_answer`` runs every answer in
the sandbox, ``evaluation.summarize`` computes pass@k.
"""
from __future__ import annotations

import math

from deepcoder_lib import evaluation
from deepcoder_lib.server import Server


SERVER_KNOBS = ("max_new_tokens", "temperature", "top_p", "top_k", "min_p", "seed")


def is_server(obj) -> bool:
    """True for a ``server.Server``: the local helpers use it to hand a request over to this module."""
    return isinstance(obj, Server)


def server_sampling(generation_kwargs: dict) -> dict:
    """``generate``-style keyword arguments as the server's: do_sample=False (or absent) means greedy.

    ``do_sample=True`` without a temperature samples at 1.0, as ``generate`` does; ``stop_strings``
    becomes the API's ``stop``. Anything the API cannot express is an error naming it.
    """
    kwargs = dict(generation_kwargs)
    do_sample = kwargs.pop("do_sample", None)
    stop = kwargs.pop("stop_strings", None)
    kwargs.pop("pad_token_id", None)  # the server pads (or does not) on its own
    unknown = sorted(set(kwargs) - set(SERVER_KNOBS))
    if unknown:
        raise ValueError(f"{unknown} cannot be sent to a server; it takes {list(SERVER_KNOBS)}, do_sample and "
                         "stop_strings")
    if do_sample is False or (do_sample is None and "temperature" not in kwargs):
        kwargs["temperature"] = 0.0  # greedy, the course's default
    elif do_sample and "temperature" not in kwargs:
        kwargs["temperature"] = 1.0
    if stop is not None:
        kwargs["stop"] = stop
    return kwargs


def generate_code(server: Server, request, **kwargs) -> str:
    """One answer to ``request`` (a string or messages) from the server; greedy, 96 new tokens by default.

    Takes the server's own arguments or ``generate``'s (``do_sample``, ``stop_strings``): see ``server_sampling``.
    """
    return server.generate(request, **server_sampling(kwargs), n=1)[0]


def evaluate(server: Server, tasks: list[dict], *, temperatures=(0.0,), n: int = 1, styles=("system",),
             top_p: float = 1.0, max_new_tokens: int = 160, seed: int = 0) -> list[dict]:
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
                answers = server.generate(messages, n=asked, temperature=temperature, top_p=top_p,
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

    settings = server_sampling(sampling)
    settings.pop("seed", None)  # a stream is one answer: nothing to vary

    def stream(text, on_text, stop):
        server.stream(text, on_text, stop=stop, **settings)
    return streaming_box(stream, request, label=f"model: {server.model}")


class ServerStepper:
    """The server's greedy answer, one token per step, with the head of the distribution at each step.

    The same role as ``stepper.Stepper`` for the local model, with two honest differences: the
    candidates are the server's top ``n`` (at most 20) plus "other", the mass of every token it did not
    list; and the path is the server's own greedy answer (``choose`` takes only the top token),
    because the chat API cannot resume a half-written assistant message.
    """

    def __init__(self, server: Server, request, n: int = 8, max_new_tokens: int = 48):
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 20:
            raise ValueError(f"`n` (how many candidates to show) must be an int from 1 to 20, got {n!r}")
        self.server, self.n = server, n
        self.steps = server.answer_logprobs(request, max_new_tokens=max_new_tokens, top=20)
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
        from .server import head_and_tail
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


def step_through_widget(server: Server, request, n: int = 8, max_new_tokens: int = 48):
    """The step-through view on a server: the answer so far, the candidates as bars, "next token"."""
    import html

    import ipywidgets as widgets

    from .stepper import button_handler, candidates_html

    stepper = ServerStepper(server, request, n, max_new_tokens)
    text, bars, errors = widgets.HTML(), widgets.HTML(), widgets.Output()
    next_button = widgets.Button(description="next token", button_style="primary")
    reset_button = widgets.Button(description="reset")
    note = widgets.HTML(f"<i>From {html.escape(server.model)}: the server's top {n} and \"other\" (every token it "
                        "did not list). The path is the server's greedy answer: it cannot continue from a "
                        "token you choose.</i>")

    def refresh():
        shown = html.escape(stepper.generated_text) or "<i>(nothing generated yet)</i>"
        text.value = f'<pre style="white-space:pre-wrap;margin:0">{shown}</pre>'
        bars.value = candidates_html(stepper.candidates, chosen=0) if not stepper.done else "<i>(end of answer)</i>"
        next_button.disabled = stepper.done

    next_button.on_click(button_handler(stepper.choose, refresh, errors))
    reset_button.on_click(button_handler(stepper.reset, refresh, errors))
    refresh()
    box = widgets.VBox([text, widgets.HTML("<b>Top candidates for the next token</b>"), note, bars,
                        widgets.HBox([next_button, reset_button]), errors])
    box.stepper, box.next_button, box.reset_button, box.text, box.bars, box.errors = (
        stepper, next_button, reset_button, text, bars, errors)
    return box
