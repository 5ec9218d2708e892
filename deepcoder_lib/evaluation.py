"""Measure text-to-code: sample answers to a task suite, run them in the sandbox, compute pass@k.

The tasks are data (``data/tasks/*.json``, one file per task: a request plus hidden tests), so a
teacher adds one by copying a file. ``sandbox.py`` runs the code, ``webcheck.py`` checks Flask and
HTML answers; this module generates (batched chat-template + ``generate``), grades, and summarises.
``python -m deepcoder_lib evaluate --help`` runs the whole suite and writes a CSV.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .sandbox import extract_code, run_code
from .webcheck import check_flask_app, check_html_page

TASKS_DIR = Path(__file__).parent / "data" / "tasks"
SYSTEM = ("You are an expert Python programmer. Answer with exactly one ```python code block that contains "
          "complete, runnable code and nothing else.")
EXAMPLE = ("Write a Python function `square(x)` that returns x squared.",
           "```python\ndef square(x):\n    return x * x\n```")
PROMPT_STYLES = ("plain", "system", "example")
RESULT_MARK = "DEEPCODER-RESULT"
# The answer is loaded first; the hidden tests then run in a namespace built after loading, with the
# builtins as they were before the answer ran (so `abs = ...` or `builtins.abs = ...` cannot fake a
# pass). Only the harness knows the per-run nonce (read from stdin, which then reads /dev/null), and it writes
# the pass line itself, with functions saved before the answer ran, after the last test. Exit codes and
# printed text never count. Known limit: code that walks the interpreter's frames could find the nonce.
_TEST_HARNESS = r'''
import builtins, json, os, sys, traceback
def main():
    nonce = sys.stdin.readline().strip()
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)  # input() now meets EOF, not the nonce
    write, out, fresh = os.write, os.dup(1), dict(builtins.__dict__)
    tests = json.load(open("tests.json"))
    ns = {"__name__": "solution"}
    try:
        exec(compile(open("solution.py").read(), "solution.py", "exec"), ns)
    except BaseException:
        traceback.print_exc(limit=-2)
        print("error while loading the code", file=sys.stderr)
        return
    env = {k: v for k, v in ns.items() if not k.startswith("__") and k not in fresh}
    env.update(__builtins__=dict(fresh), __name__="hidden_tests")
    for test in tests:
        try:
            exec(test, env)
        except BaseException as e:
            traceback.print_exc(limit=-1)
            print(f"hidden test failed: {test}" + ("" if isinstance(e, AssertionError) else f" ({type(e).__name__})"),
                  file=sys.stderr)
            return
    write(out, ("\nDEEPCODER-RESULT " + nonce + " PASS\n").encode())
main()
'''


def load_tasks(names=None, folder: str | Path = TASKS_DIR) -> list[dict]:
    """The tasks in ``folder`` (sorted by name), or only those in ``names``."""
    tasks = {t["name"]: t for t in (json.loads(p.read_text()) for p in sorted(Path(folder).glob("*.json")))}
    if names is None:
        return list(tasks.values())
    unknown = [n for n in names if n not in tasks]
    if unknown:
        raise ValueError(f"unknown task(s) {unknown}; the tasks are: {', '.join(tasks)}")
    return [tasks[n] for n in names]


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c passed: 1 - C(n-c, k) / C(n, k).

    Computed as 1 - prod_{i=n-c+1}^{n} (1 - k/i) (Chen et al. 2021), which never forms the huge
    binomials. It is the chance that k samples drawn without replacement from the n include a pass.
    """
    for name, value in (("n", n), ("c", c), ("k", k)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"`{name}` must be a non-negative int, got {value!r}")
    if c > n:
        raise ValueError(f"`c` (passing samples) cannot exceed `n` (samples), got c={c} > n={n}")
    if not 1 <= k <= n:
        raise ValueError(f"`k` must be between 1 and n={n}, got k={k}; draw at least k samples per task")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def build_messages(request: str, style: str = "system") -> list[dict]:
    """The chat for one request: 'plain' (request only), 'system' (+ system message), 'example' (+ a worked example)."""
    if style not in PROMPT_STYLES:
        raise ValueError(f"`style` must be one of {PROMPT_STYLES}, got {style!r}")
    messages = [] if style == "plain" else [{"role": "system", "content": SYSTEM}]
    if style == "example":
        messages += [{"role": "user", "content": EXAMPLE[0]}, {"role": "assistant", "content": EXAMPLE[1]}]
    return messages + [{"role": "user", "content": request}]


def generate_answers(model, tokenizer, chats: list[list[dict]], *, n: int = 1, temperature: float = 0.0,
                     top_p: float = 1.0, max_new_tokens: int = 160, seed: int = 0) -> list[list[str]]:
    """``n`` answers per chat, all chats in one batched ``generate`` call (left padding).

    temperature 0 means greedy (one answer, repeated n times: greedy is deterministic); otherwise
    temperature sampling with nucleus ``top_p`` (1.0: off; Codex and BigCode sample with 0.95) and
    top_k=0, so no default of transformers or of the checkpoint filters the draw.
    """
    import torch

    from .generation import prepare_batch  # imports transformers: only when generating

    temperature = float(temperature)
    if temperature < 0:
        raise ValueError(f"`temperature` must be >= 0, got {temperature}; 0 means greedy")
    inputs = prepare_batch(tokenizer, chats, model=model)  # left-padded, on the model's input device
    top_p = float(top_p)
    if not 0 < top_p <= 1:
        raise ValueError(f"`top_p` must be in (0, 1], got {top_p}; use 1.0 to switch top-p off")
    sampling = (dict(do_sample=True, temperature=temperature, top_k=0, top_p=top_p, num_return_sequences=n)
                if temperature > 0 else dict(do_sample=False))
    torch.manual_seed(seed)
    with torch.no_grad():
        output_ids = model.generate(**inputs, **sampling, max_new_tokens=max_new_tokens,
                                    pad_token_id=tokenizer.pad_token_id)
    texts = tokenizer.batch_decode(output_ids[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    per_chat = n if temperature > 0 else 1
    return [texts[i * per_chat:(i + 1) * per_chat] * (n // per_chat) for i in range(len(chats))]


@dataclass
class Outcome:
    """One graded answer: ``category`` is pass, no_code, error, wrong, timeout or unchecked; ``detail`` says why.

    "unchecked" (an HTML answer where no browser could run the page) is neither a pass nor a fail:
    ``summarize`` leaves those answers out of pass@k.
    """
    passed: bool
    category: str
    reason: str
    detail: str = ""
    code: str = ""


def check_answer(task: dict, answer: str, *, timeout: float = 10.0) -> Outcome:
    """Extract the code from ``answer`` and grade it against the task's hidden tests, in the sandbox."""
    try:
        code = extract_code(answer)
    except ValueError as e:
        return Outcome(False, "no_code", str(e))
    if task["kind"] in ("flask", "html"):
        checker = check_flask_app if task["kind"] == "flask" else check_html_page
        check = checker(code, task["inputs"], task["expected"], **task["interface"], timeout=timeout)
        if check.ok:
            return Outcome(True, "pass", check.message, code=code)
        if getattr(check, "unchecked", False):
            return Outcome(False, "unchecked", check.message, code=code)
        run = check.run
        category = ("timeout" if run is not None and run.timed_out else
                    "error" if "raised while loading" in check.message or "did not finish" in check.message
                    else "wrong")
        return Outcome(False, category, check.message.splitlines()[-1][:300], check.message, code)
    nonce = secrets.token_hex(16)
    run = run_code(_TEST_HARNESS, files={"solution.py": code, "tests.json": json.dumps(task["tests"])},
                   stdin=nonce + "\n", timeout=timeout)
    passed = f"{RESULT_MARK} {nonce} PASS" in run.stdout.splitlines()  # read only after the process ended
    if passed and not run.timed_out:
        return Outcome(True, "pass", f"all {len(task['tests'])} hidden tests passed", run.stderr, code)
    if run.timed_out:
        return Outcome(False, "timeout", run.verdict, run.stderr, code)
    last = (run.stderr.strip().splitlines() or [run.verdict if not run.ok else
                                                "the tests did not report a pass (the code ended the run early?)"])[-1]
    category = "wrong" if last.startswith("hidden test failed") else "error"
    reason = last if category == "wrong" else (run.stderr.strip().splitlines()[-2:-1] or [run.verdict])[0]
    return Outcome(False, category, reason.strip(), run.stderr, code)


def evaluate(model, tokenizer, tasks: list[dict], *, temperatures=(0.0,), n: int = 1, styles=("system",),
             top_p: float = 1.0, max_new_tokens: int = 160, seed: int = 0, batch_size: int = 16, progress: bool = False) -> list[dict]:
    """Sample ``n`` answers per task for each prompt style and temperature; grade each. One row per answer.

    Tasks are generated together, about ``batch_size`` sequences per ``generate`` call. A class server
    in place of ``model`` writes the answers instead (``server_course.evaluate``; ``tokenizer`` unused).
    """
    from . import server_course
    if server_course.is_server(model):
        return server_course.evaluate(model, tasks, temperatures=temperatures, n=n, styles=styles,
                                      top_p=top_p, max_new_tokens=max_new_tokens, seed=seed)
    from tqdm.auto import tqdm

    rows = []
    steps = [(s, t) for s in styles for t in temperatures]
    bar = tqdm(total=len(steps) * len(tasks) * n, desc="answers graded", disable=not progress)
    for style, temperature in steps:
        size = max(1, batch_size // (n if temperature > 0 else 1))
        for start in range(0, len(tasks), size):
            group = tasks[start:start + size]
            chats = [build_messages(task["request"], style) for task in group]
            answers = generate_answers(model, tokenizer, chats, n=n, temperature=temperature, top_p=top_p,
                                       max_new_tokens=max_new_tokens, seed=seed + start)
            for task, samples in zip(group, answers):
                for i, answer in enumerate(samples):
                    outcome = check_answer(task, answer)
                    rows.append({"task": task["name"], "kind": task["kind"], "style": style,
                                 "temperature": temperature, "sample": i, "passed": outcome.passed,
                                 "category": outcome.category, "reason": outcome.reason, "answer": answer})
                    bar.update()
    bar.close()
    return rows


def summarize(rows: list[dict], ks=(1,)) -> list[dict]:
    """pass@k per (style, temperature), averaged over tasks; the unbiased estimator per task."""
    groups: dict[tuple, dict[str, list[bool]]] = {}
    for row in rows:
        if row.get("category") == "unchecked":
            continue  # not run, so neither passed nor failed
        key = (row["style"], float(row["temperature"]))
        groups.setdefault(key, {}).setdefault(row["task"], []).append(row["passed"] in (True, "True"))
    table = []
    for (style, temperature), per_task in sorted(groups.items()):
        entry = {"style": style, "temperature": temperature, "tasks": len(per_task),
                 "n": min(len(v) for v in per_task.values())}
        for k in ks:
            entry[f"pass@{k}"] = sum(pass_at_k(len(v), sum(v), k) for v in per_task.values()) / len(per_task)
        table.append(entry)
    return table


def write_csv(rows: list[dict], path: str | Path) -> Path:
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_run_info(csv_path: str | Path, argv: list[str], **extra) -> Path:
    """``<csv>.json`` beside a results CSV: the command, date, machine and versions that produced it."""
    import datetime
    import os
    import platform

    import torch
    import transformers

    info = {"command": "python -m deepcoder_lib evaluate " + " ".join(argv),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or platform.system()}",
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
            "python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
            **extra}
    path = Path(csv_path).with_suffix(".json")
    path.write_text(json.dumps(info, indent=1) + "\n")
    return path


def read_csv(path: str | Path) -> list[dict]:
    with Path(path).open(newline="", encoding="utf-8") as f:
        return [{**r, "passed": r["passed"] == "True", "temperature": float(r["temperature"])}
                for r in csv.DictReader(f)]


def plot_pass_at_k(summary: list[dict], ks=(1,), ax=None):
    """pass@k (fraction of tasks, 0-1) against sampling temperature, one line per k and prompt style."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for style in dict.fromkeys(r["style"] for r in summary):
        points = [r for r in summary if r["style"] == style]
        for k in ks:
            ax.plot([r["temperature"] for r in points], [r[f"pass@{k}"] for r in points], marker="o",
                    label=f"pass@{k}" + (f" ({style})" if len({r['style'] for r in summary}) > 1 else ""))
    ax.set_xlabel("sampling temperature (0 = greedy)")
    ax.set_ylabel("pass@k (mean over tasks)")
    ax.set_ylim(-0.03, 1.03)
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


def main(argv: list[str] | None = None) -> int:
    """``python -m deepcoder_lib evaluate``: run the suite, print pass@k, write a CSV."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["evaluate"]:
        argv = argv[1:]
    parser = argparse.ArgumentParser(prog="python -m deepcoder_lib evaluate", description=main.__doc__)
    parser.add_argument("--tasks", nargs="*", help="task names (default: all in the tasks folder)")
    parser.add_argument("--tasks-dir", default=str(TASKS_DIR), help="folder of task .json files")
    parser.add_argument("--temperatures", default="0,0.4,0.8,1.2", help="comma-separated; 0 = greedy")
    parser.add_argument("-n", type=int, default=10, help="answers per task and temperature")
    parser.add_argument("--top-p", type=float, default=1.0, help="nucleus top_p for sampled answers (Codex: 0.95)")
    parser.add_argument("-k", default="1,5", help="comma-separated k values for pass@k (each <= n)")
    parser.add_argument("--styles", default="system", help=f"comma-separated prompt styles from {PROMPT_STYLES}")
    parser.add_argument("--max-new-tokens", type=int, default=192)
    parser.add_argument("--checkpoint", default=None, help="hub id or folder (default: the embedded model)")
    parser.add_argument("--output", default="evaluation.csv", help="CSV path for one row per answer")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=16, help="sequences per generate call (memory)")
    args = parser.parse_args(argv)
    try:
        ks = [int(k) for k in args.k.split(",")]
        temperatures = [float(t) for t in args.temperatures.split(",")]
        if any(k > args.n for k in ks):
            raise ValueError(f"every k must be <= n={args.n}, got k={args.k}")
        tasks = load_tasks(args.tasks or None, args.tasks_dir)
    except ValueError as e:
        parser.error(str(e))
    from .models import load

    model, tokenizer = load(args.checkpoint)
    started = time.time()
    rows = evaluate(model, tokenizer, tasks, temperatures=temperatures, n=args.n, styles=args.styles.split(","),
                    top_p=args.top_p,
                    max_new_tokens=args.max_new_tokens, seed=args.seed, batch_size=args.batch_size,
                    progress=True)
    print(f"wrote {len(rows)} graded answers to {write_csv(rows, args.output)}")
    print(f"and how they were made to {write_run_info(args.output, argv, seconds=time.time() - started)}")
    print(f"{'style':<8} {'temperature':>11} " + " ".join(f"{'pass@' + str(k):>8}" for k in ks))
    for r in summarize(rows, ks):
        print(f"{r['style']:<8} {r['temperature']:>11.2f} " + " ".join(f"{r[f'pass@{k}']:>8.3f}" for k in ks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
