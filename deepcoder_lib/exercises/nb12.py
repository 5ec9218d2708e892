"""Instant checks for notebook 12 (logits and loss): the shift by one, perplexity by hand, where a bug is.

Each check recomputes the answer from the notebook's own tensors or token losses (``loss.token_losses``) and
says what the learner's value was instead. The perplexity check runs the learner's function on lists of its own
and refuses one that calls the course's ``perplexity()`` (``by_hand.course_calls``).
"""
from __future__ import annotations

import math

from . import CheckResult, as_number, failed, is_placeholder, not_answered, passed
from .by_hand import number_by_hand

BUGGY = "def is_even(n):\n    return n % 2 == 1\n"
BUG_AT = BUGGY.index("== 1") + 3  # the character that is wrong: an even number's remainder is 0
# (losses, the perplexity): a hand-checkable one first, then ones where the usual slips differ
PERPLEXITY_CASES = ([0.5, 1.0, 1.5], [math.log(4)] * 3, [2.0], [0.2, 3.1, 0.05, 1.7, 0.9])


def check_shift(row, input_ids) -> CheckResult:
    """Which row of ``logits[0]`` scores the last token of ``input_ids[0]``? Row n-2 (or -2): row t predicts t+1."""
    n = int(input_ids.shape[-1])
    number = as_number(row, "`row`", "3", whole=True)
    if isinstance(number, CheckResult):
        return number
    if number in (n - 2, -2):
        return passed(f"Right: row {number} of {n}. The logits at position t score the token at t+1, so the "
                      "targets are input_ids[:, 1:] against logits[:, :-1]; the last row scores no token we have.")
    if number in (n - 1, -1):
        return failed(f"Row {number} is the last row: it has seen the last token and scores the one that would come "
                      "after the text, which we do not have.")
    if not -n <= number < n:
        return failed(f"logits[0] has {n} rows (0 to {n - 1}, or -{n} to -1); row {number} does not exist.")
    return failed(f"Row {number} scores the token at position {number % n + 1}: which row comes just before the "
                  "last token?")


def _perplexity_slip(got: float, losses: list[float]) -> str:
    """What a wrong perplexity most likely is, in words ('' when it is none of the usual slips)."""
    mean, total = sum(losses) / len(losses), sum(losses)
    slips = [(mean, "the mean loss itself: perplexity is exp of it"),
             (math.exp(total), "exp of the SUM of the losses, which grows with the length of the text: use the mean"),
             (math.exp(-mean), "exp(-mean loss), the geometric mean of the probabilities: flip the sign"),
             (2 ** mean, "2 ** mean loss: the losses are in nats (natural log), so use exp"),
             (sum(math.exp(x) for x in losses) / len(losses), "the mean of exp(loss): take the mean first, then exp")]
    if len(losses) > 1:
        slips.append((math.exp(total / (len(losses) - 1)), "exp(sum / (n - 1)): divide by the number of losses"))
    return next((why for value, why in slips if math.isclose(got, value, rel_tol=1e-4)), "")


def check_perplexity(fn, losses=None) -> CheckResult:
    """Does ``fn(losses)`` (a list of floats, nats) return exp(mean loss), without the course's ``perplexity``?

    ``losses``, when given (TokenLoss records or floats), is the notebook's own text: the result says its value."""
    from ..loss import perplexity

    if is_placeholder(fn):
        return not_answered("`my_perplexity`", "your function")
    if not callable(fn):
        return failed(f"Pass the function itself, check_perplexity(my_perplexity, good), got {fn!r}.")
    cases = list(PERPLEXITY_CASES)
    if losses is not None:
        cases.append([float(getattr(item, "loss", item)) for item in losses])
    for case in cases:
        shown = "[" + ", ".join(f"{x:.3g}" for x in case[:5]) + (", ...]" if len(case) > 5 else "]")
        got = number_by_hand(fn, (list(case),), name="my_perplexity", call=f"my_perplexity({shown})",
                             raised_hint="It gets a list of floats (the losses in nats).",
                             helper_hint="compute it yourself (math, numpy or torch)", number_hint="return one number")
        if isinstance(got, CheckResult):
            return got
        truth = math.exp(sum(case) / len(case))
        if not math.isclose(got, truth, rel_tol=1e-4):
            slip = _perplexity_slip(got, case)
            return failed(f"my_perplexity({shown}) = {got:.4g}" + (f" is {slip}." if slip else
                          f", expected {truth:.4g}: take the mean of the losses, then exp."))
    mine = f" On the notebook's text: {perplexity(cases[-1]):.2f}." if losses is not None else ""
    return passed(f"Your function gives exp(mean loss) on all {len(cases)} lists.{mine} On average the model was "
                  "as unsure as a fair choice among that many tokens.")


def _bug_token(losses):
    """The TokenLoss whose text covers BUG_AT, found from the end of the text (the first token has no loss)."""
    text = "".join(item.token for item in losses)
    if not BUGGY.endswith(text):
        return next((item for item in losses if item.token.strip() == "1"), None)
    offset = len(BUGGY) - len(text)
    for item in losses:
        if offset <= BUG_AT < offset + len(item.token):
            return item
        offset += len(item.token)
    return None


def check_bug_token(token, losses) -> CheckResult:
    """Which token of ``BUGGY`` after ``return`` has the highest loss? ``losses`` = token_losses(BUGGY).

    Right is the costliest token; the message then judges whether that token is the bug, which depends on the model."""
    if is_placeholder(token):
        return not_answered("`bug_token`", "the token, as a string")
    position = getattr(token, "position", None)  # a TokenLoss record from max(..., key=...) is fine too
    token = getattr(token, "token", token)
    if not isinstance(token, str):
        return failed(f"Give the token as a string, as the losses table shows it, got {token!r}.")
    start = next(i.position for i in losses if i.token.strip() == "return")
    body = [item for item in losses if item.position > start]
    worst, bug = max(body, key=lambda item: item.loss), _bug_token(losses)
    if token == worst.token and position in (None, worst.position):
        if bug is not None and worst.position == bug.position:
            return passed(f"Right: {worst.token!r} costs {worst.loss:.2f} nats (p = {worst.prob:.3f}), the most after "
                          "return, and it is the bug: an even number's remainder is 0. Here the loss points at it.")
        where = f"; the bug is {bug.token!r} ({bug.loss:.2f} nats)" if bug is not None else ""
        return passed(f"Right: {worst.token!r} costs the most after return ({worst.loss:.2f} nats){where}. Here the "
                      "costliest token is not the bug: the loss is a signal, not a proof.")
    if token.strip() == worst.token.strip():
        return failed(f"Nearly: tokens carry their spaces. Copy the token exactly as the table shows it, not {token!r}.")
    before = [item for item in losses if item.position <= start and item.token == token]
    if before:
        return failed(f"{token!r} comes before `return`; look only at the tokens after it.")
    mine = [item for item in body if item.token == token]
    if mine:
        return failed(f"{token!r} costs {mine[0].loss:.2f} nats; another token after return costs more.")
    return failed(f"{token!r} is not a token of the return line; copy one from the losses printed above.")
