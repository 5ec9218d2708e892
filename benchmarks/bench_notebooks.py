"""Whole-course execution time: every notebook top to bottom in a fresh kernel, offline.

This is what a class waits for when a teacher runs each notebook once before the lesson, and
what CI spends on ``tests/test_notebooks.py``. Unlike the other benchmarks it takes several
minutes (it *is* the course); pass notebook numbers to time only some:
``.venv/bin/python benchmarks/bench_notebooks.py 01 08``. The "lesson min" column is the planning
estimate of ``notebook_utils.lesson_minutes`` (reading at 100 words/min, 1.5 min per code cell, 5 min per exercise
cell, plus the run time), not a measurement; ``tests/test_notebook_hygiene.py`` holds every notebook to 45 minutes.
"""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from notebook_utils import (budget_for, course_notebooks, execute_notebook, learner_visible_warnings,  # noqa: E402
                            lesson_minutes, notebook_number)
from server_utils import server_environment  # noqa: E402


def main(numbers: list[str] | None = None) -> list[dict]:
    rows = []
    for path in course_notebooks():
        if numbers and notebook_number(path) not in numbers:
            continue
        with contextlib.ExitStack() as stack:
            if path.name.endswith("_shared_server.ipynb") and not os.environ.get("DEEPCODER_SERVER"):
                stack.enter_context(server_environment())  # it talks to a server: llama.cpp's, on loopback
            run = execute_notebook(path, raise_on_error=False)
        status = ("error: " + type(run.error).__name__ if run.error
                  else "warnings" if learner_visible_warnings(run.nb, run.widget_state) else "ok")
        rows.append({"notebook": path.name, "seconds": round(run.seconds, 1), "code_cells": run.code_cells,
                     "cells": len(run.nb.cells), "lesson_min": round(lesson_minutes(run.nb, run.seconds)),
                     "budget_s": budget_for(path), "status": status})
    rows.append({"notebook": "whole course", "seconds": round(sum(r["seconds"] for r in rows), 1),
                 "code_cells": sum(r["code_cells"] for r in rows), "budget_s": sum(r["budget_s"] for r in rows),
                 "cells": sum(r["cells"] for r in rows), "lesson_min": sum(r["lesson_min"] for r in rows),
                 "status": "ok" if all(r["status"] == "ok" for r in rows) else "see above"})
    return rows


def print_table(rows: list[dict]) -> None:
    print(f"{'notebook':<40} {'seconds':>8} {'cells':>6} {'code':>5} {'lesson min':>10} {'budget':>7}  status")
    for r in rows:
        print(f"{r['notebook']:<40} {r['seconds']:>8.1f} {r['cells']:>6} {r['code_cells']:>5} {r['lesson_min']:>10} "
              f"{r['budget_s']:>7}  {r['status']}")


if __name__ == "__main__":
    print_table(main(sys.argv[1:] or None))
