"""Where logits meet the loss: the next-token cross-entropy a causal language model is trained on, by hand.

At every position the model's logits score all tokens as the next one; the loss at that position is
-log softmax(logits)[the token that really came next]. The logits at position t are compared with the
token at t+1, hence the shift by one: a text of n tokens gives n-1 losses. Their mean is what
``model(input_ids, labels=input_ids).loss`` returns, and exp(mean) is the perplexity. ``search.py`` sums
the same log-probabilities over a generated answer; ``generation.token_probs`` shows them as probabilities.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .inputs import input_device, per_token_logprobs, require_model


def cross_entropy_by_hand(logits: torch.Tensor, input_ids: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    """Next-token cross-entropy from ``logits`` (batch, seq, vocab) and ``input_ids`` (batch, seq).

    log_softmax over the vocabulary, shift by one (position t predicts token t+1), gather the log-probability
    of the token that came, negate. ``reduction="none"`` keeps one loss per predicted token, (batch, seq-1).
    """
    if logits.dim() != 3 or input_ids.shape != logits.shape[:2]:
        raise ValueError(f"`logits` must be (batch, seq, vocab) and `input_ids` (batch, seq), got "
                         f"{tuple(logits.shape)} and {tuple(input_ids.shape)}; pass model(input_ids).logits")
    if reduction not in ("mean", "none"):
        raise ValueError(f"`reduction` must be 'mean' or 'none', got {reduction!r}")
    if input_ids.shape[1] < 2:
        raise ValueError("`input_ids` has one token: there is no next token to predict; use at least two")
    losses = -per_token_logprobs(logits, input_ids)  # log_softmax, shift by one, gather
    return losses.mean() if reduction == "mean" else losses


def perplexity(losses) -> float:
    """exp(mean loss): the model was, on average, as unsure as a uniform choice among this many tokens."""
    losses = torch.as_tensor(losses, dtype=torch.float64).flatten()
    if losses.numel() == 0:
        raise ValueError("`losses` is empty; compute them with token_losses(model, tokenizer, text)")
    return math.exp(float(losses.mean()))


@dataclass(frozen=True)
class TokenLoss:
    """The loss of predicting one token: its position in the text's ids, id, text, loss and probability."""
    position: int
    token_id: int
    token: str
    loss: float

    @property
    def prob(self) -> float:
        return math.exp(-self.loss)


@torch.inference_mode()
def token_losses(model, tokenizer, text: str) -> list[TokenLoss]:
    """One ``TokenLoss`` per token of ``text`` after the first (raw text, no chat template, no special tokens).

    The first token has no loss: nothing came before it to predict it from.
    """
    require_model(model, what="token_losses")
    if not isinstance(text, str) or not text:
        raise ValueError(f"`text` must be a non-empty str, got {text!r}")
    input_ids = torch.tensor([tokenizer(text, add_special_tokens=False)["input_ids"]], device=input_device(model))
    losses = cross_entropy_by_hand(model(input_ids=input_ids).logits, input_ids, reduction="none")[0].cpu()
    ids = input_ids[0].tolist()
    return [TokenLoss(t, ids[t], tokenizer.decode([ids[t]]), float(losses[t - 1])) for t in range(1, len(ids))]


def plot_token_losses(losses: list[TokenLoss], ax=None, *, title: str = "Loss at each token"):
    """Bars of each token's loss (-log p, nats) with the token under it; returns the Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(max(6, 0.35 * len(losses)), 3))
    ax.bar(range(len(losses)), [item.loss for item in losses], color="tab:red")
    from .plots import drawable
    ax.set_xticks(range(len(losses)), [drawable(repr(item.token)[1:-1], "monospace") for item in losses], rotation=90,
                  fontfamily="monospace", fontsize=8)
    ax.set_ylabel("loss = -log p (nats)")
    ax.set_xlabel("token predicted (from the tokens before it)")
    ax.set_title(title)
    return ax
