"""Reranking on public examples and self-repair, measured on HumanEval through the class server.

For each task: n answers sampled from llama.cpp's server on the embedded GGUF (every decoding knob stated in
every request), each graded twice in the course sandbox: on the prompt's public examples
(``rerank.run_public``) and on HumanEval's hidden tests (``evaluation.check_answer``). The first
``--repair-chains`` answers that fail a public example are then repaired: the failing example goes back to
the model as a follow-up chat turn, up to ``--rounds`` times, and each repaired answer is graded again.

Writes ``<output>.csv`` (one row per answer: task, chain, round, public/hidden verdicts, the answer),
``<output>.json`` (machine, date, versions, load, every decoding knob, the command, the figures with their
95% bootstrap bands, the cost in answers per solved task) and ``<output>.png``. The CSV is written as it
goes, and a rerun with the same arguments resumes after the last finished task; the JSON keeps each leg's
date, time, server threads and load. While ``<output>.pause`` exists the run waits between tasks (server idle).

    OMP_NUM_THREADS=1 nice .venv/bin/python benchmarks/bench_rerank.py --tasks 60 -n 8   # ~30 min on 2 cores
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
FIELDS = ["task", "chain", "round", "examples", "public_passed", "hidden_passed", "category", "failure", "seconds",
          "answer"]


def start_server(threads: int):
    """llama.cpp's server on the embedded GGUF, niced, on a free loopback port: (process, base URL)."""
    import socket

    import httpx

    from deepcoder_lib.prepare import find_gguf

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = ["nice", "-n", "10", sys.executable, "-m", "llama_cpp.server", "--model", str(find_gguf()),
           "--model_alias", "smollm2-135m-instruct", "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096",
           "--chat_format", "chatml", "--n_threads", str(threads), "--interrupt_requests", "False"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(400):
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}: {' '.join(cmd)}")
        try:
            if httpx.get(url + "/models", timeout=2).status_code == 200:
                return proc, url, cmd
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.terminate()
    raise RuntimeError("the server did not answer within 120 s")


def grade(task: dict, examples, answer: str) -> dict:
    """Public and hidden verdicts of one answer (both in the sandbox)."""
    from deepcoder_lib.evaluation import check_answer
    from deepcoder_lib.rerank import run_public
    from deepcoder_lib.sandbox import extract_code

    try:
        code = extract_code(answer)
    except ValueError as e:
        public = (False, f"the answer has no Python code block ({str(e)[:120]})")
    else:
        result = run_public(task, code, examples)
        public = (result.passed, result.failure)
    hidden = check_answer(task, answer)
    return {"examples": len(examples), "public_passed": public[0], "failure": public[1],
            "hidden_passed": hidden.passed, "category": hidden.category}


def replot(output: str = str(HERE / "rerank_humaneval")) -> None:
    """The plot again from the stored CSV and JSON (no answers generated)."""
    from deepcoder_lib.rerank import summarize_run
    info = json.loads(Path(output).with_suffix(".json").read_text())
    with Path(output).with_suffix(".csv").open(newline="", encoding="utf-8") as f:
        figures = summarize_run(list(csv.DictReader(f)))
    plot(figures, Path(output).with_suffix(".png"), info["decoding"])


def plot(figures: dict, path: Path, decoding: dict) -> None:
    """The four figures with their bands, titled with the run's size and sampling settings."""
    import matplotlib
    matplotlib.use("Agg")
    from deepcoder_lib.rerank import plot_figures

    ax = plot_figures(figures)
    ax.set_title(f"HumanEval, {figures['tasks']} tasks, n={figures['n']}, T={decoding['temperature']}, "
                 f"top_p={decoding['top_p']}\nSmolLM2-135M (Q4_1) via llama.cpp", fontsize=9)
    ax.figure.tight_layout()
    ax.figure.savefig(path, dpi=110)


def wait_while_paused(pause_file: Path) -> float:
    """Seconds spent waiting while ``pause_file`` exists (between tasks, with the server idle), so that a quiet
    measurement can run beside a long resumable run: ``touch <output>.pause``, measure, remove it."""
    tic = time.time()
    announced = False
    while pause_file.exists():
        if not announced:
            print(f"paused: {pause_file} exists", flush=True)
            announced = True
        time.sleep(2)
    return time.time() - tic


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=164, help="at most this many HumanEval tasks with public examples, "
                        "in a seeded random order")
    parser.add_argument("--minutes", type=float, default=33.0, help="start no new task after this many minutes: "
                        "the tasks done are then a seeded random sample (the order is random)")
    parser.add_argument("-n", type=int, default=8, help="answers sampled per task")
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--top-p", type=float, default=0.95)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=2, help="repair rounds per failing answer")
    parser.add_argument("--repair-chains", type=int, default=2, help="how many of the n answers get repaired")
    parser.add_argument("--threads", type=int, default=1, help="the server's --n_threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=str(HERE / "rerank_humaneval"))
    args = parser.parse_args(argv)

    from deepcoder_lib import humaneval
    from deepcoder_lib.decoding import Decoding
    from deepcoder_lib.evaluation import build_messages
    from deepcoder_lib.rerank import public_examples, repair_messages, summarize_run
    from deepcoder_lib.server import connect

    # only tasks whose prompt shows examples: on the others reranking and repair change nothing (they keep the
    # first answer), so their answers would cost time and add the same figure to plain and reranked pass@1
    tasks = [t for t in humaneval.load_tasks() if public_examples(t["prompt"], t["entry_point"])]
    random.Random(args.seed).shuffle(tasks)
    tasks = tasks[:args.tasks]
    out_csv, out_json = Path(args.output).with_suffix(".csv"), Path(args.output).with_suffix(".json")
    done_rows = []
    if out_csv.exists():
        with out_csv.open(newline="", encoding="utf-8") as f:
            done_rows = list(csv.DictReader(f))
    finished = {r["task"] for r in done_rows}
    finished.discard(done_rows[-1]["task"] if done_rows else None)  # the last task may be half done: redo it
    done_rows = [r for r in done_rows if r["task"] in finished]
    with out_csv.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(done_rows)

    decoding = Decoding(max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_p=args.top_p,
                        top_k=0, min_p=0.0, repetition_penalty=1.0, seed=args.seed)
    previous = json.loads(out_json.read_text()) if done_rows and out_json.exists() else {}
    pause_file = Path(args.output).with_suffix(".pause")
    pauses = 0.0
    load_start = [round(x, 2) for x in os.getloadavg()]
    started = time.time()
    proc, url, server_cmd = start_server(args.threads)
    try:
        server = connect(url)
        for t, task in enumerate(tasks):
            if task["name"] in finished:
                continue
            if time.time() - started > args.minutes * 60:
                print(f"stopped after {args.minutes} minutes: {t} of {len(tasks)} tasks done", flush=True)
                break
            paused = wait_while_paused(pause_file)
            started += paused  # a pause does not count against --minutes
            pauses += paused
            examples = public_examples(task["prompt"], task["entry_point"])
            chat = build_messages(task["request"], "system")
            rows = []
            for chain in range(args.n):
                tic = time.time()
                seed = args.seed * 1_000_000 + t * 1000 + chain * 10
                answer = server.generate(chat, decoding.with_(seed=seed))[0]
                rows.append({"task": task["name"], "chain": chain, "round": 0, **grade(task, examples, answer),
                             "seconds": round(time.time() - tic, 2), "answer": answer})
                messages = chat
                for rnd in range(1, args.rounds + 1):
                    last = rows[-1]
                    if chain >= args.repair_chains or not examples or last["public_passed"]:
                        break
                    tic = time.time()
                    messages = repair_messages(messages, last["answer"], last["failure"])
                    answer = server.generate(messages, decoding.with_(seed=seed + rnd))[0]
                    rows.append({"task": task["name"], "chain": chain, "round": rnd, **grade(task, examples, answer),
                                 "seconds": round(time.time() - tic, 2), "answer": answer})
            with out_csv.open("a", newline="", encoding="utf-8") as f:
                csv.DictWriter(f, fieldnames=FIELDS).writerows(rows)
            done_rows += rows
            hidden = sum(r["hidden_passed"] for r in rows if r["round"] == 0)
            print(f"[{t + 1}/{len(tasks)}] {task['name']}: {len(examples)} examples, {hidden}/{args.n} pass hidden, "
                  f"{len(rows)} answers, {time.time() - started:.0f} s", flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    seconds = time.time() - started  # ``started`` moved on by every pause: the running time alone

    import llama_cpp

    from deepcoder_lib.evaluation_cli import run_record

    figures = summarize_run(done_rows, seed=args.seed)
    all_tasks = humaneval.load_tasks()
    with_examples = sum(bool(public_examples(x["prompt"], x["entry_point"])) for x in all_tasks)
    command = "OMP_NUM_THREADS=1 nice python benchmarks/bench_rerank.py " + " ".join(argv or sys.argv[1:])
    info = {**run_record(command, load_average_at_start=load_start, seconds_this_run=round(seconds),
                         minutes_cap=args.minutes, llama_cpp_python=llama_cpp.__version__),
            "answered_by": f"llama-cpp-python {llama_cpp.__version__} server on the embedded Q4_1 GGUF, "
                           f"--n_threads {args.threads}, niced: {' '.join(server_cmd[3:])}",
            "prompt_style": "system (evaluation.build_messages), HumanEval's chat request (humaneval.REQUEST)",
            "decoding": {**decoding.as_dict(), "seed": f"{args.seed} * 1e6 + task * 1000 + chain * 10 (+ round)"},
            "n": args.n, "max_new_tokens": args.max_new_tokens, "repair_rounds": args.rounds, "repair_chains": args.repair_chains,
            "tasks": sorted({r["task"] for r in done_rows}, key=lambda name: int(name.split("/")[1])),
            "task_sample": f"HumanEval's tasks with public examples, shuffled by random.Random({args.seed}); "
                           f"the first ones done within --minutes {args.minutes}",
            "tasks_with_public_examples": f"{with_examples} of {len(all_tasks)}",
            "answers": len(done_rows), "figures": figures}
    # a resumed run keeps the legs before it: each with its own date, time, server threads and load
    leg = {"date_end": info["date"], "seconds": round(seconds), "paused_seconds": round(pauses),
           "server_threads": args.threads, "load_average_at_start": load_start,
           "load_average_at_end": info["load_average_at_end"],
           "tasks_done": len({r["task"] for r in done_rows}) - len(finished)}
    info["legs"] = previous.get("legs", []) + [leg]
    if len(info["legs"]) > 1:
        info["command"] = (f"{len(info['legs'])} legs, each resumed from the CSV (see legs); the last: "
                           + info["command"])
        info["seconds_all_legs"] = sum(x["seconds"] for x in info["legs"])
    out_json.write_text(json.dumps(info, indent=1) + "\n")
    plot(figures, Path(args.output).with_suffix(".png"), info["decoding"])
    for name in ("plain pass@1", "reranked pass@1", "pass@n", "repair pass@1"):
        f = figures[name]
        cost = f" ({f['answers_per_solved']:.1f} answers per solved task)" if "answers" in f else ""
        print(f"{name:16} {f['value']:.3f} [{f['low']:.3f}, {f['high']:.3f}]{cost}")
    print(f"wrote {out_csv}, {out_json} and the plot; {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
