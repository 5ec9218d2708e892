"""deepcoder_lib.livechart: the in-place chart draws what it was given, and blitting changes nothing in the picture."""
from __future__ import annotations

import io
import sys

import numpy as np
import pytest
from matplotlib.colors import to_hex
from PIL import Image

from deepcoder_lib.livechart import GREY, TokenChart, new_figure
from deepcoder_lib.plots import BEFORE, KEPT, REMOVED

LABELS = ["```", "·Here", "def", "·To"]
MODEL = [0.53, 0.23, 0.044, 0.038]
AFTER = [0.70, 0.30, 0.0, 0.0]  # e.g. top_k=2: two kept and renormalised, two removed


def _pixels(chart) -> np.ndarray:
    return np.asarray(chart.canvas.buffer_rgba()).copy()


@pytest.fixture
def chart():
    chart = TokenChart(len(LABELS), live=False)
    chart.set_labels(LABELS, MODEL)
    chart.update(MODEL, AFTER, "top_k 2")
    return chart


def test_bars_labels_and_removed_tokens_are_what_was_given(chart):
    assert not chart.live and type(chart.canvas).__name__ == "FigureCanvasAgg"
    assert [t.get_text() for t in chart.token_texts] == LABELS
    assert [b.get_width() for b in chart.model_bars] == MODEL and [b.get_width() for b in chart.kept_bars] == AFTER
    assert [b.get_y() + b.get_height() / 2 for b in chart.model_bars] == [3, 2, 1, 0]  # most likely at the top
    assert [t.get_text() for t in chart.value_texts] == ["70.0%", "30.0%", "removed", "removed"]
    assert [t.get_text() for t in chart.model_texts] == ["(53.0%)", "(23.0%)", "(4.4%)", "(3.8%)"]
    assert [to_hex(b.get_facecolor()) for b in chart.model_bars] == [BEFORE, BEFORE, REMOVED, REMOVED]
    assert {to_hex(b.get_facecolor()) for b in chart.kept_bars} == {KEPT}
    assert [s.get_visible() for s in chart.strikes] == [False, False, True, True]
    assert [v.get_visible() for v in chart.veils] == [False, False, True, True]
    assert to_hex(chart.value_texts[2].get_color()) == GREY and chart.title.get_text() == "top_k 2"


def test_strike_lines_cross_their_labels(chart):
    renderer = chart.canvas.get_renderer()
    for text, strike in zip(chart.token_texts[2:], chart.strikes[2:]):
        box = text.get_window_extent(renderer)
        (x0, y), (x1, _) = chart.ax.transData.transform(np.column_stack(strike.get_data()))
        assert box.x0 - 1 <= x0 < x1 <= box.x1 + 1 and box.y0 < y < box.y1


def test_an_in_place_update_draws_the_same_picture_as_a_full_draw(chart):
    before = _pixels(chart)
    chart.update(MODEL, [1.0, 0.0, 0.0, 0.0], "greedy")  # blitted onto the saved background
    blitted = _pixels(chart)
    assert not np.array_equal(blitted, before)
    chart.canvas.draw()  # everything from scratch
    assert np.array_equal(_pixels(chart), blitted)
    saved = io.BytesIO()
    chart.figure.savefig(saved, format="png")  # what the teacher saves: the animated bars are in it
    assert np.array_equal(np.asarray(Image.open(saved).convert("RGBA")), blitted)
    assert chart.png().startswith(b"\x89PNG")


def test_new_labels_take_a_full_draw(chart):
    chart.set_labels(["a", "b", "c", "d"], [0.4, 0.3, 0.2, 0.1])
    chart.update([0.4, 0.3, 0.2, 0.1], [0.4, 0.3, 0.2, 0.1])
    fresh = TokenChart(4, live=False)
    fresh.set_labels(["a", "b", "c", "d"], [0.4, 0.3, 0.2, 0.1])
    fresh.update([0.4, 0.3, 0.2, 0.1], [0.4, 0.3, 0.2, 0.1])
    assert np.array_equal(_pixels(chart), _pixels(fresh))


def test_live_chart_is_ipympl_canvas_with_a_toolbar_and_the_same_picture(chart):
    live = TokenChart(len(LABELS), live=True)
    live.set_labels(LABELS, MODEL)
    live.update(MODEL, AFTER, "top_k 2")
    from ipympl.backend_nbagg import Canvas
    assert live.live and isinstance(live.canvas, Canvas)
    assert live.canvas.toolbar is not None and not live.canvas.resizable
    # the size the browser gives the canvas; inside a VBox nothing else sets it (it would show 0 x 0)
    assert [round(x) for x in live.canvas._size] == [750, 245] and tuple(live.canvas._size) == tuple(live.figure.bbox.size)
    assert np.array_equal(_pixels(live), _pixels(chart))


def _frames(live) -> list[np.ndarray]:
    """Record the pictures the live canvas sends to the browser (comm messages with a binary buffer)."""
    sent = []
    live.canvas.send = lambda content, buffers=None: sent.extend(buffers or [])
    return sent


def _decoded(frame: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(frame)).convert("RGBA"))


def test_live_frames_are_whole_pictures_one_per_update():
    """The browser may drop any frame but the last (ipympl keeps one Image and replaces its src): so each frame
    must be the whole picture, equal to the figure, and an update must send exactly one."""
    live = TokenChart(len(LABELS), live=True)
    sent = _frames(live)
    live.canvas._handle_message(live.canvas, {"type": "initialized"}, [])  # what JupyterLab's view sends
    live.set_labels(LABELS, MODEL)
    live.update(MODEL, AFTER, "top_k 2")  # the first draw: a full one
    assert len(sent) == 1 and np.array_equal(_decoded(sent[-1]), _pixels(live))
    for after, title in (([1.0, 0.0, 0.0, 0.0], "greedy"), ([0.5, 0.3, 0.2, 0.0], "min_p 0.05"), (AFTER, "top_k 2")):
        count = len(sent)
        live.update(MODEL, after, title)  # blitted in place
        assert len(sent) == count + 1, "one update, one frame"
        frame = _decoded(sent[-1])
        assert frame.shape == _pixels(live).shape and np.array_equal(frame, _pixels(live)) and (frame[..., 3] == 255).all()
    assert live.canvas._current_image_mode == "full"
    saved = io.BytesIO()
    live.figure.savefig(saved, format="png")  # what the figure holds, drawn from scratch
    assert np.array_equal(_decoded(sent[-1]), np.asarray(Image.open(saved).convert("RGBA")))


def test_live_chart_follows_a_new_device_pixel_ratio():
    """A HiDPI browser doubles the figure's dpi: the next update redraws in full at the new size (a blit onto the
    old, smaller background would leave the last picture's texts painted under the new ones)."""
    live = TokenChart(len(LABELS), live=True)
    sent = _frames(live)
    live.set_labels(LABELS, MODEL)
    live.update(MODEL, AFTER, "top_k 2")
    live.canvas._handle_message(live.canvas, {"type": "set_device_pixel_ratio", "device_pixel_ratio": 2}, [])
    live.update(MODEL, [1.0, 0.0, 0.0, 0.0], "greedy")
    frame = _decoded(sent[-1])
    saved = io.BytesIO()
    live.figure.savefig(saved, format="png", dpi=live.figure.dpi)  # the dpi the browser asked for
    assert frame.shape[:2] == (490, 1500) and np.array_equal(frame, np.asarray(Image.open(saved).convert("RGBA")))


def test_live_without_ipympl_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipympl.backend_nbagg", None)  # as if ipympl were not installed
    with pytest.raises(ValueError, match=r"`live=True` needs ipympl.*pip install ipympl==0\.10\.0"):
        new_figure((4, 3), live=True)


def test_rows_redrawn_in_place_always_equal_a_full_draw():
    """A move redraws only the rows (and the title) that changed; after any sequence of moves the picture is
    the one a full draw gives, pixel for pixel (the spines crossing each redrawn row included)."""
    rng = np.random.default_rng(0)
    chart = TokenChart(8, live=False)
    model = sorted(rng.dirichlet(np.ones(8)).tolist(), reverse=True)
    chart.set_labels([f"tok{i}" for i in range(8)], model)
    chart.update(model, model, "start")
    counts = []
    for step in range(12):
        kept = int(rng.integers(1, 9))
        after = [p / sum(model[:kept]) if i < kept else 0.0 for i, p in enumerate(model)]
        chart.update(model, after, f"kept {kept}" if step % 3 else "start")
        counts.append(chart.redrawn_rows)
        saved = io.BytesIO()
        chart.figure.savefig(saved, format="png")
        assert np.array_equal(_pixels(chart), np.asarray(Image.open(saved).convert("RGBA"))), step
    assert min(counts) < 9 and max(counts) > 1  # some moves redrew a few rows, some many
    chart.figure.savefig(io.BytesIO(), format="png", dpi=50)  # another dpi: the canvas gets a new renderer
    chart.update(model, model, "after a savefig at 50 dpi")
    saved = io.BytesIO()
    chart.figure.savefig(saved, format="png")
    assert np.array_equal(_pixels(chart), np.asarray(Image.open(saved).convert("RGBA")))


def test_deepcoder_chart_png_forces_the_still_picture(monkeypatch):
    from deepcoder_lib import livechart
    monkeypatch.setattr(livechart, "in_kernel", lambda: True)  # a kernel with ipympl, as in VS Code or Colab
    monkeypatch.setattr(livechart, "ipympl_installed", lambda: True)
    monkeypatch.delenv("DEEPCODER_CHART", raising=False)
    assert livechart.live_canvas_available()
    monkeypatch.setenv("DEEPCODER_CHART", "png")
    assert not livechart.live_canvas_available()
    monkeypatch.setenv("DEEPCODER_CHART", "canvas")
    with pytest.raises(ValueError, match=r"`DEEPCODER_CHART` must be one of auto, png, got 'canvas'"):
        livechart.live_canvas_available()


def _drawn_both_ways(figure, texts, cache, draw_cached):
    """The pixels with the (animated) ``texts`` drawn by matplotlib on a fresh full draw, then with each drawn by
    ``draw_cached(text, renderer)`` inside ``cache.on`` on another; and the renderer."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    for text in texts:
        text.draw(renderer)
    own = _pixels(figure)
    figure.canvas.draw()
    with cache.on(renderer):
        for text in texts:
            draw_cached(text, renderer)
    return own, _pixels(figure), renderer


def test_text_from_cached_glyphs_is_matplotlibs_own_text_pixel_for_pixel():
    """``chartpixels.TextCache`` draws the glyphs FreeType rendered once, moved by whole pixels: at any fraction of
    a pixel, in any colour, size or font, the picture is the one matplotlib draws itself, and glyphs are reused."""
    from deepcoder_lib.chartpixels import TextCache
    rng = np.random.default_rng(1)
    figure = new_figure((4, 3), live=False)
    texts = [figure.text(x, y, text, fontsize=size, family=family, color=color)
             for x, y, text, size, family, color in zip(
                 rng.uniform(0.02, 0.6, 12), rng.uniform(0.05, 0.9, 12),
                 ["12.3%", "removed", "45.6%", "temperature 0.70 · top_k off", "(0.1%)", "100.0%"] * 2,
                 [9, 9, 10, 9, 7.5, 12] * 2, ["monospace", "sans-serif"] * 6, ["black", GREY, "#0072b2"] * 4)]
    for text in texts:
        text.set_animated(True)  # not in the full draw: each is drawn on its own below
    cache = TextCache()
    for _ in range(2):  # the second round draws from glyphs already cached
        own, cached, renderer = _drawn_both_ways(figure, texts, cache, lambda text, renderer: text.draw(renderer))
        assert np.array_equal(cached, own)
        assert "draw_text" not in vars(renderer)  # matplotlib's own method again after the block
    assert cache.hits > cache.misses > 0


def test_frames_are_png_that_decode_to_the_pixels():
    from deepcoder_lib.chartpixels import png_bytes
    pixels = np.random.default_rng(2).integers(0, 256, (37, 53, 4), dtype=np.uint8)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png_bytes(pixels)))), pixels)


def test_text_from_a_kept_layout_is_matplotlibs_own_text_pixel_for_pixel():
    """``TextCache.draw_artist`` keeps each string's alignment offset instead of laying it out again: for any
    alignment, size, colour, font and position the pixels are ``Text.draw``'s; texts it does not handle itself
    (rotated, two lines, mathtext, invisible, empty) are drawn by matplotlib, the same pixels too."""
    from deepcoder_lib.chartpixels import TextCache
    rng = np.random.default_rng(3)
    figure = new_figure((4, 3), live=False)
    strings = ["12.3%", "removed", "(0.1%)", "temperature 0.70 · top_k off", "100.0%", "gy", "tokens left",
               "a\nb", "$x^2$ costs", "rotated", "", "hidden"]
    texts = [figure.text(x, y, text, fontsize=size, family=family, color=color, ha=ha, va=va)
             for x, y, text, size, family, color, ha, va in zip(
                 rng.uniform(0.15, 0.8, 12), rng.uniform(0.1, 0.9, 12), strings, [9, 9, 7.5, 9, 12, 10] * 2,
                 ["monospace", "sans-serif"] * 6, ["black", GREY, "#0072b2"] * 4,
                 ["left", "center", "right"] * 4, ["center", "baseline", "top", "bottom", "center_baseline", "center"] * 2)]
    texts[9].set_rotation(30)
    texts[11].set_visible(False)
    for text in texts:
        text.set_animated(True)  # not in the full draw: each is drawn on its own below
    cache = TextCache()
    for round_ in range(3):  # later rounds draw from offsets and glyphs already kept, one with new strings
        if round_ == 2:
            for text, value in zip(texts[:7], rng.uniform(0, 1, 7)):
                text.set_text(f"{value:.1%}")
        own, cached, _ = _drawn_both_ways(figure, texts, cache, cache.draw_artist)
        differing = int((cached != own).any(-1).sum())
        assert differing == 0, f"round {round_}: {differing} pixels differ from matplotlib's own texts"
    assert len(cache.offsets) == 7 + 7  # the plain one-line strings of two rounds; the others drew themselves


def test_frame_encoder_sends_the_pixels_and_compresses_only_the_strips_that_changed():
    """Each frame decodes to exactly the picture given, opaque ones as RGB, others as RGBA; a strip of rows whose
    pixels did not change since the last frame is not compressed again, and a new size starts afresh."""
    from deepcoder_lib.chartpixels import FrameEncoder
    rng = np.random.default_rng(4)
    picture = np.full((100, 70, 4), 255, dtype=np.uint8)
    picture[..., :3] = rng.integers(0, 256, (100, 70, 3), dtype=np.uint8)
    encoder = FrameEncoder(strip=16)

    def decoded(frame):
        image = Image.open(io.BytesIO(frame))
        return image.mode, np.asarray(image.convert("RGBA"))

    mode, pixels = decoded(encoder.encode(picture))
    assert (mode, encoder.strips_compressed) == ("RGB", 7) and np.array_equal(pixels, picture)
    mode, pixels = decoded(encoder.encode(picture))
    assert encoder.strips_compressed == 0 and np.array_equal(pixels, picture)
    for rows, count in ((slice(20, 21), 1), (slice(30, 50), 3), (slice(96, 100), 1), (slice(0, 100), 7)):
        picture = picture.copy()
        picture[rows, 5:9, :3] = rng.integers(0, 256, picture[rows, 5:9, :3].shape, dtype=np.uint8)
        mode, pixels = decoded(encoder.encode(picture))
        assert (mode, encoder.strips_compressed) == ("RGB", count) and np.array_equal(pixels, picture), rows
    see_through = picture.copy()
    see_through[40, 3, 3] = 17  # one pixel not opaque: every strip again, as RGBA
    mode, pixels = decoded(encoder.encode(see_through))
    assert (mode, encoder.strips_compressed) == ("RGBA", 7) and np.array_equal(pixels, see_through)
    mode, pixels = decoded(encoder.encode(picture))  # opaque again: stays RGBA, only the changed strip
    assert (mode, encoder.strips_compressed) == ("RGBA", 1) and np.array_equal(pixels, picture)
    smaller = picture[:33, :20].copy()
    mode, pixels = decoded(encoder.encode(smaller))
    assert encoder.strips_compressed == 3 and np.array_equal(pixels, smaller)
    with pytest.raises(ValueError, match="`strip` must be at least 1 row, got 0"):
        FrameEncoder(strip=0)


def test_adler32_combine_is_zlibs():
    import zlib

    from deepcoder_lib.chartpixels import adler32_combine
    rng = np.random.default_rng(5)
    for size1, size2 in ((0, 0), (0, 9), (5, 0), (1, 65521), (3000, 70000), (65535, 200_000)):
        a, b = (rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in (size1, size2))
        assert adler32_combine(zlib.adler32(a), zlib.adler32(b), len(b)) == zlib.adler32(a + b)
