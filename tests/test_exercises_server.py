"""Notebook 16's check (deepcoder_lib/exercises/nb16.py): the "other" mass of a server's top log-probs."""
import math

import numpy as np
import pytest
import torch

from deepcoder_lib.exercises.nb16 import check_other_mass

PAIRS = [("def", math.log(0.5)), (" def", math.log(0.2)), ("```", math.log(0.1))]  # the head holds 0.8


@pytest.mark.parametrize("answer", [
    1 - sum(math.exp(lp) for _, lp in PAIRS),                       # the formula
    1 - torch.tensor([lp for _, lp in PAIRS]).exp().sum(),          # a 0-d torch number
    np.float64(1.0) - np.exp([lp for _, lp in PAIRS]).sum(),        # numpy
    0.2,                                                            # worked out by hand
])
def test_right_answers_written_differently(answer):
    result = check_other_mass(PAIRS, answer)
    assert result and result.label == "Correct" and "0.2000" in result.message


@pytest.mark.parametrize("answer,words", [
    (0.8, "the mass of the listed tokens themselves"),
    (1 - sum(lp for _, lp in PAIRS), "log-probabilities"),
    (-0.2, "is not a probability"),
    (1.5, "is not a probability"),
    (0.3, "Not 0.3000"),
    ("0.2", "must be a number"),
    (None, "must be a number"),
    (True, "must be a number"),
])
def test_wrong_answers_say_what_is_wrong(answer, words):
    result = check_other_mass(PAIRS, answer)
    assert not result and result.label == "Not yet" and words in result.message


def test_the_placeholder_is_not_answered_and_gives_nothing_away():
    result = check_other_mass(PAIRS, ...)
    assert result.label == "Not answered yet" and "0.2" not in result.message and "exp" not in result.message
