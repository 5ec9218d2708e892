"""Pixels for the live chart, made cheaply: text from cached glyphs and layouts, and fast PNG frames.

``livechart.TokenChart`` redraws a few rows per slider move. Profiled on a 2-core Intel VM (2026-12-07 and
-08, matplotlib 3.11.2, Pillow 13.0), most of a move went to things this module cuts:

- **Text.** matplotlib 3.11's Agg lays out each string with FreeType and renders every glyph afresh (about
  1.7 ms per short label there; a move redraws up to 15 percentages and the title). The strings are new on
  most moves, but their glyphs are not: ``TextCache`` keeps each rendered glyph, keyed by font, size, dpi,
  hinting and its position's fraction of a pixel (FreeType renders a glyph moved by whole pixels to the same
  bitmap, moved), and each string's layout. ``Text.draw`` itself then still spent half its time aligning
  the string (font metrics, again on every draw): ``TextCache.draw_artist`` keeps that offset per string
  and alignment too (0.15 -> 0.07 ms a label there). The pixels are exactly matplotlib's own; the chart's
  tests and the browser test compare them with a full draw (``savefig``), which never uses the cache.
- **The frame's PNG.** Pillow tries five row filters on every row (12 ms of the move for a 750 x 575 frame
  there); ``png_bytes`` writes the rows unfiltered through zlib at level 1: about half the time, and about
  as small for a chart that is mostly white. ``FrameEncoder`` goes further for a picture sent again and
  again: each strip of 16 rows is compressed on its own, only the strips a move changed are compressed
  again, and an opaque picture goes as RGB (3.4 ms -> 1.0 ms for a move that changes 2 strips, 2.4 ms for
  one that changes 21 of 36; the browser decodes it ~1 ms sooner).

``benchmarks/bench_slider.py`` measures a move with and without them, interleaved in one run.
It only speeds up what matplotlib would draw: rotated, math or non-antialiased text is drawn by matplotlib.
"""
from __future__ import annotations

import contextlib
import struct
import zlib

import numpy as np
from matplotlib.backends.backend_agg import RendererAgg, get_hinting_flag
from matplotlib.colors import to_rgba
from matplotlib.ft2font import RenderMode

_LEVEL = np.array([[0x10000, 0], [0, 0x10000]])  # FreeType's 16.16 matrix: no rotation, slant or stretch



class TextCache:
    """Draws ``Text`` artists from cached glyph bitmaps and layouts, inside ``with cache.on(renderer):``."""

    def __init__(self, max_glyphs: int = 20_000):
        self.layouts: dict = {}
        self.glyphs: dict = {}
        self.offsets: dict = {}  # a Text's alignment offset, per string and the settings that move it
        self.max_glyphs = max_glyphs
        self.hits = self.misses = 0

    def draw_artist(self, text, renderer) -> None:
        """``text.draw(renderer)``, the same pixels, for a plain, level, single-line ``Text``, inside ``on``.

        ``Text.draw`` lays the string out again on every call (font metrics, alignment: about half its
        time); here the offset it computes is kept per string and setting. Any other text draws itself."""
        s = text.get_text()
        if not text.get_visible() or not s:
            return
        if (text.get_usetex() or text.get_rotation() or text.get_wrap() or text.get_bbox_patch() is not None
                or text.get_path_effects() or text.get_agg_filter() is not None or text.get_rasterized()
                or "\n" in s or text._preprocess_math(s)[1]):
            return text.draw(renderer)
        prop = text.get_fontproperties()
        key = (s, hash(prop), prop.get_size_in_points(), text.get_horizontalalignment(),
               text.get_verticalalignment(), text.get_rotation_mode(), text.get_linespacing(),
               text.get_figure(root=True).dpi)
        offset = self.offsets.get(key)
        if offset is None:
            if len(self.offsets) >= self.max_glyphs:
                self.offsets.clear()
            _, info, _ = text._get_layout(renderer)
            offset = self.offsets[key] = info[0][2]
        x, y = text.get_transform().transform((float(text.convert_xunits(text._x)),
                                                float(text.convert_yunits(text._y))))
        if not (np.isfinite(x) and np.isfinite(y)):
            return text.draw(renderer)  # matplotlib's own handling (skips it, or warns)
        gc = renderer.new_gc()
        gc.set_foreground(to_rgba(text.get_color()), isRGBA=True)
        gc.set_alpha(text.get_alpha())
        gc.set_antialiased(text._antialiased)
        gc.set_snap(text.get_snap())
        text._set_gc_clip(gc)
        y = y + offset[1]
        if renderer.flipy():
            y = renderer.get_canvas_width_height()[1] - y
        self.draw_text(renderer, gc, x + offset[0], y, s, prop, 0, ismath=False, mtext=text)
        gc.restore()
        text.stale = False

    @contextlib.contextmanager
    def on(self, renderer):
        """While inside, ``renderer.draw_text`` (an Agg renderer's) draws from this cache."""
        renderer.draw_text = lambda *args, **kwargs: self.draw_text(renderer, *args, **kwargs)
        try:
            yield
        finally:
            del renderer.draw_text  # back to the class's own method

    def draw_text(self, renderer, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        """What ``RendererAgg.draw_text`` draws, for plain, level, antialiased text (else matplotlib draws it)."""
        if ismath or angle or not gc.get_antialiased() or (mtext is not None and (
                mtext.get_fontfeatures() is not None or mtext.get_language() is not None)):
            return RendererAgg.draw_text(renderer, gc, x, y, s, prop, angle, ismath, mtext)
        flags = get_hinting_flag()
        size = prop.get_size_in_points()
        key = (s, hash(prop), size, renderer.dpi, flags)
        items = self.layouts.get(key)
        if items is None:
            font = renderer._prepare_font(prop)
            items = [(item.ft_object, item.glyph_index, item.x, item.y) for item in font._layout(s, flags=flags)]
            self.layouts[key] = items
        height, dpi, draw = renderer.height, renderer.dpi, renderer._renderer.draw_text_image
        for font, glyph_index, dx, dy in items:
            tx, ty = round(0x40 * (x + dx)), round(0x40 * (height - y + dy))  # 26.6 fixed point, as matplotlib
            key = (id(font), size, dpi, flags, glyph_index, tx & 63, ty & 63)
            cached = self.glyphs.get(key)
            if cached is None or cached[0] is not font:
                cached = self._render(key, font, size, dpi, flags, glyph_index, tx & 63, ty & 63)
            else:
                self.hits += 1
            _, buffer, left, top = cached
            draw(buffer, left + (tx >> 6), int(height) - top - (ty >> 6) + buffer.shape[0], 0, gc)

    def _render(self, key, font, size, dpi, flags, glyph_index, fx, fy):
        """Render one glyph at a fraction (fx, fy in 64ths) of a pixel; keep its bitmap and offset from there."""
        self.misses += 1
        if len(self.glyphs) >= self.max_glyphs:
            self.glyphs.clear()
        font.set_size(size, dpi)
        font._set_transform(_LEVEL, [fx, fy])
        bitmap = font._render_glyph(glyph_index, flags, RenderMode.NORMAL)
        self.glyphs[key] = cached = (font, bitmap.buffer.copy(), bitmap.left, bitmap.top)
        return cached


def png_bytes(pixels) -> bytes:
    """An RGBA ``(height, width, 4)`` uint8 array as a PNG: rows unfiltered, zlib level 1."""
    height, width, channels = pixels.shape
    assert channels == 4 and pixels.dtype == np.uint8, "png_bytes takes an RGBA uint8 array"
    rows = np.zeros((height, 1 + 4 * width), dtype=np.uint8)  # each row: filter type 0 (none), then its bytes
    rows[:, 1:] = pixels.reshape(height, -1)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8 bits, RGBA, deflate, no filter, no interlace
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows, 1))
            + _chunk(b"IEND", b""))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


_ADLER_BASE = 65521  # the largest prime below 2 ** 16: Adler-32's modulus


def adler32_combine(adler1: int, adler2: int, length2: int) -> int:
    """The Adler-32 of ``a + b`` from ``adler32(a)``, ``adler32(b)`` and ``len(b)`` (zlib's adler32_combine)."""
    rem = length2 % _ADLER_BASE
    sum1 = adler1 & 0xFFFF
    sum2 = rem * sum1 % _ADLER_BASE
    sum1 = (sum1 + (adler2 & 0xFFFF) + _ADLER_BASE - 1) % _ADLER_BASE
    sum2 = (sum2 + (adler1 >> 16) + (adler2 >> 16) + _ADLER_BASE - rem) % _ADLER_BASE
    return sum1 | sum2 << 16


class FrameEncoder:
    """PNG frames of one picture that changes in places, each frame whole (the browser may drop any but the last).

    The rows are cut in strips of ``strip`` rows, and each strip is deflated on its own (a full flush ends it,
    so its bytes do not depend on the strips before it): a strip whose pixels are the ones the last frame
    held keeps its compressed bytes, and only the strips a move redrew are compressed again. A picture that is
    opaque everywhere goes as RGB (a quarter less to compress here and to decode in the browser), else as RGBA.
    The PNG decodes to exactly the pixels given; rows unfiltered, zlib level 1, as ``png_bytes``.
    """

    def __init__(self, strip: int = 16):
        if strip < 1:
            raise ValueError(f"`strip` must be at least 1 row, got {strip!r}")
        self.strip = strip
        self._last = None  # the pixels the last frame held (RGBA), and the colour type it was written in
        self.strips_compressed = 0  # in the last frame: how many strips had to be compressed again

    def encode(self, pixels) -> bytes:
        pixels = np.asarray(pixels)
        height, width, channels = pixels.shape
        assert channels == 4 and pixels.dtype == np.uint8, "FrameEncoder takes an RGBA uint8 array"
        starts = range(0, height, self.strip)
        every = list(range(len(starts)))
        fresh = self._last is None or self._last.shape != pixels.shape  # a new size starts afresh
        if fresh:
            dirty = every
        else:
            rows = (pixels.view(np.uint32).reshape(height, width)
                    != self._last.view(np.uint32).reshape(height, width)).any(axis=1)
            dirty = np.flatnonzero(np.add.reduceat(rows, list(starts))).tolist()
        opaque = all((pixels[starts[i]:starts[i] + self.strip, :, 3] == 255).all() for i in dirty)
        color = 2 if opaque and (fresh or self._color == 2) else 6  # 2: RGB, 6: RGBA (never back to RGB)
        if fresh or color != self._color:
            self._last, self._color = pixels.copy(), color
            self._rows = np.zeros((height, 1 + (3 if color == 2 else 4) * width), dtype=np.uint8)  # filter 0 first
            self._parts = [None] * len(starts)
            dirty = every
        for i in dirty:
            top = starts[i]
            bottom = min(top + self.strip, height)
            self._last[top:bottom] = pixels[top:bottom]
            self._rows[top:bottom, 1:].reshape(bottom - top, width, -1)[:] = pixels[top:bottom, :, :3 if color == 2 else 4]
            raw = self._rows[top:bottom]
            deflate = zlib.compressobj(1, zlib.DEFLATED, -15)  # raw deflate: the zlib header and checksum are ours
            self._parts[i] = (deflate.compress(raw) + deflate.flush(zlib.Z_FULL_FLUSH), zlib.adler32(raw), raw.nbytes)
        self.strips_compressed = len(dirty)
        adler = 1
        for _, part_adler, length in self._parts:
            adler = adler32_combine(adler, part_adler, length)
        idat = b"".join([b"\x78\x01", *(part for part, _, _ in self._parts), b"\x03\x00", struct.pack(">I", adler)])
        header = struct.pack(">IIBBBBB", width, height, 8, self._color, 0, 0, 0)
        return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
