"""Checks for notebook 02 (BPE and code tokens): the first merge, a hidden string, pre-tokenizer chunks,
indentation in SmolLM2.

Each check recomputes the answer, with ``deepcoder_lib.bpe`` or with the real tokenizer, and says what was wrong.
"""
from __future__ import annotations

import functools
import hashlib

from .. import bpe
from ..tokens import load_tokenizer, tokenize
from . import CheckResult, failed, first_not_number, not_answered, passed

FIRST_MERGE_TEXT = "banana bandana"
# The hidden string's ids under merges trained on TRAINING_TEXT; only its SHA-256 is kept here.
TRAINING_TEXT = ("def area(radius):\n    return 3.14159 * radius * radius\n\n"
                 "def perimeter(radius):\n    return 2 * 3.14159 * radius\n\n"
                 "def volume(radius, height):\n    return area(radius) * height\n") * 4
NUM_MERGES = 40
HIDDEN_IDS = [268, 115, 113, 117, 281, 40, 115, 105, 266, 41, 278, 115, 105, 266, 264, 115, 105, 266, 10]
HIDDEN_SHA256 = "f6646f9bf3bd5c96ad74d81e8e0325406d704686884629a25915a64e0749b708"
CHUNK_TEXT = "total = 365 * 24"  # not a string the notebook shows split
EIGHT_SPACES = "        return x"
TWO_TABS = "\t\treturn x"


@functools.cache
def training_merges() -> dict:
    """The merges the hidden string was encoded with: ``train_bpe(TRAINING_TEXT, NUM_MERGES)``."""
    return bpe.train_bpe(TRAINING_TEXT, NUM_MERGES)[0]


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _as_pair_text(pair):
    """The learner's pair as text: a 2-character str, 2 bytes, or a pair of byte ids such as (97, 110)."""
    if isinstance(pair, (bytes, bytearray)):
        return bytes(pair).decode("utf-8", errors="replace") if len(pair) == 2 else None
    if isinstance(pair, (tuple, list)) and len(pair) == 2:
        try:
            return bytes([int(i) for i in pair]).decode("utf-8", errors="replace")
        except (TypeError, ValueError):
            return None
    return pair if isinstance(pair, str) and len(pair.encode("utf-8")) == 2 else None


def check_first_merge(pair) -> CheckResult:
    """Which two characters does BPE merge first in ``'banana bandana'``? A 2-character string such as 'ba'
    (or its bytes, or the pair of ids that ``get_pair_counts`` gives, e.g. (98, 97))."""
    if pair is ...:
        return not_answered("`pair`", "two characters in quotes")
    text = _as_pair_text(pair)
    if text is None:
        return failed(f"Give the pair as a string of two characters, e.g. 'ba', got {pair!r}.")
    counts = bpe.get_pair_counts(list(FIRST_MERGE_TEXT.encode("utf-8")))
    best = max(counts, key=counts.get)
    answer = bytes(best).decode()
    mine = counts.get(tuple(text.encode("utf-8")), 0)
    if text == answer:
        return passed(f"Right: {answer!r} occurs {counts[best]} times, more than any other pair "
                      "(ties go to the pair seen first).")
    if mine == counts[best]:
        return failed(f"{text!r} occurs {mine} times too, as often as the winner: a tie. The pair seen first in "
                      "the text wins a tie; read the text from the left.")
    return failed(f"{text!r} occurs {mine} times; another pair occurs more often. Count neighbouring pairs "
                  "with get_pair_counts(list(text.encode('utf-8'))).")


def check_hidden(text) -> CheckResult:
    """Decode ``HIDDEN_IDS`` with ``training_merges()`` and give the text you found."""
    if text is ...:
        return not_answered("`hidden_text`", "the text you decoded")
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", errors="replace")
    if not isinstance(text, str):
        return failed(f"Give the text you decoded, a str, got {type(text).__name__}.")
    if _sha256(text) == HIDDEN_SHA256:
        return passed(f"Right: {len(HIDDEN_IDS)} ids stand for {len(text.encode('utf-8'))} bytes. Each id above 255 "
                      "is a merge; decode looks its bytes up, merge by merge.")
    if any(_sha256(near) == HIDDEN_SHA256 for near in (text.strip(), text.strip() + "\n", text + "\n")):
        return failed("Nearly: check the whitespace at the ends; decode gives every byte back, the newline too.")
    return failed("That is not the hidden text. Decode with the merges it was encoded with, training_merges() "
                  "(build the vocabulary from them as you did for your own merges), not merges trained on "
                  "another text.")


def check_chunks(gpt2_chunks, qwen2_chunks) -> CheckResult:
    """How many chunks do GPT-2's and Qwen2's pre-tokenizers make of ``CHUNK_TEXT``?"""
    problem = first_not_number((gpt2_chunks, "`gpt2_chunks`"), (qwen2_chunks, "`qwen2_chunks`"), whole=True)
    if problem is not None:
        return problem
    gpt2, qwen2 = bpe.pretokenize(CHUNK_TEXT, "gpt2"), bpe.pretokenize(CHUNK_TEXT, "qwen2")
    if (gpt2_chunks, qwen2_chunks) == (len(gpt2), len(qwen2)):
        return passed(f"Right: GPT-2 {gpt2}, Qwen2 {qwen2}. Qwen2 splits every digit (\\p{{N}}, not \\p{{N}}+), "
                      "so no token can hold a whole number, and the space before a number stays alone.")
    wrong = []
    if gpt2_chunks != len(gpt2):
        wrong.append(f"`gpt2_chunks` = {gpt2_chunks} is wrong: GPT-2's ' ?\\p{{N}}+' keeps a run of digits, with "
                     "the space before it, in one chunk")
    if qwen2_chunks != len(qwen2):
        wrong.append(f"`qwen2_chunks` = {qwen2_chunks} is wrong: Qwen2's '\\p{{N}}' takes one digit at a time, and "
                     "its space-then-symbol rule ' ?[^\\s\\p{{L}}\\p{{N}}]+' does not take digits")
    return failed("; ".join(wrong) + ". Check with pretokenize(text, style).")


def _pieces(name: str, text: str) -> list[str]:
    return [token.text for token in tokenize(load_tokenizer(name), text)]



def _pre_pieces(name: str, text: str) -> list[str]:
    """The pieces the pre-tokenizer's regex cuts ``text`` into, as text; BPE never merges across them."""
    tokenizer = load_tokenizer(name)
    pieces = tokenizer.backend_tokenizer.pre_tokenizer.pre_tokenize_str(text)
    return [tokenizer.convert_tokens_to_string([piece]) for piece, _span in pieces]


def check_indentation(eight_spaces, two_tabs) -> CheckResult:
    """Token counts in SmolLM2 of ``'        return x'`` (8 spaces) and ``'\\t\\treturn x'`` (2 tabs)."""
    problem = first_not_number((eight_spaces, "`eight_spaces`"), (two_tabs, "`two_tabs`"), whole=True)
    if problem is not None:
        return problem
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
