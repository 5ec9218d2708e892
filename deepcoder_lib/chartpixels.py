"""Pixels for the live chart, made cheaply: text drawn from cached glyphs, and a fast PNG of a frame.

``livechart.TokenChart`` redraws a few rows per slider move. Profiled on a 2-core Intel VM (2026-12-07,
matplotlib 3.11.2, Pillow 13.0), most of a move went to two things this module cuts:

- **Text.** matplotlib 3.11's Agg lays out each string with FreeType and renders every glyph afresh (about
  1.7 ms per short label there; a move redraws up to 15 percentages and the title). The strings are new on
  most moves, but their glyphs are not: ``TextCache`` keeps each rendered glyph, keyed by font, size, dpi,
  hinting and its position's fraction of a pixel (FreeType renders a glyph moved by whole pixels to the same
  bitmap, moved), and each string's layout. The pixels are exactly matplotlib's own; the chart's tests and
  the browser test compare them with a full draw (``savefig``), which never uses the cache.
- **The frame's PNG.** Pillow tries five row filters on every row (12 ms of the move for a 750 x 575 frame
  there); ``png_bytes`` writes the rows unfiltered through zlib at level 1: about half the time, and about
  as small for a chart that is mostly white.

``benchmarks/bench_slider.py`` measures a move with and without both, interleaved in one run.
It only speeds up what matplotlib would draw: rotated, math or non-antialiased text is drawn by matplotlib.
"""
from __future__ import annotations

import contextlib
import struct
import zlib

import numpy as np
from matplotlib.backends.backend_agg import RendererAgg, get_hinting_flag
from matplotlib.ft2font import RenderMode

_LEVEL = np.array([[0x10000, 0], [0, 0x10000]])  # FreeType's 16.16 matrix: no rotation, slant or stretch



class TextCache:
    """Draws ``Text`` artists from cached glyph bitmaps and layouts, inside ``with cache.on(renderer):``."""

    def __init__(self, max_glyphs: int = 20_000):
        self.layouts: dict = {}
        self.glyphs: dict = {}
        self.max_glyphs = max_glyphs
        self.hits = self.misses = 0

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

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8 bits, RGBA, deflate, no filter, no interlace
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 1))
            + chunk(b"IEND", b""))
