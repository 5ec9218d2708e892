"""Notebook 12's exercise checks: the shift by one, perplexity by hand (the course's perplexity() refused), and the
costliest token of BUGGY, judged against where the bug really is, on the real embedded model."""
from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
import torch

from deepcoder_lib import loss
from deepcoder_lib.exercises import nb12
from deepcoder_lib.loss import TokenLoss, token_losses

IDS = torch.arange(9)[None]  # 9 tokens: the last one is scored by row 7 (or -2)


@pytest.mark.parametrize("row", [7, -2, IDS.shape[1] - 2, torch.tensor(7), np.int64(7), 7.0])
def test_shift_right(row):
    assert nb12.check_shift(row, IDS)


@pytest.mark.parametrize("row, says", [(8, "last row"), (-1, "last row"), (0, "position 1"), (6, "position 7"),
                                       (9, "does not exist"), (7.5, "whole number"), ("7", "whole number")])
def test_shift_wrong(row, says):
    result = nb12.check_shift(row, IDS)
    assert not result and says in result.message, result


def test_shift_placeholder():
    result = nb12.check_shift(..., IDS)
    assert not result.answered and "7" not in result.message


def by_math(losses):
    return math.exp(sum(losses) / len(losses))


@pytest.mark.parametrize("fn", [by_math, lambda losses: torch.tensor(losses).mean().exp(),
                                lambda losses: np.exp(np.mean(losses)),
                                lambda losses: math.exp(statistics.fmean(losses)),
                                lambda losses: math.prod(math.exp(x) for x in losses) ** (1 / len(losses))],
                         ids=["math", "torch 0-d", "numpy", "statistics", "geometric mean"])
def test_perplexity_right(fn):
    result = nb12.check_perplexity(fn, [TokenLoss(1, 5, " x", 0.7), TokenLoss(2, 6, " y", 2.3)])
    assert result and "On the notebook's text: 4.48" in result.message, result  # exp(1.5)


@pytest.mark.parametrize("fn, says", [
    (lambda losses: sum(losses) / len(losses), "mean loss itself"),
    (lambda losses: math.exp(sum(losses)), "SUM"),
    (lambda losses: math.exp(-sum(losses) / len(losses)), "flip the sign"),
    (lambda losses: 2 ** (sum(losses) / len(losses)), "nats"),
    (lambda losses: sum(math.exp(x) for x in losses) / len(losses), "mean first"),
    (lambda losses: math.exp(sum(losses) / (len(losses) - 1)), "divide by the number of losses"),
    (lambda losses: losses[0].loss, "raised AttributeError"),
    (lambda losses: [math.exp(x) for x in losses], "return one number"),
    (loss.perplexity, "course's own deepcoder_lib.loss.perplexity"),
    (lambda losses: loss.perplexity(losses) + 0, "course's own deepcoder_lib.loss.perplexity"),
    (2.718, "Pass the function itself"),
])
def test_perplexity_wrong(fn, says):
    result = nb12.check_perplexity(fn)
    assert not result and says in result.message, result


def test_perplexity_placeholder():
    def my_perplexity(losses):
        ...

    for answer in (..., my_perplexity):
        result = nb12.check_perplexity(answer)
        assert not result.answered and "exp" not in result.message


@pytest.fixture(scope="module")
def buggy(model, tokenizer):
    return token_losses(model, tokenizer, nb12.BUGGY)


def test_bug_token_right_and_judged(buggy):
    """On the embedded model '1' costs ~2.6 nats where '0' would cost ~0.1: the costliest token is the bug."""
    body = buggy[[i.token for i in buggy].index(" return") + 1:]
    worst = max(body, key=lambda item: item.loss)
    for answer in ("1", worst.token, worst, str(1)):
        result = nb12.check_bug_token(answer, buggy)
        assert result and "it is the bug" in result.message, result


def test_bug_token_message_judges_a_costliest_token_that_is_not_the_bug(buggy):
    """With other weights the costliest token may be elsewhere: still the right answer, but not praised as the bug."""
    rigged = [TokenLoss(i.position, i.token_id, i.token, 9.0 if i.token == " %" else i.loss) for i in buggy]
    result = nb12.check_bug_token(" %", rigged)
    assert result and "not the bug" in result.message and "'1'" in result.message
    assert "it is the bug" not in result.message


@pytest.mark.parametrize("answer, says", [(" 1", "tokens carry their spaces"), (" n", "another token"),
                                          (" ==", "another token"), ("even", "before `return`"),
                                          ("x", "not a token"), (1, "as a string"), (True, "as a string")])
def test_bug_token_wrong(buggy, answer, says):
    result = nb12.check_bug_token(answer, buggy)
    assert not result and says in result.message, result


def test_bug_token_placeholder(buggy):
    result = nb12.check_bug_token(..., buggy)
    assert not result.answered and "1" not in result.message
