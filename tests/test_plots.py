"""deepcoder_lib.plots: each chart draws what the sampling maths computed, labelled, without plt.show()."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from deepcoder_lib import plots, sampling  # noqa: E402

VOCAB = 49_152


@pytest.fixture(autouse=True)
def no_show(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("plot functions must not call plt.show()")
    monkeypatch.setattr(plt, "show", refuse)
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def logits():
    """A made-up next-token distribution over the real vocabulary: a few likely tokens, a long tail."""
    x = torch.randn(VOCAB, generator=torch.Generator().manual_seed(0))
    x[[30, 31, 32, 33, 34]] = torch.tensor([9.0, 8.5, 7.0, 6.0, 5.5])
    return x


def test_token_label_shows_whitespace_and_truncates(tokenizer):
    space_return = tokenizer.encode(" return")[0]
    assert plots.token_label(tokenizer, space_return) == "·return"
    assert plots.token_label(tokenizer, tokenizer.encode("\n")[0]) == "↵"
    assert len(plots.token_label(tokenizer, space_return, width=4)) == 4


def test_token_label_escapes_what_the_font_cannot_draw():
    """Qwen2's vocabulary has CJK and emoji tokens; DejaVu Sans Mono has no glyph for them."""
    import warnings
    from deepcoder_lib import tokens
    qwen2 = tokens.load_tokenizer("qwen2")
    ids = [qwen2.encode(text)[0] for text in ("客", "🏹", "return")]
    labels = [plots.token_label(qwen2, i) for i in ids]
    drawable = plots._glyphs("monospace")
    for label in labels:
        assert all(ord(c) in drawable for c in label), label
    assert labels[2] == "return" and labels[0] == ("客" if ord("客") in drawable else "\\u5ba2")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure()  # not pyplot: whatever backend an earlier test chose, only the labels may warn here
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font(s)" is a UserWarning
        ax.set_yticks(range(3), labels, family="monospace")
        fig.canvas.draw()



def test_top_tokens_bars_equal_probs_and_removed_tokens_are_grey(tokenizer, logits):
    before, after = sampling.sampling_probs(logits), sampling.sampling_probs(logits, top_k=3)
    ax = plots.plot_top_tokens(before, after, tokenizer, n=8)
    light, solid = ax.containers
    top = before.topk(8)
    assert [bar.get_width() for bar in light] == pytest.approx(top.values.tolist())
    assert [bar.get_width() for bar in solid] == pytest.approx(after[top.indices].tolist())
    colours = [to_hex(bar.get_facecolor()) for bar in light]
    assert colours[:3] == [plots.BEFORE] * 3 and colours[3:] == [plots.REMOVED] * 5
    label_colours = [label.get_color() for label in ax.get_yticklabels()]
    assert label_colours[:3] == ["black"] * 3 and set(label_colours[3:]) == {"#999999"}
    assert "probability" in ax.get_xlabel() and "before and after" in ax.get_title()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "before filters (model)", "after filters (renormalised)", "removed by the filters"]


def test_cumulative_marks_the_top_p_cut(logits):
    ax = plots.plot_cumulative(logits, top_p=0.9, n=100)
    curve, p_line, cut = ax.get_lines()
    expected = logits.softmax(-1).sort(descending=True).values[:100].cumsum(0)
    assert list(curve.get_ydata()) == pytest.approx(expected.tolist())
    assert p_line.get_ydata()[0] == 0.9
    assert cut.get_xdata()[0] == sampling.kept_count(sampling.sampling_probs(logits, top_p=0.9))
    assert ax.get_xscale() == "log" and "total probability" in ax.get_ylabel()


def test_temperatures_one_group_per_temperature_with_entropy(tokenizer, logits):
    ax = plots.plot_temperatures(logits, tokenizer, temperatures=(0, 0.5, 1.0, 2.0), n=5)
    assert len(ax.containers) == 4
    heights = [bar.get_height() for bar in ax.containers[0]]
    assert heights == [1.0, 0.0, 0.0, 0.0, 0.0]  # temperature 0: greedy, a one-hot
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "greedy" in labels[0] and f"{sampling.entropy_bits(sampling.sampling_probs(logits)):.2f} bits" in labels[2]


def test_entropy_rises_with_temperature(logits):
    ax = plots.plot_entropy(logits)
    entropy = list(ax.get_lines()[0].get_ydata())
    assert all(a <= b + 1e-6 for a, b in zip(entropy, entropy[1:]))
    assert "entropy" in ax.get_ylabel() and ax.get_xlabel() == "temperature"


def test_draws_histogram_counts_every_draw(tokenizer, logits):
    probs = sampling.sampling_probs(logits, top_p=0.99)
    draws = sampling.draw(probs, 100, seed=0)
    ax = plots.plot_draws(draws, probs, tokenizer, n=4)
    heights = [bar.get_height() for bar in ax.containers[0]]
    assert sum(heights) == 100 and len(heights) == 5
    assert sum(ax.get_lines()[0].get_ydata()) == pytest.approx(100)


def test_draws_into_a_given_axes(tokenizer, logits):
    _, ax = plt.subplots()
    assert plots.plot_draws(torch.tensor([30, 30, 31]), logits.softmax(-1), tokenizer, ax=ax) is ax


def test_one_distribution_only(tokenizer, logits):
    with pytest.raises(ValueError, match=r"`probs_before` must be one distribution .* got shape \(2, 49152\)"):
        plots.plot_top_tokens(torch.stack([logits, logits]), logits, tokenizer)


def test_drawable_escapes_only_what_the_font_lacks_and_charts_do_not_warn():
    import warnings

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    glyphs = plots._glyphs("monospace")
    text = "·return ↵ 客"
    shown = plots.drawable(text)
    assert shown.startswith("·return ↵ ") and ("客" in shown) == (ord("客") in glyphs)
    fig, ax = plt.subplots()
    try:
        ax.set_xticks([0, 1], [plots.drawable("客户", "monospace"), plots.drawable(repr("客"), "sans-serif")],
                      family="monospace")
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # "Glyph ... missing from font" is a UserWarning
            fig.canvas.draw()
    finally:
        plt.close(fig)
