"""Notebook 17's checks: each accepts every natural right answer (written differently) and refuses wrong ones,
saying what is wrong, and never hints at the answer for the untouched placeholder."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from deepcoder_lib.exercises import nb17
from deepcoder_lib.exercises.nb17 import SPM_PREFIX as P, SPM_SUFFIX as S

PRE, SUF, MID = "<fim_prefix>", "<fim_suffix>", "<fim_middle>"


@pytest.mark.parametrize("answer", [
    f"{PRE}{SUF}{S}{MID}{P}",
    PRE + SUF + S + MID + P,
    "".join([PRE, SUF, S, MID, P]),
    "<fim_prefix><fim_suffix>" + S + "<fim_middle>" + P,
    "{}{}{}{}{}".format(PRE, SUF, S, MID, P),
])
def test_spm_prompt_right(answer):
    result = nb17.check_spm_prompt(answer)
    assert result.ok, result.message


@pytest.mark.parametrize("answer, says", [
    (f"{PRE}{P}{SUF}{S}{MID}", "PSM order"),
    (f"{SUF}{S}{PRE}{P}{MID}", "llama.cpp's `spm_infill` order"),
    (f"<|fim_prefix|><|fim_suffix|>{S}<|fim_middle|>{P}", "Qwen/Qwen2.5-Coder"),
    (f"<fim-prefix><fim-suffix>{S}<fim-middle>{P}", "exactly once"),
    (f"{PRE}{SUF}{S}{P}", "<fim_middle> does not"),
    (f"{PRE}{SUF}{S.strip()}{MID}{P}", "SPM_SUFFIX is not in your prompt"),
    (f"{PRE}{SUF}{S}{MID}def mean(xs):\n    total = sum(xs)\n", "SPM_PREFIX is not in your prompt"),
    (f"{PRE}{S}{SUF}{MID}{P}", "nothing comes between the first two markers"),
    (42, "must be a string"),
    (None, "must be a string"),
])
def test_spm_prompt_wrong(answer, says):
    result = nb17.check_spm_prompt(answer)
    assert not result.ok and says in result.message, result.message


def test_placeholders_do_not_hint():
    for check in (nb17.check_spm_prompt, nb17.check_marker_pieces, nb17.check_my_middle):
        result = check(...)
        assert not result.answered and "Replace `...`" in result.message
        assert not any(ch.isdigit() for ch in result.message) and "<" not in result.message


RIGHT_COUNT = 19  # tests know the model-specific figure; the check computes it from the tokenizer


def test_marker_count_is_what_the_tokenizer_says():
    from deepcoder_lib.tokens import load_tokenizer
    assert len(load_tokenizer("qwen2").tokenize(nb17.QWEN_MARKERS)) == RIGHT_COUNT


@pytest.mark.parametrize("answer", [RIGHT_COUNT, float(RIGHT_COUNT), np.int64(RIGHT_COUNT), torch.tensor(RIGHT_COUNT),
                                    torch.ones(RIGHT_COUNT).sum()])
def test_marker_pieces_right(answer):
    assert nb17.check_marker_pieces(answer).ok


@pytest.mark.parametrize("answer, says", [(3, "Qwen2.5-Coder's tokenizer"), (21, "one at a time"), (7, "one marker's"),
                                          (0, "cannot be"), (25, "is not it"), ("19", "must be a whole number"),
                                          (19.5, "must be a whole number"), (True, "must be a whole number")])
def test_marker_pieces_wrong(answer, says):
    result = nb17.check_marker_pieces(answer)
    assert not result.ok and says in result.message, result.message


@pytest.mark.slow
@pytest.mark.parametrize("answer", ["distance = abs(elem - elem2)", "                distance = abs(elem2 - elem)",
                                    "distance = max(elem, elem2) - min(elem, elem2)", "distance=abs(elem-elem2)\n",
                                    "distance = ((elem - elem2) ** 2) ** 0.5"])
def test_my_middle_right(answer):
    result = nb17.check_my_middle(answer)
    assert result.ok, result.message


@pytest.mark.slow
@pytest.mark.parametrize("answer, says", [("distance = elem - elem2", "does not pass"), ("pass", "does not pass"),
                                          ("distance = abs(elem - elem2)\nprint(distance)", "must be one line"),
                                          ("", "is empty"), ("   ", "is empty"), (["distance = 0"], "must be a string"),
                                          ("distance = abs(elem - elem2", "does not pass"),
                                          ("distance = abs(elem + elem2)", "does not pass"), ("distance = 0", "does not pass")])
def test_my_middle_wrong(answer, says):
    result = nb17.check_my_middle(answer)
    assert not result.ok and says in result.message, result.message


def test_hole_task_is_the_distance_line_and_not_in_the_stored_run():
    from deepcoder_lib import fim
    task = nb17.hole_task()
    assert task["entry_point"] == "has_close_elements" and task["middle"] == "distance = abs(elem - elem2)"
    assert task["problem"] not in {t["problem"] for t in fim.single_line_tasks(40, seed=0)}
