"""Check a model-written Flask app or HTML+JavaScript page by calling it, inside the sandbox.

The task states the interface (route, parameter names, where the answer goes) and the check holds
the app to it, for two or more inputs whose answers differ, so neither a guessed name nor a
hard-coded answer decides the verdict. ``check_flask_app`` loads the app in ``sandbox.run_code``
with ``app.run()`` disabled (nothing binds a port) and calls ``GET route?name=value`` with the Flask
test client, once per input; each answer must be a JSON object whose ``key`` holds one number.
``check_html_page`` fetches the page the same way and, where Chromium is installed, opens it
headless, types each input into the ``<input>`` of that id, clicks the first button and reads the
one number in the element ``output_id``. The page's own requests go back to the app in the
sandbox; every other request is aborted. Chromium runs outside the sandbox (only the app runs in
it). Without a browser an HTML answer is *unchecked*, not passed. ``evaluation.py`` holds the
task suite; ``sandbox.py`` the process that runs the code.
"""
from __future__ import annotations

import concurrent.futures
import json
import math
import os
import re
import secrets
import shutil
from dataclasses import dataclass, field
from urllib.parse import urlencode

from .sandbox import RunResult, run_code

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
ORIGIN = "http://deepcoder.check"
_MARK = "DEEPCODER-CHECK "
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|-?\.\d+")

# Runs in the sandbox next to solution.py: import the app, then make the calls check.json lists.
# Only the harness knows the per-run nonce (read from stdin, which then reads /dev/null); it writes
# the report line itself, with functions saved before the app loaded, so text the app prints (a
# forged report included) never counts. Known limit: code that walks the interpreter's frames could
# find the nonce.
_HARNESS = r'''
import json, os, sys, traceback
def main():
    nonce = sys.stdin.readline().strip()
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    write, out, dumps, leave = os.write, os.dup(1), json.dumps, os._exit
    def report(**kw):
        try:
            sys.stdout.flush()  # what the app printed comes before the report
        except BaseException:
            pass
        write(out, ("\nDEEPCODER-CHECK " + nonce + " " + dumps(kw) + "\n").encode())
        leave(0)
    import flask
    flask.Flask.run = lambda self, *a, **k: print("(app.run() was skipped by the checker)", file=sys.stderr)
    spec = json.load(open("check.json"))
    ns = {"__name__": "solution", "__file__": "solution.py"}
    try:
        exec(compile(open("solution.py").read(), "solution.py", "exec"), ns)
    except BaseException:
        report(error="the code raised while loading:\n" + traceback.format_exc(limit=-3))
    apps = [v for v in ns.values() if isinstance(v, flask.Flask)]
    if not apps and callable(ns.get("create_app")):
        apps = [ns["create_app"]()]
    if not apps:
        report(error="no Flask app: the code never creates flask.Flask(...)")
    app = apps[0]
    client = app.test_client()
    def call(method, url, **kw):
        try:
            r = client.open(url, method=method, follow_redirects=True, **kw)
            return {"method": method, "url": url, "status": r.status_code, "type": r.content_type or "",
                    "body": r.get_data(as_text=True)[:20000]}
        except BaseException as e:
            return {"method": method, "url": url, "status": 500, "type": "", "body": f"{type(e).__name__}: {e}"}
    routes = [f"{sorted(r.methods - {'HEAD', 'OPTIONS'})} {r.rule}" for r in app.url_map.iter_rules()
              if r.endpoint != "static"]
    report(routes=routes, calls=[call(**c) for c in spec["calls"]])
main()
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


def _nonce_report(run: RunResult, nonce: str) -> dict | None:
    mark = _MARK + nonce + " "
    line = next((ln for ln in reversed(run.stdout.splitlines()) if ln.startswith(mark)), None)
    return json.loads(line[len(mark):]) if line else None


def _run_harness(code: str, calls: list[dict], timeout: float) -> tuple[dict | None, RunResult]:
    nonce = secrets.token_hex(16)
    run = run_code(_HARNESS, files={"solution.py": code, "check.json": json.dumps({"calls": calls})},
                   stdin=nonce + "\n", timeout=timeout)
    return _nonce_report(run, nonce), run


def _unfinished(run: RunResult) -> str:
    why = "the code ended the run before the checker reported" if run.ok else run.verdict
    return f"the checker did not finish: {why}"


def _check_route(route):
    if not isinstance(route, str) or not route.startswith("/"):
        raise ValueError(f"`route` must be a path that starts with '/', such as '/area', got {route!r}")


def _has_route(routes: list[str], route: str) -> bool:
    return any(r.split("] ", 1)[-1].rstrip("/") == route.rstrip("/") for r in routes)


def check_flask_app(code: str, inputs: list[dict], expected: list[float], *, route: str, key: str,
                    rel_tol: float = 1e-3, timeout: float = 10.0) -> WebCheck:
    """Does ``GET route?inputs`` answer JSON whose ``key`` holds the expected number, for every input?

    ``inputs`` (e.g. ``[{"r": 3.0}, {"r": 1.5}]``, at least two, with different ``expected``
    answers) go in the query string; the names are the ones the request stated. ``rel_tol`` 1e-3
    (0.1%, as in ``circle_area.json``) accepts pi written as 3.14 (0.051% off) or 22/7 (0.040%
    off); pass 1e-6 to insist on math.pi. The answer must be one number, as a JSON number or a
    string such as "28.27": a list or a text with several numbers fails, whatever it contains.
    """
    cases = _cases(inputs, expected, "query parameters")
    _check_route(route)
    if not isinstance(key, str) or not key:
        raise ValueError(f"`key` must be the JSON key the request names, such as 'area', got {key!r}")
    calls = [{"method": "GET", "url": route, "query_string": values} for values, _ in cases]
    report, run = _run_harness(code, calls, timeout)
    if report is None:
        return WebCheck(False, _unfinished(run), run=run)
    if "error" in report:
        return WebCheck(False, report["error"].strip(), run=run)
    routes, calls = report["routes"], report["calls"]
    if not routes:
        return WebCheck(False, "the app has no routes", routes, calls, run)
    if not _has_route(routes, route):
        return WebCheck(False, f"the app has no route {route} (the request asked for it); its routes: "
                        f"{'; '.join(routes)}", routes, calls, run)
    answered = []
    for (values, want), c in zip(cases, calls):
        c["url"] = f"{route}?{urlencode(values)}"
        asked = f"GET {c['url']}"
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
    return True, f"HTML answers run in {path}"


def chromium_available() -> bool:
    return html_checks_status()[0]


def check_html_page(code: str, inputs: list[dict], expected: list[float], *, output_id: str, route: str = "/",
                    rel_tol: float = 1e-3, timeout: float = 10.0, browser: bool | None = None) -> WebCheck:
    """Does the page at ``route`` show the expected number in ``#output_id`` for every input typed?

    ``inputs`` map the ids of ``<input>`` elements to the values typed (e.g. ``[{"radius": 3.0},
    {"radius": 1.5}]``, at least two, with different ``expected`` answers). For each one the page is
    loaded afresh, the values typed, the first button clicked (Enter pressed where there is none),
    and the element's text (or value) must hold exactly one number, within ``rel_tol``.
    ``browser``: None uses Chromium when installed, True requires it, False only inspects the HTML.
    """
    cases = _cases(inputs, expected, "input element ids")
    _check_route(route)
    if not isinstance(output_id, str) or not output_id:
        raise ValueError(f"`output_id` must be the id of the element the request names, such as 'area', "
                         f"got {output_id!r}")
    report, run = _run_harness(code, [{"method": "GET", "url": route}], timeout)
    if report is None or "error" in report:
        return WebCheck(False, (report or {}).get("error", _unfinished(run)).strip(), run=run)
    routes, calls = report["routes"], report["calls"]
    page = calls[0]
    if page["status"] != 200:
        return WebCheck(False, f"GET {route} -> {page['status']} (the request asked for the page at {route}); "
                        f"the app's routes: {'; '.join(routes) or 'none'}", routes, calls, run)
    if "<input" not in page["body"].lower():
        return WebCheck(False, f"GET {route} serves no HTML page with an <input>", routes, calls, run)
    if "<script" not in page["body"].lower():
        return WebCheck(False, f"{route} has an <input> but no <script>", routes, calls, run)
    if browser is None:
        browser = chromium_available()
    if not browser:
        return WebCheck(False, f"{route} has an <input> and a <script> but was not run: "
                        f"{html_checks_status()[1]}", routes, calls, run, unchecked=True)
    # Playwright's sync API refuses to run where an asyncio loop runs (a Jupyter kernel): use a thread
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        shown = pool.submit(_type_and_read, code, page, [v for v, _ in cases], output_id, timeout).result()
    answered = []
    for (values, want), text in zip(cases, shown):
        typed = ", ".join(f"{v} into #{k}" for k, v in values.items())
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
    return WebCheck(True, "; ".join(answered), routes, calls, run)


_READ = """id => { const e = document.getElementById(id); if (!e) return null;
  return ["INPUT", "TEXTAREA", "OUTPUT", "SELECT"].includes(e.tagName) ? e.value : e.textContent; }"""


def _type_and_read(code: str, page: dict, inputs: list[dict], output_id: str, timeout: float) -> list[str]:
    """For each input dict: load the page, type the values, click, and return what #output_id shows.

    A text starting with "!" says why the page could not be used (a missing element, a timeout).
    """
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    def serve(route):
        request = route.request
        if not request.url.startswith(ORIGIN):
            return route.abort()  # no network for the page, ever
        path = request.url[len(ORIGIN):] or "/"
        if path == page["url"] and request.method == "GET":
            return route.fulfill(status=200, content_type="text/html", body=page["body"])
        data = (request.post_data_buffer or b"").decode("utf-8", "replace")
        call = {"method": request.method, "url": path, "data": data,
                "headers": {"Content-Type": request.headers.get("content-type", "")}}
        answer, _ = _run_harness(code, [call], timeout)
        reply = (answer or {}).get("calls", [{"status": 500, "type": "text/plain", "body": "checker failed"}])[0]
        route.fulfill(status=reply["status"] or 500, content_type=reply["type"] or "text/plain", body=reply["body"])

    shown = []
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS, timeout=timeout * 1000)
        try:
            tab = chromium.new_page()
            tab.set_default_timeout(timeout * 1000)
            tab.route("**/*", serve)
            for values in inputs:
                tab.goto(ORIGIN + page["url"])
                missing = [f"#{i}" for i in [*values, output_id] if tab.locator(f"[id='{i}']").count() == 0]
                if missing:
                    shown.append(f"!the page has no element {', '.join(missing)} (the request named it)")
                    break
                before = tab.evaluate(_READ, output_id)
                for name, value in values.items():
                    tab.locator(f"[id='{name}']").first.fill(str(value))
                buttons = tab.locator("button, input[type=submit], input[type=button]")
                if buttons.count():
                    buttons.first.click()
                else:
                    tab.locator(f"[id='{list(values)[-1]}']").first.press("Enter")
                try:  # wait until the script (and any fetch back to the app) changed the output
                    tab.wait_for_function(f"([id, before]) => ({_READ})(id) !== before", arg=[output_id, before],
                                          timeout=min(timeout, 5) * 1000)
                except PlaywrightError:
                    pass  # unchanged: read what it shows
                shown.append(tab.evaluate(_READ, output_id) or "")
        finally:
            chromium.close()
    return shown
