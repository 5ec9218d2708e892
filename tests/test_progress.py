"""progress.py: the counting streamers, fed by hand (the streamer protocol) and by the real model's generate."""
from __future__ import annotations

import pytest

from deepcoder_lib.progress import HtmlProgress, TokenBar, TokenCounter


def test_the_first_put_is_the_prompt_and_each_later_put_one_token():
    counter = TokenCounter(10)
    counter.put([[1, 2, 3, 4]])  # the prompt's ids
    assert counter.done == 0
    for _ in range(3):
        counter.put([5])
    assert counter.done == 3 and counter.seconds_left() >= 0
    counter.end()
    assert counter.done == 3


def test_html_progress_says_how_many_tokens_and_the_time_left():
    import ipywidgets as widgets

    html = widgets.HTML("waiting")
    progress = HtmlProgress(html, 40)
    progress.put([[1, 2]])
    assert html.value == "waiting"  # nothing counted for the prompt
    progress.put([7])
    assert "sampling… 1 of at most 40 tokens" in html.value and "s left" in html.value
    progress.put([8])
    assert "2 of at most 40 tokens" in html.value


@pytest.mark.slow
def test_the_bar_counts_every_new_token_of_a_real_generate_call(model, tokenizer):
    inputs = tokenizer("def add(a, b):", return_tensors="pt").to(model.device)
    bar = TokenBar(6, "test")
    out = model.generate(**inputs, max_new_tokens=6, min_new_tokens=6, do_sample=False, streamer=bar)
    assert bar.bar.n == out.shape[1] - inputs["input_ids"].shape[1] == 6
    bar.end()
