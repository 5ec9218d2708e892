"""``make lab`` / ``python -m deepcoder_lib lab``: JupyterLab with the course's configuration (launch.py).

What an 8 GB laptop needs from it: a memory indicator (jupyter-resource-usage) and idle kernels shut down.
The browser test of the indicator is in ``test_browser_lab.py``; this file checks the command, the
configuration file and, on a real server, that both are in force.
"""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
import urllib.request

import pytest

from browser_utils import free_port, wait_answering
from deepcoder_lib import launch
from notebook_utils import ROOT, offline_env

CONFIG = json.loads(launch.CONFIG.read_text())


def test_lab_command_uses_the_course_configuration():
    command = launch.lab_command()
    assert f"--config={launch.CONFIG}" in command and command[-1] == launch.FIRST_NOTEBOOK
    assert (ROOT / launch.FIRST_NOTEBOOK).is_file()
    assert ("--allow-root" in command) is (os.geteuid() == 0)


def test_configuration_culls_idle_kernels_and_shows_memory():
    culling = CONFIG["MappingKernelManager"]
    assert culling["cull_idle_timeout"] == launch.IDLE_KERNEL_MINUTES * 60
    assert culling["cull_connected"] is True and culling["cull_busy"] is False  # a running cell is never culled
    assert CONFIG["ServerApp"]["jpserver_extensions"]["jupyter_resource_usage"] is True
    assert "jupyter-resource-usage==" in (ROOT / "requirements.txt").read_text()
    # its Prometheus feed measures each process's CPU for 50 ms (psutil's interval) once a second on the server's
    # event loop: with two kernels open the server stopped relaying widget messages for 150-210 ms every second
    assert CONFIG["ResourceUseDisplay"]["enable_prometheus_metrics"] is False
    assert CONFIG["ResourceUseDisplay"]["track_cpu_percent"] is True  # the status bar's CPU (another handler)


def _get(port: int, token: str, path: str):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/{path}?token={token}", timeout=5) as r:
        return json.load(r)


@pytest.mark.slow
def test_a_real_lab_reports_memory_and_culls_an_idle_kernel(tmp_path):
    """Started as `make lab` starts it (only the cull timeout shortened): the metrics answer, the server logs
    the course's cull settings, and an idle kernel disappears."""
    port, token = free_port(), secrets.token_hex(8)
    log = tmp_path / "lab.log"
    env = offline_env()
    env.update(JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "ws"))
    command = launch.lab_command(launch.FIRST_NOTEBOOK, "--no-browser", "--ip=127.0.0.1", f"--port={port}",
                                 f"--IdentityProvider.token={token}", "--ServerApp.port_retries=0",
                                 # only the cull timeout is shortened: the rest comes from the course's file
                                 "--MappingKernelManager.cull_idle_timeout=3", "--MappingKernelManager.cull_interval=1")
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_answering(f"http://127.0.0.1:{port}/api/status?token={token}", process, log)
        metrics = _get(port, token, "metrics/v1")
        assert metrics["rss"] > 0, metrics
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/kernels?token={token}", data=b"{}",
                                         method="POST", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as r:
            kernel = json.load(r)["id"]
        deadline = time.monotonic() + 90
        while kernel in [k["id"] for k in _get(port, token, "kernels")]:
            assert time.monotonic() < deadline, "the idle kernel was not culled:\n" + log.read_text()[-3000:]
            time.sleep(0.5)
        text = log.read_text()
        assert "Culling kernels with idle durations > 3 seconds" in text, text[-3000:]
        assert "jupyter_resource_usage" in text, text[-3000:]
        assert "Prometheus metrics reporting disabled in jupyter_resource_usage" in text, text[-3000:]
        assert "cpu_percent" in metrics, metrics  # CPU still shown, from the status bar's own handler
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
