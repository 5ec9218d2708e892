"""Checks for notebook 18 (constrained output): the digits-only mask and the mass it removes at the first step, a
processor that lets the answer end (EOS once a digit is written), and how many tokens one state of the JSON format
allows. Each is compared with what the course's reference code (``deepcoder_lib.constrained``) computes."""
from __future__ import annotations

import math

import torch

from . import CheckResult, as_number, failed, not_answered, passed, real_number

ASCII_DIGITS = "0123456789"


def digit_ids(strings) -> list[int]:
    """The ids of tokens made only of the ASCII digits 0-9 (at least one)."""
    return [i for i, s in enumerate(strings) if s and all(c in ASCII_DIGITS for c in s)]


def _as_mask(value, size: int):
    """A learner's mask (bools of length ``size``: torch, numpy, a list) or collection of ids, as a bool tensor;
    None when it is neither."""
    if isinstance(value, (set, frozenset)):
        value = sorted(value)
    try:
        tensor = torch.as_tensor(value) if not isinstance(value, torch.Tensor) else value.detach().cpu()
    except (TypeError, ValueError, RuntimeError):
        return None
    tensor = tensor.reshape(-1)
    if tensor.dtype == torch.bool and tensor.numel() == size:
        return tensor
    if tensor.numel() == size and not tensor.dtype.is_floating_point and bool(((tensor == 0) | (tensor == 1)).all()):
        return tensor.bool()
    if not tensor.dtype.is_floating_point and tensor.dtype != torch.bool and tensor.numel() <= size:
        if tensor.numel() and (int(tensor.min()) < 0 or int(tensor.max()) >= size):
            return None
        mask = torch.zeros(size, dtype=torch.bool)
        mask[tensor.long()] = True
        return mask
    return None


def check_digits_only(digits_mask, removed, logits, strings) -> CheckResult:
    """``digits_mask``: True for every token made only of the digits 0-9; ``removed``: the probability mass the
    mask takes away from the model's first step (``logits``)."""
    if digits_mask is ...:
        return not_answered("`digits_mask`", "your mask")
    mask = _as_mask(digits_mask, len(strings))
    if mask is None:
        return failed(f"`digits_mask` must hold one True/False per token ({len(strings)} of them, e.g. a bool "
                      f"tensor or a list of bools) or be the list of allowed ids; got {type(digits_mask).__name__}.")
    expected = torch.zeros(len(strings), dtype=torch.bool)
    expected[digit_ids(strings)] = True
    if not torch.equal(mask, expected):
        extra = [i for i in mask.nonzero().flatten().tolist() if not expected[i]]
        missing = [i for i in expected.nonzero().flatten().tolist() if not mask[i]]
        if extra and all(strings[i] == "" for i in extra):
            return failed(f"Your mask lets through {len(extra)} tokens with no text (special tokens, EOS among "
                          "them): all(...) over an empty string is True. Ask for at least one character.")
        if extra and all(s.strip().isdigit() for s in (strings[i] for i in extra)):
            sample = next(strings[i] for i in extra)
            return failed(f"{sample!r} is not only ASCII digits (str.isdigit accepts other digit characters, and "
                          "a space is not a digit); test each character against '0123456789'.")
        if missing and not extra:
            sample = strings[missing[0]]
            return failed(f"Your mask misses {len(missing)} digit-only tokens, e.g. {sample!r}: a token may hold "
                          "several digits.")
        sample = strings[(extra or missing)[0]]
        return failed(f"{len(extra)} tokens are allowed that should not be and {len(missing)} are missing, "
                      f"e.g. {sample!r}.")
    if removed is ...:
        return not_answered("`removed`", "the probability mass the mask removes")
    number = as_number(removed, "`removed`", "0.25")
    if isinstance(number, CheckResult):
        return number
    probs = torch.softmax(torch.as_tensor(logits).detach().float().reshape(-1), dim=-1)
    kept = float(probs[expected].sum())
    if math.isclose(number, 1 - kept, abs_tol=1e-4):
        return passed(f"The mask keeps {int(expected.sum())} tokens and removes {1 - kept:.4f} of the model's "
                      "probability at this step: that much of what the model wanted to write is not a digit.")
    if math.isclose(number, kept, abs_tol=1e-4):
        return failed("That is the mass the mask keeps; the question asks for the mass it removes.")
    if number < 0 or number > 1:
        return failed(f"{number} is not a probability; apply softmax to the logits first, then add up.")
    return failed(f"Not {number:.4f}: take softmax of `logits`, then add up the probabilities of the tokens your "
                  "mask removes.")


def check_digits_then_stop(processor_class, strings, eos_id: int) -> CheckResult:
    """``processor_class(digit_ids, eos_id, prompt_length)`` must keep the digit tokens' scores (the tokens of
    ``strings`` made only of 0-9), mask every other token with -inf, allow EOS (with its own score) once at least
    one token was written, and not change the scores it gets."""
    if processor_class is ...:
        return not_answered("`DigitsThenStop`", "your class")
    if not isinstance(processor_class, type) and not callable(processor_class):
        return failed(f"Pass the class itself, check_digits_then_stop(DigitsThenStop, ...), got {processor_class!r}.")
    if not isinstance(processor_class, type):
        return failed("Pass the class, not an instance: the check builds its own with "
                      "DigitsThenStop(digit_ids, eos_id, prompt_length).")
    digits, vocab_size = digit_ids(strings), len(strings)
    generator = torch.Generator().manual_seed(18)
    scores = torch.randn(1, vocab_size, generator=generator)
    before = scores.clone()
    others = torch.ones(vocab_size, dtype=torch.bool)
    others[digits + [eos_id]] = False
    cases = {"nothing written yet": (torch.tensor([[5, 6, 7]]), False),
             "one digit written": (torch.tensor([[5, 6, 7, digits[0]]]), True),
             "three digits written": (torch.tensor([[5, 6, 7] + digits[:3]]), True)}
    for name, (input_ids, eos_allowed) in cases.items():
        try:
            out = processor_class(digits, eos_id, 3)(input_ids, scores)
        except Exception as error:  # the learner's code: say what went wrong
            return failed(f"With {name}, your processor raised {type(error).__name__}: {error}.")
        if not torch.equal(scores, before):
            return failed("Your processor changed the scores it was given (in place); build new ones, e.g. "
                          "torch.full_like(scores, -float('inf')), and return those.")
        if not isinstance(out, torch.Tensor) or out.shape != scores.shape:
            return failed(f"With {name}, your processor returned {type(out).__name__}"
                          f"{tuple(out.shape) if isinstance(out, torch.Tensor) else ''}; return the new scores, "
                          f"a tensor shaped like `scores` {tuple(scores.shape)}.")
        if not torch.equal(out[0, digits], scores[0, digits]):
            return failed(f"With {name}, the digit tokens must keep the model's own scores.")
        if bool(torch.isfinite(out[0, others]).any()):
            return failed(f"With {name}, tokens other than digits and EOS are still allowed: mask them with -inf.")
        eos_score = float(out[0, eos_id])
        if eos_allowed and math.isinf(eos_score):
            return failed(f"With {name}, EOS is still masked: the answer can never end, it runs until "
                          "max_new_tokens. Allow EOS once input_ids is longer than the prompt.")
        if not eos_allowed and not math.isinf(eos_score):
            return failed("With nothing written yet, EOS is allowed, so the answer may be empty (no digit at all). "
                          "Allow EOS only once input_ids is longer than prompt_length.")
        if eos_allowed and eos_score != float(scores[0, eos_id]):
            return failed(f"With {name}, EOS is allowed but its score was changed to {eos_score:.3f}; keep the "
                          "model's own score, so that it stops when it wants to.")
    return passed("Digits only, and EOS from the second token on, with the model's own scores: the answer is a "
                  "whole number that can end.")


def check_allowed_count(count, fmt, table, text: str) -> CheckResult:
    """How many tokens of ``table`` may come right after ``text`` in ``fmt`` (EOS counted only if the text is
    complete)."""
    from ..constrained import allowed_ids

    number = as_number(count, "`allowed_count`", "1234", whole=True)
    if isinstance(number, CheckResult):
        return number
    state = fmt.walk(fmt.start, text)
    allowed = allowed_ids(fmt, table, state)
    expected = len(allowed) + (1 if fmt.accepts(state) else 0)
    if number == expected:
        return passed(f"{expected} of {len(table)} tokens may come next ({expected / len(table):.0%}): inside a "
                      "string almost anything goes, which is why the mask removes little there.")
    inside_only = sum(1 for i in allowed if '"' not in table.strings[i])
    if number == len(table):
        return failed("That is the whole vocabulary; count only the tokens the format allows after this text.")
    if number == inside_only and inside_only != expected:
        return failed("You counted the tokens that stay inside the string; a token that closes it and goes on "
                      "(such as '\",') is allowed too, as long as what follows the quote fits the format.")
    if number == expected + 1:
        return failed("One too many: is EOS in your count? The text is not a whole object yet, so EOS is masked.")
    if number == len({table.strings[i] for i in allowed}):
        return failed("You counted distinct texts; count token ids (two ids can decode to the same text).")
    if real_number(count) is not None and number < 0:
        return failed(f"{number} cannot be a count of tokens.")
    return failed(f"Not {number}: walk each token's text through the format from this text (or use your "
                  "processor's mask) and count the ones that stay inside the format.")
