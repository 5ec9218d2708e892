"""The Flask and HTML checks on correct, broken and hostile apps, each run in the sandbox."""
import math
import os
import re

import pytest

from deepcoder_lib.evaluation import load_tasks
from deepcoder_lib.webcheck import (check_flask_app, check_html_page, find_chromium, html_checks_status,
                                   numbers_in, one_number)

# Two radii whose areas differ; not r = 2, where 2*pi*r equals pi*r**2 and a wrong formula would pass
INPUTS = [{"r": 3.0}, {"r": 1.5}]
AREAS = [math.pi * 3.0 ** 2, math.pi * 1.5 ** 2]  # 28.2743, 7.06858
AREA = {"route": "/area", "key": "area"}

JSON_QUERY = """
from flask import Flask, request, jsonify
import math
app = Flask(__name__)

@app.route("/area")
def area():
    r = float(request.args.get("r", 0))
    return jsonify({"radius": r, "area": math.pi * r ** 2})

app.run(port=5000)  # unguarded: the checker must not let it bind a port
"""

DICT_TYPE_FLOAT = """
from flask import Flask, request
app = Flask(__name__)

@app.get("/area/")
def area():
    r = request.args.get("r", type=float)
    return {"area": 3.141592653589793 * r * r}
"""

STRING_VALUE = """
import math
from flask import Flask, request, jsonify
app = Flask(__name__)

@app.route("/area", methods=["GET", "POST"])
def area():
    return jsonify(area=f"{math.pi * float(request.args['r']) ** 2:.2f}")
"""

WRONG_FORMULA = JSON_QUERY.replace("math.pi * r ** 2", "2 * math.pi * r")
PI_AS_3_14 = JSON_QUERY.replace("math.pi * r ** 2", "3.14 * r ** 2")


@pytest.mark.parametrize("code", [JSON_QUERY, DICT_TYPE_FLOAT, STRING_VALUE],
                         ids=["jsonify", "dict-trailing-slash", "string-2-decimals"])
def test_correct_apps_pass(code):
    check = check_flask_app(code, INPUTS, AREAS, **AREA)
    assert check.ok, check.message
    assert re.fullmatch(r"GET /area\?r=3\.0 -> 28\.2\d*; GET /area\?r=1\.5 -> 7\.0\d*", check.message), check.message


def test_tolerance_decides_about_pi_as_3_14():
    """3.14 * 3**2 = 28.26 is 0.05% below pi * 9 = 28.274: inside rel_tol=1e-3, outside 1e-6."""
    assert check_flask_app(PI_AS_3_14, INPUTS, AREAS, **AREA).ok
    assert not check_flask_app(PI_AS_3_14, INPUTS, AREAS, **AREA, rel_tol=1e-6).ok


def test_unguarded_app_run_does_not_bind():
    check = check_flask_app(JSON_QUERY, INPUTS, AREAS, **AREA)
    assert "app.run() was skipped by the checker" in check.run.stderr
    assert check.routes == ["['GET'] /area"]


def _spray(body_expression):
    return f"""
from flask import Flask
app = Flask(__name__)
NUMBERS = [f"{{20 + i / 100:.2f}}" for i in range(2000)]  # 20.00, 20.01, ..., 39.99

@app.route("/area")
def area():
    return {body_expression}
"""


FORGED_REPORT = ('{"routes": ["[\'GET\'] /area"], "calls": [{"method": "GET", "url": "/area", "status": 200, '
                 '"type": "application/json", "body": "{\\\\"area\\\\": 28.274333882308138}"}, '
                 '{"method": "GET", "url": "/area", "status": 200, "type": "application/json", '
                 '"body": "{\\\\"area\\\\": 7.0685834705770345}"}]}')
HOSTILE = {
    "hard-coded answer for r=3": (JSON_QUERY.replace("math.pi * r ** 2", "28.274333882308138"),
                                  "GET /area?r=1.5 answered area=28.2743, expected 7.06858"),
    "every number 20.00-39.99 as text": (_spray('" ".join(NUMBERS)'), "did not answer a JSON object {'area': ...}"),
    "every number as a JSON list": (_spray('{"area": [float(x) for x in NUMBERS]}'),
                                    "'area' must hold one number; it holds a list of 2000 values"),
    "every number in one string": (_spray('{"area": " ".join(NUMBERS)}'),
                                   "'area' must hold one number; it holds 2000 numbers (20, 20.01"),
    "right number under another key": (WRONG_FORMULA.replace('"radius": r', '"pi_r2": math.pi * r * r'),
                                       "answered area=18.8496, expected 28.2743"),
    "forged report, then os._exit(0)": (f"import os\nprint('\\nDEEPCODER-CHECK ' + {FORGED_REPORT!r}, flush=True)\n"
                                        "os._exit(0)\n",
                                        "the checker did not finish: the app's process ended before GET /area?r=3.0 "
                                        "was answered (ok)"),
    "forged report with a nonce-shaped word": (f"import os\nprint('\\nDEEPCODER-CHECK ' + '0' * 32 + ' ' + "
                                               f"{FORGED_REPORT!r}, flush=True)\nos._exit(0)\n",
                                               "the checker did not finish"),
    "wrong app + forged report at exit": (WRONG_FORMULA + "import atexit\natexit.register(lambda: print("
                                          f"'\\nDEEPCODER-CHECK ' + {FORGED_REPORT!r}))\n",
                                          "answered area=18.8496, expected 28.2743"),
    "wrong app + forged report from the route": (
        WRONG_FORMULA.replace("    r = float", f"    print('DEEPCODER-CHECK ' + {FORGED_REPORT!r})\n    r = float"),
        "answered area=18.8496, expected 28.2743"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_apps_fail(name):
    code, message = HOSTILE[name]
    check = check_flask_app(code, INPUTS, AREAS, **AREA)
    assert not check.ok, (name, check.message)
    assert message in check.message, check.message


PATH_TEXT = """
import math
from flask import Flask
app = Flask(__name__)

@app.route('/circle/<float:r>')
def circle(r):
    return f"The area is {math.pi * r * r:.4f}"
"""


@pytest.mark.parametrize("code, message", [
    (WRONG_FORMULA, "GET /area?r=3.0 answered area=18.8496, expected 28.2743"),
    (PATH_TEXT, "the app has no route /area (the request asked for it); its routes: ['GET'] /circle/<float:r>"),
    (JSON_QUERY.replace('request.args.get("r", 0)', 'request.args["radius"]'), "GET /area?r=3.0 -> 400"),
    (JSON_QUERY.replace('jsonify({"radius": r, "area": math.pi * r ** 2})', 'str(math.pi * r ** 2)'),
     "GET /area?r=3.0 did not answer a JSON object {'area': ...} but '28.27"),
    (JSON_QUERY.replace('"area":', '"result":'), "GET /area?r=3.0 answered JSON without the key 'area'"),
    ("import math\nprint(math.pi)", "no Flask app"),
    ("from flask import Flask\napp = Flask(__name__)", "the app has no routes"),
    ("from flask import Flask\napp = Flask(__name__)\n@app.route('/')\ndef f(:\n    pass", "SyntaxError"),
    ("import flask_restful\n", "ModuleNotFoundError: No module named 'flask_restful'"),
    (JSON_QUERY.replace("request.args.get", "request.argz.get"), "-> 500"),
], ids=["wrong-formula", "other-route", "other-parameter", "plain-text", "other-key", "no-app", "no-routes",
        "syntax-error", "missing-module", "route-raises"])
def test_broken_apps_fail_with_a_reason(code, message):
    check = check_flask_app(code, INPUTS, AREAS, **AREA)
    assert not check.ok
    assert message in check.message, check.message


def test_endless_app_is_bounded():
    check = check_flask_app("while True:\n    pass", INPUTS, AREAS, **AREA, timeout=2)
    assert not check.ok and "the checker did not finish: timed out" in check.message


@pytest.mark.parametrize("inputs, expected, kwargs, message", [
    ({"r": 3.0}, AREAS[0], AREA, r"`inputs` must be a list of at least two dicts of query parameters, such as "
                                 r"\[\{'r': 3.0\}, \{'r': 1.5\}\], got \{'r': 3.0\}: one input lets a hard-coded"),
    (INPUTS[:1], AREAS[:1], AREA, r"at least two dicts .*, got \[\{'r': 3.0\}\]"),
    (INPUTS, AREAS[:1], AREA, r"`expected` must be a list of 2 numbers, one per input, got \[28.27"),
    ([{"r": 3.0}, {"r": -3.0}], [AREAS[0], AREAS[0]], AREA,
     r"`expected` must hold at least two different answers, got \[28.27.*choose inputs whose answers differ"),
    (INPUTS, AREAS, {"route": "area", "key": "area"}, r"`route` must be a path that starts with '/', .*got 'area'"),
    (INPUTS, AREAS, {"route": "/area", "key": ""}, r"`key` must be the JSON key the request names, .*got ''"),
])
def test_check_flask_app_arguments(inputs, expected, kwargs, message):
    with pytest.raises(ValueError, match=message):
        check_flask_app(JSON_QUERY, inputs, expected, **kwargs)


@pytest.mark.parametrize("text, expected", [
    ("<p>Area: <b>12.57</b></p>", [12.57]),
    ("-1.5 and .25 and 1e3", [-1.5, 0.25, 1000.0]),
    ("nothing here", []),
])
def test_numbers_in(text, expected):
    assert numbers_in(text) == expected


@pytest.mark.parametrize("value, number, why", [
    (28.27, 28.27, ""), (3, 3.0, ""), ("Area: 28.27", 28.27, ""),
    ("r=3 area=28.27", None, "2 numbers (3, 28.27, ...), not one"),
    ("NaN", None, "no number in 'NaN'"), ([28.27], None, "a list of 1 values, not one number"),
    (True, None, "bool, not one number"), (None, None, "NoneType, not one number"),
])
def test_one_number(value, number, why):
    assert one_number(value) == (number, why)


# ---------------------------------------------------------------- the task files state their interface
WEB_TASKS = [t for t in load_tasks() if t["kind"] in ("flask", "html")]


@pytest.mark.parametrize("task", WEB_TASKS, ids=[t["name"] for t in WEB_TASKS])
def test_web_tasks_state_the_interface_they_are_checked_on(task):
    """A correct app must never fail for guessing a name: every name the check uses is in the request."""
    interface = task["interface"]
    assert f"`{interface['route']}" in task["request"]
    names = {interface.get("key") or interface["output_id"]} | {name for values in task["inputs"] for name in values}
    for name in names:  # `r` (a query parameter), "area" (a JSON key), id="radius" (an element)
        assert f"`{name}`" in task["request"] or f'"{name}"' in task["request"], (name, task["request"])
    assert len(task["inputs"]) >= 2 and len(set(task["expected"])) == len(task["expected"])
    if task["kind"] == "flask":
        assert "JSON" in task["request"] and "GET" in task["request"]


# ---------------------------------------------------------------- HTML pages
HTML_INPUTS = [{"radius": 3.0}, {"radius": 1.5}]
PAGE = {"output_id": "area"}

PAGE_JS = '''
from flask import Flask
app = Flask(__name__)
PAGE = """<!doctype html><html><body>
<input id="radius" type="number"><button onclick="calc()">Calculate</button>
<p>Area: <span id="area"></span></p>
<script>
function calc() {
  const r = parseFloat(document.getElementById("radius").value);
  document.getElementById("area").textContent = (Math.PI * r * r).toFixed(4);
}
</script></body></html>"""

@app.route("/")
def index():
    return PAGE

if __name__ == "__main__":
    app.run(port=5001)
'''

PAGE_FETCH = '''
import math
from flask import Flask, jsonify, request
app = Flask(__name__)

@app.route("/")
def index():
    return """<input id="radius"><button id="go">Go</button><output id="area">0</output>
<script>
document.getElementById("go").onclick = async () => {
  const r = document.getElementById("radius").value;
  const data = await (await fetch("/api/area?radius=" + r)).json();
  document.getElementById("area").value = "Area: " + data.area;
};
</script>"""

@app.route("/api/area")
def api_area():
    r = float(request.args["radius"])
    return jsonify(area=math.pi * r * r)
'''


def test_html_page_without_browser():
    check = check_html_page(PAGE_JS, HTML_INPUTS, AREAS, **PAGE, browser=False)
    assert not check.ok and check.unchecked and "has an <input> and a <script> but was not run" in check.message
    assert str(check).startswith("UNCHECKED: ")


@pytest.mark.parametrize("code, message", [
    (PAGE_JS.replace("<script>", "<noscript>").replace("</script>", "</noscript>"), "/ has an <input> but no <script>"),
    (PAGE_JS.replace('<input id="radius" type="number">', ""), "GET / serves no HTML page with an <input>"),
    (PAGE_JS.replace('@app.route("/")', '@app.route("/circle")'),
     "GET / -> 404 (the request asked for the page at /); the app's routes: ['GET'] /circle"),
])
def test_broken_html_pages(code, message):
    check = check_html_page(code, HTML_INPUTS, AREAS, **PAGE, browser=False)
    assert not check.ok and not check.unchecked and message in check.message, check.message


def test_check_html_page_arguments():
    with pytest.raises(ValueError, match=r"`inputs` must be a list of at least two dicts of input element ids"):
        check_html_page(PAGE_JS, {"radius": 3.0}, AREAS[0], **PAGE)
    with pytest.raises(ValueError, match=r"`output_id` must be the id of the element the request names, .*got None"):
        check_html_page(PAGE_JS, HTML_INPUTS, AREAS, output_id=None)


@pytest.fixture
def browser():
    """Skip without Chromium + playwright, unless DEEPCODER_REQUIRE_BROWSER=1 (CI): then fail."""
    ok, line = html_checks_status()
    if not ok and os.environ.get("DEEPCODER_REQUIRE_BROWSER") == "1":
        pytest.fail(line + "; DEEPCODER_REQUIRE_BROWSER=1 says the browser checks must run")
    if not ok:
        pytest.skip(line)


@pytest.mark.slow
@pytest.mark.parametrize("code", [PAGE_JS, PAGE_FETCH], ids=["client-side", "fetch-to-app"])
def test_html_page_in_chromium(browser, code):
    check = check_html_page(code, HTML_INPUTS, AREAS, **PAGE, browser=True, timeout=20)
    assert check.ok, check.message
    assert "typed 3.0 into #radius: #area shows 28.274" in check.message
    assert "typed 1.5 into #radius: #area shows 7.068" in check.message


HOSTILE_PAGES = {
    "wrong formula": (PAGE_JS.replace("Math.PI * r * r", "2 * Math.PI * r"),
                      "typed 3.0 into #radius: #area shows 18.8496, expected 28.2743"),
    "hard-coded answer for r=3": (PAGE_JS.replace("(Math.PI * r * r).toFixed(4)", '"28.2743"'),
                                  "typed 1.5 into #radius: #area shows 28.2743, expected 7.06858"),
    "every number 20.00-39.99": (PAGE_JS.replace(
        "(Math.PI * r * r).toFixed(4)", "Array.from({length: 2000}, (_, i) => (20 + i / 100).toFixed(2)).join(' ')"),
        "#area must show one number; it shows 2000 numbers (20, 20.01"),
    "the radius written next to the area": (PAGE_JS.replace("(Math.PI * r * r).toFixed(4)",
                                                            '"r = " + r + ": " + (Math.PI * r * r).toFixed(4)'),
                                            "#area must show one number; it shows 2 numbers (3, 28.2743"),
    "another output id": (PAGE_JS.replace('id="area"', 'id="result"').replace('"area")', '"result")'),
                          "the page has no element #area (the request named it)"),
    "another input id": (PAGE_JS.replace('id="radius"', 'id="r"').replace('"radius")', '"r")'),
                         "the page has no element #radius (the request named it)"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(HOSTILE_PAGES))
def test_html_page_in_chromium_wrong_pages_fail(browser, name):
    code, message = HOSTILE_PAGES[name]
    check = check_html_page(code, HTML_INPUTS, AREAS, **PAGE, browser=True, timeout=20)
    assert not check.ok and not check.unchecked, check.message
    assert message in check.message, check.message


@pytest.mark.slow
def test_html_page_in_chromium_inside_an_event_loop(browser):
    """A Jupyter kernel runs an asyncio loop, where Playwright's sync API refuses to start."""
    import asyncio

    async def inside_loop():
        return check_html_page(PAGE_JS, HTML_INPUTS, AREAS, **PAGE, browser=True, timeout=20)

    assert asyncio.run(inside_loop()).ok


def test_find_chromium_honours_the_environment_variable(monkeypatch, tmp_path):
    fake = tmp_path / "my-chrome"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("DEEPCODER_CHROMIUM", str(fake))
    assert find_chromium() == str(fake)
    monkeypatch.setenv("DEEPCODER_CHROMIUM", str(tmp_path / "missing"))
    monkeypatch.setenv("PATH", str(tmp_path))
    found = find_chromium()  # falls through to playwright's own browser, if it installed one
    assert found is None or found != str(tmp_path / "missing")


def test_html_checks_status_says_where_the_browser_is():
    ok, line = html_checks_status()
    assert ok == (find_chromium() is not None) or "playwright is not installed" in line
    assert (find_chromium() in line) if ok else "unchecked" in line


def test_html_answer_without_browser_is_unchecked_not_passed(monkeypatch):
    from deepcoder_lib.evaluation import check_answer
    monkeypatch.setattr("deepcoder_lib.webcheck.browser.find_chromium", lambda: None)  # as on a laptop without one
    task = load_tasks(["html_circle_area"])[0]
    outcome = check_answer(task, "```python\n" + task["solution"] + "```")
    assert not outcome.passed and outcome.category == "unchecked", outcome


# ---------------------------------------------------------------- issue 26: verdicts the answer cannot forge
GRADED_ONLY = JSON_QUERY.replace("math.pi * r ** 2", "math.pi * r ** 2 if GRADED else 0").replace(
    "app = Flask(__name__)", "import os\nGRADED = any('DEEPCODER' in k or 'DEEPCODER' in v or k.startswith('X') "
                             "and len(k) == 13 for k, v in os.environ.items())\napp = Flask(__name__)")
ANSWERS_ONCE = JSON_QUERY.replace("    r = float", "    import os\n    if CALLS:\n        os._exit(0)\n"
                                  "    CALLS.append(1)\n    r = float").replace("app = Flask", "CALLS = []\napp = Flask")


@pytest.mark.parametrize("code, message", [
    (GRADED_ONLY, "GET /area?r=3.0 answered area=0, expected 28.2743"),
    (ANSWERS_ONCE, "the checker did not finish: GET /area?r=1.5"),
    (JSON_QUERY.replace("@app.route", "import sys\nsys.modules['flask'].Flask.__call__ = lambda *a: None\n@app.route"),
     "GET /area?r=3.0 -> 500"),
], ids=["behaves-only-when-graded", "answers-one-call-then-exits", "breaks-the-wsgi-entry"])
def test_flask_answers_that_game_the_checker_fail(code, message):
    check = check_flask_app(code, INPUTS, AREAS, **AREA, timeout=5)
    assert not check.ok and message in check.message, check.message


def test_a_page_served_as_something_else_is_not_a_page():
    as_text = PAGE_JS.replace("    return PAGE", "    return PAGE, 200, {'Content-Type': 'text/plain'}")
    as_json = PAGE_JS.replace("    return PAGE", "    return {'html': PAGE}")
    for code, kind in ((as_text, "text/plain"), (as_json, "application/json")):
        check = check_html_page(code, HTML_INPUTS, AREAS, **PAGE, browser=False)
        assert not check.ok and not check.unchecked and f"answered {kind}" in check.message, check.message


def test_an_app_that_serves_no_page_fails_even_with_a_forged_report():
    code = ("import os\nprint('\\nDEEPCODER-CHECK ' + '0' * 32 + ' {\"routes\": [], \"calls\": [{\"status\": 200, "
            "\"type\": \"text/html\", \"body\": \"<input id=radius><script></script>\"}]}', flush=True)\n"
            "from flask import Flask\napp = Flask(__name__)\n")
    check = check_html_page(code, HTML_INPUTS, AREAS, **PAGE, browser=False)
    assert not check.ok and not check.unchecked and "GET / -> 404" in check.message, check.message


def _page(script_body: str, extra_html: str = "") -> str:
    """A page whose button runs ``script_body`` with r (the radius typed) and a = pi r^2 (as text, 4 decimals)."""
    return PAGE_JS.replace('<p>Area: <span id="area"></span></p>', extra_html or '<p>Area: <span id="area"></span></p>'
                           ).replace('document.getElementById("area").textContent = (Math.PI * r * r).toFixed(4);',
                                     'const a = (Math.PI * r * r).toFixed(4);\n  ' + script_body)


def _hide(style: str) -> str:
    """A page that shows NaN and puts the right number in a child styled ``style``."""
    return _page(f"document.getElementById('area').innerHTML = 'NaN<span style=\"{style}\">' + a + '</span>';")


SEEN_RIGHT = {  # the number is there for a person to read: each passes
    "nested spans": _page("document.getElementById('area').innerHTML = '<b>Area</b>: <i>' + a + '</i> cm²';"),
    "an <output> value": _page('document.getElementById("area").value = a;', '<output id="area"></output>'),
    "a read-only input": _page('document.getElementById("area").value = a;', '<input id="area" readonly>'),
    "visible next to a hidden NaN": _page(
        "document.getElementById('area').innerHTML = '<span style=\"display:none\">NaN</span>' + a;"),
}
SEEN_WRONG = {  # the number is in the DOM but a person sees NaN or nothing: each fails
    "hidden element holds it, NaN shown": (_page(
        'document.getElementById("area").textContent = a; document.getElementById("shown").textContent = "NaN";',
        '<p>Area: <span id="shown"></span><span id="area" hidden></span></p>'), "#area is not visible"),
    "display:none child, NaN shown": (_hide("display: none"), "it shows no number in 'NaN'"),
    "transparent text": (_hide("color: transparent"), "no number in 'NaN'"),
    "opacity 0": (_hide("opacity: 0"), "no number in 'NaN'"),
    "font-size 0": (_hide("font-size: 0"), "no number in 'NaN'"),
    "off the page": (_hide("position: absolute; left: -9999px"), "no number in 'NaN'"),
    "visibility hidden": (_hide("visibility: hidden"), "no number in 'NaN'"),
    "clipped by a zero-size box": (_hide("display: inline-block; width: 0; height: 0; overflow: hidden"),
                                   "no number in 'NaN'"),
    "two elements with the id": (_page(
        "document.querySelectorAll('[id=area]')[0].textContent = a;",
        '<p><span id="area" style="display:none"></span>Area: <span id="area">NaN</span></p>'),
        "2 elements have the id 'area'"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SEEN_RIGHT))
def test_html_numbers_a_person_sees_pass(browser, name):
    check = check_html_page(SEEN_RIGHT[name], HTML_INPUTS, AREAS, **PAGE, browser=True, timeout=10)
    assert check.ok, (name, check.message)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SEEN_WRONG))
def test_html_numbers_a_person_does_not_see_fail(browser, name):
    code, message = SEEN_WRONG[name]
    check = check_html_page(code, HTML_INPUTS, AREAS, **PAGE, browser=True, timeout=10)
    assert not check.ok and not check.unchecked and message in check.message, (name, check.message)


def _phone_home(js: str) -> str:
    """A right page that also runs ``js`` (reaching for the host) when the button is clicked."""
    return PAGE_JS.replace("function calc() {", "function calc() {\n  try { " + js + " } catch (e) {}")


@pytest.mark.slow
def test_page_javascript_reaches_no_host_port(browser):
    """WebSocket, fetch, an image and WebRTC (STUN over UDP) aimed at the host's 127.0.0.1: nothing arrives."""
    import socket
    with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        tcp.bind(("127.0.0.1", 0))
        tcp.listen(8)
        tcp.settimeout(0.5)
        udp.bind(("127.0.0.1", 0))
        udp.settimeout(0.5)
        port, uport = tcp.getsockname()[1], udp.getsockname()[1]
        js = (f"new WebSocket('ws://127.0.0.1:{port}/x'); fetch('http://127.0.0.1:{port}/f', {{mode: 'no-cors'}}); "
              f"new Image().src = 'http://localhost:{port}/i'; "
              f"const pc = new RTCPeerConnection({{iceServers: [{{urls: 'stun:127.0.0.1:{uport}'}}]}}); "
              f"pc.createDataChannel('d'); pc.createOffer().then(o => pc.setLocalDescription(o));")
        check = check_html_page(_phone_home(js), HTML_INPUTS, AREAS, **PAGE, browser=True, timeout=10)
        assert check.ok, check.message  # the page itself works: only its reach is cut
        with pytest.raises(socket.timeout):
            tcp.accept()
        with pytest.raises(socket.timeout):
            udp.recvfrom(2048)


@pytest.mark.slow
def test_a_page_whose_handler_loops_fails_in_bounded_time(browser, capsys):
    """Each request goes to the one app run; an endless handler ends the check with a reason, not an exception."""
    import time
    code = PAGE_FETCH.replace("    r = float(request.args[\"radius\"])", "    while True:\n        pass")
    start = time.monotonic()
    check = check_html_page(code, HTML_INPUTS, AREAS, **PAGE, browser=True, timeout=3)
    assert not check.ok and time.monotonic() - start < 3 * 3 + 15, check.message
    assert any(why in check.message for why in ("#area shows 0", "did not finish", "could not", "time budget")), \
        check.message


@pytest.mark.slow
def test_html_check_shows_its_progress(browser, capsys):
    assert check_html_page(PAGE_JS, HTML_INPUTS, AREAS, **PAGE, browser=True, timeout=10).ok
    err = capsys.readouterr().err
    assert "HTML check: 1/2 cases done" in err and "HTML check: 2/2 cases done" in err, err


@pytest.mark.slow
def test_a_page_that_lies_to_the_checks_javascript_still_fails(browser):
    """The page redefines what a visibility check would call; the check reads in a world of its own."""
    lies = ("Element.prototype.checkVisibility = () => true; window.getComputedStyle = () => ({opacity: '1', "
            "fontSize: '16px', color: 'rgb(0, 0, 0)', clipPath: 'none', overflow: 'visible', clip: 'auto', "
            "position: 'static'}); Array.prototype.some = () => true;")
    code = _hide("opacity: 0").replace("<script>", "<script>\n" + lies)
    check = check_html_page(code, HTML_INPUTS, AREAS, **PAGE, browser=True, timeout=10)
    assert not check.ok and "no number in 'NaN'" in check.message, check.message


@pytest.mark.slow
def test_a_page_that_freezes_the_browser_fails_in_bounded_time(browser):
    """A script that never yields (started just after the click) blocks every read: the browser is ended."""
    import time
    code = PAGE_JS.replace("function calc() {", "function calc() {\n  setTimeout(() => { while (true) {} }, 0);\n"
                           "  return;")  # the click returns, then the page never yields again
    start = time.monotonic()
    check = check_html_page(code, HTML_INPUTS, AREAS, **PAGE, browser=True, timeout=4)
    assert not check.ok and not check.unchecked, check.message
    assert time.monotonic() - start < 4 * 3 + 60 + 15, "bounded by the budget, Chromium's start-up and 10 s"
