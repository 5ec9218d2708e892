"""Checks for notebook 06 (decoding as search): an answer's probability, the penalty that changes greedy's pick.

Each check recomputes the answer (from the notebook's own transition scores, or from the logits and the
text with transformers' RepetitionPenaltyLogitsProcessor) and says what the value was instead. An untouched
placeholder (``...``) gets "Not answered yet" and nothing more.
"""
from __future__ import annotations

import math

import torch

from . import CheckResult, as_number, failed, passed


def check_answer_probability(prob, transition_scores) -> CheckResult:
    """The probability of the whole greedy answer, from its per-token log-probabilities ``transition_scores``."""
    prob = as_number(prob, "`prob`", "0.25")
    if isinstance(prob, CheckResult):
        return prob
    scores = torch.as_tensor(transition_scores, dtype=torch.float64).flatten()
    total = float(scores.sum())
    truth = math.exp(total)
    if math.isclose(prob, truth, rel_tol=1e-3, abs_tol=1e-12):
        return passed(f"exp({total:.3f}) = {truth:.4g}. Multiplying {len(scores)} probabilities below 1 "
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


def smallest_switching_penalty(logits, seen_ids) -> float | None:
    """The smallest ``repetition_penalty`` at which the argmax of ``logits`` (one step, shape (vocab,)) changes,
    given the ids already in the text; ``math.inf`` if no penalty changes it, None if the top token is new.

    The penalty scales every seen token's logit by the same factor (divide if positive, multiply if negative),
    so no seen token overtakes the top one: only the best token NOT in the text can. For a positive top logit
    that happens once top / penalty drops to the best unseen logit."""
    logits = torch.as_tensor(logits, dtype=torch.float64).flatten()
    seen = torch.unique(torch.as_tensor(seen_ids).flatten().long())
    top = int(logits.argmax())
    if top not in seen.tolist():
        return None
    unseen = torch.ones_like(logits, dtype=torch.bool)
    unseen[seen] = False
    if not unseen.any():
        return math.inf
    best_new, top_logit = float(logits[unseen].max()), float(logits[top])
    if top_logit > 0:
        return top_logit / best_new if best_new > 0 else math.inf
    return best_new / top_logit if top_logit < 0 else math.inf  # both negative: top * p must fall below best_new


def check_penalty_to_switch(penalty, logits, seen_ids) -> CheckResult:
    """The smallest repetition_penalty at which greedy picks another token at this step (within 1% above it)."""
    from transformers import RepetitionPenaltyLogitsProcessor

    penalty = as_number(penalty, "`my_penalty`", "1.5")
    if isinstance(penalty, CheckResult):
        return penalty
    logits = torch.as_tensor(logits, dtype=torch.float32).flatten()
    seen = torch.as_tensor(seen_ids).flatten().long()
    truth = smallest_switching_penalty(logits, seen)
    top = int(logits.argmax())
    if truth is None:
        return failed("Greedy's pick at this step is not in the text yet, so no repetition penalty changes it "
                      "(on this checkpoint); nothing to find here.")
    if math.isinf(truth):
        if math.isinf(penalty):
            return passed("No penalty changes greedy's pick here: no token outside the text has a positive logit.")
        return failed("Look at the tokens NOT in the text: can any of them ever overtake the top one?")
    if truth * (1 - 1e-4) <= penalty <= truth * 1.01:
        return passed(f"{truth:.4f}: the penalty scales every seen token alike, so only a token NOT in the text "
                      f"can overtake the top one; it does once {float(logits[top]):.2f} / penalty falls to the best "
                      "unseen logit.")
    if penalty <= 1:
        return failed("A penalty of 1 changes nothing, and one below 1 RAISES the tokens already in the text.")
    in_text = torch.isin(torch.arange(logits.numel()), seen)
    best_new = float(logits[~in_text].max())
    runner_up = int(logits.topk(2).indices[1])
    if in_text[runner_up] and float(logits[runner_up]) > 0 \
            and math.isclose(penalty, float(logits[top] / logits[runner_up]), rel_tol=0.01):
        return failed("The runner-up is in the text too, so the penalty lowers it by the same factor and it never "
                      "overtakes: find the best token that is NOT in the text.")
    if math.isclose(penalty, math.exp(float(logits[top]) - best_new), rel_tol=0.01):
        return failed("That is a ratio of probabilities; the penalty divides the LOGIT (before softmax).")

    def pick(p):
        return int(RepetitionPenaltyLogitsProcessor(float(p))(seen[None], logits[None].clone())[0].argmax())

    if pick(penalty) == top:
        return failed(f"At repetition_penalty={penalty:g} greedy still picks the same token: look for a larger one.")
    return failed(f"At {penalty:g} greedy picks another token, but it already does at a smaller penalty: "
                  "look for the smallest.")
