"""Notebook 18's exercise checks, on the embedded model's real token table: >= 3 right answers written differently and
>= 5 wrong ones for each, and the placeholder that gives nothing away."""
import math

import numpy as np
import pytest
import torch

from deepcoder_lib import constrained
from deepcoder_lib.exercises import nb18

DIGITS = "0123456789"


@pytest.fixture(scope="module")
def table(model, tokenizer):
    return constrained.token_table(tokenizer, model.config.vocab_size)


@pytest.fixture(scope="module")
def strings(table):
    return table.strings


@pytest.fixture(scope="module")
def logits(strings):
    return torch.randn(len(strings), generator=torch.Generator().manual_seed(3)) * 3


def expected_removed(logits, strings):
    ids = [i for i, s in enumerate(strings) if s and all(c in DIGITS for c in s)]
    return 1 - float(torch.softmax(logits, -1)[ids].sum())


# --- 1. the digits-only mask and the mass it removes ----------------------------------------------------------------
RIGHT_MASKS = {
    "torch bools": lambda s: torch.tensor([bool(t) and all(c in DIGITS for c in t) for t in s]),
    "list of bools": lambda s: [len(t) > 0 and set(t) <= set(DIGITS) for t in s],
    "numpy bools": lambda s: np.array([t != "" and t.strip(DIGITS) == "" for t in s]),
    "list of ids": lambda s: [i for i, t in enumerate(s) if t and all("0" <= c <= "9" for c in t)],
    "set of ids": lambda s: {i for i, t in enumerate(s) if t.isascii() and t.isdigit()},
}


@pytest.mark.parametrize("make", RIGHT_MASKS.values(), ids=RIGHT_MASKS.keys())
def test_digits_only_right(make, strings, logits):
    mask = make(strings)
    removed = expected_removed(logits, strings)
    for number in (removed, np.float32(removed), torch.tensor(removed)):
        result = nb18.check_digits_only(mask, number, logits, strings)
        assert result and "removes" in result.message, result


def test_digits_only_by_hand_with_torch(strings, logits):
    mask = torch.tensor([bool(t) and all(c in DIGITS for c in t) for t in strings])
    removed = torch.softmax(logits, dim=-1)[~mask].sum()  # a 0-d tensor, computed the other way round
    assert nb18.check_digits_only(mask, removed, logits, strings)


@pytest.mark.parametrize("make, says", [
    (lambda s: [all(c in DIGITS for c in t) for t in s], "no text"),
    (lambda s: [t.strip().isdigit() for t in s], "not only ASCII digits"),
    (lambda s: [t in DIGITS for t in s], "no text"),  # "" in "0123456789" is True
    (lambda s: [t in "012345678" and t != "" for t in s], "misses 1 digit-only"),
    (lambda s: [t.isalpha() for t in s], "should not be"),
    (lambda s: "digits", "one True/False per token"),
    (lambda s: [1.0] * len(s), "one True/False per token"),
    (lambda s: [True] * 10, "one True/False per token"),
])
def test_digits_only_wrong_mask(make, says, strings, logits):
    result = nb18.check_digits_only(make(strings), 0.5, logits, strings)
    assert not result and result.answered and says in result.message, result


def test_digits_only_wrong_mass(strings, logits):
    mask = [bool(t) and all(c in DIGITS for c in t) for t in strings]
    removed = expected_removed(logits, strings)
    for number, says in [(1 - removed, "mass the mask keeps"), (-2.0, "not a probability"), (7, "not a probability"),
                         (removed / 2, "Not "), ("0.5", "must be a number"), (None, "must be a number")]:
        result = nb18.check_digits_only(mask, number, logits, strings)
        assert not result and says in result.message, (number, result)


def test_digits_only_placeholders(strings, logits):
    result = nb18.check_digits_only(..., ..., logits, strings)
    assert not result.answered and not any(ch.isdigit() for ch in result.message)
    mask = [bool(t) and all(c in DIGITS for c in t) for t in strings]
    result = nb18.check_digits_only(mask, ..., logits, strings)
    assert not result.answered and not any(ch.isdigit() for ch in result.message)


# --- 2. a processor that lets the answer end ------------------------------------------------------------------------
class ByIndexing:
    def __init__(self, digit_ids, eos_id, prompt_length):
        self.digit_ids, self.eos_id, self.prompt_length = digit_ids, eos_id, prompt_length

    def __call__(self, input_ids, scores):
        out = torch.full_like(scores, -float("inf"))
        keep = self.digit_ids + ([self.eos_id] if input_ids.shape[1] > self.prompt_length else [])
        out[:, keep] = scores[:, keep]
        return out


class ByMask(torch.nn.Module):  # written differently: a boolean mask and torch.where
    def __init__(self, digit_ids, eos_id, prompt_length):
        super().__init__()
        self.allowed = torch.zeros(49152, dtype=torch.bool)
        self.allowed[digit_ids] = True
        self.eos_id, self.prompt_length = eos_id, prompt_length

    def forward(self, input_ids, scores):
        allowed = self.allowed.clone()
        allowed[self.eos_id] = input_ids.shape[-1] - self.prompt_length >= 1
        return torch.where(allowed, scores, torch.tensor(float("-inf")))


class ByCloneAndFill:
    def __init__(self, digit_ids, eos_id, prompt_length):
        self.digits, self.eos, self.n = set(digit_ids), eos_id, prompt_length

    def __call__(self, input_ids, scores):
        new = scores.clone()
        banned = [i for i in range(scores.shape[-1]) if i not in self.digits and not (i == self.eos and
                                                                                        input_ids.size(1) > self.n)]
        new[:, banned] = float("-inf")
        return new


@pytest.mark.parametrize("cls", [ByIndexing, ByMask, ByCloneAndFill])
def test_digits_then_stop_right(cls, strings, model):
    result = nb18.check_digits_then_stop(cls, strings, model.generation_config.eos_token_id)
    assert result and "can end" in result.message, result


class NeverStops(ByIndexing):  # the notebook's broken processor
    def __call__(self, input_ids, scores):
        out = torch.full_like(scores, -float("inf"))
        out[:, self.digit_ids] = scores[:, self.digit_ids]
        return out


class AlwaysStops(ByIndexing):
    def __call__(self, input_ids, scores):
        out = torch.full_like(scores, -float("inf"))
        out[:, self.digit_ids + [self.eos_id]] = scores[:, self.digit_ids + [self.eos_id]]
        return out


class InPlace(ByIndexing):
    def __call__(self, input_ids, scores):
        keep = torch.zeros_like(scores, dtype=torch.bool)
        keep[:, self.digit_ids + ([self.eos_id] if input_ids.shape[1] > self.prompt_length else [])] = True
        scores[~keep] = -float("inf")
        return scores


class EosToZero(ByIndexing):
    def __call__(self, input_ids, scores):
        out = torch.full_like(scores, -float("inf"))
        out[:, self.digit_ids] = scores[:, self.digit_ids]
        if input_ids.shape[1] > self.prompt_length:
            out[:, self.eos_id] = 0.0
        return out


class ForgetsToReturn(ByIndexing):
    def __call__(self, input_ids, scores):
        super().__call__(input_ids, scores)


class OnlyEosAfterADigit(ByIndexing):
    def __call__(self, input_ids, scores):
        out = torch.full_like(scores, -float("inf"))
        keep = [self.eos_id] if input_ids.shape[1] > self.prompt_length else self.digit_ids
        out[:, keep] = scores[:, keep]
        return out


class Raises(ByIndexing):
    def __call__(self, input_ids, scores):
        return scores[:, self.digit_ids + self.eos_id]


class LetsLettersThrough(ByIndexing):
    def __call__(self, input_ids, scores):
        out = super().__call__(input_ids, scores)
        out[:, 100] = scores[:, 100]
        return out


@pytest.mark.parametrize("answer, says", [
    (NeverStops, "can never end"), (AlwaysStops, "may be empty"), (InPlace, "in place"), (EosToZero, "own score"),
    (ForgetsToReturn, "return the new scores"), (OnlyEosAfterADigit, "keep the model's own scores"),
    (Raises, "raised TypeError"), (LetsLettersThrough, "other than digits"),
    (ByIndexing([1], 2, 3), "not an instance"), (3, "Pass the class itself")])
def test_digits_then_stop_wrong(answer, says, strings, model):
    result = nb18.check_digits_then_stop(answer, strings, model.generation_config.eos_token_id)
    assert not result and result.answered and says in result.message, result


def test_digits_then_stop_placeholder(strings, model):
    result = nb18.check_digits_then_stop(..., strings, 2)
    assert not result.answered and "EOS" not in result.message


# --- 3. how many tokens one state allows ----------------------------------------------------------------------------
TEXT = '{"name": "'


@pytest.fixture(scope="module")
def fmt():
    return constrained.json_object({"name": "string", "year": "integer"})


@pytest.fixture(scope="module")
def count(fmt, table):
    return len(constrained.allowed_ids(fmt, table, fmt.walk(fmt.start, TEXT)))


def test_allowed_count_right(fmt, table, count):
    brute = sum(1 for s in table.strings if s and fmt.allows(TEXT + s))
    for answer in (count, np.int64(count), torch.tensor(count), float(count), brute):
        result = nb18.check_allowed_count(answer, fmt, table, TEXT)
        assert result and "may come next" in result.message, result


def test_allowed_count_complete_text_counts_eos(table):
    fmt = constrained.integer(max_digits=1)
    result = nb18.check_allowed_count(1, fmt, table, "7")  # full: only EOS
    assert result, result


def test_allowed_count_wrong(fmt, table, count):
    allowed = constrained.allowed_ids(fmt, table, fmt.walk(fmt.start, TEXT))
    inside = sum(1 for i in allowed if '"' not in table.strings[i])
    for answer, says in [(len(table), "whole vocabulary"), (inside, "closes it"), (count + 1, "EOS"),
                         (count - 7, "Not "), (-1, "cannot be a count"), (count + 0.5, "whole number"),
                         ("many", "whole number")]:
        result = nb18.check_allowed_count(answer, fmt, table, TEXT)
        assert not result and says in result.message, (answer, result)


def test_allowed_count_placeholder(fmt, table):
    result = nb18.check_allowed_count(..., fmt, table, TEXT)
    assert not result.answered and not any(ch.isdigit() for ch in result.message)
    assert math.isfinite(len(table))
