"""The draft notebooks (notebooks/drafts/) run top to bottom offline, and their exercise checks are right.

The drafts are not course notebooks yet (the integrator numbers them), so ``test_notebooks.py`` does not
see them; this file runs them the same way, with ``execute_notebook``, and checks what a learner would see.
"""
from __future__ import annotations

import math

import pytest

from notebook_utils import ROOT, errors_shown, execute_notebook, has_tag, learner_visible_warnings

DRAFTS = sorted((ROOT / "notebooks" / "drafts").glob("*.ipynb"))
DRAFT_BUDGET_S = 270  # ~90 s on a quiet 2-core machine; shared machines run 2-3x slower


def test_drafts_exist():
    assert {p.stem for p in DRAFTS} >= {"bpe_from_the_inside", "decoding_as_search", "logits_and_loss"}


def test_drafts_are_committed_without_outputs():
    import nbformat
    for path in DRAFTS:
        nb = nbformat.read(path, as_version=4)
        assert len(nb.cells) <= 30, path.name
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, (path.name, cell.id)


@pytest.mark.slow
@pytest.mark.parametrize("path", DRAFTS, ids=[p.stem for p in DRAFTS])
def test_draft_runs(path):
    run = execute_notebook(path)
    print(f"{path.name}: {run.seconds:.1f} s, {run.code_cells} code cells")
    tagged = [i for i, cell in enumerate(run.nb.cells) if has_tag(cell, "raises-exception")]
    assert errors_shown(run.nb) == tagged
    assert learner_visible_warnings(run.nb, run.widget_state) == []
    assert run.seconds < DRAFT_BUDGET_S, f"{path.name} took {run.seconds:.0f} s"


# The exercise checks: the right answer passes, typical wrong answers fail with a message that says why.

def test_bpe_checks():
    from deepcoder_lib import bpe
    from deepcoder_lib.exercises import nb_bpe

    assert not nb_bpe.check_first_merge(...)
    assert nb_bpe.check_first_merge("an")  # 'an' x4, 'na' x3, 'ba' x2 in 'banana bandana'
    assert "tie" not in nb_bpe.check_first_merge("ba").message
    decoded = bpe.decode(nb_bpe.HIDDEN_IDS, nb_bpe.training_merges())
    assert nb_bpe.check_hidden(decoded)  # the stored ids decode to the text whose hash is stored
    assert bpe.encode(decoded, nb_bpe.training_merges()) == nb_bpe.HIDDEN_IDS
    assert "whitespace" in nb_bpe.check_hidden(decoded.rstrip("\n")).message
    assert not nb_bpe.check_hidden(bpe.decode(nb_bpe.HIDDEN_IDS, bpe.train_bpe(nb_bpe.TRAINING_TEXT[::-1], 40)[0]))
    assert nb_bpe.check_chunks(3, 8)
    result = nb_bpe.check_chunks(3, 4)
    assert not result and "`qwen2_chunks` = 4 is wrong" in result.message and "gpt2" not in result.message


def test_search_checks():
    import torch
    from deepcoder_lib.exercises import nb_search

    scores = torch.tensor([-0.5, -0.1, -1.0])
    assert nb_search.check_answer_probability(math.exp(-1.6), scores)
    assert "log-probability" in nb_search.check_answer_probability(-1.6, scores).message
    assert "product" in nb_search.check_answer_probability(float(scores.exp().sum()), scores).message
    assert nb_search.check_penalized(1.6, -2.5)
    assert "MORE likely" in nb_search.check_penalized(1.6, -1.6).message
    assert "`positive`" in nb_search.check_penalized(2.5, -2.5).message


def test_loss_checks(model, tokenizer):
    from deepcoder_lib.exercises import nb_loss
    from deepcoder_lib.loss import token_losses

    assert nb_loss.check_shift(4) and not nb_loss.check_shift(5)
    losses = [0.5, 1.0, 1.5]
    assert nb_loss.check_perplexity(math.exp(1.0), losses)
    assert "mean loss" in nb_loss.check_perplexity(1.0, losses).message
    assert "SUM" in nb_loss.check_perplexity(math.exp(3.0), losses).message
    buggy = token_losses(model, tokenizer, nb_loss.BUGGY)
    assert nb_loss.check_bug_token("1", buggy)  # measured: '1' costs ~2.6 nats where '0' costs ~0.1
    assert "Nearly" in nb_loss.check_bug_token(" 1", buggy).message
    assert not nb_loss.check_bug_token(" n", buggy)
