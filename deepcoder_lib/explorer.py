"""The sampling explorer: sliders for temperature, top_k, top_p and min_p over a real next-token distribution.

``make_explorer(model, tokenizer, prompts)`` returns an ``Explorer``. The model runs once per prompt
(its next-token logits are cached); moving a slider re-runs only ``sampling.sampling_probs`` and
redraws the chart. The chart is an inline SVG in an ``ipywidgets.HTML`` with a fixed size: no
JavaScript, no CDN, nothing that grows or flickers, and a redraw costs a few milliseconds where a
fresh matplotlib figure costs ~200 ms (``plots.py`` holds the matplotlib charts for static cells).
Anything that calls ``generate`` sits behind the "sample" button.
"""
from __future__ import annotations

import contextlib
import html
import json
import time
import traceback

import torch

from . import generation, sampling
from .plots import token_label

EXPLORER_CLASS = "deepcoder-explorer"       # the whole widget
PLOT_CLASS = "deepcoder-explorer-plot"      # the live chart (an HTML widget holding an <svg>)
SAMPLES_CLASS = "deepcoder-explorer-samples"  # the sampled continuations, side by side
ROW, LABEL_W, BAR_W = 20, 130, 400           # chart geometry in px: fixed, so the picture never changes size


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


def chart_svg(labels, before, after, removed) -> str:
    """The bar chart as SVG: light bars = model (T=1, no filter), blue = after filters, grey = removed."""
    height = ROW * len(labels) + 26
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{LABEL_W + BAR_W + 130}" height="{height}" '
             'font-family="monospace" font-size="12">']
    for x in (0, 0.25, 0.5, 0.75, 1.0):  # fixed 0..1 scale: bars are comparable between moves
        px = LABEL_W + x * BAR_W
        parts.append(f'<line x1="{px:.1f}" y1="0" x2="{px:.1f}" y2="{height - 20}" stroke="#e1e4e8"/>'
                     f'<text x="{px:.1f}" y="{height - 6}" text-anchor="middle" fill="#666">{x:g}</text>')
    for i, (label, b, a, gone) in enumerate(zip(labels, before, after, removed)):
        y = i * ROW
        grey = gone and "#999" or "#111"
        parts.append(f'<text x="{LABEL_W - 6}" y="{y + 14}" text-anchor="end" fill="{grey}"'
                     f'{" text-decoration=" + chr(34) + "line-through" + chr(34) if gone else ""}>'
                     f'{html.escape(label)}</text>'
                     f'<rect x="{LABEL_W}" y="{y + 2}" width="{b * BAR_W:.1f}" height="{ROW - 4}" '
                     f'fill="{gone and "#d0d0d0" or "#b6d4fe"}"/>'
                     f'<rect x="{LABEL_W}" y="{y + 6}" width="{a * BAR_W:.1f}" height="{ROW - 12}" fill="#1f6feb"/>'
                     f'<text x="{LABEL_W + BAR_W + 8}" y="{y + 14}" fill="{grey}">'
                     + ("removed" if gone else f"{a:6.1%}") + f'<tspan fill="#999"> ({b:.1%})</tspan></text>')
    return "".join(parts) + "</svg>"


class Explorer:
    """Sliders ``.temperature``, ``.top_k``, ``.top_p``, ``.min_p``, ``.seed``; chart ``.plot``; ``.widget``.

    After every change: ``.probs`` (what generate would draw from), ``.kept`` (how many tokens can
    be drawn), ``.drawn_id`` (the token the seed draws), ``.update_times_ms``. ``.forward_passes``
    counts model calls (one per new prompt). ``.sample_button`` fills ``.samples`` /
    ``.last_samples`` with ``num_samples`` continuations from one batched ``generate`` call.
    """

    def __init__(self, model, tokenizer, prompts, *, n: int = 15, num_samples: int = 4, max_new_tokens: int = 40):
        import ipywidgets as widgets

        self.model, self.tokenizer = model, tokenizer
        self.n, self.num_samples, self.max_new_tokens = n, num_samples, max_new_tokens
        self.prompts = dict(prompts) if isinstance(prompts, dict) else {_label(p): p for p in prompts}
        self._cache: dict[str, tuple] = {}
        self.forward_passes, self.update_times_ms, self.last_samples = 0, [], []
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
        self.header, self.plot, self.samples, self.message = (widgets.HTML() for _ in range(4))
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

    def set_prompt(self, prompt) -> None:
        """Make ``prompt`` current: one forward pass the first time, the cached logits after."""
        key = json.dumps(prompt)
        if key not in self._cache:
            # a request (str) is one user message; messages ending with the assistant's are continued
            inputs = generation.prepare_inputs(self.tokenizer, generation.chat_messages(prompt), model=self.model,
                                               name="prompt")
            with torch.no_grad():
                logits = self.model(**inputs).logits[0, -1].float().cpu()  # the sliders' maths runs on the CPU
            self.forward_passes += 1
            ids = logits.topk(self.n).indices
            self._cache[key] = (prompt, inputs, logits, ids, [token_label(self.tokenizer, i) for i in ids.tolist()],
                                logits.softmax(-1)[ids].tolist())
        self.current, self.inputs, self.logits, self.shown_ids, self.labels, self.model_probs = self._cache[key]
        self.update()

    def settings(self) -> dict:
        """The sliders' values, checked and converted (``sampling.coerce_settings``)."""
        return sampling.coerce_settings(self.temperature.value, self.top_k.value, self.top_p.value, self.min_p.value)

    def update(self, change=None) -> None:
        """Re-run the sampling maths on the cached logits and redraw the chart (no model call)."""
        start = time.perf_counter()
        s = self.settings()
        with _one_thread():
            self.probs = sampling.sampling_probs(self.logits, **s)
            self.kept = sampling.kept_count(self.probs)
            self.drawn_id = int(sampling.draw(self.probs, 1, seed=int(self.seed.value)))
            after = self.probs[self.shown_ids].tolist()
            entropy = sampling.entropy_bits(self.probs)
        self.header.value = self._header_html(s, entropy, sum(after))
        self.plot.value = ('<div class="tex2jax_ignore" style="overflow:hidden">'
                           + chart_svg(self.labels, self.model_probs, after, [a == 0 for a in after]) + "</div>")
        self.update_times_ms.append((time.perf_counter() - start) * 1000)

    def _header_html(self, s: dict, entropy: float, shown_mass: float) -> str:
        t, k, p, m = s["temperature"], s["top_k"], s["top_p"], s["min_p"]
        parts = [f"temperature {t:.2f}" + (" (greedy)" if t == 0 else ""), f"top_k {k or 'off'}",
                 f"top_p {p:.2f}" if p < 1 else "top_p off", f"min_p {m:.2f}" if m > 0 else "min_p off"]
        if t == 0:
            note = "temperature 0 = greedy: all probability on the most likely token, the same output every time"
        elif self.kept == 1:
            note = "only one token is left: this is greedy decoding, the same output every time"
        else:
            note = "light bars: the model at temperature 1 with no filter; blue: what sampling draws from now"
        drawn = html.escape(token_label(self.tokenizer, self.drawn_id))
        return (f'<div class="tex2jax_ignore" style="font-family:sans-serif;line-height:1.5">'
                f'<b>{" · ".join(parts)}</b><br>'
                f'{self.kept:,} of {self.logits.numel():,} tokens can be drawn · entropy {entropy:.2f} bits · '
                f'the {len(self.labels)} shown hold {shown_mass:.1%} · seed {int(self.seed.value)} draws '
                f'<code>{drawn}</code><br><span style="color:#555">{note}</span></div>')

    def sample(self, button=None) -> list[str]:
        """``num_samples`` continuations with the current settings and seed: one batched generate call."""
        s, seed = self.settings(), int(self.seed.value)
        self.sample_button.disabled = True
        self.samples.value = "<i>sampling… (a few seconds)</i>"
        try:
            greedy = s["temperature"] == 0
            options = dict(do_sample=False) if greedy else dict(
                do_sample=True, temperature=s["temperature"], top_k=s["top_k"], top_p=s["top_p"],
                min_p=s["min_p"] or None, num_return_sequences=self.num_samples)
            torch.manual_seed(seed)
            with torch.no_grad():
                output = self.model.generate(**self.inputs, max_new_tokens=self.max_new_tokens,
                                             pad_token_id=self.tokenizer.pad_token_id, **options)
            self.last_samples = self.tokenizer.batch_decode(output[:, self.inputs["input_ids"].shape[1]:],
                                                            skip_special_tokens=True)
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
                  max_new_tokens: int = 40) -> Explorer:
    """An ``Explorer`` over ``prompts``: a list or {label: prompt} of requests (str) or chat messages.

    A messages list that ends with an assistant message is continued from its text (e.g. half a
    function), so the sliders act on the next token of code.
    """
    if isinstance(prompts, (str, bytes)) or not prompts:
        raise ValueError(f"`prompts` must be a non-empty list or dict of prompts, got {prompts!r}; "
                         "e.g. make_explorer(model, tokenizer, ['Write a function that reverses a string.'])")
    for name, value in (("n", n), ("num_samples", num_samples), ("max_new_tokens", max_new_tokens)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`{name}` must be a positive whole number, got {value!r}")
    return Explorer(model, tokenizer, prompts, n=n, num_samples=num_samples, max_new_tokens=max_new_tokens)
