"""Constrained output: only let the model write what a format allows (notebook 18's tested reference version).

A format is a small state machine over characters: ``start``, ``step(state, ch)`` (the next state, or None when
``ch`` is not allowed there) and ``accepts(state)`` (the text so far is a whole value). ``Format`` builds one from
pieces, literal strings and ``Run``s of characters (a Python identifier, a whole number, a JSON object with given
keys). ``TokenTable`` holds each token's text once, so that a step only walks token strings through the machine;
``FormatLogitsProcessor`` is the ``transformers.LogitsProcessor`` that masks every other token with -inf (EOS only
where the text is complete) and records the probability mass it removed at each step. Sampling filters that keep
the model's own head live in ``sampling.py``; a real grammar library (xgrammar) is wrapped in ``grammar_processor``.
"""
from __future__ import annotations

import functools
import string
from dataclasses import dataclass

import torch
from transformers import LogitsProcessor

from .checks import positive_int
from .inputs import eos_ids

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


class TokenTable:
    """Each token id's text, computed once (``tokenizer.decode([id])``), and the ids grouped by first character.

    Special tokens, ids beyond the tokenizer (padding rows of the embedding) and tokens that are only part of a
    UTF-8 character (they decode to U+FFFD) get "": no format allows them; EOS is handled on its own."""

    def __init__(self, strings: list[str]):
        self.strings = list(strings)
        self.by_first: dict[str, list[int]] = {}
        for token_id, text in enumerate(self.strings):
            if text:
                self.by_first.setdefault(text[0], []).append(token_id)

    def __len__(self) -> int:
        return len(self.strings)


def token_table(tokenizer, vocab_size: int | None = None) -> TokenTable:
    """The ``TokenTable`` of ``tokenizer``, ``vocab_size`` rows (the model's ``config.vocab_size``; default the
    tokenizer's length)."""
    size = len(tokenizer) if vocab_size is None else positive_int(vocab_size, "vocab_size", "model.config.vocab_size")
    special = set(tokenizer.all_special_ids)
    strings = []
    for token_id in range(size):
        if token_id >= len(tokenizer) or token_id in special:
            strings.append("")
            continue
        text = tokenizer.decode([token_id], clean_up_tokenization_spaces=False)
        strings.append("" if "\ufffd" in text else text)
    return TokenTable(strings)


def allowed_ids(fmt: Format, table: TokenTable, state) -> list[int]:
    """The token ids whose whole text may come next in ``state`` (EOS not included)."""
    allowed = []
    for first, ids in table.by_first.items():
        after_first = fmt.step(state, first)
        if after_first is None:
            continue  # no token that starts with this character can follow
        for token_id in ids:
            if fmt.walk(after_first, table.strings[token_id][1:]) is not None:
                allowed.append(token_id)
    return sorted(allowed)


class FormatLogitsProcessor(LogitsProcessor):
    """Masks every token that would leave ``fmt`` with -inf; EOS only once the text is a whole value.

    The text so far is the table's strings of the ids after ``prompt_length`` (the prompt's length, padding
    included). ``removed`` holds, for the first row, the probability mass the mask took away at each step
    (softmax of the scores it received); ``model_top`` the token the model itself ranked first. If no token
    were allowed (a table without single characters), EOS is kept: a processor must leave at least one."""

    def __init__(self, fmt: Format, table: TokenTable, eos_token_id, prompt_length: int):
        self.fmt, self.table, self.prompt_length = fmt, table, int(prompt_length)
        self.eos = eos_ids(eos_token_id)
        if not self.eos:
            raise ValueError("`eos_token_id` is None; pass model.generation_config.eos_token_id so that the "
                             "answer can end once it is complete")
        self._cache: dict = {}
        self.removed: list[float] = []
        self.model_top: list[int] = []

    def mask(self, new_ids) -> torch.Tensor:
        """True for every token allowed after the generated ids ``new_ids`` (a list of ints)."""
        state = self.fmt.walk(self.fmt.start, "".join(self.table.strings[i] for i in new_ids))
        if state is None:
            raise ValueError(f"the generated ids {list(new_ids)!r} already leave the format {self.fmt.name!r}; "
                             "was `prompt_length` the prompt's length?")
        if state not in self._cache:
            allowed = allowed_ids(self.fmt, self.table, state)
            if self.fmt.accepts(state) or not allowed:
                allowed += self.eos
            keep = torch.zeros(len(self.table), dtype=torch.bool)
            keep[allowed] = True
            self._cache[state] = keep
        return self._cache[state]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        keep = torch.zeros_like(scores, dtype=torch.bool)
        for row in range(scores.shape[0]):
            row_keep = self.mask(input_ids[row, self.prompt_length:].tolist())
            keep[row, :row_keep.numel()] = row_keep.to(scores.device)
        probs = torch.softmax(scores[0].float(), dim=-1)
        self.removed.append(float(1 - probs[keep[0]].sum()))
        self.model_top.append(int(scores[0].argmax()))
        return scores.masked_fill(~keep, -float("inf"))


def parses(text: str) -> bool:
    """True when ``json.loads(text)`` succeeds."""
    import json
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def removed_mass(scores_before: torch.Tensor, scores_after: torch.Tensor) -> float:
    """The probability mass a processor removed: the softmax mass of the tokens it set to -inf."""
    probs = torch.softmax(torch.as_tensor(scores_before).float().reshape(-1), dim=-1)
    return float(probs[torch.isinf(torch.as_tensor(scores_after).reshape(-1))].sum())


RESULTS_FILE = "constrained_results.json"  # in benchmarks/, written by benchmarks/bench_constrained.py


def load_results(path=None) -> dict:
    """The stored run of ``benchmarks/bench_constrained.py``: parse rates and tokens per second of the embedded model
    unconstrained, with the course's processor and with xgrammar, with its machine, date, load and settings."""
    import json
    from pathlib import Path

    path = Path(path) if path is not None else Path(__file__).resolve().parents[1] / "benchmarks" / RESULTS_FILE
    if not path.is_file():
        raise ValueError(f"`path` {str(path)!r} does not exist; run `python benchmarks/bench_constrained.py` "
                         "(a few minutes) to measure it")
    return json.loads(path.read_text())


PALETTE = {"kept": "#0072B2", "overruled": "#E69F00"}  # Okabe-Ito blue and orange, plus a hatch for the second


def plot_removed_mass(removed, chosen_labels, overruled, ax=None, title: str | None = None):
    """Bars of the probability mass the constraint removed at each step, labelled with the token written there.

    ``overruled[i]`` is True where the model's own first choice was masked (hatched orange bar, said in the
    legend); elsewhere the mask took only tokens the model ranked lower (plain blue bar)."""
    if not (len(removed) == len(chosen_labels) == len(overruled)):
        raise ValueError(f"`removed`, `chosen_labels` and `overruled` must have one entry per step, got "
                         f"{len(removed)}, {len(chosen_labels)} and {len(overruled)}")
    if ax is None:
        import matplotlib.pyplot as plt
        _, ax = plt.subplots(figsize=(10, 3.2), layout="constrained")
    for i, (mass, over) in enumerate(zip(removed, overruled)):
        kind = "overruled" if over else "kept"
        ax.bar(i, mass, color=PALETTE[kind], hatch="//" if over else None, edgecolor="black", linewidth=0.5,
               label={"kept": "model's first choice allowed", "overruled": "model's first choice removed"}[kind])
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), loc="upper right", fontsize=8)
    ax.set_xticks(range(len(removed)), chosen_labels, rotation=60, ha="right", rotation_mode="anchor", fontsize=8,
                  family="monospace")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("generation step (the token written under the constraint)")
    ax.set_ylabel("probability mass removed")
    ax.set_title(title or "What the constraint took away: softmax mass of the masked tokens, before masking")
    return ax


def grammar_processor(tokenizer, vocab_size: int, *, json_schema=None, ebnf: str | None = None,
                      any_whitespace: bool = False):
    """An xgrammar ``LogitsProcessor`` for a JSON schema (a dict or a JSON string) or an EBNF grammar.

    ``any_whitespace=False`` (the default here, not xgrammar's) writes JSON as ``json.dumps`` does, so that the
    whitespace between tokens cannot run on until ``max_new_tokens`` (a weak model fills it with newlines).
    Make a new one for every ``generate`` call: it remembers the tokens it has seen."""
    import json

    import xgrammar as xgr

    if (json_schema is None) == (ebnf is None):
        raise ValueError("pass exactly one of `json_schema` (a dict or JSON text) and `ebnf` (a grammar string)")
    vocab_size = positive_int(vocab_size, "vocab_size", "model.config.vocab_size")
    if json_schema is not None:
        text = json_schema if isinstance(json_schema, str) else json.dumps(json_schema)
        compiled = _compiler(tokenizer, vocab_size).compile_json_schema(text, any_whitespace=any_whitespace)
    else:
        compiled = _compiler(tokenizer, vocab_size).compile_grammar(ebnf)
    return xgr.contrib.hf.LogitsProcessor(compiled)


@functools.lru_cache(maxsize=4)
def _compiler(tokenizer, vocab_size: int):
    """One xgrammar compiler per tokenizer (reading the vocabulary takes ~0.2 s; compiling a schema is cached)."""
    import xgrammar as xgr
    return xgr.GrammarCompiler(xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size))
