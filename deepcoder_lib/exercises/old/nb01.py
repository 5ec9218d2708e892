"""Checks for notebook 01 (tokenizers): predict token counts, compare indentation, break a round trip.

Each check computes the true answer with the real tokenizer and says what was wrong and why.
"""
from __future__ import annotations

from ..tokens import load_tokenizer, round_trip, tokenize
from . import CheckResult, failed, passed

COUNT_LINE = "for i in range(10):"
EIGHT_SPACES = "        return x"
TWO_TABS = "\t\treturn x"


def _pieces(name: str, text: str) -> list[str]:
    return [token.text for token in tokenize(load_tokenizer(name), text)]


def _whole_number(value, what: str) -> int | CheckResult:
    if value is ...:
        return failed(f"Replace `...` in {what} with your prediction, a whole number, then run the cell again.")
    if isinstance(value, bool) or not isinstance(value, int):
        return failed(f"{what} must be a whole number such as 5, got {value!r}.")
    return value


def check_token_count(prediction) -> CheckResult:
    """How many tokens does SmolLM2 make of ``for i in range(10):``?"""
    prediction = _whole_number(prediction, "`prediction`")
    if isinstance(prediction, CheckResult):
        return prediction
    pieces = _pieces("smollm2", COUNT_LINE)
    if prediction == len(pieces):
        return passed(f"Right: {len(pieces)} tokens, {pieces}. Note '1', '0': SmolLM2 spells numbers digit by "
                      "digit, and the space belongs to the word after it.")
    hint = ("Words are not the unit: count spaces and brackets too." if prediction < len(pieces) else
            "Fewer than that: a space is glued to the word that follows it (' in'), not a token of its own.")
    return failed(f"{prediction} is not it. {hint} Look at tokenize(tokenizers['smollm2'], {COUNT_LINE!r}) "
                  "after you have tried again.")


def _pre_pieces(name: str, text: str) -> list[str]:
    """The pieces the pre-tokenizer's regex cuts ``text`` into, as text; BPE never merges across them."""
    tokenizer = load_tokenizer(name)
    pieces = tokenizer.backend_tokenizer.pre_tokenizer.pre_tokenize_str(text)
    return [tokenizer.convert_tokens_to_string([piece]) for piece, _span in pieces]


def check_indentation(eight_spaces, two_tabs) -> CheckResult:
    """Token counts in SmolLM2 of ``'        return x'`` (8 spaces) and ``'\\t\\treturn x'`` (2 tabs)."""
    for value, what in ((eight_spaces, "`eight_spaces`"), (two_tabs, "`two_tabs`")):
        value = _whole_number(value, what)
        if isinstance(value, CheckResult):
            return value
    spaces, tabs = _pieces("smollm2", EIGHT_SPACES), _pieces("smollm2", TWO_TABS)
    if (eight_spaces, two_tabs) == (len(spaces), len(tabs)):
        two_tabs_alone = _pieces("smollm2", "\t\t")
        return passed(
            f"Right: 8 spaces -> {spaces} ({len(spaces)}), 2 tabs -> {tabs} ({len(tabs)}). The pre-tokenizer cuts "
            "the text before BPE runs, and BPE never merges across its pieces. Its rule \\s+(?!\\S) leaves the "
            "last whitespace character for the next word, but SmolLM2's (GPT-2's) rule for words, ' ?\\p{L}+', "
            f"takes only a space in front, so the second tab stays alone: {_pre_pieces('smollm2', TWO_TABS)}. "
            f"The vocabulary does have a token for two tabs (it tokenizes '\\t\\t' alone as {two_tabs_alone}); the "
            "split just never lets BPE use it here. Qwen2's rule '[^\\r\\n\\p{L}\\p{N}]?\\p{L}+' takes any one "
            f"symbol in front of a word, tab included: {_pre_pieces('qwen2', TWO_TABS)}.")
    wrong = []
    if eight_spaces != len(spaces):
        wrong.append(f"`eight_spaces` = {eight_spaces} is wrong: a run of spaces is usually one token, but "
                     "the last space joins the next word")
    if two_tabs != len(tabs):
        wrong.append(f"`two_tabs` = {two_tabs} is wrong: SmolLM2's pre-tokenizer glues a space to the word after "
                     "it, but not a tab, and BPE never merges across the pieces it cuts")
    return failed("; ".join(wrong) + ". Try again, then look with tokenize() and with "
                  "tokenizer.backend_tokenizer.pre_tokenizer.pre_tokenize_str().")


def check_round_trip(text) -> CheckResult:
    """Find a text that Qwen2's tokenizer does not give back unchanged: decode(encode(text)) != text."""
    if not isinstance(text, str) or not text:
        return failed(f"`text` must be a non-empty string, got {text!r}.")
    decoded, ok = round_trip(load_tokenizer("qwen2"), text)
    if not ok:
        return passed(f"Found one: {ascii(text)} comes back as {ascii(decoded)}. Qwen2 normalizes Unicode (NFC) before "
                      "splitting, so different code points that look the same become the same tokens.")
    return failed(f"{text!r} comes back unchanged: byte-level BPE can spell any bytes, so plain code and text "
                  "always survive. Hint: Qwen2 normalizes Unicode first (NFC): look for two ways to write "
                  "the same accented letter (Python's '\\N{COMBINING ACUTE ACCENT}' may help).")
