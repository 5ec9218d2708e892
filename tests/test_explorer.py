"""The sampling explorer's wiring, without a browser: set widget values, assert what was computed and drawn."""
from __future__ import annotations

import re
import warnings

import pytest
import torch

from deepcoder_lib import sampling
from deepcoder_lib.explorer import PLOT_CLASS, SAMPLES_CLASS, chart_svg, make_explorer

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


def _svg_size(explorer):
    return re.search(r'<svg [^>]*width="(\d+)" height="(\d+)"', explorer.plot.value).groups()


def test_built_once_per_prompt_with_findable_widgets(explorer):
    assert explorer.forward_passes == 1
    assert PLOT_CLASS in explorer.plot._dom_classes and SAMPLES_CLASS in explorer.samples._dom_classes
    assert [w.description for w in (explorer.temperature, explorer.top_k, explorer.top_p, explorer.min_p)] == [
        "temperature", "top_k", "top_p", "min_p"]
    assert "<svg" in explorer.plot.value and explorer.plot.value.count("<rect") == 2 * 10
    assert torch.equal(explorer.probs, sampling.sampling_probs(explorer.logits))


def test_sliders_rerun_the_maths_not_the_model(explorer):
    size, drawn = _svg_size(explorer), explorer.plot.value
    explorer.temperature.value = 0.7
    explorer.top_p.value = 0.9
    explorer.min_p.value = 0.05
    explorer.top_k.value = 40
    expected = sampling.sampling_probs(explorer.logits, temperature=0.7, top_k=40, top_p=0.9, min_p=0.05)
    assert torch.equal(explorer.probs, expected)
    assert explorer.kept == sampling.kept_count(expected)
    assert f"{explorer.kept:,} of 49,152 tokens can be drawn" in explorer.header.value
    assert explorer.plot.value != drawn and _svg_size(explorer) == size  # redrawn, same size: never grows
    assert explorer.plot.value.count(">removed<") == 10 - explorer.kept
    assert explorer.forward_passes == 1 and len(explorer.update_times_ms) == 5


def test_top_k_three_and_greedy_are_said_on_screen(explorer):
    explorer.top_k.value = 3
    assert explorer.kept == 3 and explorer.plot.value.count(">removed<") == 7
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
    first = explorer.logits
    explorer.prompt.value = "return"
    assert explorer.forward_passes == 2 and not torch.equal(explorer.logits, first)
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


def test_errors_show_instead_of_vanishing(explorer):
    explorer.logits = torch.full_like(explorer.logits, float("nan"))
    explorer.top_k.value = 5
    assert "`logits` contain NaN" in explorer.message.value
    assert "ValueError" in explorer.message.value


def test_chart_svg_draws_one_row_per_label():
    svg = chart_svg(["a", "b<"], [0.5, 0.25], [0.8, 0.0], [False, True])
    assert svg.count("<rect") == 4 and "b&lt;" in svg and "line-through" in svg and "80.0%" in svg


@pytest.mark.parametrize("kwargs, message", [
    (dict(prompts="just a string"), r"`prompts` must be a non-empty list or dict"),
    (dict(prompts=[]), r"`prompts` must be a non-empty list or dict"),
    (dict(prompts=[REQUEST], n=0), r"`n` must be a positive whole number, got 0"),
    (dict(prompts=[REQUEST], num_samples=2.5), r"`num_samples` must be a positive whole number, got 2\.5"),
])
def test_bad_arguments(model, tokenizer, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_explorer(model, tokenizer, **kwargs)
