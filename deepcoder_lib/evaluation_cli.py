"""``python -m deepcoder_lib evaluate``: run a task suite on a model, print pass@k with its band, write a CSV.

The command line of evaluation.py, kept apart so that module stays readable. Arguments are checked
before the model loads; a bad one stops with a message that names it (argparse's exit status 2).
Defaults follow the suite: the course's 16 tasks are cheap to sample (4 temperatures x n=10),
HumanEval's 164 problems are run once, greedily (about 8 minutes on 2 idle cores).
"""
from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import sys
import time
from pathlib import Path

from . import course
from .checks import positive_int, whole_number
from .decoding import check_temperature, check_top_p
from .evaluation import PROMPT_STYLES, SUITES, decoding_for, evaluate, load_tasks, summarize, write_csv
from .models import load
from .passk import samples_needed
from .server import connect

DEFAULTS = {"course": dict(temperatures="0,0.4,0.8,1.2", n=10, k="1,5", max_new_tokens=192),
            "humaneval": dict(temperatures="0", n=1, k="1", max_new_tokens=300)}


def cpu_name() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo), for the record of a run."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    import platform
    return platform.processor() or platform.system()


def run_record(command: str, **extra) -> dict:
    """The record of a run, for the JSON beside its results: the command, date (UTC), machine, load average at the
    end, Python, torch and transformers versions, then ``extra``."""
    import datetime
    import platform

    import torch
    import transformers

    return {"command": command, "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {cpu_name()}",
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
            "python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
            **extra}


def write_run_info(csv_path: str | Path, argv: list[str], **extra) -> Path:
    """``<csv>.json`` beside a results CSV: the command, date, machine and versions that produced it."""
    info = run_record("python -m deepcoder_lib evaluate " + " ".join(argv), **extra)
    path = Path(csv_path).with_suffix(".json")
    path.write_text(json.dumps(info, indent=1) + "\n")
    return path


def log_requests(server) -> list[dict]:
    """A list that fills with the decoding part of every request ``server`` sends from now on (the body without
    its messages): what reached the server, for the record of a run (``sent_summary``)."""
    sent: list[dict] = []

    def hook(request) -> None:
        if request.method == "POST":
            body = json.loads(request.content or b"{}")
            sent.append({key: value for key, value in body.items() if key != "messages"})
    server.http.event_hooks["request"].append(hook)
    return sent


def sent_summary(sent: list[dict]) -> dict:
    """The requests a run sent, grouped: each distinct set of knobs with how many requests sent it, and the range
    of the two that change from request to request: ``seed`` (one per answer) and ``n`` (the answers still
    missing; llama.cpp's server ignores it and sends one). A range is None when no request named it."""
    groups: dict[str, int] = {}
    for body in sent:
        key = json.dumps({k: v for k, v in body.items() if k not in ("seed", "n")}, sort_keys=True)
        groups[key] = groups.get(key, 0) + 1
    ranges = {name: [min(b[name] for b in sent if name in b), max(b[name] for b in sent if name in b)]
              if any(name in b for b in sent) else None for name in ("seed", "n")}
    return {"requests": len(sent), "bodies": [{"requests": count, **json.loads(key)} for key, count in groups.items()],
            **ranges}


def _numbers(args, name: str, kind):
    text = getattr(args, name.lstrip("-").replace("-", "_"))
    try:
        return [kind(x) for x in text.split(",")]
    except ValueError:
        raise ValueError(f"`{name}` must be comma-separated {kind.__name__}s, got {text!r}") from None


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[int], list[float], list[dict]]:
    """The parsed arguments, the k values, the temperatures and the tasks; SystemExit(2) with a message if wrong."""
    parser = argparse.ArgumentParser(prog="python -m deepcoder_lib evaluate",
                                     description="Run a task suite on a model: print pass@k with its 95% band, write a CSV.")
    parser.add_argument("--suite", choices=SUITES, default="course", help="course (default) or humaneval")
    parser.add_argument("--tasks", nargs="*", help="task names or slices such as 0:20 (default: the whole suite)")
    parser.add_argument("--tasks-dir", default=None, help="folder of task .json files (course suite only)")
    parser.add_argument("--temperatures", help="comma-separated; 0 = greedy (course: 0,0.4,0.8,1.2; humaneval: 0)")
    parser.add_argument("-n", type=int, help="answers per task and temperature (course: 10; humaneval: 1)")
    parser.add_argument("--top-p", type=float, default=1.0, help="nucleus top_p for sampled answers (Codex, BigCode: 0.95)")
    parser.add_argument("-k", help="comma-separated k for pass@k; k >= 2 needs n >= 2k (course: 1,5; humaneval: 1)")
    parser.add_argument("--styles", default="system", help=f"comma-separated prompt styles from {PROMPT_STYLES}")
    parser.add_argument("--max-new-tokens", type=int, help="course: 192; humaneval: 300")
    parser.add_argument("--checkpoint", default=None, help="hub id or folder (default: the embedded model)")
    parser.add_argument("--server", default=None, help="an OpenAI-compatible server's URL (API key from "
                        "DEEPCODER_API_KEY): its model answers instead of a local one")
    parser.add_argument("--output", default="evaluation.csv", help="CSV path for one row per answer")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=16, help="sequences per generate call (memory)")
    args = parser.parse_args(argv)
    for name, value in DEFAULTS[args.suite].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    try:
        # the library's own checks, named as typed here: the same rules as decoding.Decoding and evaluate()
        ks = [positive_int(k, "-k", "pass@k needs k >= 1, e.g. -k 1,5") for k in _numbers(args, "-k", int)]
        temperatures = [check_temperature(t, "--temperatures") for t in _numbers(args, "--temperatures", float)]
        positive_int(args.n, "-n", "answers per task and temperature, e.g. -n 10")
        short = [k for k in ks if args.n < samples_needed(k)]
        if short:
            raise ValueError(f"`-k` {short[0]} needs `-n` >= {samples_needed(short[0])} (pass@k is reported only "
                             f"with n >= 2k answers per task), got -n {args.n}")
        check_top_p(args.top_p, "--top-p")
        positive_int(args.max_new_tokens, "--max-new-tokens", "it counts only the new tokens, e.g. 192")
        positive_int(args.batch_size, "--batch-size", "sequences per generate call, e.g. 16")
        whole_number(args.seed, "--seed", minimum=0, hint="any whole number, e.g. 0")
        bad = [s for s in args.styles.split(",") if s not in PROMPT_STYLES]
        if bad:
            raise ValueError(f"`--styles` must come from {PROMPT_STYLES}, got {bad[0]!r}")
        if args.server is not None and args.checkpoint is not None:
            raise ValueError(f"`--server` and `--checkpoint` both given ({args.server}, {args.checkpoint}); "
                             "the answers come from one of them")
        if args.suite == "humaneval" and args.tasks_dir is not None:
            raise ValueError(f"`--tasks-dir` is for the course suite, got --suite humaneval --tasks-dir {args.tasks_dir}")
        tasks = load_tasks(args.tasks or None, args.tasks_dir, suite=args.suite)
        if not tasks:
            raise ValueError(f"`--tasks` {' '.join(args.tasks)} selects no task of suite {args.suite!r}")
    except ValueError as e:
        parser.error(str(e))
    return args, ks, temperatures, tasks


def main(argv: list[str] | None = None) -> int:
    """Run the suite, print pass@k with its 95% band per style and temperature, write a CSV."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["evaluate"]:
        argv = argv[1:]
    args, ks, temperatures, tasks = parse(argv)
    load_at_start = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    if args.server is not None:
        model, tokenizer = connect(args.server), None  # evaluate() takes a server as it takes a model
        sent = log_requests(model)
    else:
        model, tokenizer = load(args.checkpoint)  # on the course's device (course.device_settings)
    started = time.time()
    rows = evaluate(model, tokenizer, tasks, temperatures=temperatures, n=args.n, styles=args.styles.split(","),
                    top_p=args.top_p, max_new_tokens=args.max_new_tokens, seed=args.seed, batch_size=args.batch_size,
                    progress=True)
    print(f"wrote {len(rows)} graded answers to {write_csv(rows, args.output)}")
    answered_by = repr(model) if args.server else (
        f"{args.checkpoint or 'the embedded model'} ({course.from_pretrained_call()}, {model.dtype} on {model.device})")
    decoding = {f"temperature {t}": decoding_for(t, top_p=args.top_p, max_new_tokens=args.max_new_tokens,
                                                 seed=args.seed).as_dict() for t in temperatures}
    extra = {"sent": sent_summary(sent), "openai": importlib.metadata.version("openai")} if args.server else {}
    info = write_run_info(args.output, argv, seconds=round(time.time() - started), load_average_at_start=load_at_start,
                          answered_by=answered_by, decoding=decoding, **extra)
    print(f"and how they were made to {info}")
    print(f"{args.suite}: {len(tasks)} tasks, n={args.n}; pass@k [95% bootstrap band over tasks]")
    print(f"{'style':<8} {'temperature':>11} " + " ".join(f"{'pass@' + str(k):>22}" for k in ks))
    for r in summarize(rows, ks):
        cells = [f"{r[f'pass@{k}']:.3f} [{r[f'pass@{k}_low']:.3f}, {r[f'pass@{k}_high']:.3f}]" for k in ks]
        print(f"{r['style']:<8} {r['temperature']:>11.2f} " + " ".join(f"{c:>22}" for c in cells))
    return 0
