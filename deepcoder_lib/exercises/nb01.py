"""Checks for notebook 01 (tokenizers): predict a token count, break a round trip.

The indentation check (two tabs against eight spaces) belongs to the pre-tokenizer, so it is in nb02.py.

Each check computes the true answer with the real tokenizer and says what was wrong and why.
"""
from __future__ import annotations

from ..tokens import load_tokenizer, round_trip, tokenize
from . import CheckResult, as_number, failed, not_answered, passed

COUNT_LINE = "for i in range(10):"


def _pieces(name: str, text: str) -> list[str]:
    return [token.text for token in tokenize(load_tokenizer(name), text)]


def check_token_count(prediction) -> CheckResult:
    """How many tokens does SmolLM2 make of ``for i in range(10):``?"""
    prediction = as_number(prediction, "`prediction`", whole=True)
    if isinstance(prediction, CheckResult):
        return prediction
    pieces = _pieces("smollm2", COUNT_LINE)
    if prediction == len(pieces):
        return passed(f"Right: {len(pieces)} tokens, {pieces}. Note '1', '0': SmolLM2 spells numbers digit by "
                      "digit, and the space belongs to the word after it.")
    hint = ("Words are not the unit: count spaces and brackets too." if prediction < len(pieces) else
            "Fewer than that: a space is glued to the word that follows it (' in'), not a token of its own.")
    return failed(f"{prediction} is not it. {hint}")


def check_round_trip(text) -> CheckResult:
    """Find a text that Qwen2's tokenizer does not give back unchanged: decode(encode(text)) != text."""
    if text is ...:
        return not_answered("`text`", "a string")
    if not isinstance(text, str) or not text:
        return failed(f"`text` must be a non-empty string, got {text!r}.")
    decoded, ok = round_trip(load_tokenizer("qwen2"), text)
    if not ok:
        return passed(f"Found one: {ascii(text)} comes back as {ascii(decoded)}. Qwen2 normalizes Unicode (NFC) before "
                      "splitting, so different code points that look the same become the same tokens.")
    return failed(f"{text!r} comes back unchanged: byte-level BPE can spell any bytes, so plain code and text "
                  "always survive. Hint: Qwen2 normalizes Unicode first (NFC): look for two ways to write "
                  "the same accented letter (Python's '\\N{COMBINING ACUTE ACCENT}' may help).")
