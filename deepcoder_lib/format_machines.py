"""Formats as state machines over characters: what constrained output lets a model write (notebook 18).

A format is a small deterministic machine: ``start``, ``step(state, ch)`` (the next state, or None when ``ch`` is not
allowed there) and ``accepts(state)`` (the text so far is a whole value). ``Format`` builds one from pieces, literal
strings and ``Run``s of characters; ``identifier``, ``integer`` and ``json_object`` are the course's formats (a
Python identifier, a whole number, a JSON object with given keys). Only characters here, no tokens and no model:
constrained.py walks the tokens' texts through a machine and masks the logits. (fim.py's ``FORMATS`` are something
else: the marker strings of fill-in-the-middle prompts.)
"""
from __future__ import annotations

import string
from dataclasses import dataclass

from .checks import positive_int

DIGITS = "0123456789"
IDENTIFIER_START = string.ascii_letters + "_"
IDENTIFIER_CHARS = IDENTIFIER_START + DIGITS
# what a JSON string may hold here: printable ASCII without the quote and the backslash (so no escapes)
STRING_CHARS = "".join(c for c in map(chr, range(32, 127)) if c not in '"\\')
VALUE_KINDS = ("string", "integer")


@dataclass(frozen=True)
class Run:
    """Between ``min`` and ``max`` characters, each one of ``chars``."""
    chars: str
    min: int
    max: int


class Format:
    """A format as a deterministic state machine over characters, made of pieces (literal strings and ``Run``s).

    A state is ``(piece index, characters read in that piece)``. A run is left as soon as a character is not one
    of its own (or it is full), so two pieces in a row must not both accept the same next character unless the
    first is full: the formats below are built that way."""

    def __init__(self, pieces, name: str = "format"):
        pieces = list(pieces)
        if not pieces:
            raise ValueError("`pieces` is empty; give at least one literal string or Run")
        for piece in pieces:
            if isinstance(piece, str) and not piece:
                raise ValueError("`pieces` holds an empty literal string; drop it")
            if isinstance(piece, Run) and not (0 <= piece.min <= piece.max and piece.max >= 1 and piece.chars):
                raise ValueError(f"`pieces` holds {piece!r}; a Run needs characters and 0 <= min <= max, max >= 1")
            if not isinstance(piece, (str, Run)):
                raise ValueError(f"`pieces` must hold literal strings and Runs, got {piece!r}")
        self.pieces, self.name = pieces, name
        self.start = (0, 0)

    def __repr__(self) -> str:
        return f"Format({self.name!r}, {self.pieces!r})"

    @property
    def max_chars(self) -> int:
        """The longest text the format allows. Each token adds at least one character, so ``max_new_tokens`` of
        this many (plus one for EOS) always reaches the end: the answer is then whole and parses."""
        return sum(len(p) if isinstance(p, str) else p.max for p in self.pieces)

    def step(self, state, ch: str):
        """The state after ``ch``, or None when ``ch`` is not allowed in ``state``."""
        index, read = state
        while index < len(self.pieces):
            piece = self.pieces[index]
            if isinstance(piece, str):
                if ch != piece[read]:
                    return None
                return (index + 1, 0) if read + 1 == len(piece) else (index, read + 1)
            if ch in piece.chars and read < piece.max:
                return index, read + 1
            if read < piece.min:
                return None
            index, read = index + 1, 0  # leave the run: the character must start the next piece
        return None  # the format is complete: nothing may follow

    def walk(self, state, text: str):
        """The state after all of ``text``, or None as soon as one character is not allowed."""
        for ch in text:
            state = self.step(state, ch)
            if state is None:
                return None
        return state

    def accepts(self, state) -> bool:
        """True when the text that led to ``state`` is a whole value (EOS may come now)."""
        index, read = state
        for piece in self.pieces[index:]:
            if isinstance(piece, str) or read < piece.min:
                return False
            read = 0
        return True

    def allows(self, text: str) -> bool:
        """True when ``text`` is the beginning of some value of the format (the empty text included)."""
        return self.walk(self.start, text) is not None

    def complete(self, text: str) -> bool:
        state = self.walk(self.start, text)
        return state is not None and self.accepts(state)


def identifier(max_len: int = 32) -> Format:
    """A Python identifier in ASCII: a letter or underscore, then letters, digits, underscores."""
    max_len = positive_int(max_len, "max_len", "the longest name allowed, e.g. 32")
    pieces = [Run(IDENTIFIER_START, 1, 1)] + ([Run(IDENTIFIER_CHARS, 0, max_len - 1)] if max_len > 1 else [])
    return Format(pieces, "identifier")


def integer(max_digits: int = 6) -> Format:
    """A whole number as JSON and Python write it: an optional minus, a digit 1-9, then digits (no leading zero;
    0 itself is left out, so that the machine needs no choice between two paths)."""
    max_digits = positive_int(max_digits, "max_digits", "how many digits at most, e.g. 6")
    pieces = [Run("-", 0, 1), Run("123456789", 1, 1)] + ([Run(DIGITS, 0, max_digits - 1)] if max_digits > 1 else [])
    return Format(pieces, "integer")


def json_object(fields: dict, max_len: int = 24, max_digits: int = 6) -> Format:
    """A JSON object with exactly these keys, in this order, written as ``json.dumps`` writes it, e.g.
    ``json_object({"name": "string", "year": "integer"})`` allows ``{"name": "Python", "year": 1991}``.
    Strings hold 1 to ``max_len`` printable ASCII characters (no quote, no backslash); integers 1 to
    ``max_digits`` digits without a leading zero."""
    if not isinstance(fields, dict) or not fields:
        raise ValueError(f"`fields` must be a non-empty dict of key -> kind, got {fields!r}; "
                         'e.g. {"name": "string", "year": "integer"}')
    pieces: list = []
    for i, (key, kind) in enumerate(fields.items()):
        if kind not in VALUE_KINDS:
            raise ValueError(f"`fields` gives {key!r} the kind {kind!r}; use one of {VALUE_KINDS}")
        if not isinstance(key, str) or not key or any(c not in STRING_CHARS for c in key):
            raise ValueError(f"`fields` has the key {key!r}; keys must be non-empty printable ASCII without quotes")
        opening = ("{" if i == 0 else ", ") + f'"{key}": '
        if kind == "string":
            pieces += [opening + '"', Run(STRING_CHARS, 1, max_len), '"']
        else:
            pieces += [opening, Run("123456789", 1, 1), Run(DIGITS, 0, max_digits - 1)]
    pieces.append("}")
    merged: list = []  # neighbouring literals become one ('"' then ', "year": ' -> '", "year": ')
    for piece in pieces:
        if merged and isinstance(piece, str) and isinstance(merged[-1], str):
            merged[-1] += piece
        else:
            merged.append(piece)
    return Format(merged, "json_object")
