"""loss.py: the next-token cross-entropy by hand equals transformers' loss, on the real embedded model."""
from __future__ import annotations

import math

import pytest
import torch

from deepcoder_lib.loss import cross_entropy_by_hand, perplexity, token_losses

ADD = "def add(a, b):\n    return a + b\n"
ADD_BUG = "def add(a, b):\n    return a - b\n"


@pytest.mark.parametrize("text", [ADD, "for i in range(10):\n\tprint(i)", "x = 1"])
def test_by_hand_equals_transformers_loss(model, tokenizer, text):
    input_ids = torch.tensor([tokenizer(text)["input_ids"]])
    with torch.inference_mode():
        out = model(input_ids=input_ids, labels=input_ids)
    by_hand = cross_entropy_by_hand(out.logits, input_ids)
    assert torch.allclose(by_hand, out.loss.float(), atol=1e-5, rtol=1e-5), (float(by_hand), float(out.loss))
    # and against torch's own cross_entropy on the shifted tensors
    reference = torch.nn.functional.cross_entropy(out.logits[0, :-1].float(), input_ids[0, 1:])
    assert torch.allclose(by_hand, reference, atol=1e-6)


def test_hand_computed_case():
    """Vocabulary of 2, ids [0, 1, 1]. Logits at position 0 are (0, 0): p(next=1) = 1/2, loss ln 2.
    Logits at position 1 are (0, ln 3): p(next=1) = 3/4, loss ln(4/3). Mean (ln 2 + ln 4/3) / 2 = ln(8/3) / 2.
    The logits at the last position predict nothing (no token follows)."""
    logits = torch.tensor([[[0.0, 0.0], [0.0, math.log(3)], [5.0, -5.0]]])
    input_ids = torch.tensor([[0, 1, 1]])
    losses = cross_entropy_by_hand(logits, input_ids, reduction="none")
    assert torch.allclose(losses, torch.tensor([[math.log(2), math.log(4 / 3)]]))
    assert math.isclose(float(cross_entropy_by_hand(logits, input_ids)), math.log(8 / 3) / 2, rel_tol=1e-6)
    assert math.isclose(perplexity(losses), math.sqrt(8 / 3), rel_tol=1e-6)


def test_token_losses_match_the_mean_loss(model, tokenizer):
    losses = token_losses(model, tokenizer, ADD)
    input_ids = torch.tensor([tokenizer(ADD, add_special_tokens=False)["input_ids"]])
    assert [item.token_id for item in losses] == input_ids[0, 1:].tolist()
    with torch.inference_mode():
        loss = model(input_ids=input_ids, labels=input_ids).loss
    assert math.isclose(sum(item.loss for item in losses) / len(losses), float(loss), rel_tol=1e-5)
    assert math.isclose(perplexity([item.loss for item in losses]), math.exp(float(loss)), rel_tol=1e-5)
    assert all(0 < item.prob <= 1 for item in losses)


def test_the_bug_is_where_the_loss_jumps(model, tokenizer):
    """`a - b` in an `add` function: the model finds ' -' far less likely than ' +' at the same place,
    and it is the only token whose loss rises by more than 1 nat; every token before it is identical."""
    good, bad = token_losses(model, tokenizer, ADD), token_losses(model, tokenizer, ADD_BUG)
    assert len(good) == len(bad)
    at = next(i for i, (g, b) in enumerate(zip(good, bad)) if g.token != b.token)
    assert (good[at].token, bad[at].token) == (" +", " -")
    assert bad[at].loss > good[at].loss + 3  # measured: 5.4 vs 0.1 nats
    assert max(range(len(bad)), key=lambda i: bad[i].loss - good[i].loss) == at
    assert all(math.isclose(g.loss, b.loss, rel_tol=1e-6) for g, b in zip(good[:at], bad[:at]))
    assert perplexity([b.loss for b in bad]) > perplexity([g.loss for g in good])


def test_errors_name_the_argument(model, tokenizer):
    with pytest.raises(ValueError, match="`logits` must be \\(batch, seq, vocab\\)"):
        cross_entropy_by_hand(torch.zeros(3, 5), torch.zeros(1, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="`reduction` must be 'mean' or 'none', got 'sum'"):
        cross_entropy_by_hand(torch.zeros(1, 3, 5), torch.zeros(1, 3, dtype=torch.long), reduction="sum")
    with pytest.raises(ValueError, match="`input_ids` has one token"):
        cross_entropy_by_hand(torch.zeros(1, 1, 5), torch.zeros(1, 1, dtype=torch.long))
    with pytest.raises(ValueError, match="`losses` is empty"):
        perplexity([])
    with pytest.raises(ValueError, match="`text` must be a non-empty str, got ''"):
        token_losses(model, tokenizer, "")


def test_masked_labels_loss_is_the_mean_over_the_answer_tokens(model, tokenizer):
    """What notebook 13's training minimises: labels -100 on the prompt (adapters.build_examples), so
    transformers' loss is the by-hand cross-entropy averaged over the answer tokens only."""
    from deepcoder_lib.adapters import build_examples, load_dataset
    [example] = build_examples(tokenizer, load_dataset()["train"][:1])
    input_ids, labels = torch.tensor([example["input_ids"]]), torch.tensor([example["labels"]])
    with torch.inference_mode():
        out = model(input_ids=input_ids, labels=labels)
    losses = cross_entropy_by_hand(out.logits, input_ids, reduction="none")
    answer = labels[:, 1:] != -100
    assert 0 < int(answer.sum()) < input_ids.shape[1] - 1
    assert torch.allclose(losses[answer].mean(), out.loss.float(), atol=1e-5)
    assert not torch.allclose(losses.mean(), out.loss.float(), atol=1e-3)  # the prompt's tokens are not in it
