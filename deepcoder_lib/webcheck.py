"""Check a model-written Flask app or HTML+JavaScript page by calling it as a user would, the app in the sandbox.

The task states the interface (route, parameter names, where the answer goes) and the check holds
the app to it, for two or more inputs whose answers differ, so neither a guessed name nor a
hard-coded answer decides the verdict. The app runs in ONE ``sandbox.run_code`` for the whole
check, serving real HTTP on a Unix socket the checker created and handed in (the sandbox still has
no network); ``app.run()`` is skipped. The checker, outside, sends the requests and judges the
answers it received: what the app answered is all that counts, so nothing the app prints or forges
in its own process can pass for a verdict. ``check_flask_app`` calls ``GET route?name=value`` once
per input; each answer must be a JSON object whose ``key`` holds one number. ``check_html_page``
needs the page at ``route`` served as ``text/html`` and, where Chromium is installed, opens it
headless, types each input into the ``<input>`` of that id, clicks the first button and reads the
one number a person SEES in the element ``output_id`` (rendered text: hidden, transparent,
zero-sized or off-page text does not count; two elements with that id fail). The page's requests to
its own origin go to the app; every other request is aborted, and Chromium itself runs in a network
namespace of its own (bubblewrap) with nothing but an empty loopback, so WebRTC and WebSockets
reach nothing. The whole check has one time budget; an app that loops, a page that never settles
or a browser that stalls ends as a failing ``WebCheck`` with the reason, never as an exception.
Without a browser an HTML answer is *unchecked*, not passed. ``evaluation.py`` holds the task suite.
"""
from __future__ import annotations

import concurrent.futures
import http.client
import json
import math
import os
import re
import select
import shutil
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

from .sandbox import RunResult, run_code
from .sandbox.bwrap import probe as bwrap_probe

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage",
                 # belt and braces where no network namespace can be made: no WebRTC over UDP, no proxy bypass
                 "--force-webrtc-ip-handling-policy=disable_non_proxied_udp", "--webrtc-ip-handling-policy="
                 "disable_non_proxied_udp", "--proxy-server=socks5://255.255.255.255:1", "--proxy-bypass-list=<-loopback>"]
ORIGIN = "http://deepcoder.check"
MAX_BODY = 1 << 20  # bytes of one answer the checker reads
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|-?\.\d+")
_ERROR_MARK = "DEEPCODER-APP "

# Runs in the sandbox as main.py next to app.py: load the app as `python app.py` would (app.run() skipped),
# then serve it on the listening socket the checker passed in (file descriptor argv[1]). What it prints
# to stderr after _ERROR_MARK only words failure messages; the verdict comes from the HTTP answers.
_HARNESS = r'''
import json, sys, traceback
import flask
from werkzeug.serving import make_server
flask.Flask.run = lambda self, *a, **k: print("(app.run() was skipped by the checker)", file=sys.stderr)
ns = {"__name__": "__main__", "__file__": "app.py"}
try:
    exec(compile(open("app.py").read(), "app.py", "exec"), ns)
except BaseException:
    sys.stderr.write("\nDEEPCODER-APP " + json.dumps({"error": "the code raised while loading:\n"
                                                        + traceback.format_exc(limit=-3)}) + "\n")
    sys.exit(3)
apps = [v for v in list(ns.values()) if isinstance(v, flask.Flask)]
if not apps and callable(ns.get("create_app")):
    apps = [ns["create_app"]()]
if not apps:
    sys.stderr.write("\nDEEPCODER-APP " + json.dumps({"error": "no Flask app: the code never creates flask.Flask(...)"}) + "\n")
    sys.exit(4)
routes = [f"{sorted(r.methods - {'HEAD', 'OPTIONS'})} {r.rule}" for r in apps[0].url_map.iter_rules() if r.endpoint != "static"]
sys.stderr.write("\nDEEPCODER-APP " + json.dumps({"routes": routes}) + "\n")
sys.stderr.flush()
make_server("unix:///tmp/app.sock", 0, apps[0], threaded=True, fd=int(sys.argv[1])).serve_forever()
'''


@dataclass
class WebCheck:
    """The verdict on a web answer: ``ok``, a ``message`` for people, and what was tried."""
    ok: bool
    message: str
    routes: list[str] = field(default_factory=list)
    calls: list[dict] = field(default_factory=list)
    run: RunResult | None = None
    unchecked: bool = False  # the page could not be run (no browser): neither a pass nor a fail

    def __str__(self) -> str:
        return ("PASS: " if self.ok else "UNCHECKED: " if self.unchecked else "FAIL: ") + self.message


def numbers_in(text: str) -> list[float]:
    """The numbers written in a text (HTML tags removed), in order: "Area: 28.27" -> [28.27]."""
    return [float(x) for x in _NUMBER.findall(re.sub(r"<[^>]*>", " ", text or ""))]


def one_number(value) -> tuple[float | None, str]:
    """(the number, "") when ``value`` is one number (a JSON number or a text holding exactly one),
    else (None, why not)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value), ""
    if isinstance(value, str):
        found = numbers_in(value)
        if len(found) == 1:
            return found[0], ""
        return None, (f"no number in {value[:60]!r}" if not found else
                      f"{len(found)} numbers ({', '.join(f'{x:g}' for x in found[:4])}, ...), not one")
    kind = f"a list of {len(value)} values" if isinstance(value, list) else type(value).__name__
    return None, f"{kind}, not one number"


def _close(value: float, expected: float, rel_tol: float) -> bool:
    return math.isclose(value, expected, rel_tol=rel_tol, abs_tol=1e-9)


def _cases(inputs, expected, what: str) -> list[tuple[dict, float]]:
    """Check the inputs/expected pair and return them as cases; a learner's mistake is a ValueError."""
    if (not isinstance(inputs, list) or len(inputs) < 2
            or not all(isinstance(i, dict) and i and all(isinstance(k, str) for k in i) for i in inputs)):
        raise ValueError(f"`inputs` must be a list of at least two dicts of {what}, such as "
                         f"[{{'r': 3.0}}, {{'r': 1.5}}], got {inputs!r}: one input lets a hard-coded answer pass")
    if (not isinstance(expected, list) or len(expected) != len(inputs)
            or not all(isinstance(e, (int, float)) and not isinstance(e, bool) for e in expected)):
        raise ValueError(f"`expected` must be a list of {len(inputs)} numbers, one per input, got {expected!r}")
    if len(set(expected)) < 2:
        raise ValueError(f"`expected` must hold at least two different answers, got {expected!r}; "
                         "choose inputs whose answers differ")
    return list(zip(inputs, map(float, expected)))


class _App:
    """The answer's app, serving in one sandbox run for the whole check; ``call`` sends it one HTTP request.

    The listening Unix socket is made here and handed in as an open file (the sandbox has no network
    and no folder shared with this side); ``call`` waits at most until the check's ``deadline``.
    """

    def __init__(self, code: str, budget: float):
        self.folder = tempfile.mkdtemp(prefix="deepcoder-app-")
        self.path = os.path.join(self.folder, "app.sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(16)
        self.budget, self.deadline, self.stop, self.run = budget, time.monotonic() + budget, threading.Event(), None
        fd = self.listener.fileno()
        self.thread = threading.Thread(target=self._serve, args=(code, fd, budget), daemon=True)
        self.thread.start()

    def _serve(self, code: str, fd: int, budget: float) -> None:
        self.run = run_code(_HARNESS, files={"app.py": code}, args=(str(fd),), pass_fds=(fd,), timeout=budget,
                            stop=self.stop)

    def alive(self) -> bool:
        return self.thread.is_alive()

    def call(self, method: str, url: str, body: bytes = b"", headers: dict | None = None) -> dict:
        """{"status", "type", "body"} of the app's answer, or {"status": None, "why": ...} if none came in time."""
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.connect(self.path)
            head = {"Host": "deepcoder.check", "Connection": "close", "Content-Length": str(len(body)),
                    **{k: v for k, v in (headers or {}).items() if k.lower() not in ("host", "connection",
                                                                                    "content-length")}}
            request = f"{method} {url} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in head.items()) + "\r\n"
            conn.sendall(request.encode("latin-1", "replace") + body)
            while not select.select([conn], [], [], 0.05)[0]:  # the app answers, ends, or the budget ends
                if not self.alive():
                    return {"status": None, "why": "the app's process ended before it answered"}
                if time.monotonic() > self.deadline:
                    return {"status": None, "why": "no answer within the check's time budget (an endless handler?)"}
            conn.settimeout(max(0.1, self.deadline - time.monotonic()))
            answer = http.client.HTTPResponse(conn, method=method)
            answer.begin()
            data = answer.read(MAX_BODY)
            return {"status": answer.status, "type": answer.getheader("Content-Type", ""),
                    "location": answer.getheader("Location", ""), "body": data.decode("utf-8", "replace"), "raw": data}
        except (OSError, http.client.HTTPException) as error:
            return {"status": None, "why": f"the app sent no valid HTTP answer ({type(error).__name__}: {error})"}
        finally:
            conn.close()

    def get(self, url: str) -> dict:
        """GET ``url``, following up to 5 redirects within the app, as a browser or ``requests`` would."""
        for _ in range(6):
            answer = self.call("GET", url)
            location = answer.get("location", "")
            if answer["status"] not in (301, 302, 303, 307, 308) or not location:
                break
            url = location.split("://", 1)[-1].partition("/")[1:] if "://" in location else location
            url = "".join(url) if isinstance(url, tuple) else url
        return answer

    def close(self) -> RunResult:
        self.stop.set()
        self.thread.join()
        self.listener.close()
        if time.monotonic() >= self.deadline and self.run is not None and not self.run.ok:
            self.run.timed_out, self.run.returncode = True, None  # stopped at the end of the budget: a timeout
        shutil.rmtree(self.folder, ignore_errors=True)
        return self.run

    def report(self) -> dict:
        """What the harness said about the app (its routes or why it did not load): words for messages only."""
        found = {}
        for line in (self.run.stderr if self.run else "").splitlines():
            if line.startswith(_ERROR_MARK):
                try:
                    found.update(json.loads(line[len(_ERROR_MARK):]))
                except ValueError:
                    pass
        return found


def _no_answer(app: _App, run: RunResult, asked: str, answer: dict) -> str:
    """Why ``asked`` got no answer: the app did not load, it ended, or it ran out of time."""
    said = app.report()
    if "error" in said:
        return str(said["error"]).strip()
    if run is not None and run.timed_out:
        return f"the checker did not finish: timed out: {asked} got no answer within the check's {app.budget:g} s"
    if answer.get("why", "").startswith("the app's process ended") and run is not None:
        return f"the checker did not finish: the app's process ended before {asked} was answered ({run.verdict})"
    return f"the checker did not finish: {asked}: {answer['why']}"


def _check_route(route):
    if not isinstance(route, str) or not route.startswith("/"):
        raise ValueError(f"`route` must be a path that starts with '/', such as '/area', got {route!r}")


def _has_route(routes: list[str], route: str) -> bool:
    return any(r.split("] ", 1)[-1].rstrip("/") == route.rstrip("/") for r in routes)


def _missing_route(routes: list[str], route: str) -> str:
    if not routes:
        return "the app has no routes"
    return f"the app has no route {route} (the request asked for it); its routes: {'; '.join(routes)}"


def check_flask_app(code: str, inputs: list[dict], expected: list[float], *, route: str, key: str,
                    rel_tol: float = 1e-3, timeout: float = 10.0) -> WebCheck:
    """Does ``GET route?inputs`` answer JSON whose ``key`` holds the expected number, for every input?

    ``inputs`` (e.g. ``[{"r": 3.0}, {"r": 1.5}]``, at least two, with different ``expected``
    answers) go in the query string; the names are the ones the request stated. ``rel_tol`` 1e-3
    (0.1%, as in ``circle_area.json``) accepts pi written as 3.14 (0.051% off) or 22/7 (0.040%
    off); pass 1e-6 to insist on math.pi. The answer must be one number, as a JSON number or a
    string such as "28.27": a list or a text with several numbers fails, whatever it contains.
    ``timeout``: seconds for the app to load and answer every call, all together.
    """
    cases = _cases(inputs, expected, "query parameters")
    _check_route(route)
    if not isinstance(key, str) or not key:
        raise ValueError(f"`key` must be the JSON key the request names, such as 'area', got {key!r}")
    app, answers = _App(code, timeout), []
    try:
        for values, want in cases:
            url = f"{route}?{urlencode(values)}"
            answers.append((want, url, app.get(url)))
            if answers[-1][2]["status"] is None:
                break
    finally:
        run = app.close()
    routes = app.report().get("routes", [])
    calls = [{"method": "GET", "url": url, **{k: c.get(k) for k in ("status", "type", "body")}} for _, url, c in answers]
    answered = []
    for want, url, c in answers:
        asked = f"GET {url}"
        if c["status"] is None:
            return WebCheck(False, _no_answer(app, run, asked, c), routes, calls, run)
        if c["status"] == 404 and not _has_route(routes, route):
            return WebCheck(False, _missing_route(routes, route), routes, calls, run)
        if c["status"] != 200:
            return WebCheck(False, f"{asked} -> {c['status']} {c['body'][:80]!r}", routes, calls, run)
        try:
            data = json.loads(c["body"])
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return WebCheck(False, f"{asked} did not answer a JSON object {{{key!r}: ...}} but {c['body'][:80]!r}",
                            routes, calls, run)
        if key not in data:
            return WebCheck(False, f"{asked} answered JSON without the key {key!r}: {c['body'][:80]!r}",
                            routes, calls, run)
        value, why = one_number(data[key])
        if value is None:
            return WebCheck(False, f"{asked}: {key!r} must hold one number; it holds {why}", routes, calls, run)
        if not _close(value, want, rel_tol):
            return WebCheck(False, f"{asked} answered {key}={value:.6g}, expected {want:.6g}", routes, calls, run)
        answered.append(f"{asked} -> {value:.6g}")
    assert len(answered) == len(cases), "every case was asked and judged"
    return WebCheck(True, "; ".join(answered), routes, calls, run)


def find_chromium() -> str | None:
    """The Chromium to run pages in: $DEEPCODER_CHROMIUM, then chromium/chromium-browser/google-chrome
    on PATH, then the browser playwright installed itself (never downloaded here). None if none exists."""
    env = os.environ.get("DEEPCODER_CHROMIUM")
    if env and os.access(env, os.X_OK):
        return env
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    try:
        from playwright.sync_api import sync_playwright
        with sync_playwright() as p:
            path = p.chromium.executable_path
    except Exception:  # playwright missing, or its browser never installed
        return None
    return path if path and os.access(path, os.X_OK) else None


def html_checks_status() -> tuple[bool, str]:
    """(can HTML answers be run?, a line for the doctor saying why or why not)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False, "playwright is not installed (pip install -r requirements-test.txt): HTML answers stay unchecked"
    path = find_chromium()
    if path is None:
        return False, ("no Chromium found (PATH, $DEEPCODER_CHROMIUM, playwright's browser); "
                       "apt-get install chromium: until then HTML answers stay unchecked")
    where = ("in a network namespace of its own (bubblewrap)" if bwrap_probe()[0] else
             "with flags against WebRTC and a dead proxy only (no bubblewrap: no network namespace)")
    return True, f"HTML answers run in {path}, {where}"


def chromium_available() -> bool:
    return html_checks_status()[0]


def check_html_page(code: str, inputs: list[dict], expected: list[float], *, output_id: str, route: str = "/",
                    rel_tol: float = 1e-3, timeout: float = 10.0, browser: bool | None = None,
                    progress: bool = True) -> WebCheck:
    """Does the page at ``route`` show the expected number in ``#output_id`` for every input typed?

    ``inputs`` map the ids of ``<input>`` elements to the values typed (e.g. ``[{"radius": 3.0},
    {"radius": 1.5}]``, at least two, with different ``expected`` answers). For each one the page is
    loaded afresh, the values typed, the first button clicked (Enter pressed where there is none),
    and the text a person sees in the element (or its value) must hold exactly one number, within
    ``rel_tol``. ``browser``: None uses Chromium when installed, True requires it, False only
    inspects the HTML. ``timeout``: seconds per case (and one more for loading); the whole check
    ends within ``timeout * (len(inputs) + 1)``. ``progress`` prints the cases done.
    """
    cases = _cases(inputs, expected, "input element ids")
    _check_route(route)
    if not isinstance(output_id, str) or not output_id:
        raise ValueError(f"`output_id` must be the id of the element the request names, such as 'area', "
                         f"got {output_id!r}")
    if browser is None:
        browser = chromium_available()
    app, shown, why = _App(code, timeout * (len(cases) + 1)), [], ""
    try:
        page = app.get(route)
        body = page.get("body", "").lower()
        if page["status"] is None:
            why = "no answer"
        elif page["status"] != 200:
            why = f"GET {route} -> {page['status']} (the request asked for the page at {route})"
        elif not page["type"].lower().startswith("text/html"):
            why = (f"GET {route} answered {page['type'] or 'no Content-Type'}, not text/html: a browser would not "
                   "show it as a page")
        elif "<input" not in body:
            why = f"GET {route} serves no HTML page with an <input>"
        elif "<script" not in body:
            why = f"{route} has an <input> but no <script>"
        elif browser:
            # Playwright's sync API refuses to run where an asyncio loop runs (a Jupyter kernel): use a thread
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                shown = pool.submit(_type_and_read, app, route, [v for v, _ in cases], output_id, timeout,
                                    progress).result()
    finally:
        run = app.close()
    routes = app.report().get("routes", [])
    calls = [{"method": "GET", "url": route, **{k: page.get(k) for k in ("status", "type", "body")}}]
    if why == "no answer":
        return WebCheck(False, _no_answer(app, run, f"GET {route}", page), routes, calls, run)
    if why:
        if page["status"] == 404:
            why += f"; the app's routes: {'; '.join(routes) or 'none'}"
        return WebCheck(False, why, routes, calls, run)
    if not browser:
        return WebCheck(False, f"{route} has an <input> and a <script> but was not run: "
                        f"{html_checks_status()[1]}", routes, calls, run, unchecked=True)
    answered = []
    for (values, want), text in zip(cases, shown):
        typed = ", ".join(f"{v} into #{k}" for k, v in values.items())
        if text.startswith("?"):  # the browser itself failed: neither a pass nor a fail
            return WebCheck(False, text[1:], routes, calls, run, unchecked=True)
        if text.startswith("!"):  # the page could not be used as the request says
            return WebCheck(False, f"typed {typed}: {text[1:]}", routes, calls, run)
        value, why = one_number(text)
        if value is None:
            return WebCheck(False, f"typed {typed}: #{output_id} must show one number; it shows {why}",
                            routes, calls, run)
        if not _close(value, want, rel_tol):
            return WebCheck(False, f"typed {typed}: #{output_id} shows {value:.6g}, expected {want:.6g}",
                            routes, calls, run)
        answered.append(f"typed {typed}: #{output_id} shows {value:.6g}")
    if len(answered) != len(cases):
        return WebCheck(False, f"only {len(answered)} of {len(cases)} cases were checked", routes, calls, run)
    return WebCheck(True, "; ".join(answered), routes, calls, run)


# What a person sees in the element with this id: {"count": elements with the id, "visible", "text"}.
# Text counts only where it is rendered: not display:none, visibility:hidden, opacity 0, transparent
# colour, a font under 4 px, a zero-size box, outside the page, or clipped away by an ancestor.
_SEEN = """id => {
  const all = Array.from(document.querySelectorAll("[id]")).filter(e => e.id === id);
  if (all.length !== 1) return {count: all.length, visible: false, text: ""};
  const e = all[0];
  const shown = el => el.checkVisibility({opacityProperty: true, visibilityProperty: true});
  const page = document.documentElement;
  const onPage = r => r.width > 0 && r.height > 0 && r.right > 0 && r.bottom > 0 &&
    r.left < Math.max(page.scrollWidth, innerWidth) && r.top < Math.max(page.scrollHeight, innerHeight);
  const clipped = (from, r) => { for (let a = from; a; a = a.parentElement) { const s = getComputedStyle(a);
    if (s.clipPath !== "none" || (s.position === "absolute" && s.clip !== "auto")) return true;
    if (s.overflow !== "visible") { const c = a.getBoundingClientRect();
      if (r.right <= c.left || r.left >= c.right || r.bottom <= c.top || r.top >= c.bottom) return true; } }
    return false; };
  const readable = el => { const s = getComputedStyle(el); const rgba = s.color.match(/[\\d.]+/g) || [];
    return parseFloat(s.fontSize) >= 4 && (rgba.length < 4 || parseFloat(rgba[3]) > 0.1); };
  const box = e.getBoundingClientRect();
  if (!shown(e) || !onPage(box) || getComputedStyle(e).clipPath !== "none" || clipped(e.parentElement, box))
    return {count: 1, visible: false, text: ""};
  if (["INPUT", "TEXTAREA", "SELECT"].includes(e.tagName)) return {count: 1, visible: readable(e), text: e.value};
  const parts = [], walk = document.createTreeWalker(e, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || !shown(el) || !readable(el)) continue;
    const range = document.createRange(); range.selectNodeContents(n);
    if (Array.from(range.getClientRects()).some(r => onPage(r) && !clipped(el, r))) parts.push(n.textContent);
  }
  return {count: 1, visible: true, text: parts.join("")};
}"""


def _isolated_chromium(folder: str) -> str:
    """A launcher that runs Chromium in a network namespace of its own (loopback only), where bubblewrap
    works; else Chromium itself, with only its flags against WebRTC and proxies."""
    chromium = find_chromium()
    if not bwrap_probe()[0]:
        return chromium
    launcher = os.path.join(folder, "chromium-no-network")
    with open(launcher, "w") as f:
        f.write(f"#!/bin/sh\nexec {shutil.which('bwrap')} --dev-bind / / --unshare-net --die-with-parent -- "
                f"'{chromium}' \"$@\"\n")
    os.chmod(launcher, 0o700)
    return launcher


def _type_and_read(app: _App, route: str, inputs: list[dict], output_id: str, timeout: float,
                   progress: bool) -> list[str]:
    """For each input dict: load the page, type the values, click, and return what #output_id shows.

    A text starting with "!" says why the page could not be used (a missing element, a timeout);
    "?" that the browser itself failed. Never raises for what the page does.
    """
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    def serve(route_):
        request = route_.request
        try:
            if request.url != ORIGIN and not request.url.startswith(ORIGIN + "/"):
                return route_.abort()  # nothing but the app, ever
            path = request.url[len(ORIGIN):] or "/"
            answer = app.call(request.method, path, request.post_data_buffer or b"",
                              {"Content-Type": request.headers.get("content-type", "")})
            if answer["status"] is None:
                return route_.abort("timedout")
            route_.fulfill(status=answer["status"], body=answer["raw"],
                           headers={"Content-Type": answer["type"] or "text/plain",
                                    **({"Location": answer["location"]} if answer.get("location") else {})})
        except PlaywrightError:
            pass  # the page went away meanwhile

    shown, folder, start = [], tempfile.mkdtemp(prefix="deepcoder-chromium-"), time.monotonic()
    try:
        with sync_playwright() as p:
            try:
                chromium = p.chromium.launch(executable_path=_isolated_chromium(folder), args=CHROMIUM_ARGS,
                                             timeout=max(timeout, 30) * 1000)
            except PlaywrightError as error:
                return [f"?Chromium did not start: {str(error).splitlines()[0]}"]
            try:
                tab = chromium.new_page()
                tab.route("**/*", serve)
                for done, values in enumerate(inputs):
                    left = app.deadline - time.monotonic()
                    if left <= 0.5:
                        shown.append(f"!the check's time budget ({app.budget:g} s) ran out")
                        break
                    tab.set_default_timeout(min(left, timeout) * 1000)
                    shown.append(_one_case(tab, route, values, output_id, min(left, timeout), PlaywrightError))
                    if progress:
                        print(f"HTML check: {done + 1}/{len(inputs)} cases done ({time.monotonic() - start:.1f} s)",
                              file=sys.stderr, flush=True)
                    if shown[-1].startswith("!"):
                        break
            finally:
                chromium.close()
    except PlaywrightError as error:  # the browser or its connection died
        shown.append(f"?the browser failed: {str(error).splitlines()[0]}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return shown


def _one_case(tab, route: str, values: dict, output_id: str, seconds: float, error_type) -> str:
    try:
        tab.goto(ORIGIN + route)
        for name in [*values, output_id]:
            count = tab.evaluate(_SEEN, name)["count"]
            if count != 1:
                return (f"!the page has no element #{name} (the request named it)" if count == 0 else
                        f"!{count} elements have the id {name!r}: an id names one element")
        before = tab.evaluate(_SEEN, output_id)["text"]
        for name, value in values.items():
            tab.locator(f"[id='{name}']").fill(str(value))
        buttons = tab.locator("button, input[type=submit], input[type=button]")
        if buttons.count():
            buttons.first.click()
        else:
            tab.locator(f"[id='{list(values)[-1]}']").press("Enter")
    except error_type as error:
        return f"!the page could not be used within {seconds:g} s: {str(error).splitlines()[0]}"
    try:  # wait until the script (and any fetch back to the app) changed what is shown
        tab.wait_for_function(f"([id, before]) => ({_SEEN})(id).text !== before", arg=[output_id, before],
                              timeout=min(seconds, 5) * 1000)
    except error_type:
        pass  # unchanged: read what it shows
    try:
        seen = tab.evaluate(_SEEN, output_id)
    except error_type as error:
        return f"!the page stopped answering: {str(error).splitlines()[0]}"
    if not seen["visible"]:
        return f"!#{output_id} is not visible on the page (hidden, transparent, empty or off-page)"
    return seen["text"] or ""
