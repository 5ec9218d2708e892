"""The "Try it" checks of notebooks 00-03: each accepts at least three right answers written differently (Python,
numpy and 0-d torch numbers, code that computes the value), refuses at least five wrong ones and says why, and
answers an untouched placeholder with "Not answered yet" and nothing more.

The right answers are recomputed here from the real tokenizers, the real model and the regexes, not copied from the
checks; the wrong ones are the slips a learner makes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import regex
import torch

from deepcoder_lib import bpe, models
from deepcoder_lib.exercises import nb00, nb01, nb02, nb03
from deepcoder_lib.tokens import load_tokenizer

COURSE_NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def assert_untouched(result, *must_not_say):
    """An untouched placeholder: 'Not answered yet', not a failure, and no word of the answer."""
    assert not result and not result.answered and result.label == "Not answered yet", result
    assert "Not answered yet" in str(result)
    for text in must_not_say:
        assert str(text) not in result.message, (text, result.message)


def assert_wrong(result, says=""):
    assert not result and result.answered and result.label == "Not yet", result
    assert says in result.message, (says, result.message)


# ---- 00 ---------------------------------------------------------------------------------------------

def test_first_exercise_right_and_wrong():
    following = len(COURSE_NOTEBOOKS) - 1
    for right in (following, np.int64(following), torch.tensor(following), float(following), len(COURSE_NOTEBOOKS) - 1):
        assert nb00.check_first_exercise(right), right
    for wrong, says in ((following + 1, "counts this notebook too"), (following - 1, "count the notebooks"),
                        (str(following), "whole number"), (following + 0.5, "whole number"), (True, "whole number"),
                        (None, "whole number"), (0, "is not it")):
        assert_wrong(nb00.check_first_exercise(wrong), says)
    assert_untouched(nb00.check_first_exercise(...), following)


def test_offline_checkpoint_right_and_wrong():
    folder = models.default_checkpoint()
    for right in (folder, Path(folder), str(Path(folder)) + "/", Path(folder).parent / ".." / Path(folder).parent.name
                  / Path(folder).name):
        assert nb00.check_offline_checkpoint(right), right
    for wrong, says in ((None, "from_pretrained(None)"), ("smollm2", "short name"),
                        ("HuggingFaceTB/SmolLM2-135M-Instruct", "hub id"), (42, "is a string"),
                        (str(Path(folder).parent), "not the prepared folder"), ("", "not the prepared folder")):
        assert_wrong(nb00.check_offline_checkpoint(wrong), says)
    assert_untouched(nb00.check_offline_checkpoint(...), folder)


# ---- 01 ---------------------------------------------------------------------------------------------

def test_token_count_right_and_wrong():
    true = len(load_tokenizer("smollm2")(nb01.COUNT_LINE)["input_ids"])
    for right in (true, np.int32(true), torch.tensor(true), float(true)):
        assert nb01.check_token_count(right), right
    for wrong, says in ((true - 1, "spaces and brackets"), (true + 1, "glued to the word"), (5, "is not it"),
                        (str(true), "whole number"), (true + 0.5, "whole number"), (torch.tensor([true, 1]), "whole number")):
        assert_wrong(nb01.check_token_count(wrong), says)
    assert_untouched(nb01.check_token_count(...), true)


def test_round_trip_right_and_wrong():
    for right in ("e\N{COMBINING ACUTE ACCENT}", "\N{OHM SIGN}", "caf" + "e\u0301" + " = 1", "\u212b"):  # Å sign
        assert nb01.check_round_trip(right), ascii(right)
    for wrong, says in (("x = 1", "NFC"), ("def f():\n\treturn 0", "NFC"), ("🤗", "NFC"), ("é", "NFC"),
                        ("", "non-empty"), (42, "non-empty string"), (b"x", "non-empty string")):
        assert_wrong(nb01.check_round_trip(wrong), says)
    assert_untouched(nb01.check_round_trip(...), "COMBINING")


# ---- 02 ---------------------------------------------------------------------------------------------

def test_first_merge_right_and_wrong():
    ids = list(nb02.FIRST_MERGE_TEXT.encode("utf-8"))
    counts = bpe.get_pair_counts(ids)
    best = max(counts, key=counts.get)
    for right in (bytes(best).decode(), bytes(best), best, list(best), tuple(np.array(best))):
        assert nb02.check_first_merge(right), right
    for wrong, says in (("na", "times"), ("ba", "another pair"), ("a", "two characters"), ("ana", "two characters"),
                        (97, "two characters"), ((97,), "two characters"), (None, "two characters")):
        assert_wrong(nb02.check_first_merge(wrong), says)
    assert_untouched(nb02.check_first_merge(...), bytes(best).decode())


def test_hidden_right_and_wrong():
    merges = nb02.training_merges()
    vocab = bpe.vocab_from_merges(merges)
    text = b"".join(vocab[i] for i in nb02.HIDDEN_IDS).decode("utf-8")
    for right in (text, bpe.decode(nb02.HIDDEN_IDS, merges), text.encode("utf-8"), "".join(list(text))):
        assert nb02.check_hidden(right), right
    other = bpe.train_bpe(nb02.TRAINING_TEXT[::-1], 40)[0]
    for wrong, says in ((text.rstrip("\n"), "whitespace"), (text + "\n", "whitespace"),
                        (bpe.decode(nb02.HIDDEN_IDS, other), "not the hidden text"), ("", "not the hidden text"),
                        (nb02.HIDDEN_IDS, "a str"), (None, "a str")):
        assert_wrong(nb02.check_hidden(wrong), says)
    assert_untouched(nb02.check_hidden(...), text.strip())


def test_chunks_right_and_wrong():
    gpt2 = len(regex.findall(bpe.PATTERNS["gpt2"], nb02.CHUNK_TEXT))
    qwen2 = len([s for s in load_tokenizer("qwen2").backend_tokenizer.pre_tokenizer.pre_tokenize_str(nb02.CHUNK_TEXT)])
    for right in ((gpt2, qwen2), (np.int64(gpt2), torch.tensor(qwen2)), (float(gpt2), float(qwen2)),
                  (len(bpe.pretokenize(nb02.CHUNK_TEXT, "gpt2")), len(bpe.pretokenize(nb02.CHUNK_TEXT, "qwen2")))):
        assert nb02.check_chunks(*right), right
    for (g, q), says in (((gpt2, gpt2), "`qwen2_chunks`"), ((qwen2, qwen2), "`gpt2_chunks`"),
                         ((gpt2 + 2, qwen2), "`gpt2_chunks`"), ((str(gpt2), qwen2), "whole number"),
                         ((gpt2, qwen2 + 0.5), "whole number"), ((qwen2, gpt2), "`gpt2_chunks`")):
        assert_wrong(nb02.check_chunks(g, q), says)
    assert_untouched(nb02.check_chunks(..., ...), qwen2)
    assert_untouched(nb02.check_chunks(gpt2, ...))


def test_indentation_right_and_wrong():
    smol = load_tokenizer("smollm2")
    spaces, tabs = len(smol(nb02.EIGHT_SPACES)["input_ids"]), len(smol(nb02.TWO_TABS)["input_ids"])
    for right in ((spaces, tabs), (np.int64(spaces), np.int64(tabs)), (torch.tensor(spaces), float(tabs)),
                  (len(smol.tokenize(nb02.EIGHT_SPACES)), len(smol.tokenize(nb02.TWO_TABS)))):
        assert nb02.check_indentation(*right), right
    for (s, t), says in (((spaces, spaces), "`two_tabs`"), ((tabs, tabs), "`eight_spaces`"), ((8, 2), "`eight_spaces`"),
                         ((spaces, 2), "`two_tabs`"), (("3", tabs), "whole number"), ((spaces, None), "whole number")):
        assert_wrong(nb02.check_indentation(s, t), says)
    assert_untouched(nb02.check_indentation(..., ...), spaces)


# ---- 03 ---------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_layer_params_right_and_wrong(model):
    layer = model.model.layers[0]
    true = sum(p.numel() for p in layer.parameters())
    rights = (true, sum(p.numel() for p in layer.state_dict().values()), torch.tensor(true), np.int64(true),
              sum(p.numel() for _, p in layer.named_parameters()))
    for right in rights:
        assert nb03.check_layer_params(model, right), right
    total = sum(p.numel() for p in model.parameters())
    for wrong, says in ((total, "whole model"), (sum(p.numel() for p in layer.mlp.parameters()), "MLP block"),
                        (true + 1, "is not it"), (str(true), "must be a number"), (float(true) + 0.5, "is not it"),
                        (torch.tensor([true, true]), "must be a number")):
        assert_wrong(nb03.check_layer_params(model, wrong), says)
    assert_untouched(nb03.check_layer_params(model, ...), f"{true:,}")


def test_kv_cache_right_and_wrong():
    from transformers import AutoConfig

    from deepcoder_lib import twins
    c = AutoConfig.from_pretrained(twins.DATA_DIR / "qwen2")
    head_dim = c.hidden_size // c.num_attention_heads
    true = c.num_hidden_layers * nb03.KV_TOKENS * 2 * c.num_key_value_heads * head_dim * 2
    rights = (true, float(true), torch.tensor(true), np.int64(true),
              torch.tensor(nb03.KV_TOKENS) * c.num_hidden_layers * 2 * c.num_key_value_heads * head_dim * 2)
    for right in rights:
        assert nb03.check_kv_cache(right), right
    for wrong, says in ((true * 7, "grouped-query"), (true // 2, "K and V"), (true * 2, "float32"), (true * 8, "Bits"),
                        (true // c.num_hidden_layers, "layers"), (str(true), "must be a number")):
        assert_wrong(nb03.check_kv_cache(wrong), says)
    assert_untouched(nb03.check_kv_cache(...), f"{true:,}")
