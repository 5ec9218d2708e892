"""The class hub (hub/jupyterhub_config.py): a real JupyterHub with configurable-http-proxy, two students.

The hub starts on loopback with the "simple" local spawner (every student as this user, homes in a temporary
folder, a shared password), the course's environment as each student's server and the prepared model cache
shared. Two students log in through the login page in Chromium, and each runs notebooks 00 and 08 top to bottom
in their own server: no error, the notebooks copied into their home. Each student's peak memory (their server
and kernels) and CPU seconds are printed and written to artifacts/hub_students.json for docs/class_hub.md.
Needs ``configurable-http-proxy`` (npm; .ci/run installs it) and Chromium; DEEPCODER_REQUIRE_HUB=1 makes a
missing one a failure instead of a skip.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import psutil
import pytest

from browser_utils import (ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, error_outputs, free_port, require_browser,
                           run_all_cells, screenshot, wait_answering, wait_kernel_idle)
from notebook_utils import ROOT, Sampler, has_tag, offline_env, tree_usage

pytestmark = [pytest.mark.slow, pytest.mark.browser]
STUDENTS = ("alice", "bob")
NOTEBOOKS = ("00_start_here.ipynb", "08_sampling_in_practice.ipynb")


def require_proxy() -> str:
    proxy = shutil.which("configurable-http-proxy")
    if proxy is None:
        message = "configurable-http-proxy not found (npm install -g configurable-http-proxy@5.3.0)"
        if os.environ.get("DEEPCODER_REQUIRE_HUB") == "1":
            pytest.fail(message + "; DEEPCODER_REQUIRE_HUB=1 says the hub test must run")
        pytest.skip(message)
    return proxy


class StudentUsage(Sampler):
    """Peak RSS and CPU seconds of each student's server and its children, sampled every 0.5 s."""

    def __init__(self, homes: Path):
        super().__init__(0.5)
        self.homes, self.peak, self.cpu = homes, {}, {}

    def _owner(self, proc) -> str | None:
        with contextlib.suppress(psutil.Error):
            if "jupyterhub-singleuser" in " ".join(proc.cmdline()):
                cwd = Path(proc.cwd())
                if self.homes in cwd.parents:
                    return cwd.relative_to(self.homes).parts[0]
        return None

    def sample(self) -> None:
        for proc in psutil.process_iter():
            student = self._owner(proc)
            if student is not None:
                rss, cpu = tree_usage(proc)
                self.peak[student] = max(self.peak.get(student, 0), rss)
                self.cpu[student] = max(self.cpu.get(student, 0.0), cpu)


@contextlib.contextmanager
def class_hub(tmp: Path, password: str):
    port = free_port()
    env = offline_env()
    env.update(DEEPCODER_HUB_SPAWNER="simple", DEEPCODER_HUB_HOMES=str(tmp / "homes"), DEEPCODER_HUB_PASSWORD=password,
               DEEPCODER_HUB_IP="127.0.0.1", DEEPCODER_HUB_PORT=str(port), DEEPCODER_VENV=sys.prefix,
               DEEPCODER_CACHE=str(_cache_dir()), DEEPCODER_COURSE=str(ROOT))
    state = tmp / "state"
    state.mkdir()
    command = [sys.executable, "-m", "jupyterhub", "-f", str(ROOT / "hub" / "jupyterhub_config.py"),
               f"--JupyterHub.hub_port={free_port()}",
               f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{free_port()}"]
    log = tmp / "hub.log"
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=state, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_answering(f"http://127.0.0.1:{port}/hub/api", process, log)
        yield f"http://127.0.0.1:{port}", log
    finally:
        try:  # the hub stops every student's server on its way out; a server still starting may outlive it
            spawned = psutil.Process(process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            spawned = []
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
        for child in spawned:  # so nothing a failed run started keeps running after the test
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        shutil.copy(log, ARTIFACTS / "hub.log") if ARTIFACTS.is_dir() else None


def _cache_dir() -> Path:
    from deepcoder_lib import prepare
    prepare.prepare(progress=False)
    return prepare.cache_dir()


def _tagged_errors(name: str) -> int:
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    return sum(has_tag(cell, "raises-exception") for cell in nb.cells)


def run_as_student(browser, base: str, student: str, password: str) -> list[str]:
    """Log in, open each notebook, Run All; return the notebooks whose errors a learner would see."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    problems = []
    try:
        page.goto(f"{base}/hub/login", wait_until="domcontentloaded")
        page.fill("input[name=username]", student)
        page.fill("input[name=password]", password)
        page.click("input[type=submit], button[type=submit]")
        page.wait_for_url(re.compile(rf"/user/{student}/lab"), timeout=240_000)  # the server's first start
        for name in NOTEBOOKS:
            page.goto(f"{base}/user/{student}/lab/tree/{name}?reset", wait_until="domcontentloaded")
            page.locator(".jp-Notebook").first.wait_for(state="visible", timeout=120_000)
            wait_kernel_idle(page, 180_000)
            run_all_cells(page, timeout_ms=600_000)
            errors = error_outputs(page)  # stderr outputs; cells tagged raises-exception show one on purpose
            if len(errors) > _tagged_errors(name):
                problems.append(f"{student} {name}: {len(errors)} error outputs: " + " | ".join(e[:300] for e in errors))
            page.get_by_role("menuitem", name="Kernel", exact=True).click()
            page.get_by_text("Shut Down Kernel", exact=True).click()  # as each notebook's "Next" asks
        screenshot(page, f"hub_{student}")
    finally:
        context.close()
    return problems


def test_two_students_run_notebooks_in_their_own_servers(tmp_path, capsys):
    require_proxy()
    require_browser()
    from playwright.sync_api import sync_playwright
    ARTIFACTS.mkdir(exist_ok=True)
    password = secrets.token_hex(8)
    homes = tmp_path / "homes"
    with class_hub(tmp_path, password) as (base, log), StudentUsage(homes) as usage, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            problems = [problem for student in STUDENTS for problem in run_as_student(browser, base, student, password)]
        finally:
            browser.close()
    assert not problems, "\n".join(problems)
    for student in STUDENTS:
        copied = sorted(p.name for p in (homes / student / "deepcoder").glob("*.ipynb"))
        assert set(NOTEBOOKS) <= set(copied), copied
    assert set(usage.peak) == set(STUDENTS), f"no server process seen for {set(STUDENTS) - set(usage.peak)}"
    figures = {s: {"peak_rss_mib": round(usage.peak[s] / 2**20), "cpu_seconds": round(usage.cpu[s], 1)}
               for s in STUDENTS}
    (ARTIFACTS / "hub_students.json").write_text(json.dumps(figures, indent=1) + "\n")
    with capsys.disabled():
        print(f"\n[hub] per student (server + kernels, notebooks 00 and 08): {figures}")
