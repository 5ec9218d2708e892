"""Chromium for the HTML checks: find it, say whether it can run, and drive it through one page as a person would.

``type_and_read`` loads the page from the answer's app (``app.App``), types each input, clicks, and
reads what a person SEES in the output element (``SEEN``: rendered text only). Chromium runs in a
network namespace of its own where bubblewrap works (loopback only, nothing listening), plus flags
against WebRTC and a dead proxy everywhere; every request to the page's own origin goes to the app,
every other is aborted. Nothing the page does makes these functions raise.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time

from ..sandbox.bwrap import probe as bwrap_probe

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage",
                 # belt and braces where no network namespace can be made: no WebRTC over UDP, no proxy bypass
                 "--force-webrtc-ip-handling-policy=disable_non_proxied_udp", "--webrtc-ip-handling-policy="
                 "disable_non_proxied_udp", "--proxy-server=socks5://255.255.255.255:1", "--proxy-bypass-list=<-loopback>"]
ORIGIN = "http://deepcoder.check"


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


# What a person sees in the element with this id: {"count": elements with the id, "visible", "text"}.
# Text counts only where it is rendered: not display:none, visibility:hidden, opacity 0, transparent
# colour, a font under 4 px, a zero-size box, outside the page, or clipped away by an ancestor.
SEEN = """id => {
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


def seen(tab, element_id: str) -> dict:
    """``SEEN`` for ``element_id``, run in an isolated JavaScript world of the page: the page's own scripts
    share its DOM but not its functions, so a page that redefines ``getComputedStyle`` or
    ``checkVisibility`` cannot change what the check reads."""
    cdp = tab.context.new_cdp_session(tab)
    try:
        frame = cdp.send("Page.getFrameTree")["frameTree"]["frame"]["id"]
        world = cdp.send("Page.createIsolatedWorld", {"frameId": frame, "worldName": "deepcoder-check"})
        answer = cdp.send("Runtime.evaluate", {"expression": f"({SEEN})({json.dumps(element_id)})",
                                               "contextId": world["executionContextId"], "returnByValue": True})
    finally:
        cdp.detach()
    value = answer.get("result", {}).get("value")
    return value if isinstance(value, dict) else {"count": 0, "visible": False, "text": ""}


def isolated_chromium(folder: str) -> str:
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


def type_and_read(app, route: str, inputs: list[dict], output_id: str, timeout: float,
                   progress: bool, handle: dict | None = None) -> list[str]:
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

    import psutil
    shown, folder, start = [], tempfile.mkdtemp(prefix="deepcoder-chromium-"), time.monotonic()
    before = {c.pid for c in psutil.Process().children()}
    try:
        with sync_playwright() as p:
            if handle is not None:  # Playwright's driver: ``kill`` ends it (and the browser) if the page freezes
                handle["pids"] = [c.pid for c in psutil.Process().children() if c.pid not in before]
            try:
                chromium = p.chromium.launch(executable_path=isolated_chromium(folder), args=CHROMIUM_ARGS,
                                             timeout=max(timeout, 30) * 1000)
            except PlaywrightError as error:
                return [f"?Chromium did not start: {str(error).splitlines()[0]}"]
            app.extend(time.monotonic() - start)  # Chromium's start-up is not the page's time
            try:
                tab = chromium.new_page()
                tab.context.route("**/*", serve)  # pop-ups too
                for done, values in enumerate(inputs):
                    left = app.deadline - time.monotonic()
                    if left <= 0.5:
                        shown.append(f"!the check's time budget ({app.budget:g} s) ran out")
                        break
                    tab.set_default_timeout(min(left, timeout) * 1000)
                    shown.append(one_case(tab, route, values, output_id, min(left, timeout), PlaywrightError))
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


def kill(handle: dict) -> None:
    """End the browser of a ``type_and_read`` that froze (a page whose script never yields): its driver's tree."""
    import psutil
    for pid in handle.get("pids", []):
        try:
            root = psutil.Process(pid)
            for proc in [*root.children(recursive=True), root]:
                proc.kill()
        except psutil.Error:
            pass


def one_case(tab, route: str, values: dict, output_id: str, seconds: float, error_type) -> str:
    try:
        tab.goto(ORIGIN + route)
        for name in [*values, output_id]:
            count = seen(tab, name)["count"]
            if count != 1:
                return (f"!the page has no element #{name} (the request named it)" if count == 0 else
                        f"!{count} elements have the id {name!r}: an id names one element")
        before = seen(tab, output_id)["text"]
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
        tab.wait_for_function(f"([id, before]) => ({SEEN})(id).text !== before", arg=[output_id, before],
                              timeout=min(seconds, 5) * 1000)
    except error_type:
        pass  # unchanged: read what it shows
    try:
        shown = seen(tab, output_id)
    except error_type as error:
        return f"!the page stopped answering: {str(error).splitlines()[0]}"
    if not shown["visible"]:
        return f"!#{output_id} is not visible on the page (hidden, transparent, empty or off-page)"
    return shown["text"] or ""
