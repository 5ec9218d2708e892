"""What the sandbox's isolation costs per run: this checkout against an earlier commit, in one sitting.

Each implementation is timed in its own fresh interpreter (PYTHONPATH = its copy of the library),
alternating, so both see the same machine load; the older copy comes from ``git archive``. Figures:
median seconds of ``run_code('print(1)')`` (bubblewrap and fallback), of the same without the cgroup
(to show what the cgroup itself adds), and of one Flask check (two calls).

    .venv/bin/python benchmarks/bench_sandbox.py [BASE_COMMIT]    # default cc4bdcc (before issue 26)
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE = "cc4bdcc"
RUNS = 15

TIMER = r"""
import json, statistics, sys, time, warnings
warnings.simplefilter("ignore")
from deepcoder_lib.sandbox import run_code, bwrap_available
from deepcoder_lib.webcheck import check_flask_app
def median(fn, runs):
    fn()  # warm: imports, bwrap probe
    times = []
    for _ in range(runs):
        start = time.perf_counter(); fn(); times.append(time.perf_counter() - start)
    return statistics.median(times)
runs, out = int(sys.argv[1]), {}
if bwrap_available():
    out["bwrap"] = median(lambda: run_code("print(1)", isolation="bwrap"), runs)
out["fallback"] = median(lambda: run_code("print(1)", isolation="fallback"), runs)
try:
    from deepcoder_lib.sandbox import cgroup, seccomp
    if cgroup.probe()[0] in ("v1", "v2"):
        out["cgroup make + remove, no run"] = median(lambda: cgroup.RunCgroup.create(512, 32).remove(), runs)
    out["seccomp filter built"] = median(seccomp.program, runs)
    cgroup.RunCgroup.create = classmethod(lambda cls, *a: None)
    if bwrap_available():
        out["bwrap, no cgroup"] = median(lambda: run_code("print(1)", isolation="bwrap"), runs)
except ImportError:
    pass
app = ("from flask import Flask, request\nimport math\napp = Flask(__name__)\n@app.route('/area')\n"
       "def area():\n    return {'area': math.pi * float(request.args['r']) ** 2}\n")
out["check_flask_app (2 calls)"] = median(
    lambda: check_flask_app(app, [{"r": 3.0}, {"r": 1.5}], [28.274333882308138, 7.0685834705770345],
                            route="/area", key="area"), max(3, runs // 3))
print(json.dumps(out))
"""


def _time(library_root: str, runs: int) -> dict:
    env = {**os.environ, "PYTHONPATH": library_root}
    done = subprocess.run([sys.executable, "-c", TIMER, str(runs)], env=env, capture_output=True, text=True,
                          timeout=600, cwd=library_root)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(base: str = BASE) -> list[dict]:
    with tempfile.TemporaryDirectory() as old:
        archive = subprocess.run(["git", "archive", base, "deepcoder_lib"], cwd=ROOT, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", old], input=archive.stdout, check=True)
        rounds = [(_time(old, RUNS), _time(str(ROOT), RUNS)) for _ in range(2)]  # old, new, old, new
    rows = []
    for name in rounds[-1][1]:
        before = [r[0][name] for r in rounds if name in r[0]]
        after = [r[1][name] for r in rounds]
        rows.append({"what": name, "before_ms": min(before) * 1000 if before else None,
                     "after_ms": min(after) * 1000})
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"sandbox cost per run, {base} vs this checkout (best of 2 medians of {RUNS}; load {load:.1f})")
    for row in rows:
        before = f"{row['before_ms']:8.0f} ms" if row["before_ms"] is not None else "       -   "
        ratio = f"{row['after_ms'] / row['before_ms']:.2f}x" if row["before_ms"] else ""
        print(f"  {row['what']:<30} before {before}   after {row['after_ms']:8.1f} ms   {ratio}")
    return rows


if __name__ == "__main__":
    main(*sys.argv[1:2])
