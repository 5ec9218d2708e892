"""Check a model-written Flask app or HTML+JavaScript page by calling it, inside the sandbox.

``check_flask_app`` loads the app in ``sandbox.run_code`` with ``app.run()`` disabled (nothing
binds a port), finds the routes in the app's URL map, calls each with the Flask test client
(GET with a query string and path values, POST with JSON and with a form) and passes when any
answer, JSON or text, contains the expected number. ``check_html_page`` fetches the page the same
way, checks it has an ``<input>`` and a ``<script>``, and where Chromium is installed opens it
headless, types the input value and reads the result the page shows. The page's own requests go
back to the app in the sandbox; every other request is aborted. Chromium itself runs outside
the sandbox (only the app runs inside it). Without a browser an HTML answer is *unchecked*, not passed.
"""
from __future__ import annotations

import concurrent.futures
import json
import math
import os
import re
import shutil
from dataclasses import dataclass, field

from .sandbox import RunResult, run_code

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
ORIGIN = "http://deepcoder.check"
_MARK = "DEEPCODER-CHECK "
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")

# Runs in the sandbox next to solution.py: import the app, then call it as check.json asks.
_HARNESS = r'''
import json, sys, traceback
import flask
flask.Flask.run = lambda self, *a, **k: print("(app.run() was skipped by the checker)", file=sys.stderr)
spec = json.load(open("check.json"))
def report(**kw):
    print("\nDEEPCODER-CHECK " + json.dumps(kw))
    sys.exit(0)
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
        r = client.open(url, method=method, **kw)
        return {"method": method, "url": url, "status": r.status_code, "type": r.content_type or "",
                "body": r.get_data(as_text=True)[:20000]}
    except Exception as e:
        return {"method": method, "url": url, "status": 500, "type": "", "body": f"{type(e).__name__}: {e}"}
if spec.get("request"):
    report(calls=[call(**spec["request"])])
rules = [r for r in app.url_map.iter_rules() if r.endpoint != "static"]
inputs, calls = spec["inputs"], []
first = next(iter(inputs.values()), None)
for rule in rules:
    values = {a: inputs.get(a, first) for a in rule.arguments}
    try:
        with app.test_request_context():
            url = flask.url_for(rule.endpoint, **values)
    except Exception as e:
        calls.append({"method": "GET", "url": rule.rule, "status": 0, "type": "", "body": f"cannot build URL: {e}"})
        continue
    methods = rule.methods - {"HEAD", "OPTIONS"}
    if "GET" in methods:
        calls.append(call("GET", url, query_string=inputs))
    if "POST" in methods:
        calls.append(call("POST", url, json=inputs))
        calls.append(call("POST", url, data={k: str(v) for k, v in inputs.items()}))
report(routes=[f"{sorted(r.methods - {'HEAD', 'OPTIONS'})} {r.rule}" for r in rules], calls=calls)
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


def numbers_in(body: str) -> list[float]:
    """Every number in a response: the values of a JSON answer, or the numbers in its text."""
    try:
        data = json.loads(body)
    except (ValueError, TypeError):
        return [float(x) for x in _NUMBER.findall(re.sub(r"<[^>]*>", " ", body or ""))]
    found, stack = [], [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, (int, float)) and not isinstance(item, bool):
            found.append(float(item))
        elif isinstance(item, str):
            found.extend(float(x) for x in _NUMBER.findall(item))
    return found


def _close(value: float, expected: float, rel_tol: float) -> bool:
    return math.isclose(value, expected, rel_tol=rel_tol, abs_tol=1e-9)


def _run_harness(code: str, spec: dict, timeout: float) -> tuple[dict | None, RunResult]:
    run = run_code(_HARNESS, files={"solution.py": code, "check.json": json.dumps(spec)}, timeout=timeout)
    line = next((ln for ln in reversed(run.stdout.splitlines()) if ln.startswith(_MARK)), None)
    return (json.loads(line[len(_MARK):]) if line else None), run


def check_flask_app(code: str, inputs: dict, expected: float, *, rel_tol: float = 1e-3,
                    timeout: float = 10.0) -> WebCheck:
    """Does some route of the Flask app in ``code`` answer ``expected`` for ``inputs``?

    ``inputs`` (e.g. ``{"radius": 2}``) fill the route's path variables and go in the query string,
    a JSON body and a form. ``rel_tol`` 1e-3 (0.1%, as in
    ``circle_area.json``) accepts pi written as 3.14 (0.051% off) or 22/7 (0.040% off); pass 1e-6
    to insist on math.pi.
    """
    if not isinstance(inputs, dict) or not inputs:
        raise ValueError(f"`inputs` must be a non-empty dict such as {{'radius': 2}}, got {inputs!r}")
    report, run = _run_harness(code, {"inputs": inputs}, timeout)
    if report is None:
        return WebCheck(False, f"the checker did not finish: {run.verdict}", run=run)
    if "error" in report:
        return WebCheck(False, report["error"].strip(), run=run)
    calls = report["calls"]
    for c in calls:
        c["numbers"] = numbers_in(c["body"]) if c["status"] == 200 else []
    hits = [c for c in calls if any(_close(x, expected, rel_tol) for x in c["numbers"])]
    routes = report["routes"]
    if hits:
        return WebCheck(True, f"{hits[0]['method']} {hits[0]['url']} answered {expected:.6g}", routes, calls, run)
    if not routes:
        return WebCheck(False, "the app has no routes", routes, calls, run)
    seen = "; ".join(f"{c['method']} {c['url']} -> {c['status']} {c['body'][:60]!r}" for c in calls[:4])
    return WebCheck(False, f"no route answered {expected:.6g}. Tried: {seen}", routes, calls, run)


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


def check_html_page(code: str, inputs: dict, expected: float, *, rel_tol: float = 1e-3, timeout: float = 10.0,
                    browser: bool | None = None) -> WebCheck:
    """Does the app in ``code`` serve a page with an input and a script that shows ``expected``?

    ``browser``: None uses Chromium when installed, True requires it, False only inspects the HTML.
    """
    report, run = _run_harness(code, {"inputs": {}}, timeout)
    if report is None or "error" in report:
        return WebCheck(False, (report or {}).get("error", f"the checker did not finish: {run.verdict}").strip(),
                        run=run)
    pages = [c for c in report["calls"] if c["status"] == 200 and "<input" in c["body"].lower()]
    if not pages:
        return WebCheck(False, "no route serves an HTML page with an <input>", report["routes"], report["calls"], run)
    page = pages[0]
    if "<script" not in page["body"].lower():
        return WebCheck(False, f"{page['url']} has an <input> but no <script>", report["routes"], report["calls"], run)
    if browser is None:
        browser = chromium_available()
    if not browser:
        return WebCheck(False, f"{page['url']} has an <input> and a <script> but was not run: "
                        f"{html_checks_status()[1]}", report["routes"], report["calls"], run, unchecked=True)
    # Playwright's sync API refuses to run where an asyncio loop runs (a Jupyter kernel): use a thread
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        shown = pool.submit(_type_and_read, code, page, inputs, timeout).result()
    found = [x for x in numbers_in(shown) if _close(x, expected, rel_tol)]
    verdict = (f"typed {inputs} into {page['url']} and the page showed {found[0]:.6g}" if found else
               f"typed {inputs} into {page['url']} but the page did not show {expected:.6g}; it shows: {shown[:160]!r}")
    return WebCheck(bool(found), verdict, report["routes"], report["calls"], run)


def _type_and_read(code: str, page: dict, inputs: dict, timeout: float) -> str:
    """Open the page in headless Chromium, type the first input value, click/press Enter, read the text."""
    from playwright.sync_api import sync_playwright

    def serve(route):
        request = route.request
        if not request.url.startswith(ORIGIN):
            return route.abort()  # no network for the page, ever
        path = request.url[len(ORIGIN):] or "/"
        if path == page["url"] and request.method == "GET":
            return route.fulfill(status=200, content_type="text/html", body=page["body"])
        spec = {"request": {"method": request.method, "url": path, "data": request.post_data_buffer,
                            "headers": {"Content-Type": request.headers.get("content-type", "")}}}
        spec["request"]["data"] = (spec["request"]["data"] or b"").decode("utf-8", "replace")
        answer, _ = _run_harness(code, spec, timeout)
        reply = (answer or {}).get("calls", [{"status": 500, "type": "text/plain", "body": "checker failed"}])[0]
        route.fulfill(status=reply["status"] or 500, content_type=reply["type"] or "text/plain", body=reply["body"])

    value = str(next(iter(inputs.values()), ""))
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS, timeout=timeout * 1000)
        try:
            tab = chromium.new_page()
            tab.set_default_timeout(timeout * 1000)
            tab.route("**/*", serve)
            tab.goto(ORIGIN + page["url"])
            box = tab.locator("input:not([type=submit]):not([type=button]):not([type=hidden])").first
            box.fill(value)
            buttons = tab.locator("button, input[type=submit], input[type=button]")
            if buttons.count():
                buttons.first.click()
            else:
                box.press("Enter")
            tab.wait_for_timeout(700)  # let the script (and any fetch back to the app) finish
            values = tab.eval_on_selector_all("input, output, textarea", "els => els.map(e => e.value).join(' ')")
            return tab.inner_text("body") + " " + values.replace(value, " ", 1)
        finally:
            chromium.close()
