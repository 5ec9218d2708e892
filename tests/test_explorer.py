"""The sampling explorer's wiring, without a browser: set widget values, assert what was computed and drawn."""
from __future__ import annotations

import io
import math
import warnings

import pytest
import torch
from matplotlib.colors import to_hex
from PIL import Image

from deepcoder_lib import sampling
from deepcoder_lib.explorer import PLOT_CLASS, SAMPLES_CLASS, make_explorer
from deepcoder_lib.plots import REMOVED, token_label

REQUEST = "Write a Python function that reverses a string."
PROMPTS = {
    "start": REQUEST,
    "return": [{"role": "user", "content": REQUEST},
               {"role": "assistant", "content": "```python\ndef reverse_string(s):\n    return"}],
}
pytestmark = pytest.mark.slow


@pytest.fixture
def explorer(model, tokenizer):
    return make_explorer(model, tokenizer, PROMPTS, n=10, num_samples=3, max_new_tokens=4)


def _picture(explorer):
    """The PNG the Image widget shows (outside a kernel the chart is a plain figure), as a PIL image."""
    return Image.open(io.BytesIO(bytes(explorer.plot.value)))


def _drawn(explorer):
    """What the chart's artists show: model bar widths, kept bar widths, labels, and which rows are removed."""
    chart = explorer.chart
    return ([b.get_width() for b in chart.model_bars], [b.get_width() for b in chart.kept_bars],
            [t.get_text() for t in chart.token_texts], [s.get_visible() for s in chart.strikes])


def _removed(explorer) -> int:
    grey = [to_hex(b.get_facecolor()) == REMOVED for b in explorer.chart.model_bars]
    values = [t.get_text() == "removed" for t in explorer.chart.value_texts]
    assert grey == values == _drawn(explorer)[3], "a removed token must be greyed, struck and say so"
    return sum(grey)


def test_built_once_per_prompt_with_findable_widgets(explorer, tokenizer):
    assert explorer.forward_passes == 1
    assert PLOT_CLASS in explorer.plot._dom_classes and SAMPLES_CLASS in explorer.samples._dom_classes
    assert [w.description for w in (explorer.temperature, explorer.top_k, explorer.top_p, explorer.min_p)] == [
        "temperature", "top_k", "top_p", "min_p"]
    assert not explorer.chart.live and bytes(explorer.plot.value).startswith(b"\x89PNG")  # no kernel here: a plain figure
    assert torch.equal(explorer.probs, sampling.sampling_probs(explorer.logits))
    model_widths, kept_widths, labels, removed = _drawn(explorer)
    probs, ids = explorer.logits.softmax(-1).topk(10)
    assert model_widths == probs.tolist() and kept_widths == explorer.probs[ids].tolist()
    assert labels == [token_label(tokenizer, i) for i in ids.tolist()]
    assert not any(removed)  # T=1, no filter: nothing removed


def test_sliders_rerun_the_maths_not_the_model(explorer):
    size, drawn = _picture(explorer).size, explorer.plot.value
    explorer.temperature.value = 0.7
    explorer.top_p.value = 0.9
    explorer.min_p.value = 0.05
    explorer.top_k.value = 40
    expected = sampling.sampling_probs(explorer.logits, temperature=0.7, top_k=40, top_p=0.9, min_p=0.05)
    assert torch.equal(explorer.probs, expected)
    assert explorer.kept == sampling.kept_count(expected)
    assert f"{explorer.kept:,} of 49,152 tokens can be drawn" in explorer.header.value
    assert explorer.plot.value != drawn and _picture(explorer).size == size  # redrawn, same size: never grows
    model_widths, kept_widths, _, _ = _drawn(explorer)
    assert kept_widths == expected[explorer.shown_ids].tolist()
    assert model_widths == explorer.logits.softmax(-1)[explorer.shown_ids].tolist()  # the model's bars stay
    assert _removed(explorer) == 10 - explorer.kept
    assert "temperature 0.70" in explorer.chart.title.get_text()
    assert explorer.forward_passes == 1 and len(explorer.update_times_ms) == 5


def test_top_k_three_and_greedy_are_said_on_screen(explorer):
    explorer.top_k.value = 3
    assert explorer.kept == 3 and _removed(explorer) == 7
    explorer.top_k.value = 0
    explorer.temperature.value = 0.0
    assert explorer.kept == 1 and explorer.probs.max() == 1.0
    assert "temperature 0 = greedy" in explorer.header.value
    assert explorer.drawn_id == int(explorer.logits.argmax())


def test_seed_picks_the_drawn_token(explorer):
    explorer.temperature.value = 2.0
    for seed in (0, 1, 2):
        explorer.seed.value = seed
        assert explorer.drawn_id == int(sampling.draw(explorer.probs, 1, seed=seed))


def test_prompts_are_cached(explorer):
    first, labels = explorer.logits, _drawn(explorer)[2]
    explorer.prompt.value = "return"
    assert explorer.forward_passes == 2 and not torch.equal(explorer.logits, first)
    assert _drawn(explorer)[2] != labels and _drawn(explorer)[0] == explorer.model_probs  # new labels and bars
    explorer.prompt.value = "start"
    assert explorer.forward_passes == 2 and torch.equal(explorer.logits, first)
    explorer.own_prompt.value = "Write a Python function that adds two numbers."
    assert explorer.forward_passes == 3 and explorer.current == explorer.own_prompt.value


def test_sample_button_batches_and_is_reproducible(explorer):
    explorer.temperature.value, explorer.top_p.value, explorer.seed.value = 1.5, 0.95, 3
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        explorer.sample_button.click()
    assert not [str(w.message) for w in caught], "generate warned"
    first = list(explorer.last_samples)
    assert len(first) == 3 and explorer.samples.value.count("<pre") == 3 and "seed 3" in explorer.samples.value
    assert explorer.sample() == first  # same seed, same settings: same samples
    explorer.temperature.value = 0.0
    greedy = explorer.sample()
    assert len(greedy) == 1 and "greedy" in explorer.samples.value
    explorer.temperature.value, explorer.top_k.value = 1.0, 1
    assert explorer.sample() == greedy * 3  # top_k=1 is greedy decoding
    assert explorer.message.value == "" and not explorer.sample_button.disabled


def test_sample_shows_progress_while_generate_runs(explorer):
    shown = []
    explorer.samples.observe(lambda change: shown.append(change["new"]), names="value")
    explorer.temperature.value, explorer.seed.value = 1.2, 1
    explorer.sample()
    progress = [value for value in shown if "of at most 4 tokens" in value]
    assert progress and "1 of at most 4 tokens" in progress[0] and "s left" in progress[0]
    assert explorer.samples.value.count("<pre") == 3  # then the samples replace the progress line


def test_greedy_entropy_reads_zero_not_minus_zero(explorer):
    explorer.temperature.value = 0.0
    assert "entropy 0.00 bits" in explorer.header.value and "-0.00" not in explorer.header.value
    explorer.temperature.value, explorer.top_k.value = 1.0, 1
    assert "entropy 0.00 bits" in explorer.header.value


def test_errors_show_instead_of_vanishing(explorer):
    explorer.logits = torch.full_like(explorer.logits, float("nan"))
    explorer.top_k.value = 5
    assert "`logits` contain NaN" in explorer.message.value
    assert "ValueError" in explorer.message.value


def test_the_figure_can_be_saved(explorer, tmp_path):
    explorer.top_k.value = 2
    explorer.figure.savefig(tmp_path / "chart.png")
    assert Image.open(tmp_path / "chart.png").size == _picture(explorer).size


@pytest.mark.parametrize("kwargs, message", [
    (dict(prompts="just a string"), r"`prompts` must be a non-empty list or dict"),
    (dict(prompts=[]), r"`prompts` must be a non-empty list or dict"),
    (dict(prompts=[REQUEST], n=0), r"`n` must be a positive whole number, got 0"),
    (dict(prompts=[REQUEST], num_samples=2.5), r"`num_samples` must be a positive whole number, got 2\.5"),
])
def test_bad_arguments(model, tokenizer, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_explorer(model, tokenizer, **kwargs)


def test_notebook_08_one_token_check_reads_the_sliders(explorer):
    from deepcoder_lib.exercises.nb08 import check_one_token_left
    explorer.temperature.value, explorer.top_p.value = 0.7, 0.9
    result = check_one_token_left(explorer)
    assert not result and f"{explorer.kept:,} tokens can still be drawn" in result.message
    explorer.top_k.value = 1
    assert explorer.kept == 1 and "top_k=1 is the obvious way" in check_one_token_left(explorer).message
    explorer.top_k.value, explorer.temperature.value = 0, 0.0
    assert "temperature 0 is greedy" in check_one_token_left(explorer).message
    explorer.temperature.value, explorer.min_p.value = 1.0, 1.0
    result = check_one_token_left(explorer)
    assert result and explorer.kept == 1 and "min_p" in result.message
    explorer.min_p.value, explorer.top_p.value = 0.0, 1.0
    top = math.floor(float(explorer.probs.max()) * 100) / 100  # at or below the top token's probability, on the slider's step
    assert top >= 0.01, "this test needs a prompt whose top token has probability 0.01 or more"
    explorer.top_p.value = top
    assert explorer.kept == 1 and "top_p" in check_one_token_left(explorer).message
