"""Constrained output: only let the model write what a format allows (notebook 18's tested reference version).

``TokenTable`` holds each token's text once, so that a step only walks token strings through a format's state
machine (format_machines.py: ``Format``, ``Run``, ``identifier``, ``integer``, ``json_object``);
``FormatLogitsProcessor`` is the ``transformers.LogitsProcessor`` that masks every other token with -inf (EOS only
where the text is complete) and records the probability mass it removed at each step. A real grammar library
(xgrammar) is wrapped in ``grammar_processor``, for what hand-written machines cannot do. Measuring the result
(``parses``, ``removed_mass``, ``plot_removed_mass``, ``load_results``) is in constrained_results.py; the formats
and the measures are importable from here too. Sampling filters that keep the model's own head live in sampling.py.
"""
from __future__ import annotations

import functools

import torch
from transformers import LogitsProcessor

from .checks import positive_int
# re-exported: notebook 18, its tests and benchmarks/bench_constrained.py import these from here
from .constrained_results import RESULTS_FILE, load_results, parses, plot_removed_mass, removed_mass  # noqa: F401
from .format_machines import (DIGITS, IDENTIFIER_CHARS, IDENTIFIER_START, STRING_CHARS, VALUE_KINDS,  # noqa: F401
                              Format, Run, identifier, integer, json_object)
from .inputs import eos_ids


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
