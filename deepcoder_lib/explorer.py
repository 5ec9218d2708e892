"""The sampling explorer: sliders for temperature, top_k, top_p and min_p over a real next-token distribution.

``make_explorer(model, tokenizer, prompts)`` returns an ``Explorer``. The model runs once per prompt
(its next-token logits are cached); moving a slider re-runs only ``sampling.sampling_probs`` and
updates the chart in place. The chart is a matplotlib figure (``livechart.TokenChart``), drawn once:
a move redraws only the rows that changed, in place (a fraction of the ~200 ms a fresh figure costs).
In a Jupyter kernel with ipympl it is ipympl's canvas widget (``%matplotlib widget``'s canvas,
rendered by JupyterLab offline, with a toolbar that saves it); without ipympl or outside a kernel
(tests) it is a plain Agg figure shown as a PNG in an ``Image`` widget, said so on screen.
``explorer.figure.savefig(path)`` saves the chart either way. Anything that calls ``generate``
sits behind the "sample" button.
"""
from __future__ import annotations

import contextlib
import html
import json
import time
import traceback

import torch

from . import sampling
from .checks import positive_int
from .decoding import Decoding
from .livechart import IPYMPL_FIX, TokenChart, in_kernel, ipympl_installed
from .local import answerer
from .plots import drawable
from .progress import HtmlProgress

EXPLORER_CLASS = "deepcoder-explorer"       # the whole widget
PLOT_CLASS = "deepcoder-explorer-plot"      # the live chart: ipympl's canvas widget, or an Image widget
SAMPLES_CLASS = "deepcoder-explorer-samples"  # the sampled continuations, side by side


def _label(prompt) -> str:
    text = prompt if isinstance(prompt, str) else prompt[0]["content"] + " → " + prompt[-1]["content"]
    text = " ".join(text.split())
    return text if len(text) <= 70 else text[:69] + "…"


@contextlib.contextmanager
def _one_thread():
    """Run small tensor maths on one thread: on a busy 2-core machine, waiting for a second thread costs more."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class Explorer:
    """Sliders ``.temperature``, ``.top_k``, ``.top_p``, ``.min_p``, ``.seed``; ``.widget`` holds them all.

    ``.chart`` is the ``TokenChart`` (``.figure`` its matplotlib figure, ``.live`` whether it is on
    ipympl's canvas); ``.plot`` is the widget that shows it (the canvas itself, or an ``Image``).

    After every change: ``.probs`` (what generate would draw from), ``.kept`` (how many tokens can
    be drawn), ``.drawn_id`` (the token the seed draws), ``.update_times_ms`` (and ``.update_started_ms``, on
    the wall clock). ``.forward_passes``
    counts model calls (one per new prompt). ``.sample_button`` fills ``.samples`` /
    ``.last_samples`` with ``num_samples`` continuations from one batched ``generate`` call.
    """

    def __init__(self, model, tokenizer, prompts, *, n: int = 15, num_samples: int = 4, max_new_tokens: int = 40,
                 live: bool | None = None):
        import ipywidgets as widgets

        self.model, self.tokenizer = model, tokenizer
        self.answerer = answerer(model, tokenizer)  # a local model or a class server: the same interface
        self.n, self.num_samples, self.max_new_tokens = n, num_samples, max_new_tokens
        self.prompts = dict(prompts) if isinstance(prompts, dict) else {_label(p): p for p in prompts}
        self._cache: dict[str, tuple] = {}
        self.forward_passes, self.update_times_ms, self.update_started_ms, self.last_samples = 0, [], [], []
        n = len(self._head(next(iter(self.prompts.values()))).labels)  # a server shows at most 20 tokens + "other"
        style = {"description_width": "90px"}
        self.prompt = widgets.Dropdown(options=list(self.prompts), description="prompt", style=style,
                                       layout=widgets.Layout(width="680px"))
        self.own_prompt = widgets.Text(description="or your own", continuous_update=False, style=style,
                                       placeholder="type a request and press Enter", layout=widgets.Layout(width="680px"))
        self.temperature = widgets.FloatSlider(1.0, min=0.0, max=2.0, step=0.05, description="temperature", style=style)
        self.top_k = widgets.IntSlider(0, min=0, max=100, description="top_k", style=style)
        self.top_p = widgets.FloatSlider(1.0, min=0.01, max=1.0, step=0.01, description="top_p", style=style)
        self.min_p = widgets.FloatSlider(0.0, min=0.0, max=1.0, step=0.01, description="min_p", style=style)
        self.seed = widgets.IntText(0, description="seed", style=style, layout=widgets.Layout(width="200px"))
        self.sample_button = widgets.Button(description=f"sample {num_samples} continuations", icon="dice",
                                            layout=widgets.Layout(width="240px"))
        self.header, self.samples, self.message = (widgets.HTML() for _ in range(3))
        self.chart = TokenChart(n, live=live)  # live=None: ipympl's canvas when in a kernel
        self.figure = self.chart.figure
        self.plot = self.figure.canvas if self.chart.live else widgets.Image(format="png")
        for name in ("temperature", "top_k", "top_p", "min_p", "seed"):
            getattr(self, name).add_class(f"deepcoder-{name.replace('_', '-')}")
        self.plot.add_class(PLOT_CLASS)
        self.samples.add_class(SAMPLES_CLASS)
        self.widget = widgets.VBox([
            self.prompt, self.own_prompt,
            widgets.HBox([widgets.VBox([self.temperature, self.top_k]), widgets.VBox([self.top_p, self.min_p])]),
            widgets.HBox([self.seed, self.sample_button]), self.message, self.header, self.plot, self.samples])
        self.widget.add_class(EXPLORER_CLASS)
        for control in (self.temperature, self.top_k, self.top_p, self.min_p, self.seed):
            control.observe(self._shows_errors(self.update), names="value")
        self.prompt.observe(self._shows_errors(self._on_prompt), names="value")
        self.own_prompt.observe(self._shows_errors(self._on_own_prompt), names="value")
        self.sample_button.on_click(self._shows_errors(self.sample))
        self.set_prompt(self.prompts[self.prompt.value])

    def _shows_errors(self, callback):
        """Wrap a callback so that an exception shows under the controls instead of vanishing."""
        def wrapped(*args):
            try:
                self.message.value = ""
                callback(*args)
            except Exception:
                self.message.value = f'<pre style="color:#cf222e">{html.escape(traceback.format_exc(limit=-3))}</pre>'
        return wrapped

    def _on_prompt(self, change=None):
        self.own_prompt.value = ""
        self.set_prompt(self.prompts[self.prompt.value])

    def _on_own_prompt(self, change=None):
        if self.own_prompt.value.strip():
            self.set_prompt(self.own_prompt.value.strip())

    def _head(self, prompt):
        """The head of the next-token distribution for ``prompt``: one model call the first time, cached after."""
        key = json.dumps(prompt)
        if key not in self._cache:
            self._cache[key] = (prompt, self.answerer.next_token_head(prompt, self.n))
            self.forward_passes += 1
        return self._cache[key][1]

    def set_prompt(self, prompt) -> None:
        """Make ``prompt`` current: one forward pass the first time, the cached logits after.

        On a class server, one request for the top 20 log-probs instead: the sliders' maths runs on
        that head, renormalised, and the rest of the vocabulary is one "other" bar outside the maths.
        """
        self.head = self._head(prompt)
        self.current = prompt
        self.logits = torch.as_tensor(self.head.logits, dtype=torch.float32, device="cpu")  # the sliders' maths: CPU
        self.shown_ids, self.model_probs = self.head.ids, self.head.probs
        self.labels = [drawable(label) for label in self.head.labels]
        self.chart.set_labels(self.labels, self.model_probs)
        self.update()

    def settings(self) -> dict:
        """The sliders' values, checked and converted (``sampling.coerce_settings``)."""
        return sampling.coerce_settings(self.temperature.value, self.top_k.value, self.top_p.value, self.min_p.value)

    def update(self, change=None) -> None:
        """Re-run the sampling maths on the cached logits and redraw the chart (no model call)."""
        start = time.perf_counter()
        self.update_started_ms.append(time.time() * 1000)  # the wall clock: a browser test lines it up with key presses
        s = self.settings()
        with _one_thread():
            self.probs = sampling.sampling_probs(self.logits, **s)
            self.kept = sampling.kept_count(self.probs)
            after = [float(self.probs[i]) if i is not None else 0.0 for i in self.shown_ids]  # None: outside the maths
            self.chart.update(self.model_probs, after, " · ".join(self._settings_text(s)) + f": {self.kept:,} of "
                              f"{self.logits.numel():,} tokens left")  # first: the browser paints the chart sooner
            # what only the text above the chart needs, after the chart's frame has left
            self.drawn_id = int(sampling.draw(self.probs, 1, seed=int(self.seed.value)))
            entropy = max(0.0, sampling.entropy_bits(self.probs))  # a one-hot's -0.0 (or -1e-7) shows as 0.00
        self.header.value = self._header_html(s, entropy, sum(after))
        if not self.chart.live:
            self.plot.value = self.chart.png()
        self.update_times_ms.append((time.perf_counter() - start) * 1000)

    @staticmethod
    def _settings_text(s: dict) -> list[str]:
        t, k, p, m = s["temperature"], s["top_k"], s["top_p"], s["min_p"]
        return [f"temperature {t:.2f}" + (" (greedy)" if t == 0 else ""), f"top_k {k or 'off'}",
                f"top_p {p:.2f}" if p < 1 else "top_p off", f"min_p {m:.2f}" if m > 0 else "min_p off"]

    def _header_html(self, s: dict, entropy: float, shown_mass: float) -> str:
        if s["temperature"] == 0:
            note = "temperature 0 = greedy: all probability on the most likely token, the same output every time"
        elif self.kept == 1:
            note = "only one token is left: this is greedy decoding, the same output every time"
        else:
            note = "light bars: the model at temperature 1 with no filter; blue: what sampling draws from now"
        if self.head.note:
            note += f"<br>{html.escape(self.head.note)}"
        if not self.chart.live and in_kernel() and not ipympl_installed():
            note += f"<br>ipympl is not installed, so the chart is a picture redrawn on each move: {IPYMPL_FIX}"
        drawn = html.escape(self.head.label(self.drawn_id))
        return (f'<div class="tex2jax_ignore" style="font-family:sans-serif;line-height:1.5">'
                f'<b>{" · ".join(self._settings_text(s))}</b><br>'
                f'{self.kept:,} of {self.logits.numel():,} tokens can be drawn · entropy {entropy:.2f} bits · '
                f'the {len(self.labels)} shown hold {shown_mass:.1%} · seed {int(self.seed.value)} draws '
                f'<code>{drawn}</code><br><span style="color:#555">{note}</span></div>')

    def sample(self, button=None) -> list[str]:
        """``num_samples`` continuations with the current settings and seed: one batched generate call."""
        s, seed = self.settings(), int(self.seed.value)
        self.sample_button.disabled = True
        self.samples.value = "<i>sampling… (the first token comes after one pass over the prompt)</i>"
        try:
            greedy = s["temperature"] == 0
            decoding = Decoding(max_new_tokens=self.max_new_tokens, temperature=s["temperature"], top_k=s["top_k"],
                                top_p=s["top_p"], min_p=s["min_p"], seed=seed)  # the sliders, stated
            self.last_samples = self.answerer.generate(self.current, decoding, n=1 if greedy else self.num_samples,
                                                       progress=HtmlProgress(self.samples, self.max_new_tokens))
            self.samples.value = self._samples_html(greedy, seed)
        finally:
            self.sample_button.disabled = False
        return self.last_samples

    def _samples_html(self, greedy: bool, seed: int) -> str:
        start = "" if isinstance(self.current, str) else self.current[-1]["content"]
        cells = "".join(f'<pre style="white-space:pre-wrap;margin:0;padding:6px;background:#f6f8fa;font-size:12px">'
                        f'<span style="color:#999">{html.escape(start)}</span>{html.escape(text)}</pre>'
                        for text in self.last_samples)
        title = ("temperature 0: greedy decoding gives one answer, the same every time" if greedy
                 else f"{len(self.last_samples)} samples, seed {seed} (the same seed and settings give the same samples)")
        return (f'<div class="tex2jax_ignore"><b>{title}</b><div style="display:grid;gap:6px;'
                f'grid-template-columns:repeat({len(self.last_samples)}, 1fr)">{cells}</div></div>')

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def make_explorer(model, tokenizer, prompts, *, n: int = 15, num_samples: int = 4,
                  max_new_tokens: int = 40, live: bool | None = None) -> Explorer:
    """An ``Explorer`` over ``prompts``: a list or {label: prompt} of requests (str) or chat messages.

    A messages list that ends with an assistant message is continued from its text (e.g. half a
    function), so the sliders act on the next token of code. A class server (``server.connect()``) in
    place of ``model`` gives the same explorer on the server's top 20 tokens (``tokenizer`` None). ``live``: True for ipympl's canvas,
    False for a plain figure shown as PNG, None (default) for ipympl's canvas when in a kernel.
    """
    if isinstance(prompts, (str, bytes)) or not prompts:
        raise ValueError(f"`prompts` must be a non-empty list or dict of prompts, got {prompts!r}; "
                         "e.g. make_explorer(model, tokenizer, ['Write a function that reverses a string.'])")
    for name, value in (("n", n), ("num_samples", num_samples), ("max_new_tokens", max_new_tokens)):
        positive_int(value, name)
    return Explorer(model, tokenizer, prompts, n=n, num_samples=num_samples, max_new_tokens=max_new_tokens,
                    live=live)
