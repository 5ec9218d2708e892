"""Open the course: ``python -m deepcoder_lib lab`` (what ``make lab`` runs).

It prepares the embedded model on first use (``prepare.py``), then starts JupyterLab on notebook 00 with
the course's own server configuration (``data/jupyter_server_config.json``), which matters on an 8 GB laptop:
  * a memory indicator in the status bar (the ``jupyter-resource-usage`` extension: the server and every
    kernel it started, refreshed every few seconds; it turns red when less than 15% of the limit is left,
    where a limit is set, e.g. by a JupyterHub). Its Prometheus feed is off (``enable_prometheus_metrics``):
    with CPU tracking on, that feed measured each process's CPU for 50 ms, one after the other, once a second
    on the server's own event loop, so every widget message waited up to 50 ms per open kernel plus 50 ms
    (measured 2026-12-08: the server stalled 150-210 ms each second with two kernels). The status bar's
    numbers come from another handler, not from that feed;
  * kernels idle for 30 minutes are shut down (``cull_idle_timeout``), even with their tab open: each course
    kernel holds about 1 GiB once the model is loaded, and a learner who followed six "Next" links would
    otherwise keep six. A culled kernel's notebook stays open; Run All brings it back.
``doctor.py`` checks the machine; ``prepare.py`` builds the model folder; this module only starts the lab.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = Path(__file__).resolve().parent / "data" / "jupyter_server_config.json"
FIRST_NOTEBOOK = "notebooks/00_start_here.ipynb"
IDLE_KERNEL_MINUTES = 30  # the cull_idle_timeout of CONFIG, in minutes (a test keeps the two equal)


def lab_command(notebook: str = FIRST_NOTEBOOK, *extra: str) -> list[str]:
    """The command that opens JupyterLab on ``notebook`` with the course's configuration."""
    command = [sys.executable, "-m", "jupyterlab", f"--config={CONFIG}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # JupyterLab refuses root (containers, cloud VMs) unless told
    return [*command, *extra, notebook]


def main(argv: list[str] | None = None) -> int:
    from . import prepare
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        print(f"embedded model ready: {prepare.prepare()}")
    except prepare.ModelNotInstalledError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    command = lab_command(FIRST_NOTEBOOK, *argv)
    if "--allow-root" in command:
        print("running as root: JupyterLab starts with --allow-root")
    print(f"idle kernels are shut down after {IDLE_KERNEL_MINUTES} minutes (the memory indicator is in the status bar)")
    return subprocess.call(command, cwd=ROOT)
