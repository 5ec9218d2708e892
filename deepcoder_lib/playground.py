"""The tokenizer playground: coloured token spans in plain HTML/CSS, and the widget around them.

``tokens_html`` turns ``tokens.Token`` records into coloured spans (hover shows id and token);
``compare_html`` does it for one text and several tokenizers with counts and the round trip;
``show_tokens`` displays that in a notebook. ``make_playground`` wires a Textarea and a tokenizer
selector to ``compare_html`` and re-renders as you type. No JavaScript, no CDN: the kernel sends
HTML, so it works in an offline classroom. Tokenizing lives in ``tokens.py``.
"""
from __future__ import annotations

import html
import traceback

from .tokens import Token, load_tokenizers, round_trip, tokenize

VIEW_CLASS = "deepcoder-token-view"    # the playground's HTML widget element (stays while its content changes)
RENDER_CLASS = "deepcoder-tokens"      # the container of one rendering (playground or show_tokens)
BLOCK_CLASS = "deepcoder-tokenizer"    # one block per tokenizer (data-tokenizer="qwen2")
TOKEN_CLASS = "deepcoder-token"        # every token span (data-token-id="9707")
STATS_CLASS = "deepcoder-token-stats"  # the line with counts and the round-trip status
COLOURS = ("#ffd6a5", "#caffbf", "#9bf6ff", "#bdb2ff", "#ffc6ff", "#fdffb6")  # pastel, dark text on top
MAX_TOKENS_SHOWN = 2000  # beyond this the browser, not the tokenizer, becomes slow
DEFAULT_TEXT = 'def greet(name):\n    """Say hello."""\n    return f"Hello, {name}!"  # 👋\n'


def visible(text: str) -> str:
    """Make whitespace visible: space -> '·', tab -> '→', newline -> '↵' plus a real line break."""
    return text.replace(" ", "·").replace("\t", "→").replace("\r", "␍").replace("\n", "↵\n")


def tokens_html(tokens: list[Token], *, show_ids: bool = False, show_whitespace: bool = True,
                max_tokens: int = MAX_TOKENS_SHOWN) -> str:
    """Coloured ``<span class="deepcoder-token">`` per token; ``title`` gives id, token and bytes."""
    spans = []
    for k, token in enumerate(tokens[:max_tokens]):
        piece = visible(token.text) if show_whitespace else token.text
        title = f"id {token.id}\ntoken {token.token!r}\nbytes {token.data!r}"
        style = f"background:{COLOURS[k % len(COLOURS)]};border-radius:3px;padding:0 1px;margin:0 1px 0 0"
        classes = TOKEN_CLASS
        if token.special:
            classes += f" {TOKEN_CLASS}-special"
            style += ";outline:2px solid #cf222e;font-weight:bold"
        if token.partial:
            classes += f" {TOKEN_CLASS}-partial"
            style += ";border:1px dashed #555"  # part of a character: the model sees bytes, not letters
        sub = f'<sub style="color:#555;font-size:70%">{token.id}</sub>' if show_ids else ""
        body = piece.rstrip("\n")  # the id goes before a trailing line break, not on the next line
        spans.append(f'<span class="{classes}" data-token-id="{token.id}" title="{html.escape(title)}" '
                     f'style="{style}">{html.escape(body)}{sub}{piece[len(body):]}</span>')
    if len(tokens) > max_tokens:
        spans.append(f'<span style="color:#555"> … {len(tokens) - max_tokens} more tokens not shown</span>')
    return "".join(spans)


def compare(text: str, tokenizers: dict) -> dict:
    """``{name: {"tokens", "n_tokens", "decoded", "round_trip_ok"}}`` for each tokenizer."""
    results = {}
    for name, tokenizer in tokenizers.items():
        tokens = tokenize(tokenizer, text)
        decoded, ok = round_trip(tokenizer, text)
        results[name] = {"tokens": tokens, "n_tokens": len(tokens), "decoded": decoded, "round_trip_ok": ok}
    return results


def _stats_html(name: str, text: str, result: dict) -> str:
    n = result["n_tokens"]
    ratio = f"{len(text) / n:.1f} characters per token" if n else "no tokens"
    if result["round_trip_ok"]:
        trip = '<span style="color:#1a7f37">round trip ✓ decode(encode(text)) == text</span>'
    else:
        trip = (f'<span style="color:#cf222e">round trip ✗ decode gives {html.escape(repr(result["decoded"][:80]))}'
                "</span>")
    return (f'<div class="{STATS_CLASS}" style="font-family:sans-serif;font-size:90%;margin:2px 0">'
            f"<b>{html.escape(name)}</b>: <b>{n}</b> tokens, {len(text)} characters, {ratio} · {trip}</div>")


def compare_html(text: str, tokenizers: dict, *, show_ids: bool = False, show_whitespace: bool = True,
                 results: dict | None = None) -> str:
    """One block per tokenizer: stats line, then the coloured tokens, all in one container."""
    results = results if results is not None else compare(text, tokenizers)
    blocks = []
    for name in tokenizers:
        spans = tokens_html(results[name]["tokens"], show_ids=show_ids, show_whitespace=show_whitespace)
        blocks.append(f'<div class="{BLOCK_CLASS}" data-tokenizer="{html.escape(name)}" style="margin:6px 0">'
                      f"{_stats_html(name, text, results[name])}"
                      '<div style="font-family:monospace;white-space:pre-wrap;line-height:1.9;'
                      f'color:#111;background:#fff;padding:4px">{spans}</div></div>')
    if not blocks:
        blocks.append('<div style="color:#555">Pick at least one tokenizer.</div>')
    return f'<div class="{RENDER_CLASS}">{"".join(blocks)}</div>'


def show_tokens(text: str, tokenizers: dict | None = None, **options):
    """Display ``compare_html`` in a notebook (an ``IPython.display.HTML`` object, not live)."""
    from IPython.display import HTML
    tokenizers = tokenizers if tokenizers is not None else load_tokenizers()
    return HTML(compare_html(text, tokenizers, **options))


class Playground:
    """Type or paste text, pick tokenizers, see the tokens. Display it as the last line of a cell.

    ``.text`` (Textarea, updates on every keystroke), ``.choices`` (SelectMultiple of names),
    ``.show_ids`` / ``.show_whitespace`` (Checkboxes), ``.view`` (HTML with the rendering),
    ``.results`` (what ``compare`` computed for the current text), ``.widget`` (the whole box).
    """

    def __init__(self, tokenizers: dict, text: str = DEFAULT_TEXT):
        import ipywidgets as widgets

        self.tokenizers = dict(tokenizers)
        self.results: dict = {}
        self.text = widgets.Textarea(value=text, continuous_update=True, placeholder="Type or paste code here",
                                     layout=widgets.Layout(width="100%", height="110px"))
        self.choices = widgets.SelectMultiple(options=list(self.tokenizers), value=tuple(self.tokenizers),
                                              rows=len(self.tokenizers), description="Tokenizers")
        self.show_ids = widgets.Checkbox(value=False, description="show ids", indent=False)
        self.show_whitespace = widgets.Checkbox(value=True, description="show spaces · tabs → newlines ↵",
                                                indent=False)
        self.view = widgets.HTML()
        self.view.add_class(VIEW_CLASS)  # on the widget's element: it persists while innerHTML is replaced
        help_line = widgets.HTML('<span style="font-size:90%;color:#555">Hover a token for its id. '
                                 "Ctrl/Cmd-click picks several tokenizers.</span>")
        self.widget = widgets.VBox([self.text, widgets.HBox([self.choices, widgets.VBox(
            [self.show_ids, self.show_whitespace, help_line])]), self.view])
        for control in (self.text, self.choices, self.show_ids, self.show_whitespace):
            control.observe(self.update, names="value")
        self.update()

    def update(self, change=None) -> None:
        """Re-tokenize and re-render; an error shows in the view instead of vanishing."""
        try:
            chosen = {name: self.tokenizers[name] for name in self.choices.value}
            self.results = compare(self.text.value, chosen)
            self.view.value = compare_html(self.text.value, chosen, show_ids=bool(self.show_ids.value),
                                           show_whitespace=bool(self.show_whitespace.value),
                                           results=self.results)
        except Exception:
            self.view.value = f'<pre style="color:#cf222e">{html.escape(traceback.format_exc())}</pre>'

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def make_playground(tokenizers: dict | None = None, text: str = DEFAULT_TEXT) -> Playground:
    """A ``Playground`` over ``tokenizers`` (default: smollm2, qwen2 and deepseek)."""
    if tokenizers is None:
        tokenizers = load_tokenizers()
    if not isinstance(tokenizers, dict) or not tokenizers:
        raise ValueError(f"`tokenizers` must be a non-empty dict {{name: tokenizer}}, got {tokenizers if isinstance(tokenizers, dict) else type(tokenizers).__name__}; "
                         "e.g. make_playground({'smollm2': tokenizer})")
    return Playground(tokenizers, text)
