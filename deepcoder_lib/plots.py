"""Matplotlib charts of next-token distributions, for the sampling notebooks (07 and 08).

Each function takes ``ax=None`` (a new figure when None), returns the Axes and never calls
``plt.show()``; titles and axis labels say whether they show probabilities before or after the
filters. The maths comes from ``sampling.py``. The live explorer's chart is ``livechart.py``: one
figure updated in place, because a fresh figure like these takes ~100-200 ms.
"""
from __future__ import annotations

import functools

import torch

from . import sampling
from .playground import visible

KEPT, BEFORE, REMOVED = "#1f6feb", "#b6d4fe", "#c8c8c8"  # blue: can be drawn; light blue: model; grey: removed


@functools.lru_cache(maxsize=8)
def _glyphs(family: str) -> frozenset[int]:
    """The code points that the font matplotlib picks for ``family`` (DejaVu by default) can draw."""
    from matplotlib import font_manager, ft2font
    path = font_manager.findfont(font_manager.FontProperties(family=[family]))
    return frozenset(ft2font.FT2Font(path).get_charmap())


def drawable(text: str, family: str = "monospace") -> str:
    """``text`` with each character the chart font cannot draw written as its escape ('\\u5ba2').

    Qwen2's and DeepSeek's vocabularies hold CJK characters and emoji that matplotlib's bundled fonts lack:
    a label would show an empty box and warn "Glyph ... missing from font". The escape names the character."""
    glyphs = _glyphs(family)
    return "".join(c if ord(c) in glyphs or c in "\t\n" else ascii(c)[1:-1] for c in text)


def token_label(tokenizer, token_id: int, width: int = 14) -> str:
    """A token as a short one-line label with visible whitespace ('·return', '↵', '```').

    A character the labels' font cannot draw (a CJK character or an emoji in Qwen2's vocabulary, with the
    default fonts) is written as its escape, '\\u5ba2', so a chart never shows an empty box or warns.
    """
    text = visible(tokenizer.decode([int(token_id)])).replace("\n", "") or "∅"
    text = drawable(text, "monospace")
    return text if len(text) <= width else text[:width - 1] + "…"


def _axes(ax, figsize):
    if ax is None:
        import matplotlib.pyplot as plt
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _vector(probs, name: str) -> torch.Tensor:
    probs = torch.as_tensor(probs).detach().float().cpu()  # a model on a GPU gives CUDA tensors
    if probs.ndim != 1:
        raise ValueError(f"`{name}` must be one distribution of shape (vocab_size,), got shape {tuple(probs.shape)}; "
                         "pick a row, e.g. probs[0]")
    return probs


def plot_top_tokens(probs_before, probs_after, tokenizer, n: int = 15, ax=None, title: str | None = None):
    """Horizontal bars for the ``n`` most likely tokens: before the filters (light) and after (solid).

    Tokens the filters removed (probability 0 after) are grey, with their label greyed out too.
    """
    before, after = _vector(probs_before, "probs_before"), _vector(probs_after, "probs_after")
    ax = _axes(ax, (7, 0.3 * n + 1.2))
    values, ids = before.topk(min(n, before.numel()))
    rows = range(len(ids))[::-1]  # the most likely token at the top
    kept = [bool(after[i] > 0) for i in ids]
    ax.barh(rows, values.tolist(), height=0.8, color=[BEFORE if k else REMOVED for k in kept],
            label="before filters (model)")
    ax.barh(rows, after[ids].tolist(), height=0.45, color=KEPT, label="after filters (renormalised)")
    ax.set_yticks(list(rows), [token_label(tokenizer, i) for i in ids.tolist()], family="monospace")
    for label, k in zip(ax.get_yticklabels(), kept):
        label.set_color("black" if k else "#999999")
    from matplotlib.patches import Patch
    handles = ax.get_legend_handles_labels()[0] + [Patch(color=REMOVED, label="removed by the filters")]
    ax.set_xlabel("probability of being the next token")
    ax.set_xlim(0, 1)
    ax.set_title(title or f"The {len(ids)} most likely next tokens, before and after the filters")
    ax.legend(handles=handles, loc="lower right", fontsize="small")
    return ax


def plot_cumulative(logits, top_p: float | None = None, n: int = 200, ax=None):
    """Cumulative probability of the most likely tokens, by rank; marks the tokens top_p keeps.

    ``logits`` are used as given (apply a temperature first to see its effect); the curve shows
    their softmax, and the cut is ``top_p_filter``'s, so the count matches what generate keeps.
    """
    logits = _vector(logits, "logits")
    ax = _axes(ax, (7, 3.5))
    ranked = logits.softmax(-1).sort(descending=True).values[:n]
    ranks = torch.arange(1, len(ranked) + 1)
    ax.plot(ranks.tolist(), ranked.cumsum(0).tolist(), marker=".", color=KEPT, label="cumulative probability")
    ax.set_xscale("log")
    ax.set_xlabel("number of most likely tokens (rank, log scale)")
    ax.set_ylabel("their total probability")
    ax.set_ylim(0, 1.02)
    if top_p is not None:
        kept = sampling.kept_count(sampling.sampling_probs(logits, top_p=top_p))
        ax.axhline(top_p, color="#cf222e", linestyle="--", label=f"top_p = {top_p:g}")
        ax.axvline(kept, color="#cf222e", linestyle=":", label=f"kept: the top {kept} token{'s' * (kept != 1)}")
    ax.set_title("How many tokens top_p keeps: the smallest set whose probability reaches p")
    ax.legend(loc="lower right", fontsize="small")
    return ax


def plot_temperatures(logits, tokenizer, temperatures=(0.5, 1.0, 2.0), n: int = 8, ax=None):
    """Grouped bars: the ``n`` most likely tokens' probabilities at several temperatures (no other filter)."""
    logits = _vector(logits, "logits")
    ax = _axes(ax, (8, 3.8))
    ids = logits.topk(min(n, logits.numel())).indices
    width = 0.8 / len(temperatures)
    colours = ["#0550ae", "#1f6feb", "#54aeff", "#b6e3ff", "#d8b9ff"]
    for j, t in enumerate(temperatures):
        probs = sampling.sampling_probs(logits, temperature=t)
        label = f"T = {t:g}  (entropy {sampling.entropy_bits(probs):.2f} bits)" + ("  greedy" if t == 0 else "")
        ax.bar([i + (j - (len(temperatures) - 1) / 2) * width for i in range(len(ids))], probs[ids].tolist(),
               width=width, color=colours[j % len(colours)], label=label)
    ax.set_xticks(range(len(ids)), [token_label(tokenizer, i) for i in ids.tolist()], family="monospace",
                  rotation=30, ha="right")
    ax.set_ylabel("probability after temperature")
    ax.set_ylim(0, 1)
    ax.set_title("Temperature divides the logits: T < 1 sharpens, T > 1 flattens")
    ax.legend(fontsize="small")
    return ax


def plot_entropy(logits, temperatures=None, ax=None):
    """Entropy (bits) and the top token's probability as the temperature goes from ~0 to 3."""
    logits = _vector(logits, "logits")
    ax = _axes(ax, (7, 3.5))
    temperatures = [i / 20 for i in range(1, 61)] if temperatures is None else list(temperatures)
    probs = [sampling.sampling_probs(logits, temperature=t) for t in temperatures]
    ax.plot(temperatures, [sampling.entropy_bits(p) for p in probs], color=KEPT, label="entropy (bits)")
    ax.set_xlabel("temperature")
    ax.set_ylabel("entropy of the next-token distribution (bits)")
    right = ax.twinx()
    right.plot(temperatures, [float(p.max()) for p in probs], color="#cf222e", linestyle="--",
               label="probability of the top token")
    right.set_ylabel("probability of the top token")
    right.set_ylim(0, 1.02)
    ax.axvline(1.0, color="#888888", linewidth=0.8)
    lines = ax.get_lines()[:1] + right.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], loc="center right", fontsize="small")
    ax.set_title("Higher temperature: more uncertainty, a less likely top token")
    return ax


def plot_draws(token_ids, probs, tokenizer, n: int = 10, ax=None):
    """What ``len(token_ids)`` draws picked (bars) beside what ``probs`` predicts (markers)."""
    probs = _vector(probs, "probs")
    drawn = torch.as_tensor(token_ids).flatten().cpu()
    ax = _axes(ax, (7, 3.5))
    counts = torch.bincount(drawn, minlength=probs.numel())
    ids = probs.topk(min(n, sampling.kept_count(probs))).indices  # tokens that can be drawn at all
    others = int(len(drawn) - counts[ids].sum())
    heights = counts[ids].tolist() + [others]
    expected = (probs[ids] * len(drawn)).tolist() + [float(len(drawn) * (1 - probs[ids].sum()))]
    labels = [token_label(tokenizer, i) for i in ids.tolist()] + ["(others)"]
    ax.bar(range(len(heights)), heights, color=KEPT, label=f"drawn ({len(drawn)} draws)")
    ax.plot(range(len(expected)), expected, "o", color="#cf222e", label="expected: probability x draws")
    ax.set_xticks(range(len(labels)), labels, family="monospace", rotation=30, ha="right")
    ax.set_ylabel("times drawn")
    ax.set_title("Sampling: each draw picks a token with its probability")
    ax.legend(fontsize="small")
    return ax
