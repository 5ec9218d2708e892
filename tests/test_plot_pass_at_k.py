"""plot_pass_at_k tells its series apart without colour: a marker per k, a line style per prompt style, and
colours from a colour-blind-safe palette (no two series share one)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from deepcoder_lib.evaluation import plot_pass_at_k  # noqa: E402


def _summary(styles=("system",), temperatures=(0.0, 0.6, 1.2)):
    return [{"style": s, "temperature": t, "tasks": 3, "n": 4, "note": "",
             **{f"pass@{k}{end}": 0.1 * k + 0.2 * t + d for k in (1, 2) for end, d in (("", 0), ("_low", -0.05),
                                                                                     ("_high", 0.05))}}
            for s in styles for t in temperatures]


def test_each_k_has_its_own_marker_line_style_and_colour():
    ax = plot_pass_at_k(_summary(), ks=(1, 2))
    lines = [container.lines[0] for container in ax.containers]
    assert [(line.get_marker(), line.get_linestyle()) for line in lines] == [("o", "-"), ("s", "--")]
    assert len({line.get_color() for line in lines}) == 2
    assert ax.get_legend_handles_labels()[1] == ["pass@1", "pass@2"]


def test_each_prompt_style_has_its_own_line_style():
    ax = plot_pass_at_k(_summary(styles=("plain", "system")), ks=(1, 2))
    lines = [container.lines[0] for container in ax.containers]
    looks = [(line.get_marker(), line.get_linestyle()) for line in lines]
    assert looks == [("o", "-"), ("s", "-"), ("o", "--"), ("s", "--")]
    assert len(set(looks)) == 4 and len({line.get_color() for line in lines}) == 4
    assert ax.get_legend_handles_labels()[1] == ["pass@1 (plain)", "pass@2 (plain)", "pass@1 (system)", "pass@2 (system)"]


def test_series_are_shifted_apart_but_stay_near_their_temperature():
    ax = plot_pass_at_k(_summary(), ks=(1, 2))
    xs = [list(container.lines[0].get_xdata()) for container in ax.containers]
    assert xs[0][0] < 0 < xs[1][0] and all(abs(a - b) < 0.05 for a, b in zip(xs[0], xs[1]))
