"""Run the tests the prompt already shows: rerank n answers on their public examples, and self-repair.

``keep_first_passing`` is the reranking rule (the first answer whose public examples all pass, else the first
answer); ``repair_messages`` is the follow-up chat turn of self-repair. ``summarize_run`` turns a stored run's
rows into plain pass@1, reranked pass@1, pass@n and pass@1 after repair, each with a 95% bootstrap band over
tasks (passk.bootstrap_band), and the answers generated per solved task; ``plot_figures`` draws them.
The examples come from examples.py (``public_examples``: the prompt's worked calls) and run in public_run.py
(``run_public``: in the sandbox); both are importable from here, as is ``TokenBar`` (progress.py).
notebooks/19_run_the_tests.ipynb writes the simple ``>>>`` parser and the two loops out; benchmarks/bench_rerank.py
measures them through the class server.
"""
from __future__ import annotations

from .examples import Example, public_examples  # noqa: F401  (re-exported: notebook 19 and the benchmark use them)
from .passk import bootstrap_band
from .progress import TokenBar  # noqa: F401  (notebook 19 imports it from here)
from .public_run import PublicResult, run_public  # noqa: F401  (re-exported: notebook 19 and the benchmark use them)


def keep_first_passing(public_passed) -> int:
    """The reranking rule: the index of the first answer whose public examples passed, else 0 (the first answer)."""
    flags = list(public_passed)
    if not flags:
        raise ValueError("`public_passed` is empty: rerank at least one answer (one True/False per answer)")
    return next((i for i, ok in enumerate(flags) if ok), 0)


REPAIR = ("Your function fails an example from its docstring: {failure}. Fix the function. Answer with the whole "
          "function in one ```python code block.")


def repair_messages(messages: list[dict], answer: str, failure: str) -> list[dict]:
    """The chat for one repair round: the conversation so far, the model's answer, and the failing example."""
    if not failure:
        raise ValueError("`failure` is empty: repair only answers that failed a public example")
    return [*messages, {"role": "assistant", "content": answer},
            {"role": "user", "content": REPAIR.format(failure=failure)}]


def summarize_run(rows: list[dict], *, seed: int = 0) -> dict:
    """Figures of a stored run (benchmarks/bench_rerank.py's rows), each with a 95% bootstrap band over tasks.

    A row is one answer: ``task``, ``chain`` (which of the n samples), ``round`` (0: sampled; 1, 2: repairs of
    that sample), ``public_passed``, ``hidden_passed``. Plain pass@1 is the mean over tasks of c/n (round 0);
    reranked pass@1 grades the answer ``keep_first_passing`` picks; pass@n is "any of the n passed"; repair
    pass@1 grades the last round of each repaired chain, averaged over the repaired chains of a task.
    """
    def flag(value):
        return value in (True, "True", 1, "1")

    tasks: dict[str, dict] = {}
    for row in rows:
        entry = tasks.setdefault(row["task"], {"sampled": {}, "chains": {}})
        chain, rnd = int(row["chain"]), int(row["round"])
        pair = (flag(row["public_passed"]), flag(row["hidden_passed"]))
        if rnd == 0:
            entry["sampled"][chain] = pair
        entry["chains"].setdefault(chain, {})[rnd] = pair
    plain, reranked, any_, repaired, cost = [], [], [], [], {"plain": 0, "reranked": 0, "repair": 0}
    repaired_chains = sorted({int(r["chain"]) for r in rows if int(r["round"]) > 0} or {0})
    for entry in tasks.values():
        sampled = [entry["sampled"][c] for c in sorted(entry["sampled"])]
        hidden = [h for _, h in sampled]
        plain.append(sum(hidden) / len(hidden))
        reranked.append(float(hidden[keep_first_passing(p for p, _ in sampled)]))
        any_.append(float(any(hidden)))
        finals = [entry["chains"][c][max(entry["chains"][c])][1] for c in repaired_chains if c in entry["chains"]]
        repaired.append(sum(finals) / len(finals))
        cost["plain"] += 1
        cost["reranked"] += len(sampled)
        cost["repair"] += sum(len(entry["chains"][c]) for c in repaired_chains if c in entry["chains"]) / len(finals)
    figures = {"tasks": len(tasks), "n": min(len(e["sampled"]) for e in tasks.values())}
    for name, values in (("plain pass@1", plain), ("reranked pass@1", reranked), ("pass@n", any_),
                         ("repair pass@1", repaired)):
        low, high = bootstrap_band(values, seed=seed)
        figures[name] = {"value": sum(values) / len(values), "low": low, "high": high}
    for name, key in (("plain pass@1", "plain"), ("reranked pass@1", "reranked"), ("repair pass@1", "repair")):
        solved = figures[name]["value"] * len(tasks)
        figures[name]["answers"] = cost[key]
        figures[name]["answers_per_solved"] = cost[key] / solved if solved else float("inf")
    return figures


_SERIES = (("plain pass@1", "#0072B2", "o"), ("reranked pass@1", "#E69F00", "s"),
           ("repair pass@1", "#009E73", "D"), ("pass@n", "#CC79A7", "^"))  # Okabe-Ito, one marker each


def plot_figures(figures: dict, ax=None):
    """The figures of ``summarize_run`` as points with their 95% bands, one named column each (0-1 scale).

    pass@n is drawn with a dashed line across: no rule that picks one of the n answers can score above it.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    shown = [(name, colour, marker) for name, colour, marker in _SERIES if name in figures]
    for x, (name, colour, marker) in enumerate(shown):
        f = figures[name]
        ax.errorbar([x], [f["value"]], yerr=[[f["value"] - f["low"]], [f["high"] - f["value"]]], color=colour,
                    marker=marker, markersize=8, capsize=4, linestyle="none", label=f"{name}: {f['value']:.3f}")
        ax.annotate(f"{f['value']:.3f}", (x, f["value"]), textcoords="offset points", xytext=(10, -3), fontsize=8)
    if "pass@n" in figures:
        ax.axhline(figures["pass@n"]["value"], color="#CC79A7", linestyle="--", linewidth=1,
                   label="pass@n: the ceiling of any rule")
    ax.set_xticks(range(len(shown)), [name for name, _, _ in shown])
    ax.set_xlim(-0.5, len(shown) - 0.5)
    ax.set_ylabel("fraction of tasks solved (95% band)")
    ax.set_ylim(0, max(0.1, min(1.0, max(figures[n]["high"] for n, _, _ in shown) * 1.25)))
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8, loc="upper left")
    return ax
