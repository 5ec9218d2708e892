"""The Flask and HTML checks on correct and broken apps, each run in the sandbox."""
import math

import pytest

from deepcoder_lib.webcheck import (check_flask_app, check_html_page, chromium_available, find_chromium,
                                   html_checks_status, numbers_in)

AREA = math.pi * 3.0 ** 2  # not r = 2: there 2*pi*r equals pi*r**2 and a wrong formula would pass
INPUTS = {"radius": 3.0}

JSON_QUERY = """
from flask import Flask, request, jsonify
import math
app = Flask(__name__)

@app.route("/area")
def area():
    r = float(request.args.get("radius", 0))
    return jsonify({"radius": r, "area": math.pi * r ** 2})

app.run(port=5000)  # unguarded: the checker must not let it bind a port
"""

PATH_TEXT = """
import math
from flask import Flask
app = Flask(__name__)

@app.route('/circle/<float:r>')
def circle(r):
    return f"The area is {math.pi * r * r:.4f}"

if __name__ == '__main__':
    app.run(debug=True)
"""

POST_FORM = """
from flask import Flask, request
import math
app = Flask(__name__)

@app.route("/calculate", methods=["POST"])
def calculate():
    return str(math.pi * float(request.form["radius"]) ** 2)
"""

WRONG_FORMULA = JSON_QUERY.replace("math.pi * r ** 2", "2 * math.pi * r")
PI_AS_3_14 = JSON_QUERY.replace("math.pi * r ** 2", "3.14 * r ** 2")


@pytest.mark.parametrize("code", [JSON_QUERY, PATH_TEXT, POST_FORM], ids=["json-query", "path-text", "post-form"])
def test_correct_apps_pass(code):
    check = check_flask_app(code, INPUTS, AREA)
    assert check.ok, check.message
    assert "answered 28.2743" in check.message


def test_tolerance_decides_about_pi_as_3_14():
    """3.14 * 3**2 = 28.26 is 0.05% below pi * 9 = 28.274: inside rel_tol=1e-3, outside 1e-6."""
    assert check_flask_app(PI_AS_3_14, INPUTS, AREA).ok
    assert not check_flask_app(PI_AS_3_14, INPUTS, AREA, rel_tol=1e-6).ok


def test_unguarded_app_run_does_not_bind():
    check = check_flask_app(JSON_QUERY, INPUTS, AREA)
    assert "app.run() was skipped by the checker" in check.run.stderr
    assert check.routes == ["['GET'] /area"]


@pytest.mark.parametrize("code, message", [
    (WRONG_FORMULA, "no route answered 28.2743. Tried: GET /area"),
    ("import math\nprint(math.pi)", "no Flask app"),
    ("from flask import Flask\napp = Flask(__name__)", "the app has no routes"),
    ("from flask import Flask\napp = Flask(__name__)\n@app.route('/')\ndef f(:\n    pass", "SyntaxError"),
    ("import flask_restful\n", "ModuleNotFoundError: No module named 'flask_restful'"),
    (JSON_QUERY.replace("request.args.get", "request.argz.get"), "-> 500"),
])
def test_broken_apps_fail_with_a_reason(code, message):
    check = check_flask_app(code, INPUTS, AREA)
    assert not check.ok
    assert message in check.message


def test_endless_app_is_bounded():
    check = check_flask_app("while True:\n    pass", INPUTS, AREA, timeout=2)
    assert not check.ok and "the checker did not finish: timed out" in check.message


def test_inputs_must_be_a_dict():
    with pytest.raises(ValueError, match=r"`inputs` must be a non-empty dict such as \{'radius': 2\}, got 2"):
        check_flask_app(JSON_QUERY, 2, AREA)


@pytest.mark.parametrize("body, expected", [
    ('{"area": 12.566, "radius": 2}', [2.0, 12.566]),
    ('{"result": {"values": [1, true, "pi is 3.14"]}}', [1.0, 3.14]),
    ("<p>Area: <b>12.57</b></p>", [12.57]),
    ("nothing here", []),
])
def test_numbers_in(body, expected):
    assert sorted(numbers_in(body)) == sorted(expected)


PAGE_JS = '''
from flask import Flask
app = Flask(__name__)
PAGE = """<!doctype html><html><body>
<input id="radius" type="number"><button onclick="calc()">Calculate</button>
<p id="out"></p>
<script>
function calc() {
  const r = parseFloat(document.getElementById("radius").value);
  document.getElementById("out").textContent = "Area: " + (Math.PI * r * r).toFixed(4);
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
    return """<input id="r"><button id="go">Go</button><span id="out"></span>
<script>
document.getElementById("go").onclick = async () => {
  const r = document.getElementById("r").value;
  const data = await (await fetch("/api/area?radius=" + r)).json();
  document.getElementById("out").textContent = data.area;
};
</script>"""

@app.route("/api/area")
def api_area():
    r = float(request.args["radius"])
    return jsonify(area=math.pi * r * r)
'''


def test_html_page_without_browser():
    check = check_html_page(PAGE_JS, INPUTS, AREA, browser=False)
    assert not check.ok and check.unchecked and "has an <input> and a <script> but was not run" in check.message
    assert str(check).startswith("UNCHECKED: ")


@pytest.mark.parametrize("code, message", [
    (PAGE_JS.replace("<script>", "<noscript>").replace("</script>", "</noscript>"), "has an <input> but no <script>"),
    (PAGE_JS.replace('<input id="radius" type="number">', ""), "no route serves an HTML page with an <input>"),
])
def test_broken_html_pages(code, message):
    check = check_html_page(code, INPUTS, AREA, browser=False)
    assert not check.ok and message in check.message


needs_chromium = pytest.mark.skipif(not chromium_available(), reason="/usr/bin/chromium or playwright is missing")


@needs_chromium
@pytest.mark.slow
@pytest.mark.parametrize("code", [PAGE_JS, PAGE_FETCH], ids=["client-side", "fetch-to-app"])
def test_html_page_in_chromium(code):
    check = check_html_page(code, INPUTS, AREA, browser=True, timeout=20)
    assert check.ok, check.message
    assert "the page showed 28.274" in check.message


@needs_chromium
@pytest.mark.slow
def test_html_page_in_chromium_wrong_formula():
    check = check_html_page(PAGE_JS.replace("Math.PI * r * r", "2 * Math.PI * r"), INPUTS, AREA, browser=True,
                            timeout=20)
    assert not check.ok and "did not show 28.2743" in check.message and "28.2743" in check.message


@needs_chromium
@pytest.mark.slow
def test_html_page_in_chromium_inside_an_event_loop():
    """A Jupyter kernel runs an asyncio loop, where Playwright's sync API refuses to start."""
    import asyncio

    async def inside_loop():
        return check_html_page(PAGE_JS, INPUTS, AREA, browser=True, timeout=20)

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
    from deepcoder_lib.evaluation import check_answer, load_tasks
    monkeypatch.setattr("deepcoder_lib.webcheck.find_chromium", lambda: None)  # as on a laptop without one
    task = load_tasks(["html_circle_area"])[0]
    outcome = check_answer(task, "```python\n" + task["solution"] + "```")
    assert not outcome.passed and outcome.category == "unchecked", outcome
