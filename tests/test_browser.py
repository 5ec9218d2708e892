"""What a person sees: the course's widgets in a real JupyterLab, in headless Chromium.

1. A small notebook made here (a slider redrawing a matplotlib picture, a textarea feeding a token
   view) proves that widgets render as widgets, not as text, and that the harness measures.
2. ``08_sampling_in_practice.ipynb``: run all cells, move the explorer's sliders with the keyboard, assert that
   its chart (ipympl's canvas) shows different pixels and, after Run All and after the moves, exactly the
   pixels of the figure the kernel holds (read through a second kernel client), and print how long each key
   press took to change the picture in the browser.
3. ``01_tokenizers.ipynb``: run all cells, type into the playground, assert the token view changed.

Screenshots go to ``artifacts/``. Skips without /usr/bin/chromium unless DEEPCODER_REQUIRE_BROWSER=1.
"""
from __future__ import annotations

import json
import os
import re
import time

import nbformat
import pytest

from browser_utils import (ARTIFACTS, canvas_pixels, chromium_page, error_outputs, fingerprint, jupyterlab,
                           open_notebook, paint_steps, require_browser, run_all_cells, screenshot, time_until_changed,
                           time_until_painted, wait_painted)
from notebook_utils import NOTEBOOK_DIR, copy_notebooks, has_tag

pytestmark = [pytest.mark.slow, pytest.mark.browser]

PLOT = ".deepcoder-explorer-plot"
# ipympl's figure; its canvas div holds only the canvases (the toolbar, which fades in on hover, is outside)
EXPLORER_CANVAS = f"{PLOT} .jupyter-matplotlib-figure .jupyter-matplotlib-canvas-div"
TOKEN_VIEW = ".deepcoder-token-view"
SELFTEST = "widget_selftest.ipynb"
SELFTEST_CELLS = [
    "import ipywidgets as widgets\nimport matplotlib.pyplot as plt\n"
    "from IPython.display import display",
    "temperature = widgets.FloatSlider(value=1.0, min=0.1, max=2.0, step=0.1, description='temperature')\n"
    "picture = widgets.Output()\npicture.add_class('deepcoder-explorer-plot')\n\n"
    "def draw(change=None):\n    fig, ax = plt.subplots(figsize=(4, 2.5))\n"
    "    ax.bar(range(5), [t ** (1 / temperature.value) for t in (0.5, 0.2, 0.15, 0.1, 0.05)])\n"
    "    ax.set_xlabel('token'); ax.set_ylabel('probability')\n"
    "    picture.clear_output(wait=True)\n    with picture:\n        display(fig)\n    plt.close(fig)\n\n"
    "temperature.observe(draw, names='value')\ndraw()\ndisplay(widgets.VBox([temperature, picture]))",
    "text = widgets.Textarea(value='def add(a, b):', description='code')\n"
    "view = widgets.HTML()\nview.add_class('deepcoder-token-view')\n\n"
    "def show(change=None):\n"
    "    view.value = ''.join(f'<span class=\"deepcoder-token\">{w}</span>' for w in text.value.split())\n\n"
    "text.observe(show, names='value')\nshow()\ndisplay(widgets.VBox([text, view]))",
    # the floor under any picture a kernel draws: key press -> the kernel -> a few bytes of text back, painted
    "echo = widgets.IntSlider(value=0, min=0, max=100, description='echo')\n"
    "echoed = widgets.HTML('<span>0</span>')\nechoed.add_class('deepcoder-echo')\n"
    "echo.observe(lambda change: setattr(echoed, 'value', f'<span>{change.new}</span>'), names='value')\n"
    "display(widgets.VBox([echo, echoed]))",
]
ROUND_TRIP_MS: list[float] = []  # the self-test's echo: written beside the explorer's figures


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """One JupyterLab for the module, over a temporary copy of notebooks/ plus the self-test notebook."""
    require_browser()
    root = tmp_path_factory.mktemp("lab")
    if NOTEBOOK_DIR.is_dir():
        copy_notebooks(root)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in SELFTEST_CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, root / SELFTEST)
    # JupyterLab's own default windowing: the explorer's chart was overprinted after Run All only with it
    with jupyterlab(root, windowing="contentVisibility") as server:
        yield server


@pytest.fixture
def page(lab, request):
    with chromium_page() as page:
        yield page
        screenshot(page, f"last_{request.node.name}")  # what the page showed at the end, pass or fail


def open_and_run(page, lab, name: str, selector: str):
    """Open a course notebook, Run All, and return (seconds to ready, seconds to run, the element)."""
    if not (NOTEBOOK_DIR / name).is_file():
        pytest.skip(f"{name} does not exist yet")
    ready = open_notebook(page, lab, name)
    ran = run_all_cells(page, done_selector=selector, timeout_ms=600_000)  # a busy 2-core CI machine is slow
    element = page.locator(selector).first
    element.scroll_into_view_if_needed()
    return ready, ran, element


def _tagged_errors(name: str) -> int:
    """How many cells of ``name`` show an error on purpose (tagged raises-exception)."""
    nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    return sum(has_tag(cell, "raises-exception") for cell in nb.cells)


def _slider(page, description: str):
    label = page.locator(".widget-label", has_text=re.compile(rf"^\s*{re.escape(description)}\b"))
    return page.locator(".widget-slider", has=label).first


def move_slider_and_time(page, description: str, picture, presses: int = 3, steps: list | None = None) -> list[float]:
    """Press ArrowRight on the slider ``presses`` times; milliseconds until the picture changed, each.

    A canvas picture is timed to its paint (``time_until_painted``) and then checked to show other pixels;
    any other picture (an image, SVG) is timed by watching its content change. ``steps`` collects each canvas
    move's ``paint_steps``."""
    handle = _slider(page, description).locator(".noUi-handle").first
    handle.scroll_into_view_if_needed()
    handle.focus()
    on_canvas = picture.locator("canvas").count() > 0
    times = []
    for _ in range(presses):
        before = fingerprint(picture)
        timer = time_until_painted if on_canvas else time_until_changed
        ms = timer(page, picture, lambda: handle.press("ArrowRight"))
        assert ms is not None, f"the picture did not change after moving the {description} slider"
        if on_canvas and steps is not None:
            steps.append(paint_steps(page))
        page.wait_for_timeout(300)  # let trailing redraws settle before the next move
        assert fingerprint(picture) != before, f"moving {description} painted the canvas, but the same pixels"
        times.append(ms)
    return times


def _report(capsys, what: str, times: list[float]) -> None:
    with capsys.disabled():
        print(f"\n[browser] {what}: " + ", ".join(f"{t:.0f}" for t in times)
              + f" ms (median {sorted(times)[len(times) // 2]:.0f} ms)")


def test_widgets_render_and_update(lab, page, capsys):
    """The harness itself, on a notebook made here: widgets appear as widgets and update live."""
    ready = open_notebook(page, lab, SELFTEST)
    ran = run_all_cells(page, done_selector=f"{PLOT} img")
    assert not error_outputs(page)
    picture = page.locator(PLOT).first
    assert picture.locator("img").count() == 1, "the picture is not an image: are widgets rendered as text?"
    times = move_slider_and_time(page, "temperature", picture)
    assert page.locator(".widget-readout").first.inner_text().strip() == "1.30"
    screenshot(page, "selftest_slider")

    view = page.locator(TOKEN_VIEW).first
    before = fingerprint(view)
    ms = time_until_changed(page, view, lambda: page.locator(".widget-textarea textarea").first
                            .press_sequentially("\n    return a + b", delay=10))
    assert ms is not None and fingerprint(view) != before
    # the first change is timed; the last keys' updates may still be on their way
    page.wait_for_function("el => el.innerText.includes('return')", arg=view.element_handle(), timeout=15_000)
    screenshot(page, "selftest_tokens")
    page.wait_for_selector(".deepcoder-echo", timeout=60_000)
    echoed = page.locator(".deepcoder-echo").first
    ROUND_TRIP_MS[:] = move_slider_and_time(page, "echo", echoed, presses=7)
    assert echoed.inner_text().strip() == "7", "the echo slider's value did not come back from the kernel"
    _report(capsys, f"self-test (page ready {ready:.1f} s, run all {ran:.1f} s): slider move -> new picture", times)
    _report(capsys, "self-test: key press -> kernel -> text painted (the round trip under any kernel-drawn "
                    "picture)", ROUND_TRIP_MS)


def client_value(client, expression: str):
    """The value of a Python literal ``expression`` in the notebook's kernel (through a second kernel client)."""
    import ast
    reply = client.execute_interactive("", user_expressions={"value": f"list(map(float, {expression}))"}, timeout=120)
    value = reply["content"]["user_expressions"]["value"]
    assert value["status"] == "ok", value
    return ast.literal_eval(value["data"]["text/plain"])


def assert_canvas_shows_the_figure(page, lab, canvas, notebook: str, when: str) -> None:
    """The painted canvas equals the kernel's figure drawn from scratch (savefig at the canvas's dpi), pixel for
    pixel: no title or percentage of an earlier state left under the current one."""
    import numpy as np
    from PIL import Image
    page.wait_for_timeout(1000)  # let the last frame arrive and load
    path = ARTIFACTS / f"08_figure_{when}.png"
    ARTIFACTS.mkdir(exist_ok=True)
    with lab.kernel_client(notebook) as client:
        reply = client.execute_interactive(f"explorer.figure.savefig({str(path)!r}, dpi=explorer.figure.dpi)",
                                           timeout=120)
    assert reply["content"]["status"] == "ok", reply["content"]
    figure = np.asarray(Image.open(path).convert("RGBA"))
    painted = canvas_pixels(canvas)
    Image.fromarray(painted).save(ARTIFACTS / f"08_canvas_{when}.png")
    assert painted.shape == figure.shape, f"{when}: canvas {painted.shape} vs figure {figure.shape}"
    differing = int((painted != figure).any(-1).sum())
    assert differing == 0, (f"{when}: {differing} pixels of the painted chart differ from the figure "
                            f"(artifacts/08_canvas_{when}.png vs artifacts/08_figure_{when}.png)")


def test_sampling_explorer_sliders_change_the_canvas(lab, page, capsys):
    notebook = "08_sampling_in_practice.ipynb"
    ready, ran, figure = open_and_run(page, lab, notebook, f"{EXPLORER_CANVAS} canvas")
    figure = page.locator(EXPLORER_CANVAS).first
    wait_painted(page, figure)
    assert_canvas_shows_the_figure(page, lab, figure, notebook, "after_run_all")
    screenshot(page, "08_sampling_before")
    before = fingerprint(figure)
    for description in ("temperature", "top_k", "top_p", "min_p"):
        assert _slider(page, description).count() == 1, f"no slider described {description!r} in the explorer"
    times, steps = {}, []
    for description in ("temperature", "top_k"):  # a softer distribution, then tokens removed
        times[description] = move_slider_and_time(page, description, figure, presses=5, steps=steps)
        assert fingerprint(figure) != before, f"moving {description} did not change the canvas"
        before = fingerprint(figure)
    assert_canvas_shows_the_figure(page, lab, figure, notebook, "after_moves")
    moves = sum(len(ms) for ms in times.values())
    with lab.kernel_client(notebook) as client:  # the kernel's own share of each move: maths, chart, frame
        server_ms = client_value(client, f"explorer.update_times_ms[-{moves}:]")
        started = client_value(client, f"explorer.update_started_ms[-{moves}:]")
    for step, began in zip(steps, started):  # the same machine's clock: how long the key press took to reach the kernel
        step["kernel"] = began - step.pop("key_at")
    screenshot(page, "08_sampling_after")
    screenshot(page, "08_sampling_picture", page.locator(PLOT).first)
    assert len(error_outputs(page)) <= _tagged_errors("08_sampling_in_practice.ipynb"), error_outputs(page)
    ARTIFACTS.mkdir(exist_ok=True)  # for benchmarks/bench_slider.py, which prints them beside the kernel's figures
    (ARTIFACTS / "browser_times.json").write_text(json.dumps(
        {"measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load": os.getloadavg()[0],
         "explorer": times, "server_ms": server_ms, "steps": steps, "round_trip_ms": ROUND_TRIP_MS}, indent=1))
    for description, ms in times.items():
        _report(capsys, f"08_sampling_in_practice (page ready {ready:.1f} s, run all {ran:.1f} s): {description} key press -> "
                        "new canvas pixels", ms)
    _report(capsys, f"08_sampling_in_practice: the kernel's update for the same moves (load {os.getloadavg()[0]:.1f})",
            server_ms)
    for step, what in (("sent", "key press -> message sent"), ("kernel", "key press -> the kernel began its update"),
                       ("frame", "key press -> frame arrived"),
                       ("drawn", "key press -> drawImage"), ("toDataURL", "of which in canvas.toDataURL")):
        _report(capsys, f"08_sampling_in_practice: {what}", [s.get(step, float("nan")) for s in steps])


def test_tokenizer_playground_updates_token_view(lab, page, capsys):
    ready, ran, view = open_and_run(page, lab, "01_tokenizers.ipynb", TOKEN_VIEW)
    textarea = page.locator(".widget-textarea textarea").first
    tokens_before = view.locator(".deepcoder-token").count()
    assert tokens_before > 0, "the token view shows no .deepcoder-token spans"
    textarea.click()  # focus first: the first key must reach the widget, not JupyterLab's shortcuts
    page.wait_for_timeout(300)
    before = fingerprint(view)
    ms = time_until_changed(page, view, lambda: textarea.press_sequentially(" return a + b", delay=10),
                            timeout_ms=30_000)
    page.wait_for_timeout(1000)
    screenshot(page, "01_tokenizers_playground")
    assert ms is not None and fingerprint(view) != before, "typing did not change the token view"
    assert view.locator(".deepcoder-token").count() > tokens_before
    assert len(error_outputs(page)) <= _tagged_errors("01_tokenizers.ipynb"), error_outputs(page)
    _report(capsys, f"01_tokenizers (page ready {ready:.1f} s, run all {ran:.1f} s): typing -> token view", [ms])
