"""How fast the sampling explorer answers a slider move, beside what it avoids, measured in one run.

Rows: the explorer's whole server-side update (set a slider value -> sampling maths -> SVG chart
into the HTML widget) over a sweep of temperature, top_k, top_p and min_p values; the sampling
maths alone, on one thread as the explorer runs it and on torch's default threads (on a busy
2-core machine, waiting for the second thread costs more than it saves); a fresh matplotlib
figure of the same chart rendered to PNG (the usual way to draw it); one forward pass of the
model (what the per-prompt cache saves on every move). Target: the explorer's median update
<= 50 ms on a 2-core laptop CPU. Not included: sending the widget's new value to the browser.

Run: ``HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_slider.py`` (well under 3 minutes).
"""
from __future__ import annotations

import io
import statistics
import time

import torch

PROMPT = "Write a Python function that reverses a string."
TARGET_MS = 50.0


def _row(what: str, times_s: list[float]) -> dict:
    ms = sorted(t * 1000 for t in times_s)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return {"what": what, "runs": len(ms), "median_ms": round(statistics.median(ms), 2), "p95_ms": round(p95, 2)}


def _timed(fn, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def sweep(explorer) -> list[tuple]:
    """(slider, values) pairs: each slider across its range, the others at their neutral values."""
    return [(explorer.temperature, [round(0.1 * i, 2) for i in range(21)]),
            (explorer.top_k, list(range(0, 101, 5))),
            (explorer.top_p, [round(0.05 * i, 2) for i in range(1, 21)]),
            (explorer.min_p, [round(0.05 * i, 2) for i in range(21)])]


def main() -> list[dict]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from deepcoder_lib import plots, sampling
    from deepcoder_lib.explorer import _one_thread, make_explorer
    from deepcoder_lib.models import load

    model, tokenizer = load()
    explorer = make_explorer(model, tokenizer, [PROMPT])
    logits = explorer.logits

    updates, maths_one, maths_all = [], [], []
    for slider, values in sweep(explorer):
        neutral = slider.value
        for value in values:
            start = time.perf_counter()
            slider.value = value  # the observer runs synchronously: maths + chart + widget value
            updates.append(time.perf_counter() - start)
            settings = explorer.settings()
            with _one_thread():  # as the explorer runs it
                maths_one += _timed(lambda: sampling.sampling_probs(logits, **settings), 1)
            maths_all += _timed(lambda: sampling.sampling_probs(logits, **settings), 1)
        slider.value = neutral

    before = sampling.sampling_probs(logits)
    after = sampling.sampling_probs(logits, temperature=0.7, top_p=0.9)

    def matplotlib_redraw():
        fig, ax = plt.subplots(figsize=(7, 5.7))
        plots.plot_top_tokens(before, after, tokenizer, n=15, ax=ax)
        fig.savefig(io.BytesIO(), format="png")
        plt.close(fig)

    matplotlib_redraw()  # warm-up: font cache
    inputs = explorer.inputs

    def forward():
        with torch.no_grad():
            model(**inputs)

    forward()
    threads = torch.get_num_threads()
    rows = [_row("explorer update: slider -> maths -> SVG chart", updates),
            _row("  sampling maths alone, 1 thread (as the explorer)", maths_one),
            _row(f"  sampling maths alone, {threads} threads (torch default)", maths_all),
            _row("fresh matplotlib figure -> PNG (same chart)", _timed(matplotlib_redraw, 5)),
            _row(f"one forward pass ({inputs['input_ids'].shape[1]}-token prompt)", _timed(forward, 3))]
    return rows


def print_table(rows: list[dict]) -> None:
    print(f"{'what':54} {'runs':>5} {'median ms':>10} {'p95 ms':>9}")
    for row in rows:
        print(f"{row['what']:54} {row['runs']:5} {row['median_ms']:10.2f} {row['p95_ms']:9.2f}")
    verdict = "meets" if rows[0]["median_ms"] <= TARGET_MS else "MISSES"
    print(f"explorer median {rows[0]['median_ms']:.1f} ms {verdict} the {TARGET_MS:.0f} ms target")


if __name__ == "__main__":
    print_table(main())
