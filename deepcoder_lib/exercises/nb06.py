"""Checks for notebook 06 (decoding as search): an answer's probability, the repetition penalty by hand.

Each check recomputes the answer (from the notebook's own transition scores, or with transformers'
RepetitionPenaltyLogitsProcessor) and says what the value was instead.
"""
from __future__ import annotations

import math

import torch

from . import CheckResult, failed, passed

PENALTY = 1.25
LOGITS = (2.0, -2.0)  # a positive and a negative logit of tokens already seen


def _number(value, what: str) -> CheckResult | None:
    if value is ... or value is None:
        return failed(f"Replace `...` in {what} with a number, then run the cell again.")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return failed(f"{what} must be a number, got {value!r} ({type(value).__name__}).")
    return None


def check_answer_probability(prob, transition_scores) -> CheckResult:
    """The probability of the whole greedy answer, from its per-token log-probabilities ``transition_scores``."""
    problem = _number(prob, "`prob`")
    if problem is not None:
        return problem
    scores = torch.as_tensor(transition_scores, dtype=torch.float64).flatten()
    total = float(scores.sum())
    truth = math.exp(total)
    if math.isclose(prob, truth, rel_tol=1e-3, abs_tol=1e-12):
        return passed(f"Right: exp({total:.3f}) = {truth:.4g}. Multiplying {len(scores)} probabilities below 1 "
                      "makes a small number fast, which is why one sums log-probabilities instead.")
    if math.isclose(prob, total, rel_tol=1e-3):
        return failed(f"{prob:.4g} is the log-probability (the sum). Probabilities are between 0 and 1: "
                      "take exp of it.")
    if math.isclose(prob, float(scores.exp().sum()), rel_tol=1e-3):
        return failed("You added the tokens' probabilities. The answer's probability is their product: "
                      "exp of the sum of the log-probabilities.")
    per_token = (float(scores.exp().mean()), math.exp(float(scores.mean())))
    if any(math.isclose(prob, value, rel_tol=1e-3) for value in per_token):
        return failed("That is an average per token. The whole answer's probability is the product over all tokens.")
    return failed(f"{prob!r} is not it. Sum the log-probabilities (transition_scores.sum()), then take math.exp.")


def check_penalized(positive, negative) -> CheckResult:
    """With repetition_penalty=1.25, what do the logits 2.0 and -2.0 of already-seen tokens become?"""
    from transformers import RepetitionPenaltyLogitsProcessor

    for value, what in ((positive, "`positive`"), (negative, "`negative`")):
        problem = _number(value, what)
        if problem is not None:
            return problem
    seen = torch.tensor([[0, 1]])
    truth = RepetitionPenaltyLogitsProcessor(PENALTY)(seen, torch.tensor([list(LOGITS)]))[0].tolist()
    ok = [math.isclose(value, expected, abs_tol=1e-6) for value, expected in zip((positive, negative), truth)]
    if all(ok):
        return passed(f"Right: 2.0 / {PENALTY} = {truth[0]:g} and -2.0 * {PENALTY} = {truth[1]:g}. Both move down: "
                      "dividing a negative logit would have raised it, so transformers multiplies those.")
    wrong = []
    if not ok[0]:
        wrong.append(f"`positive` = {positive!r}: a positive logit is divided by the penalty")
    if not ok[1]:
        hint = (" (that is -2.0 / 1.25: it raises the logit, making the token MORE likely)"
                if math.isclose(negative, LOGITS[1] / PENALTY, abs_tol=1e-6) else "")
        wrong.append(f"`negative` = {negative!r}{hint}: a negative logit is multiplied by the penalty")
    return failed("; ".join(wrong) + ".")
