"""The stored runs made through llama.cpp's server, remade in one command: HumanEval greedy and the course sweep.

Starts llama-cpp-python's server on the embedded Q4_1 GGUF as the tests do (tests/server_utils.py, a free
loopback port; ``--n_threads 1`` unless ``--threads`` says otherwise), then runs ``python -m deepcoder_lib
evaluate --server URL`` (evaluation_cli.main):

* ``humaneval_server.{csv,json}``: the 164 HumanEval problems, greedy, at most 300 new tokens;
* ``sweep_course.{csv,json,png}``: the course's 16 tasks, n=20 answers per task at temperatures 0, 0.2, 0.4 and
  0.8 (one run each), top_p 0.95 (Codex/BigCode), at most 128 new tokens, and its pass@1/5/10 plot.

Every request states each decoding knob (``decoding.Decoding.request_body``); each JSON records the knobs the
requests carried as they reached the server (``sent``: every distinct body without its messages, the seeds'
range), with the machine, date, versions, load averages, seconds and command. Before overwriting, each JSON also
compares the new answers with the stored run it replaces (``compared_with_previous``: answers that changed,
passes before and after). Notebook 10 reads these files.

One server thread by default: on the shared 2-core machine (2026-12-07, load ~9) a 128-token answer took 10 s with
one thread and did not come within 300 s with two, whose threads wait for each other. The thread count does not
change the tokens: the old unstated request sent to a one-thread server gave the stored two-thread answers again
(4 of 4 course tasks checked). Measured 2026-12-07 at load 2-11: HumanEval 2182 s, the sweep's greedy part 534 s
(3.5 min of it grading one answer 20 times, which evaluate no longer does).

    nice .venv/bin/python benchmarks/bench_server_runs.py              # both (an hour or more on 2 busy cores)
    nice .venv/bin/python benchmarks/bench_server_runs.py --only sweep # one of them
    nice .venv/bin/python benchmarks/bench_server_runs.py --work runs/ # keep each finished run; rerun to resume
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.metadata
import io
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # server_utils: the tests' way to start the real server

SWEEP_TEMPERATURES = ("0", "0.2", "0.4", "0.8")
HUMANEVAL_ARGS = ["--suite", "humaneval", "--max-new-tokens", "300"]
SWEEP_ARGS = ["-n", "20", "--top-p", "0.95", "-k", "1,5,10", "--max-new-tokens", "128"]


def _evaluate(url: str, args: list[str], csv_path: Path) -> dict:
    """One ``evaluate --server URL`` run; the JSON it wrote beside ``csv_path``. A run already finished there (its
    JSON written last, after the CSV) is kept: ``--work`` resumes an interrupted remake."""
    from deepcoder_lib import evaluation_cli

    if csv_path.with_suffix(".json").exists():
        print(f"kept the finished run {csv_path.with_suffix('.json')}", file=sys.stderr, flush=True)
        return json.loads(csv_path.with_suffix(".json").read_text())
    printed = io.StringIO()
    argv = ["--server", url, *args, "--output", str(csv_path)]
    print("python -m deepcoder_lib evaluate " + " ".join(argv), file=sys.stderr, flush=True)
    with contextlib.redirect_stdout(printed):
        if evaluation_cli.main(argv) != 0:
            raise RuntimeError(f"evaluate {' '.join(argv)} failed:\n{printed.getvalue()}")
    print(printed.getvalue(), file=sys.stderr, flush=True)
    info = json.loads(csv_path.with_suffix(".json").read_text())
    # the stored command names the output file as it is stored, not the temporary one
    info["command"] = info["command"].replace(str(csv_path), csv_path.name)
    csv_path.with_suffix(".json").write_text(json.dumps(info, indent=1) + "\n")
    return info


def compare(old_rows: list[dict], new_rows: list[dict]) -> dict:
    """Answers that changed between two runs of the same tasks (matched by task, temperature and sample) and the
    passes of each, per temperature."""
    key = lambda r: (r["task"], float(r["temperature"]), int(r["sample"]))  # noqa: E731
    old = {key(r): r for r in old_rows}
    table = {}
    for temperature in sorted({float(r["temperature"]) for r in new_rows}):
        rows = [r for r in new_rows if float(r["temperature"]) == temperature]
        matched = [(old[key(r)], r) for r in rows if key(r) in old]
        table[f"temperature {temperature}"] = {
            "answers": len(rows), "matched": len(matched),
            "answers_changed": sum(a["answer"] != b["answer"] for a, b in matched),
            "verdicts_changed": sum(bool(a["passed"]) != bool(b["passed"]) for a, b in matched),
            "passed_before": sum(bool(a["passed"]) for a, _ in matched),
            "passed_now": sum(bool(b["passed"]) for _, b in matched)}
    return table


def _previous(name: str, out: Path) -> tuple[list[dict], dict | None]:
    from deepcoder_lib.evaluation import read_csv

    csv_path, json_path = out / f"{name}.csv", out / f"{name}.json"
    rows = read_csv(csv_path) if csv_path.exists() else []
    info = json.loads(json_path.read_text()) if json_path.exists() else None
    return rows, info


def _with_previous(info: dict, rows: list[dict], previous: tuple[list[dict], dict | None]) -> dict:
    old_rows, old_info = previous
    if old_rows:
        info["compared_with_previous"] = {
            "previous_date": (old_info or {}).get("date") or [r.get("date") for r in (old_info or {}).get("runs", [])],
            "previous_decoding": (old_info or {}).get("decoding"),
            **compare(old_rows, rows)}
    return info


def run(only: str | None, out: Path, tasks: list[str] | None = None, threads: int = 1,
        work: Path | None = None) -> None:
    from server_utils import API_KEY, running_llama_server

    from deepcoder_lib.evaluation import read_csv, summarize, write_csv

    server = {"server": f"llama-cpp-python {importlib.metadata.version('llama_cpp_python')} "
                        "(python -m llama_cpp.server, as tests/server_utils.py starts it: --n_ctx 4096 --chat_format "
                        f"chatml, here with --n_threads {threads}) on the embedded Q4_1 GGUF",
              "script": "python benchmarks/bench_server_runs.py" + (f" --only {only}" if only else ""),
              "niceness": os.nice(0)}
    if tasks:  # a quick look, e.g. --tasks 0:2 --out /tmp/look
        server["script"] += " --tasks " + " ".join(tasks)
    chosen = ["--tasks", *tasks] if tasks else []
    os.environ["DEEPCODER_API_KEY"] = API_KEY  # evaluate --server reads the key from here
    # greedy runs first (their answers compare one to one with the stored run), HumanEval in four parts so an
    # interrupted remake keeps what it finished (--work); greedy answers do not depend on how the tasks are split
    humaneval_parts = [f"{a}:{a + 41}" for a in range(0, 164, 41)] if not tasks else [None]
    plan = []
    if only in (None, "sweep"):
        plan.append(("sweep", "0"))
    if only in (None, "humaneval"):
        plan += [("humaneval", part) for part in humaneval_parts]
    if only in (None, "sweep"):
        plan += [("sweep", t) for t in SWEEP_TEMPERATURES[1:]]
    with contextlib.ExitStack() as stack:
        tmp = work or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        tmp.mkdir(parents=True, exist_ok=True)
        url = stack.enter_context(running_llama_server(extra_args=("--n_threads", str(threads))))
        done = {}
        for suite, part in plan:
            if suite == "sweep":
                args, path = ["--temperatures", part, *SWEEP_ARGS, *chosen], tmp / f"srv_T{part}.csv"
            else:
                args = [*HUMANEVAL_ARGS, *(["--tasks", part] if part else chosen)]
                path = tmp / f"humaneval_{(part or 'all').replace(':', '-')}.csv"
            done[suite, part] = (_evaluate(url, args, path), read_csv(path))
    if only in (None, "humaneval"):
        runs = [done["humaneval", part] for part in humaneval_parts]
        rows = [row for _, part_rows in runs for row in part_rows]
        info = {"command": "python -m deepcoder_lib evaluate --suite humaneval --server URL --max-new-tokens 300 "
                           "--output humaneval_server.csv" + (" --tasks " + " ".join(tasks) if tasks else "")
                           + (f", run in {len(runs)} parts (see runs)" if len(runs) > 1 else ""),
                "date": runs[-1][0]["date"], "seconds": sum(r["seconds"] for r, _ in runs),
                **_record([r for r, _ in runs]), **server}
        info = _with_previous(info, rows, _previous("humaneval_server", out))
        write_csv(rows, out / "humaneval_server.csv")
        (out / "humaneval_server.json").write_text(json.dumps(info, indent=1) + "\n")
        print(f"HumanEval: {sum(r['passed'] for r in rows)} of {len(rows)} pass, {info['seconds']} s",
              file=sys.stderr, flush=True)
    if only in (None, "sweep"):
        runs = [done["sweep", t] for t in SWEEP_TEMPERATURES]
        rows = [row for _, part_rows in runs for row in part_rows]
        summary = summarize(rows, ks=(1, 5, 10))
        info = {"what": "the course's 16 tasks, n=20 answers per task and setting, top_p 0.95 (Codex/BigCode), "
                        "temperatures 0, 0.2, 0.4, 0.8, at most 128 new tokens, prompt style 'system'; one run "
                        "per temperature, every decoding knob stated in each request",
                **_record([r for r, _ in runs]), **server, "summary": summary}
        info = _with_previous(info, rows, _previous("sweep_course", out))
        write_csv(rows, out / "sweep_course.csv")
        (out / "sweep_course.json").write_text(json.dumps(info, indent=1) + "\n")
        plot(summary, out / "sweep_course.png")
        for r in summary:
            print(f"T={r['temperature']:.1f} " + "  ".join(f"pass@{k} {r[f'pass@{k}']:.3f}" for k in (1, 5, 10)),
                  file=sys.stderr)


def _record(runs: list[dict]) -> dict:
    """What several ``evaluate`` runs share (machine, versions, model) and, per run, its command, date, seconds,
    load averages and the requests it sent; the decoding of each temperature."""
    first = runs[0]
    return {"runs": [{k: r[k] for k in ("command", "date", "seconds", "load_average_at_start", "load_average_at_end",
                                        "sent")} for r in runs],
            **{k: first[k] for k in ("machine", "answered_by", "python", "torch", "transformers", "openai")},
            "decoding": {k: v for r in runs for k, v in r["decoding"].items()}}


def plot(summary: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from deepcoder_lib.evaluation import plot_pass_at_k

    fig, ax = plt.subplots(figsize=(6, 3.5))
    plot_pass_at_k(summary, ks=(1, 5, 10), ax=ax)
    day = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    ax.set_title(f"SmolLM2-135M Q4_1 (llama.cpp), {summary[0]['tasks']} tasks, n = {summary[0]['n']}, top_p 0.95\n"
                 f"every knob stated ({day})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> list[dict]:
    """For run_all.py: the stored runs' figures as rows (remaking them takes an hour here: run this script)."""
    from deepcoder_lib.evaluation import read_csv, summarize

    rows = []
    for name, ks in (("humaneval_server", (1,)), ("sweep_course", (1, 5, 10))):
        info = json.loads((HERE / f"{name}.json").read_text())
        dates = info.get("date") or ", ".join(r["date"] for r in info.get("runs", []))
        for r in summarize(read_csv(HERE / f"{name}.csv"), ks=ks):
            rows.append({"what": f"{name} (stored, {dates[:10]})", "temperature": r["temperature"],
                         "tasks": r["tasks"], "n": r["n"], **{f"pass@{k}": r[f"pass@{k}"] for k in ks}})
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("humaneval", "sweep"), help="make only one of the two stored runs")
    parser.add_argument("--out", type=Path, default=HERE, help="folder of the stored runs (default: benchmarks/)")
    parser.add_argument("--tasks", nargs="*", help="only these tasks (names or slices such as 0:2) of each suite: "
                        "a quick look; give --out another folder then")
    parser.add_argument("--threads", type=int, default=1, help="the server's --n_threads (default 1: on a shared "
                        "2-core machine two threads wait for each other; see the module docstring)")
    parser.add_argument("--work", type=Path, help="keep each run's CSV and JSON in this folder, and keep the runs "
                        "already finished there (resume an interrupted remake); default: a temporary folder")
    args = parser.parse_args()
    started = time.time()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the server started here is stopped too
    run(args.only, args.out, args.tasks, args.threads, args.work)
    print(f"done in {time.time() - started:.0f} s", file=sys.stderr)
