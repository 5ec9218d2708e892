"""Drive a real JupyterLab in headless Debian Chromium (Playwright's Python package, no bundled browser).

``jupyterlab(root)`` starts a server on loopback over a *temporary copy* of the notebooks, with
temporary settings (news and update pop-ups off, every cell kept in the DOM) and workspaces, so
that a run leaves nothing behind and never depends on what a person did in their own JupyterLab.
``open_notebook`` waits for the status bar to say the kernel is idle: the toolbar says "idle"
earlier, and a Run All sent then is lost. ``time_until_changed`` measures, inside the page, how
long an action takes to change what a person sees in an element (img src, svg, canvas pixels).
``wait_painted`` waits for a canvas (ipympl's figure) to show its first picture.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from notebook_utils import ROOT, offline_env

CHROMIUM = Path(os.environ.get("DEEPCODER_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
ARTIFACTS = ROOT / "artifacts"
IDLE_TEXT = "Python 3 (ipykernel) | Idle"
SETTINGS = {  # JupyterLab user settings written into the temporary settings dir
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def require_browser() -> None:
    """Skip when Chromium is missing, unless DEEPCODER_REQUIRE_BROWSER=1 (CI), then fail."""
    problem = None
    if not CHROMIUM.is_file():
        problem = f"{CHROMIUM} not found (install it with: apt-get install -y chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright Python package is not installed"
    if problem and os.environ.get("DEEPCODER_REQUIRE_BROWSER") == "1":
        pytest.fail(problem + "; DEEPCODER_REQUIRE_BROWSER=1 says the browser test must run")
    if problem:
        pytest.skip(problem)


def wait_answering(url: str, process: subprocess.Popen, log: Path, timeout: float = 180.0) -> None:
    """Wait until ``url`` answers HTTP (any status); fail with the log's tail if ``process`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            urllib.request.urlopen(url, timeout=5)
            return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer within {timeout:.0f} s:\n{log.read_text()[-4000:]}")
            time.sleep(0.3)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A running JupyterLab server: ``url(name)`` opens a notebook in a fresh workspace."""

    def __init__(self, root: Path, port: int, token: str, process: subprocess.Popen, log: Path,
                 runtime_dir: Path | None = None):
        self.root, self.port, self.token, self.process, self.log = root, port, token, process, log
        self.runtime_dir = runtime_dir  # where the kernels' connection files are (kernel_client)

    def url(self, notebook: str) -> str:
        return f"http://127.0.0.1:{self.port}/lab/tree/{notebook}?reset&token={self.token}"

    def api(self, path: str):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/{path}?token={self.token}", timeout=5) as r:
            return json.load(r)

    @contextlib.contextmanager
    def kernel_client(self, notebook: str):
        """A second client of the kernel running ``notebook`` (as a console attached to it would be), to read
        what the kernel holds while the page shows it."""
        import jupyter_client
        kernel_id = next(s["kernel"]["id"] for s in self.api("sessions") if s["path"].endswith(notebook))
        client = jupyter_client.BlockingKernelClient(connection_file=str(self.runtime_dir / f"kernel-{kernel_id}.json"))
        client.load_connection_file()
        client.start_channels()
        try:
            yield client
        finally:
            client.stop_channels()


@contextlib.contextmanager
def jupyterlab(root: Path, *, start_timeout: float = 180.0,  # ~3.5 s quiet; minutes under heavy load
               windowing: str = "none"):
    """Start ``python -m jupyterlab`` serving ``root`` on loopback; stop it (and its kernels) on exit.

    ``windowing``: JupyterLab's notebook windowing mode; "none" keeps every cell rendered, "contentVisibility"
    is what a person's JupyterLab 4.6 uses unless they change it."""
    tmp = Path(tempfile.mkdtemp(prefix="deepcoder-lab-"))
    settings = tmp / "settings"
    chosen = {**SETTINGS, "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": windowing}}
    for name, value in chosen.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(value))
    env = offline_env()
    env.update(JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
               JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), JUPYTER_CONFIG_DIR=str(tmp / "config"))
    port, token = free_port(), secrets.token_hex(16)
    from deepcoder_lib import launch  # the course's own server configuration, as `make lab` uses it
    cmd = [sys.executable, "-m", "jupyterlab", f"--config={launch.CONFIG}", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--ServerApp.port_retries=0"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / "jupyterlab.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(cmd, env=env, stdout=log_file, stderr=subprocess.STDOUT, cwd=root)
    lab = Lab(root, port, token, process, log, runtime_dir=tmp / "runtime")
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(OSError):
                lab.api("status")
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"JupyterLab did not answer within {start_timeout} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield lab
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def chromium_page(width: int = 1400, height: int = 1000):
    """A Playwright page in headless Debian Chromium; never downloads a browser of its own."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()


def wait_kernel_idle(page, timeout_ms: int = 120_000) -> None:
    """Wait for the status bar (not the toolbar) to read 'Python 3 (ipykernel) | Idle'."""
    page.get_by_text(IDLE_TEXT, exact=True).first.wait_for(state="visible", timeout=timeout_ms)


def open_notebook(page, lab: Lab, name: str) -> float:
    """Open ``name``; return seconds from navigation to an idle kernel."""
    start = time.perf_counter()
    page.goto(lab.url(name), wait_until="domcontentloaded")
    page.locator(".jp-Notebook").first.wait_for(state="visible", timeout=60_000)
    wait_kernel_idle(page)
    return time.perf_counter() - start


def run_all_cells(page, *, done_selector: str | None = None, timeout_ms: int = 300_000) -> float:
    """Run > Run All Cells; wait until the kernel is idle again (and ``done_selector`` is visible)."""
    start = time.perf_counter()
    started = ("() => [...document.querySelectorAll('.jp-InputArea-prompt')]"
               ".some(p => /\\*|\\d/.test(p.textContent))")
    for attempt in range(2):  # a Run All sent while the kernel is still settling can be lost: send it again
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_text("Run All Cells", exact=True).click()
        try:
            page.wait_for_function(started, timeout=60_000)
            break
        except Exception:
            if attempt:
                raise
            wait_kernel_idle(page)
    # the kernel goes busy at once; wait for the busy state to pass rather than reading a stale "Idle"
    with contextlib.suppress(Exception):
        page.get_by_text("Python 3 (ipykernel) | Busy", exact=True).first.wait_for(state="visible", timeout=10_000)
    if done_selector:
        page.locator(done_selector).first.wait_for(state="visible", timeout=timeout_ms)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-InputArea-prompt')].every(p => !p.textContent.includes('*'))",
        timeout=timeout_ms)
    wait_kernel_idle(page, timeout_ms)
    return time.perf_counter() - start


def error_outputs(page) -> list[str]:
    """Texts of error tracebacks shown in the notebook."""
    return page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts()


CANVAS_PIXELS_JS = """el => { const c = el.querySelector('canvas'); const ctx = c.getContext('2d');
  const bytes = ctx.getImageData(0, 0, c.width, c.height).data; let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return [c.width, c.height, btoa(text)]; }"""


def canvas_pixels(target):
    """The RGBA pixels of the first canvas inside ``target``, as painted in the page: (height, width, 4) uint8."""
    import base64

    import numpy as np
    width, height, data = target.evaluate(CANVAS_PIXELS_JS)
    return np.frombuffer(base64.b64decode(data), np.uint8).reshape(height, width, 4)


# A canvas is compared by its pixels: a hash of getImageData, ~1-2 ms for the explorer's chart, where
# toDataURL (a PNG encode) would take longer than the change it times and compete with the page for the CPU.
CANVAS_HASH_JS = """c => { try {
  const ctx = c.getContext('2d'); if (!ctx || !c.width || !c.height) return '';
  const words = new Uint32Array(ctx.getImageData(0, 0, c.width, c.height).data.buffer);
  let h = 0x811c9dc5;
  for (let i = 0; i < words.length; i++) { h = Math.imul(h ^ words[i], 16777619); }
  return c.width + 'x' + c.height + ':' + (h >>> 0).toString(16);
} catch (e) { return ''; } }"""

FINGERPRINT_JS = """el => {
  const hash = """ + CANVAS_HASH_JS + """;
  return el.innerHTML + [...el.querySelectorAll('canvas')].map(hash).join('|');
}"""

PAINTED_JS = """el => [...el.querySelectorAll('canvas')].some(c => { try {
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  for (let i = 0; i < d.length; i += 4) { if (d[i + 3] && (d[i] < 200 || d[i + 1] < 200)) return true; }
  return false; } catch (e) { return false; } })"""

# Both watchers time from the key press's own event (``t0``), once it comes, not from before Playwright's round trip
# to send it; an action that sends no key is timed from the start. Each removes ``onKey`` when it is done.
KEY_TIME_JS = """  let t0 = performance.now();
  const onKey = event => { t0 = event.timeStamp; window.removeEventListener('keydown', onKey, true); };
  window.addEventListener('keydown', onKey, true);
"""
WATCH_JS = """([el, timeoutMs]) => { window.__deepcoderWatch = new Promise(resolve => {
  const fp = """ + FINGERPRINT_JS + """;
  const before = fp(el);
""" + KEY_TIME_JS + """  const check = () => {
    const now = fp(el);
    const shown = el.querySelector('img[src], svg, canvas, span, pre') !== null;
    if (now !== before && shown) { done(performance.now() - t0); }
  };
  const obs = new MutationObserver(check);
  const timer = setInterval(check, 5);
  const limit = setTimeout(() => done(null), timeoutMs);
  function done(ms) { obs.disconnect(); clearInterval(timer); clearTimeout(limit);
                      window.removeEventListener('keydown', onKey, true); resolve(ms); }
  obs.observe(el, {subtree: true, childList: true, attributes: true, characterData: true});
}); }"""


# A canvas chart is timed by its paint, not by polling its pixels: hashing a 750x575 canvas every few ms
# keeps the page's main thread busy and delays the very frame it waits for (measured 2026-12-02 on a quiet
# 2-core VM: ~400 ms median with polling, ~70 ms with this hook, for the same key presses). The hook wraps
# drawImage/putImageData for the canvases inside the target, resolves at the first paint after the action
# and the next animation frame (when the browser shows it), then restores the originals.
PAINT_WATCH_JS = """([el, timeoutMs]) => { window.__deepcoderWatch = new Promise(resolve => {
  const canvases = new Set(el.querySelectorAll('canvas'));
  const proto = CanvasRenderingContext2D.prototype;
  const drawImage = proto.drawImage, putImageData = proto.putImageData;
  const send = WebSocket.prototype.send, objectURL = URL.createObjectURL;
""" + KEY_TIME_JS + """  const steps = window.__deepcoderSteps = {};  // when the message left, the frame came, the canvas was painted
  window.__deepcoderKeyAt = () => performance.timeOrigin + t0;  // the key press on the wall clock (ms since 1970)
  WebSocket.prototype.send = function (...args) { steps.sent ??= performance.now() - t0; return send.apply(this, args); };
  URL.createObjectURL = function (...args) { steps.frame ??= performance.now() - t0; return objectURL.apply(this, args); };
  // ipympl 0.10 re-encodes its whole canvas as a PNG data URL on every frame it receives: time spent there
  const toDataURL = HTMLCanvasElement.prototype.toDataURL;
  HTMLCanvasElement.prototype.toDataURL = function (...args) {
    const t = performance.now(), r = toDataURL.apply(this, args);
    steps.toDataURL = (steps.toDataURL ?? 0) + performance.now() - t; return r; };
  let fired = false;
  const restore = () => { proto.drawImage = drawImage; proto.putImageData = putImageData;
                          WebSocket.prototype.send = send; URL.createObjectURL = objectURL;
                          HTMLCanvasElement.prototype.toDataURL = toDataURL;
                          window.removeEventListener('keydown', onKey, true); };
  const limit = setTimeout(() => { restore(); resolve(null); }, timeoutMs);
  const hit = ctx => {
    if (fired || !canvases.has(ctx.canvas)) return;
    fired = true; clearTimeout(limit); restore();
    steps.drawn = performance.now() - t0;
    requestAnimationFrame(() => resolve(performance.now() - t0));
  };
  proto.drawImage = function (...args) { const r = drawImage.apply(this, args); hit(this); return r; };
  proto.putImageData = function (...args) { const r = putImageData.apply(this, args); hit(this); return r; };
}); }"""


def time_until_painted(page, target, action, timeout_ms: int = 15_000) -> float | None:
    """Run ``action()`` and return the milliseconds, timed in the page from the key press ``action`` sends (or
    from the start, if it sends none), until a canvas inside ``target`` is painted (drawImage or putImageData)
    and the next frame is shown; None if nothing was painted. ``paint_steps(page)`` then says when, after the
    key press, the first message left for the kernel, a frame arrived (ipympl made its image URL) and the canvas
    was painted.
    The caller checks that the pixels differ afterwards (``fingerprint``), once, outside the timing."""
    page.evaluate(PAINT_WATCH_JS, [target.element_handle(), timeout_ms])
    action()
    return page.evaluate("() => window.__deepcoderWatch")


def paint_steps(page) -> dict:
    """Milliseconds from the last timed key press to: ``sent`` (a message left), ``frame``, ``drawn``; and
    ``toDataURL``: the milliseconds spent in between re-encoding canvases as data URLs (ipympl does, per frame);
    ``key_at``: when the key was pressed, in milliseconds since 1970 (the kernel's clock on the same machine)."""
    return page.evaluate("() => ({...(window.__deepcoderSteps || {}), key_at: window.__deepcoderKeyAt?.()})")


def time_until_changed(page, target, action, timeout_ms: int = 15_000) -> float | None:
    """Run ``action()`` and return the milliseconds, timed in the page from the key press ``action`` sends (or
    from the start, if it sends none), until ``target``'s content differs from before and shows something (an
    image, svg, canvas or text); None if it never did."""
    page.evaluate(WATCH_JS, [target.element_handle(), timeout_ms])  # stores the Promise, returns at once
    action()
    return page.evaluate("() => window.__deepcoderWatch")


def fingerprint(target) -> str:
    """What ``target`` shows: its HTML plus a hash of the pixels of each canvas in it."""
    return target.evaluate(FINGERPRINT_JS)


def wait_painted(page, target, timeout_ms: int = 60_000) -> None:
    """Wait until a canvas inside ``target`` shows something darker than the background (a drawn chart)."""
    page.wait_for_function(f"el => ({PAINTED_JS})(el)", arg=target.element_handle(), timeout=timeout_ms)


def screenshot(page, name: str, target=None) -> Path:
    """Save ``artifacts/<name>.png`` (the whole page, or just ``target``); return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    (target or page).screenshot(path=str(path))
    return path
