"""The verdicts on Flask and HTML answers: call the app as a user would and judge what came back.

``check_flask_app`` calls ``GET route?name=value`` once per input on the answer's app (``app.App``,
one sandbox run for the whole check); each answer must be a JSON object whose ``key`` holds one
number. ``check_html_page`` needs the page served as ``text/html`` and, where Chromium is installed
(``browser``), types each input and reads the number a person sees. Every case is asked and judged
here, outside the app's process; a failure is a ``WebCheck`` with the reason, never an exception.
"""
from __future__ import annotations

import concurrent.futures
import json
import math
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

from ..sandbox import RunResult
from . import browser as browser_module
from .app import UNSUPPORTED, App, no_answer

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|-?\.\d+")


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
    if UNSUPPORTED:
        return WebCheck(False, UNSUPPORTED, unchecked=True)
    app, answers = App(code, timeout), []
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
            return WebCheck(False, no_answer(app, run, asked, c), routes, calls, run)
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
        browser = browser_module.chromium_available()
    if UNSUPPORTED:
        return WebCheck(False, UNSUPPORTED, unchecked=True)
    app, shown, why = App(code, timeout * (len(cases) + 1), slack=60.0 if browser else 0.0), [], ""
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
            shown = _in_browser(app, route, [v for v, _ in cases], output_id, timeout, progress)
    finally:
        run = app.close()
    routes = app.report().get("routes", [])
    calls = [{"method": "GET", "url": route, **{k: page.get(k) for k in ("status", "type", "body")}}]
    if why == "no answer":
        return WebCheck(False, no_answer(app, run, f"GET {route}", page), routes, calls, run)
    if why:
        if page["status"] == 404:
            why += f"; the app's routes: {'; '.join(routes) or 'none'}"
        return WebCheck(False, why, routes, calls, run)
    if not browser:
        return WebCheck(False, f"{route} has an <input> and a <script> but was not run: "
                        f"{browser_module.html_checks_status()[1]}", routes, calls, run, unchecked=True)
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


def _in_browser(app: App, route: str, inputs: list[dict], output_id: str, timeout: float, progress: bool) -> list[str]:
    """``browser.type_and_read`` in a thread (Playwright's sync API refuses to run where an asyncio loop runs,
    as in a Jupyter kernel), killed if a page froze the browser past the check's budget."""
    handle, pool = {}, concurrent.futures.ThreadPoolExecutor(1)
    try:
        future = pool.submit(browser_module.type_and_read, app, route, inputs, output_id, timeout, progress, handle)
        while time.monotonic() < app.deadline + app.slack + 10:  # the deadline moves once Chromium is up
            try:
                return future.result(timeout=1.0)
            except concurrent.futures.TimeoutError:
                pass
        browser_module.kill(handle)
        try:
            shown = [text for text in future.result(timeout=15) if not text.startswith(("?", "!"))]
        except Exception:  # the thread did not come back: the verdict does not need it
            shown = []
        return shown + [f"!the page froze the browser: no answer within the check's {app.budget:g} s"]
    finally:
        pool.shutdown(wait=False)
