"""Tests for deepcoder_lib.stepper: widget logic without a browser, and the confidence colours."""

import pytest
import torch

from deepcoder_lib import generation, stepper

PROMPT = [{"role": "user", "content": "Write a Python function that returns the area of a circle."}]


# ---- colour mapping --------------------------------------------------------------------------------

def _lightness(css: str) -> float:
    """Relative luminance (WCAG) of a ``#rrggbb`` colour: what a reader with any colour vision compares."""
    linear = [(c / 12.92) if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
              for c in (int(css[i:i + 2], 16) / 255 for i in (1, 3, 5))]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


@pytest.mark.parametrize("prob, colour", [(0.0, "#00224e"), (0.5, "#7d7c78"), (1.0, "#fee838")])
def test_probability_colour_is_cividis(prob, colour):
    """matplotlib's cividis: dark blue at 0, grey in the middle, yellow at 1 (no red-green axis)."""
    assert stepper.probability_colour(prob) == colour


def test_probability_colour_gets_lighter_with_probability():
    """Order by lightness, not hue: it reads the same with deuteranopia and in greyscale.
    The old red-to-green scale failed this (its 30%-90% swatches were all about equally light)."""
    light = [_lightness(stepper.probability_colour(p / 20)) for p in range(21)]
    assert light == sorted(light) and light[-1] > 10 * light[0]
    steps = [light[i + 4] - light[i] for i in range(0, 17, 4)]  # 0.2 apart: every step visibly lighter
    assert min(steps) > 0.04, steps


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_probability_colour_rejects_non_probabilities(bad):
    with pytest.raises(ValueError, match="`prob` must be in"):
        stepper.probability_colour(bad)


def test_confidence_html_escapes_colours_and_shows_numbers():
    out = stepper.confidence_html(["def", " f", "<x>"], [0.9, 0.1, 1.0])
    assert "&lt;x&gt;" in out and "<x>" not in out
    # the number on hover, and light text on the dark background of an unsure token
    assert '<span title="p = 10.0%" style="background:#083370;color:#fff"> f</span>' in out
    assert '<span title="p = 90.0%" style="background:#e5cf52;color:#000">def</span>' in out
    assert "10%" in out and "90%" in out  # the legend labels its swatches with numbers
    with pytest.raises(ValueError, match="same length"):
        stepper.confidence_html(["a"], [0.1, 0.2])


def test_candidates_html_bars_scale_with_probability():
    cands = [{"token_id": 1, "token": "a", "prob": 0.5}, {"token_id": 2, "token": "<b>", "prob": 0.25}]
    out = stepper.candidates_html(cands)
    assert "width:150px" in out and "width:75px" in out and "&lt;b&gt;" in out


def test_plot_top_candidates_labels_axes():
    import matplotlib
    matplotlib.use("Agg")
    cands = [{"token_id": 1, "token": "a", "prob": 0.5}, {"token_id": 2, "token": "b", "prob": 0.25}]
    ax = stepper.plot_top_candidates(cands)
    assert "probability" in ax.get_xlabel() and ax.get_ylabel()
    assert [round(p.get_width(), 2) for p in ax.patches] == [0.25, 0.5]


def test_plot_top_candidates_draws_no_missing_glyphs():
    """A Qwen2 vocabulary holds CJK tokens; matplotlib's default font lacks them and would warn. Escapes instead."""
    import warnings
    import matplotlib
    matplotlib.use("Agg")
    cands = [{"token_id": 1, "token": "客", "prob": 0.5}, {"token_id": 2, "token": " def", "prob": 0.25}]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = stepper.plot_top_candidates(cands)
        ax.figure.canvas.draw()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["' def'", "'\\u5ba2'"]


# ---- step-through widget, real model ----------------------------------------------------------------

@pytest.mark.slow
def test_stepper_greedy_steps_equal_generate(model, tokenizer):
    s = stepper.Stepper(model, tokenizer, PROMPT, n=5)
    for _ in range(6):
        s.choose()
    inputs = generation.prepare_inputs(tokenizer, PROMPT)
    with torch.inference_mode():
        expected = model.generate(**inputs, max_new_tokens=6, do_sample=False)
    assert torch.equal(s.input_ids, expected)


@pytest.mark.slow
def test_widget_next_button_and_non_top_choice(model, tokenizer):
    w = stepper.step_through_widget(model, tokenizer, PROMPT, n=5)
    top, second = w.stepper.candidates[0], w.stepper.candidates[1]
    assert w.choice.value == top["token_id"] and len(w.choice.options) == 5
    assert "(nothing generated yet)" in w.text.value

    w.choice.value = second["token_id"]  # the learner picks a candidate other than the top one
    w.next_button.click()
    assert int(w.stepper.input_ids[0, -1]) == second["token_id"]
    assert w.stepper.generated_text == second["token"]
    assert w.errors.outputs == ()
    # the candidates now continue the chosen token and match a fresh forward pass
    with torch.inference_mode():
        fresh = model(input_ids=w.stepper.input_ids).logits[0, -1]
    assert w.stepper.candidates[0]["token_id"] == int(fresh.argmax())
    assert w.choice.value == w.stepper.candidates[0]["token_id"]

    w.reset_button.click()
    assert torch.equal(w.stepper.input_ids, w.stepper.prompt_ids)
    assert w.stepper.candidates[0]["token_id"] == top["token_id"]


@pytest.mark.slow
def test_stepper_rejects_token_outside_vocabulary(model, tokenizer):
    s = stepper.Stepper(model, tokenizer, "def f():", n=3)
    with pytest.raises(ValueError, match="`token_id` must be in"):
        s.choose(10 ** 6)


@pytest.mark.slow
def test_streaming_widget_generate_and_stop(model, tokenizer):
    w = stepper.streaming_widget(model, tokenizer, "Write a Python function that adds two numbers.",
                                 max_new_tokens=64)
    w.generate_button.click()
    assert w.generate_button.disabled and not w.stop_button.disabled
    w.stop_button.click()  # pressed at once: generation stops at the next token
    w.thread.join(timeout=120)
    assert not w.thread.is_alive()
    assert w.status.value == "stopped"
    assert len(tokenizer(w.output.value)["input_ids"]) < 10
    assert not w.generate_button.disabled and w.stop_button.disabled


@pytest.mark.slow
def test_streaming_widget_shows_errors(model, tokenizer):
    w = stepper.streaming_widget(model, tokenizer, "")
    w.generate_button.click()
    w.thread.join(timeout=30)
    assert w.status.value.startswith("ValueError: `request` is an empty string")


@pytest.mark.slow
def test_confidence_view(model, tokenizer):
    view, tokens, probs = stepper.confidence_view(model, tokenizer, PROMPT[0]["content"], max_new_tokens=8)
    assert len(tokens) == len(probs) <= 8
    assert all(0 < float(p) <= 1 for p in probs)
    assert f"background:{stepper.probability_colour(float(probs[0]))}" in view.data and "title=\"p = " in view.data


@pytest.mark.slow
def test_confidence_view_reads_generates_scores_equal_to_a_forward_pass(model, tokenizer):
    """The view's probabilities come from generate's logits (compute_transition_scores); one forward pass over
    prompt + answer gives the same numbers."""
    _, tokens, probs = stepper.confidence_view(model, tokenizer, PROMPT, max_new_tokens=12)
    inputs = generation.prepare_inputs(tokenizer, PROMPT, model=model)
    with torch.inference_mode():
        out = model.generate(**inputs, do_sample=False, max_new_tokens=12)
    forward = generation.token_probs(model, out, inputs["input_ids"].shape[1])
    assert [tokenizer.decode([int(i)]) for i in out[0, inputs["input_ids"].shape[1]:]] == tokens
    torch.testing.assert_close(probs, forward, atol=1e-4, rtol=1e-3)
