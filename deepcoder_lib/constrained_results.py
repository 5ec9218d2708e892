"""What constrained output did, measured: does the answer parse, how much probability the mask took away, and the
stored benchmark run.

``parses`` says whether ``json.loads`` reads an answer; ``removed_mass`` is the softmax mass a processor set to
-inf at one step, and ``plot_removed_mass`` draws it step by step (marking where the model's own first choice was
removed); ``load_results`` reads benchmarks/bench_constrained.py's stored run. The processors that do the masking
are in constrained.py, the formats they follow in format_machines.py.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch


def parses(text: str) -> bool:
    """True when ``json.loads(text)`` succeeds."""
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def removed_mass(scores_before: torch.Tensor, scores_after: torch.Tensor) -> float:
    """The probability mass a processor removed: the softmax mass of the tokens it set to -inf."""
    probs = torch.softmax(torch.as_tensor(scores_before).float().reshape(-1), dim=-1)
    return float(probs[torch.isinf(torch.as_tensor(scores_after).reshape(-1))].sum())


RESULTS_FILE = "constrained_results.json"  # in benchmarks/, written by benchmarks/bench_constrained.py


def load_results(path=None) -> dict:
    """The stored run of ``benchmarks/bench_constrained.py``: parse rates and tokens per second of the embedded model
    unconstrained, with the course's processor and with xgrammar, with its machine, date, load and settings."""
    path = Path(path) if path is not None else Path(__file__).resolve().parents[1] / "benchmarks" / RESULTS_FILE
    if not path.is_file():
        raise ValueError(f"`path` {str(path)!r} does not exist; run `python benchmarks/bench_constrained.py` "
                         "(a few minutes) to measure it")
    return json.loads(path.read_text())


PALETTE = {"kept": "#0072B2", "overruled": "#E69F00"}  # Okabe-Ito blue and orange, plus a hatch for the second


def plot_removed_mass(removed, chosen_labels, overruled, ax=None, title: str | None = None):
    """Bars of the probability mass the constraint removed at each step, labelled with the token written there.

    ``overruled[i]`` is True where the model's own first choice was masked (hatched orange bar, said in the
    legend); elsewhere the mask took only tokens the model ranked lower (plain blue bar)."""
    if not (len(removed) == len(chosen_labels) == len(overruled)):
        raise ValueError(f"`removed`, `chosen_labels` and `overruled` must have one entry per step, got "
                         f"{len(removed)}, {len(chosen_labels)} and {len(overruled)}")
    if ax is None:
        import matplotlib.pyplot as plt
        _, ax = plt.subplots(figsize=(10, 3.2), layout="constrained")
    for i, (mass, over) in enumerate(zip(removed, overruled)):
        kind = "overruled" if over else "kept"
        ax.bar(i, mass, color=PALETTE[kind], hatch="//" if over else None, edgecolor="black", linewidth=0.5,
               label={"kept": "model's first choice allowed", "overruled": "model's first choice removed"}[kind])
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), loc="upper right", fontsize=8)
    ax.set_xticks(range(len(removed)), chosen_labels, rotation=60, ha="right", rotation_mode="anchor", fontsize=8,
                  family="monospace")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("generation step (the token written under the constraint)")
    ax.set_ylabel("probability mass removed")
    ax.set_title(title or "What the constraint took away: softmax mass of the masked tokens, before masking")
    return ax
