"""Seeing generation: the step-through and streaming widgets, the top-candidates bar chart, the confidence view.

Display only: the maths (logits, candidates, per-token probabilities) comes from ``generation.py`` and the
model interface (``interface.Answerer``). The widgets take a local model (with its tokenizer) or a class
server alike: ``local.answerer`` picks the implementation, and they use only its ``stepper`` and ``stream``.
``Stepper`` (``local.Stepper``, re-exported here) holds the state of a step-by-step generation and is plain
Python, so tests drive it without a browser. The confidence view, local only, colours each generated token by
the probability the model gave it (read from ``generate``'s own logits with ``compute_transition_scores``).
"""
from __future__ import annotations

import html
import threading

import torch

from . import generation
from .decoding import Decoding
from .inputs import require_model
from .local import Stepper, answerer  # noqa: F401  (Stepper re-exported: notebooks and tests use stepper.Stepper)


def candidates_html(candidates: list[dict], chosen: int | None = None) -> str:
    """Top candidates as horizontal bars (plain HTML/CSS): probability after softmax, no filtering."""
    rows = []
    for c in candidates:
        mark = "font-weight:bold;" if c["token_id"] == chosen else ""
        rows.append(
            f'<div style="display:flex;align-items:center;gap:6px;{mark}">'
            f'<code style="width:9em;white-space:pre;overflow:hidden">{html.escape(repr(c["token"]))}</code>'
            f'<div style="background:#4c72b0;height:0.9em;width:{c["prob"] * 300:.0f}px"></div>'
            f'<span>{c["prob"]:.1%}</span></div>')
    return '<div style="font-family:monospace">' + "".join(rows) + "</div>"


def plot_top_candidates(candidates: list[dict], ax=None):
    """Bar chart of the next-token candidates: probabilities after softmax over the full vocabulary.

    Tokens are labelled with their ``repr``; characters the font cannot draw show as escapes such as ``'\\u5ba2'``
    (``plots.drawable``), because matplotlib's default font has no CJK glyphs and would warn (and draw boxes)."""
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.35 * len(candidates) + 1))
    from .plots import drawable
    labels = [drawable(repr(c["token"]), "sans-serif") for c in candidates][::-1]
    ax.barh(labels, [c["prob"] for c in candidates][::-1], color="#4c72b0")
    ax.set_xlabel("probability of being the next token (softmax of raw logits)")
    ax.set_ylabel("candidate token")
    ax.set_xlim(0, 1)
    return ax


def button_handler(action, refresh, errors):
    """A button callback: run ``action`` then ``refresh``; an exception is shown in ``errors`` (an Output)."""
    def handler(_button=None):
        errors.clear_output()
        try:
            action()
            refresh()
        except Exception as exc:  # show it under the widget instead of losing it in the log
            with errors:
                print(f"{type(exc).__name__}: {exc}")
    return handler


def step_through_widget(model, tokenizer=None, prompt_or_messages=None, n: int = 8, max_new_tokens: int = 48):
    """The answer so far + candidates as bars + a choice of the next token + a "next token" button.

    ``model`` is a local model (with its ``tokenizer``) or a class server (``tokenizer`` None): the widget
    drives the ``stepper`` of either. Returns an ``ipywidgets.VBox`` with ``.stepper``, ``.choice``
    (ToggleButtons of candidate ids, the most likely one preselected), ``.next_button``, ``.reset_button``,
    ``.text``/``.bars`` (HTML) and ``.errors``, so a test can set ``.choice.value`` and click ``.next_button``.
    Where the stepper cannot branch (a server walks its own greedy answer) the choice is fixed and says why.
    """
    import ipywidgets as widgets

    implementation = answerer(model, tokenizer)
    stepper = implementation.stepper(prompt_or_messages, n, max_new_tokens)
    text, bars, errors = widgets.HTML(), widgets.HTML(), widgets.Output()
    choice = widgets.ToggleButtons(description="next:", style={"button_width": "auto"},
                                   disabled=not stepper.can_choose)
    next_button = widgets.Button(description="next token", button_style="primary")
    reset_button = widgets.Button(description="reset")
    note = widgets.HTML("" if stepper.can_choose else
                        f"<i>From {html.escape(implementation.name)}: its top {n} and \"other\" (every token it did "
                        "not list). The path is its own greedy answer: it cannot continue from a token you choose.</i>")

    def refresh():
        shown = html.escape(stepper.generated_text) or "<i>(nothing generated yet)</i>"
        text.value = f'<pre style="white-space:pre-wrap;margin:0">{shown}</pre>'
        candidates = [] if stepper.done else stepper.candidates
        bars.value = candidates_html(candidates, chosen=candidates[0]["token_id"]) if candidates else "<i>(end of answer)</i>"
        choice.options = [(f'{c["token"]!r} {c["prob"]:.0%}', c["token_id"]) for c in candidates]
        choice.value = candidates[0]["token_id"] if candidates else None
        next_button.disabled = stepper.done

    next_button.on_click(button_handler(lambda: stepper.choose(choice.value), refresh, errors))
    reset_button.on_click(button_handler(stepper.reset, refresh, errors))
    refresh()
    box = widgets.VBox([text, widgets.HTML("<b>Top candidates for the next token</b>"), note, bars, choice,
                        widgets.HBox([next_button, reset_button]), errors])
    box.stepper, box.choice, box.next_button, box.reset_button = stepper, choice, next_button, reset_button
    box.text, box.bars, box.errors = text, bars, errors
    return box


def probability_colour(prob: float) -> str:
    """CSS colour for a probability on matplotlib's cividis scale: dark blue (0) -> grey -> yellow (1).

    Cividis was designed to read the same with red-green colour blindness, and its lightness rises steadily
    with the probability, so the order also reads in greyscale (a red-to-green scale does neither)."""
    prob = float(prob)
    if not 0.0 <= prob <= 1.0:  # also refuses nan
        raise ValueError(f"`prob` must be in [0, 1], got {prob}")
    from matplotlib import colormaps
    red, green, blue, _ = colormaps["cividis"](prob)
    return "#" + "".join(f"{round(255 * c):02x}" for c in (red, green, blue))


def _ink(background: str) -> str:
    """Black or white text, whichever reads better on the ``#rrggbb`` background (WCAG relative luminance)."""
    linear = [(c / 12.92) if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
              for c in (int(background[i:i + 2], 16) / 255 for i in (1, 3, 5))]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return "#000" if luminance > 0.18 else "#fff"


def _swatch(text: str, prob: float, title: str = "") -> str:
    colour = probability_colour(prob)
    title = f' title="{title}"' if title else ""
    return f'<span{title} style="background:{colour};color:{_ink(colour)}">{text}</span>'


def confidence_html(tokens: list[str], probs) -> str:
    """Tokens on backgrounds that get lighter with their probability (cividis: readable with colour blindness);
    hovering a token shows its probability as a number. Whitespace and newlines kept."""
    probs = [float(p) for p in probs]
    if len(tokens) != len(probs):
        raise ValueError(f"`tokens` and `probs` must have the same length, got {len(tokens)} and {len(probs)}")
    spans = [_swatch(html.escape(t), p, f"p = {p:.1%}") for t, p in zip(tokens, probs)]
    legend = " ".join(_swatch(f"&nbsp;{p:.0%}&nbsp;", p) for p in (0.1, 0.3, 0.5, 0.7, 0.9))
    return (f'<div>probability the model gave each token (darker = less sure; hover a token for its number): '
            f'{legend}</div><pre style="white-space:pre-wrap;line-height:1.6">{"".join(spans)}</pre>')


def confidence_view(model, tokenizer, request, **generation_kwargs):
    """Generate an answer to ``request`` and return ``(HTML, tokens, probs)`` for the confidence view.

    No second forward pass: ``generate`` returns each step's raw logits (``output_logits=True``) and
    ``compute_transition_scores`` picks the chosen token's log-probability from each. Raw logits, not the
    processed scores, so ``probs`` is what the model gave each token even when sampling settings reshaped
    the distribution it was drawn from.
    """
    from IPython.display import HTML
    require_model(model, what="the confidence view")
    inputs = generation.prepare_inputs(tokenizer, generation.chat_messages(request, tokenizer), model=model,
                                       name="request")
    kwargs = generation.generate_kwargs(model, inputs, generation_kwargs)
    with torch.inference_mode():
        out = model.generate(**inputs, **kwargs, output_logits=True, return_dict_in_generate=True)
    n_prompt = inputs["input_ids"].shape[1]
    with torch.device(out.sequences.device):  # it builds an index with torch.arange on the default device
        scores = model.compute_transition_scores(out.sequences, out.logits, normalize_logits=True)[0]
    probs = scores.float().exp().cpu()
    tokens = [tokenizer.decode([int(i)]) for i in out.sequences[0, n_prompt:]]
    return HTML(confidence_html(tokens, probs)), tokens, probs


def streaming_widget(model, tokenizer=None, request: str = "", **generation_kwargs):
    """A request box, Generate and Stop buttons, and text that appears as it is generated.

    ``model`` is a local model (with its ``tokenizer``) or a class server (``tokenizer`` None); the widget
    calls the ``stream`` of either, with ``generate``-style settings (``decoding.Decoding.from_generate_kwargs``).
    Generation runs in a thread so the Stop button stays clickable; ``.thread`` is that thread (tests join it).
    Returns a VBox with ``.request``, ``.generate_button``, ``.stop_button``, ``.output`` (Textarea), ``.status``
    and ``.stop`` (the threading.Event the Stop button sets).
    """
    implementation, decoding = answerer(model, tokenizer), Decoding.from_generate_kwargs(**generation_kwargs)

    def stream(text, on_text, stop):
        implementation.stream(text, on_text, stop=stop, decoding=decoding)
    return streaming_box(stream, request, label=f"model: {implementation.name}")


def streaming_box(stream, request: str = "", label: str = ""):
    """The streaming widget around any ``stream(request_text, on_text, stop)``: the local model or a server."""
    import ipywidgets as widgets

    request_box = widgets.Textarea(value=request, layout={"width": "95%"})
    generate_button = widgets.Button(description="Generate", button_style="primary")
    stop_button = widgets.Button(description="Stop", button_style="danger", disabled=True)
    output = widgets.Textarea(layout={"width": "95%", "height": "14em"})
    status = widgets.Label(value=label)
    box = widgets.VBox([request_box, widgets.HBox([generate_button, stop_button, status]), output])
    box.request, box.generate_button, box.stop_button, box.output, box.status = (
        request_box, generate_button, stop_button, output, status)
    box.stop, box.thread = threading.Event(), None

    def append(piece):
        output.value += piece

    def work():
        try:
            stream(request_box.value, append, box.stop)
            status.value = "stopped" if box.stop.is_set() else "done"
        except Exception as exc:  # shown on screen, not lost in a thread
            status.value = f"{type(exc).__name__}: {exc}"
        finally:
            generate_button.disabled, stop_button.disabled = False, True

    def on_generate(_button=None):
        box.stop.clear()
        output.value, status.value = "", "generating..."
        generate_button.disabled, stop_button.disabled = True, False
        box.thread = threading.Thread(target=work, daemon=True)
        box.thread.start()

    generate_button.on_click(on_generate)
    stop_button.on_click(lambda _button=None: box.stop.set())
    return box
