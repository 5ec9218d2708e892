"""Run every ``benchmarks/bench_*.py`` and print one table; write ``benchmarks/results.md`` and ``.json``.

Each benchmark runs in its own fresh Python process (so one's threads, caches and imports do not
flatter the next), offline, through its ``main() -> list[dict]``. The results carry the date and
the machine they were measured on: figures from different machines are not comparable.

    .venv/bin/python benchmarks/run_all.py                   # everything, including the whole course
    .venv/bin/python benchmarks/run_all.py --skip notebooks  # everything but bench_notebooks.py
    .venv/bin/python benchmarks/run_all.py --only sampling   # just bench_sampling.py
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MARK = "@@deepcoder-rows@@"
RUNNER = ("import json, runpy, sys; ns = runpy.run_path(sys.argv[1], run_name='benchmark'); "
          f"print({MARK!r} + json.dumps(ns['main'](), default=str))")
TIMEOUT_S = {"notebooks": 1800, "humaneval": 1800}  # the whole course; all of HumanEval; the rest: minutes
DEFAULT_TIMEOUT_S = 600


def machine() -> dict:
    """Where the figures come from: CPU model, cores, memory, and the versions that matter."""
    import importlib.metadata as md
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        import psutil
        memory = f"{psutil.virtual_memory().total / 2**30:.0f} GiB"
    except ImportError:
        memory = "?"
    versions = {}
    for name in ("torch", "transformers", "jupyterlab", "ipywidgets"):
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            versions[name] = "missing"
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": memory, "python": platform.python_version(),
            "os": f"{platform.system()} {platform.release()}", **versions}


def benchmarks(only: list[str], skip: list[str]) -> list[Path]:
    found = sorted(HERE.glob("bench_*.py"))
    name = lambda p: p.stem.removeprefix("bench_")  # noqa: E731
    return [p for p in found if (not only or name(p) in only) and name(p) not in skip]


def run_one(path: Path) -> tuple[list[dict], float, str]:
    """Run one benchmark's main() in a fresh process: (rows, seconds, error or '')."""
    name = path.stem.removeprefix("bench_")
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    start = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-c", RUNNER, str(path)], capture_output=True, text=True, env=env,
                              cwd=HERE.parent, timeout=TIMEOUT_S.get(name, DEFAULT_TIMEOUT_S))
    except subprocess.TimeoutExpired as exc:
        return [], time.perf_counter() - start, f"timed out after {exc.timeout} s"
    seconds = time.perf_counter() - start
    lines = [line for line in proc.stdout.splitlines() if line.startswith(MARK)]
    if proc.returncode or not lines:
        return [], seconds, (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1][:200]
    return json.loads(lines[-1][len(MARK):]), seconds, ""


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def flatten(benchmark: str, row: dict) -> tuple[str, str, str]:
    """(benchmark, what the row is about, its figures): text fields name the row, the rest are figures.

    Long or multi-line text (a generated answer, say) stays in results.json, out of the table.
    """
    what = " ".join(v for k, v in row.items()
                    if isinstance(v, str) and k != "status" and "\n" not in v and len(v) <= 80)
    figures = ", ".join(f"{k}={_format(v)}" for k, v in row.items() if not isinstance(v, str) or k == "status")
    return benchmark, (what or "-").replace("|", "/"), figures.replace("|", "/")


def table(lines: list[tuple[str, str, str]]) -> str:
    """A Markdown table that also reads well in a terminal."""
    header = ("benchmark", "what", "figures")
    widths = [max(len(x[i]) for x in [header, *lines]) for i in range(3)]
    row = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([row(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(row, lines)])


def main(only: list[str] | None = None, skip: list[str] | None = None, write: bool = True) -> list[dict]:
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    results, lines = [], []
    for path in benchmarks(only or [], skip or []):
        name = path.stem.removeprefix("bench_")
        print(f"running {path.name} ...", file=sys.stderr, flush=True)
        rows, seconds, error = run_one(path)
        results.append({"benchmark": name, "seconds": round(seconds, 1), "rows": rows, "error": error})
        lines += [flatten(name, r) for r in rows] or [(name, "FAILED", error)]
    info = machine()
    return report(when, info, results, lines, write)


def report(when: str, info: dict, results: list[dict], lines: list[tuple[str, str, str]], write: bool) -> list[dict]:
    """Print the table; with ``write``, save results.json and results.md beside this file."""
    text = table(lines)
    print(text)
    print(f"\nmeasured {when} on {info['cpu']}, {info['cores']} cores, {info['memory']}")
    if write:
        (HERE / "results.json").write_text(json.dumps({"date": when, "machine": info, "results": results},
                                                      indent=1) + "\n")
        machine_line = ", ".join(f"{k} {v}" for k, v in info.items())
        (HERE / "results.md").write_text(f"# Benchmark results\n\nMeasured {when} with "
                                         f"`.venv/bin/python benchmarks/run_all.py`.\n\nMachine: {machine_line}.\n\n"
                                         + text + "\n")
    return [{"benchmark": b, "what": w, "figures": f} for b, w, f in lines]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=[], help="benchmark names (bench_NAME.py) to run")
    parser.add_argument("--skip", nargs="*", default=[], help="benchmark names to leave out")
    parser.add_argument("--no-write", action="store_true", help="print only; do not write results.md/.json")
    parser.add_argument("--render", action="store_true", help="re-render results.md from results.json, run nothing")
    args = parser.parse_args()
    if args.render:
        saved = json.loads((HERE / "results.json").read_text())
        lines = [flatten(r["benchmark"], row) for r in saved["results"] for row in r["rows"]]
        rows = report(saved["date"], saved["machine"], saved["results"], lines, write=True)
    else:
        rows = main(args.only, args.skip, write=not args.no_write)
    sys.exit(1 if any(r["what"] == "FAILED" for r in rows) else 0)
