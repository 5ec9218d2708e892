"""Instant checks for notebook 12 (logits and loss): the shift by one, perplexity, where a bug is.

Each check recomputes the answer from the notebook's own token losses (``loss.token_losses``) and says
what the value was instead.
"""
from __future__ import annotations

import math

from ..loss import perplexity
from . import CheckResult, failed, first_not_number, passed

BUGGY = "def is_even(n):\n    return n % 2 == 1\n"


def check_shift(row, position: int = 5) -> CheckResult:
    """Which row of ``logits[0]`` scores the token at ``input_ids[0, 5]``?"""
    problem = first_not_number((row, "`row`"), whole=True)
    if problem is not None:
        return problem
    if row == position - 1:
        return passed(f"Right: row {row}. The logits at position t score the token at t+1, so the targets are "
                      "input_ids[:, 1:] against logits[:, :-1].")
    if row == position:
        return failed(f"Row {row} has already seen token {position}: its logits score the token after it. "
                      "A causal model predicts the next token from the ones before it.")
    return failed(f"Row {row} is not it: a prediction comes from the position just before the token it predicts.")


def check_perplexity(value, losses) -> CheckResult:
    """The perplexity of the text whose per-token ``losses`` (TokenLoss records or floats) the notebook computed."""
    if value is ... or isinstance(value, bool) or not isinstance(value, (int, float)):
        return failed(f"Give the perplexity as a number, got {value!r}.")
    numbers = [getattr(item, "loss", item) for item in losses]
    truth, mean = perplexity(numbers), sum(numbers) / len(numbers)
    if math.isclose(value, truth, rel_tol=1e-4):
        return passed(f"Right: exp(mean loss) = exp({mean:.3f}) = {truth:.2f}: on average the model was as unsure "
                      f"as a fair choice among {truth:.1f} tokens.")
    if math.isclose(value, mean, rel_tol=1e-4):
        return failed(f"{value:.3f} is the mean loss (what model(..., labels=...).loss gives). "
                      "Perplexity is exp of it.")
    if math.isclose(value, math.exp(sum(numbers)), rel_tol=1e-4):
        return failed("That is exp of the SUM of the losses, which grows with the length of the text. Use the mean.")
    return failed(f"{value!r} is not it: take the mean of the losses, then math.exp.")


def check_bug_token(token, losses) -> CheckResult:
    """Which token of ``BUGGY`` has the highest loss after the line ``return``? ``losses`` = token_losses(BUGGY)."""
    if token is ... or not isinstance(token, str):
        return failed("Give the token as a string, e.g. ' n', as it appears in the losses table.")
    body = [item for item in losses if item.position > next(i.position for i in losses if i.token == " return")]
    worst = max(body, key=lambda item: item.loss)
    if token == worst.token:
        return passed(f"Right: {worst.token!r} costs {worst.loss:.2f} nats (p = {worst.prob:.3f}); an even number's "
                      "remainder is 0, and the model knows it: the loss points at the bug.")
    if token.strip() == worst.token.strip():
        return failed(f"Nearly: tokens carry their spaces. The token is {worst.token!r}, not {token!r}.")
    mine = [item for item in body if item.token == token]
    if mine:
        return failed(f"{token!r} costs {mine[0].loss:.2f} nats; another token in the return line costs more.")
    return failed(f"{token!r} is not a token of the return line; look at the tokens printed above.")
