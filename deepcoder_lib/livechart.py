"""A next-token bar chart that updates in place: the sampling explorer's live picture.

``plots.py`` draws a new matplotlib figure per call (~100-200 ms), right for static cells. Here one
figure is drawn once and a slider move only changes artists: bar widths, label text and colour,
then redraws only the rows that changed onto the background saved at the last full draw. In a Jupyter kernel with ipympl
installed the figure sits on ipympl's canvas widget (the canvas that ``%matplotlib widget`` gives),
with a toolbar that zooms and saves. Elsewhere (tests, scripts, no ipympl) the figure is on a plain
Agg canvas, and ``png()`` gives the picture. ``chart.figure.savefig(...)`` works on both. No pyplot:
the notebook's backend is never changed and no figure is shown twice.

Why the live canvas is more than ipympl's (the chart was wrong after Run All in JupyterLab 4.6):
JupyterLab sends widget messages to a kernel *subshell*, a second thread of ipykernel 7. ipympl's
"draw" request (sent when the canvas view is set up, which after Run All is answered once the last
cell has run) then redrew the figure on that thread while a slider update blitted on the main thread:
one Agg renderer drawn from two threads, so texts were drawn twice (overprinted), and a frame was
taken from a half-drawn figure. ipympl's frames are also "diffs" (only the pixels changed since the
last frame sent) that the browser lays over the picture it holds; it keeps a single ``Image`` and
drops a frame when the next arrives before it has loaded, so later diffs were laid over the wrong
picture and old titles and percentages stayed painted. ``LiveCanvas`` fixes both: drawing, updating
and encoding hold one lock (no frame from a half-drawn figure), one update sends one frame, and every
frame is whole (``chartpixels.FrameEncoder``: an unfiltered PNG at zlib level 1 whose unchanged strips
of rows keep their compressed bytes, cheaper than ipympl's diff at its default level), so whichever
frames the browser drops, the last one it shows is exactly the figure. The texts a move redraws (values,
title) come from ``chartpixels.TextCache``: matplotlib's own pixels, without FreeType rendering the glyphs
or matplotlib laying the string out again on every move.
"""
from __future__ import annotations

import contextlib
import importlib.util
import threading
import warnings
from base64 import b64encode

from matplotlib.text import Text

from .chartpixels import FrameEncoder, TextCache, png_bytes
from .plots import BEFORE, KEPT, REMOVED

GREY = "#999999"  # labels and values of removed tokens
_NO_LOCK = contextlib.nullcontext()
IPYMPL_FIX = "pip install ipympl==0.10.0, then restart the kernel and reload JupyterLab"


def in_kernel() -> bool:
    """True inside a Jupyter kernel (JupyterLab, Voila, nbclient), where widgets can be shown."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return getattr(get_ipython(), "kernel", None) is not None


def ipympl_installed() -> bool:
    return importlib.util.find_spec("ipympl") is not None


CHART_CHOICES = ("auto", "png")


def chart_mode() -> str:
    """``$DEEPCODER_CHART``: "png" where the front end cannot show ipympl's canvas (VS Code offline, a hosted
    notebook without its widget manager): the explorer then shows a still picture, redrawn on every move."""
    import os
    mode = os.environ.get("DEEPCODER_CHART", "auto").strip().lower() or "auto"
    if mode not in CHART_CHOICES:
        raise ValueError(f"`DEEPCODER_CHART` must be one of {', '.join(CHART_CHOICES)}, got {mode!r}; "
                         "use png where the live chart stays blank, or unset it")
    return mode


def live_canvas_available() -> bool:
    """True in a Jupyter kernel with ipympl installed, unless DEEPCODER_CHART=png: a figure can be a canvas widget."""
    return chart_mode() != "png" and in_kernel() and ipympl_installed()


_live_canvas_class = None


def live_canvas_class():
    """ipympl's ``Canvas`` that sends every frame whole (see the module docstring); made on first use."""
    global _live_canvas_class
    if _live_canvas_class is None:
        import numpy as np
        from ipympl.backend_nbagg import Canvas

        class LiveCanvas(Canvas):
            """ipympl's canvas widget, sending whole frames (``chartpixels.FrameEncoder``), drawing under one lock."""
            lock = None  # set per canvas in new_figure: an RLock shared by drawing and frame encoding
            encoder = None  # set per canvas in new_figure: a chartpixels.FrameEncoder

            def draw(self):
                with self.lock:
                    super().draw()

            def get_diff_image(self):
                with self.lock:
                    if not self._png_is_old:
                        return None
                    pixels = np.asarray(self.get_renderer().buffer_rgba())
                    self.set_image_mode("full")  # stays "full": the browser clears and draws each frame whole
                    self._png_is_old = self._force_full = False
                    return self.encoder.encode(pixels)  # whole, but only the strips that changed compressed again

            def send_binary(self, data):
                if self.syncing_data_url:  # no view yet (or no browser, as under nbclient): the frame itself
                    self._data_url = b64encode(data).decode("ascii")
                self.send({"data": '{"type": "binary"}'}, buffers=[data])

        _live_canvas_class = LiveCanvas
    return _live_canvas_class


def new_figure(figsize, live: bool):
    """A ``Figure`` on ipympl's canvas widget when ``live``, else on a plain Agg canvas (never pyplot's)."""
    from matplotlib.figure import Figure
    figure = Figure(figsize=figsize, facecolor="white")
    if not live:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        FigureCanvasAgg(figure)
        return figure
    try:
        from ipympl.backend_nbagg import FigureManager
    except ImportError:
        raise ValueError(f"`live=True` needs ipympl, which is not installed; {IPYMPL_FIX}") from None
    canvas = live_canvas_class()(figure)
    canvas.lock = threading.RLock()
    canvas.encoder = FrameEncoder()
    with warnings.catch_warnings():  # ipympl 0.10's own Toolbar.__init__ trips a traitlets deprecation
        warnings.filterwarnings("ignore", r"Passing unrecognized arguments to super\(Toolbar\)", DeprecationWarning)
        FigureManager(canvas, 0)  # gives the canvas its toolbar: zoom, pan, download
    canvas.header_visible = canvas.footer_visible = canvas.resizable = False
    # the size ipympl's own display sets (Canvas._repr_mimebundle_); inside a VBox that never runs,
    # and a canvas with no size shows as 0 x 0 pixels
    canvas._size = (figure.bbox.width, figure.bbox.height)
    canvas.toolbar_position = "right"
    return figure


class TokenChart:
    """Horizontal bars for ``n`` tokens, most likely at the top.

    ``.model_bars``: light, the model at temperature 1 with no filter. ``.kept_bars``: blue, what
    sampling draws from now (renormalised after the filters). ``.value_texts`` give the blue bar's
    probability (or "removed"), ``.model_texts`` the light one's. A removed token's model bar turns
    grey, and its label (``.token_texts``) is struck through (``.strikes``) and greyed by a white
    veil (``.veils``). What changes with a slider is animated and blitted by ``draw``; labels and
    model values change only with the prompt (``set_labels``, then one full draw).
    """

    def __init__(self, n: int, live: bool | None = None):
        from matplotlib.patches import Patch, Rectangle
        self.live = live_canvas_available() if live is None else bool(live)
        height = 0.3 * n + 1.25  # inches: 0.85 below the bars (axis, legend), 0.4 above (title)
        self.figure = new_figure((7.5, height), self.live)
        ax = self.ax = self.figure.add_axes((0.2, 0.85 / height, 0.6, 0.3 * n / height))
        rows = range(n - 1, -1, -1)
        self.model_bars = list(ax.barh(rows, [0.0] * n, height=0.8, color=BEFORE, animated=True))
        self.kept_bars = list(ax.barh(rows, [0.0] * n, height=0.45, color=KEPT, animated=True))
        text = dict(va="center", family="monospace", clip_on=False)
        self.token_texts = [ax.text(-0.015, row, "", ha="right", **text) for row in rows]
        self.value_texts = [ax.text(1.015, row, "", fontsize=9, animated=True, **text) for row in rows]
        self.model_texts = [ax.text(1.15, row, "", fontsize=9, color=GREY, **text) for row in rows]
        self.strikes = [ax.plot([], [], color=GREY, linewidth=1, clip_on=False, animated=True, zorder=5)[0] for _ in rows]
        self.veils = [ax.add_patch(Rectangle((0, 0), 0, 0, color="white", alpha=0.6, clip_on=False, animated=True,
                                                zorder=5))  # above the labels, also when saved
                      for _ in rows]
        self.title = ax.set_title("", loc="left", fontsize=9, animated=True)
        ax.set(xlim=(0, 1), ylim=(-0.6, n - 0.4), yticks=[], xlabel="probability of being the next token")
        ax.grid(axis="x", color="#e1e4e8")
        ax.set_axisbelow(True)
        self.figure.legend(handles=[Patch(color=BEFORE, label="model (T=1, no filter): grey values"),
                                    Patch(color=KEPT, label="after the filters (renormalised)"),
                                    Patch(color=REMOVED, label="removed by the filters")],
                           loc="lower center", ncols=3, fontsize="small", frameon=False)
        for spine in ax.spines.values():
            spine.set_zorder(0.8)  # under the bars (zorder 1), above the grid: part of the background, never redrawn
        # blitted in the order a full draw (and savefig) uses: by zorder, then as added
        self.artists = sorted([*self.model_bars, *self.kept_bars, *self.value_texts, *self.strikes, *self.veils,
                               self.title], key=lambda artist: artist.get_zorder())
        self.rows = [(model, kept, value, strike, veil) for model, kept, value, strike, veil
                     in zip(self.model_bars, self.kept_bars, self.value_texts, self.strikes, self.veils)]
        self._background, self._background_size = None, None
        self._drawn, self._wanted = None, [None] * n   # what each row shows in the renderer, and should show
        self.redrawn_rows = 0  # how many rows (and the title) the last blit redrew: the cost of a move
        self.text_cache = TextCache()  # the animated texts (values, title) from cached glyphs; None: matplotlib's own
        self.figure.canvas.mpl_connect("draw_event", self._on_full_draw)

    @property
    def canvas(self):
        return self.figure.canvas

    def _cached_text(self, renderer):
        return self.text_cache.on(renderer) if self.text_cache is not None else _NO_LOCK

    def _lock(self):
        return getattr(self.canvas, "lock", None) or _NO_LOCK

    def _on_full_draw(self, event) -> None:
        """After any full draw (first show, new labels, a resize, a new dpi): save the background
        (everything not animated), then draw the animated artists on it."""
        if self.canvas.is_saving():
            return  # savefig draws the animated artists itself
        import numpy as np
        self._renderer = self.canvas.get_renderer()
        self._background = np.asarray(self._renderer.buffer_rgba()).copy()
        self._background_size = self.canvas.get_width_height(physical=True)
        self._bands = self._row_bands()
        with self._cached_text(self._renderer):
            for artist in self.artists:
                artist.draw(self._renderer)
        self._drawn = (list(self._wanted), self.title.get_text())

    def _row_bands(self) -> list[tuple[int, int]]:
        """Each row's band of pixel rows (top first, numpy order): from half a row above to half below its
        centre, inside the axes (the top and bottom spines are outside every band), plus the title's band."""
        height = self._background_size[1]
        to_pixels = self.ax.transData.transform
        edges = [round(height - to_pixels((0, y))[1]) for y in (r + 0.5 for r in range(len(self.rows) - 1, -2, -1))]
        bands = list(zip(edges[:-1], edges[1:]))  # the first row (most likely) is at the top
        axes_top = round(height - self.ax.bbox.y1)
        return bands + [(0, axes_top - 2)]  # the title, above the axes' top spine

    def set_labels(self, labels, model_probs) -> None:
        """A new prompt: token labels and model probabilities; the next ``draw`` is a full one."""
        with self._lock():
            self._set_labels(labels, model_probs)

    def _set_labels(self, labels, model_probs) -> None:
        renderer = self.canvas.get_renderer()
        to_data = self.ax.transData.inverted()
        for text, model, strike, veil, label, b in zip(self.token_texts, self.model_texts, self.strikes,
                                                       self.veils, labels, model_probs):
            text.set_text(label)
            model.set_text(f"({b:.1%})")
            box = text.get_window_extent(renderer).transformed(to_data)  # where the label is, to strike it
            strike.set_data([box.x0, box.x1], [text.get_position()[1]] * 2)
            veil.set_bounds(box.x0, box.y0, box.width, box.height)
        self._background = None  # the labels are in the background: the next draw is a full one

    def update(self, model_probs, after, title: str = "") -> None:
        """Show ``model_probs`` (T=1, no filter) and ``after`` (after the filters); 0 after = removed."""
        with self._lock():  # JupyterLab's own draw requests arrive on another thread (a kernel subshell)
            self._update(model_probs, after, title)

    def _update(self, model_probs, after, title: str) -> None:
        wanted = []
        for row, b, a, before in zip(self.rows, model_probs, after, self._wanted):
            gone = a == 0
            text = "removed" if gone else f"{a:.1%}"
            wanted.append(now := (b, gone, a, text))
            if now == before:
                continue  # this row's artists already hold these values
            bar, kept, value, strike, veil = row
            bar.set_width(b)
            bar.set_color(REMOVED if gone else BEFORE)
            kept.set_width(a)
            strike.set_visible(gone)
            veil.set_visible(gone)
            value.set_text(text)
            value.set_color(GREY if gone else "black")
        self._wanted = wanted
        self.title.set_text(title)
        self.draw()

    def draw(self) -> None:
        """Blit the animated artists onto the saved background (a full draw the first time, or after a
        resize or a new dpi); on ipympl's canvas, then send the picture: one frame per call."""
        with self._lock():
            size = self.canvas.get_width_height(physical=True)
            if self._background is None or self._background_size != size:
                self.canvas.draw()  # sends its frame itself
                return
            self._blit_changed_rows()
            self.canvas.blit(self.figure.bbox)

    def _blit_changed_rows(self) -> None:
        """Restore from the background only the bands of the rows (and the title) that changed since they
        were drawn, and draw their artists again, in the order a full draw uses (the spines lie under the bars, in
        the background). Unchanged rows keep their pixels."""
        import numpy as np
        drawn_rows, drawn_title = self._drawn
        renderer = self.canvas.get_renderer()
        if renderer is not self._renderer:  # a savefig at another dpi left a new, blank renderer behind
            self._renderer = renderer
            np.asarray(renderer.buffer_rgba())[:] = self._background
            drawn_rows, drawn_title = [None] * len(self.rows), None
        changed = [i for i, (now, before) in enumerate(zip(self._wanted, drawn_rows)) if now != before]
        if self.title.get_text() != drawn_title:
            changed.append(len(self.rows))  # the title's band
        pixels = np.asarray(renderer.buffer_rgba())
        cache = self.text_cache
        with self._cached_text(renderer):
            for i in changed:
                top, bottom = self._bands[i]
                pixels[top:bottom] = self._background[top:bottom]
                for artist in [self.title] if i == len(self.rows) else self.rows[i]:
                    if not artist.get_visible():
                        continue  # a kept token's strike and veil
                    if cache is not None and isinstance(artist, Text):
                        cache.draw_artist(artist, renderer)  # the same pixels, without laying the string out again
                    else:
                        artist.draw(renderer)
        self.redrawn_rows = len(changed)
        self._drawn = (list(self._wanted), self.title.get_text())

    def png(self) -> bytes:
        """The picture as drawn now, as PNG (``chartpixels.png_bytes``, a few ms)."""
        import numpy as np
        with self._lock():
            return png_bytes(np.asarray(self.canvas.buffer_rgba()))
