"""What grading costs: one sandboxed run (bubblewrap vs fallback), one graded answer, the Flask and
HTML checks, and one batched sampling call. Prints a table; ``main()`` returns its rows.

    .venv/bin/python benchmarks/bench_evaluation.py      # about a minute on 2 cores
"""
from __future__ import annotations

import statistics
import time


def _median_time(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> list[dict]:
    from deepcoder_lib.evaluation import build_messages, check_answer, generate_answers, load_tasks
    from deepcoder_lib.sandbox import bwrap_available, run_code
    from deepcoder_lib.webcheck import check_flask_app, check_html_page, chromium_available

    tasks = {t["name"]: t for t in load_tasks()}
    flask_task, html_task = tasks["flask_circle_area"], tasks["html_circle_area"]
    answer = f"```python\n{tasks['circle_area']['solution']}```"
    cases = [("run_code('print(1)'), fallback", lambda: run_code("print(1)", isolation="fallback"), 5)]
    if bwrap_available():
        cases.append(("run_code('print(1)'), bubblewrap", lambda: run_code("print(1)", isolation="bwrap"), 5))
    cases += [
        ("check_answer, python task (4 tests)", lambda: check_answer(tasks["circle_area"], answer), 5),
        ("check_flask_app (imports flask)",
         lambda: check_flask_app(flask_task["solution"], flask_task["inputs"], flask_task["expected"],
                                 **flask_task["interface"]), 3),
        ("check_html_page, HTML only",
         lambda: check_html_page(html_task["solution"], html_task["inputs"], html_task["expected"],
                                 **html_task["interface"], browser=False), 3),
    ]
    if chromium_available():
        cases.append(("check_html_page, headless Chromium",
                      lambda: check_html_page(html_task["solution"], html_task["inputs"], html_task["expected"],
                                              **html_task["interface"], browser=True, timeout=30), 2))
    rows = [{"what": name, "median_s": _median_time(fn, runs), "runs": runs} for name, fn, runs in cases]

    from deepcoder_lib.models import load

    model, tokenizer = load()
    chats = [build_messages(tasks[name]["request"]) for name in ("circle_area", "factorial")]
    for n in (1, 8):
        start = time.perf_counter()
        generate_answers(model, tokenizer, chats, n=n, temperature=0.8, max_new_tokens=64)
        rows.append({"what": f"generate_answers, 2 tasks x {n} samples x 64 tokens",
                     "median_s": time.perf_counter() - start, "runs": 1})
    return rows


if __name__ == "__main__":
    table = main()
    print(f"{'what':<52} {'median s':>9} {'runs':>5}")
    for row in table:
        print(f"{row['what']:<52} {row['median_s']:>9.3f} {row['runs']:>5}")
