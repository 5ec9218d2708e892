"""What notebook 07 shows and explains, asserted here on the embedded model (the lesson cells only print it,
so that Run All never stops on another checkpoint or on a GPU in bfloat16).

- the temperature, top-k, top-p and min-p written by hand in 07's cells equal transformers' warpers on the
  real next-token logits (the functions are taken from the notebook's own cells);
- ``top_k=1`` sampling gives the greedy output (no exact tie at the top of any step here);
- top_p=0.9 keeps fewer tokens than a top-k of 5 where the model is sure and more where it is not.
"""
from __future__ import annotations

import ast
import math

import nbformat
import pytest
import torch
from transformers import MinPLogitsWarper, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

from notebook_utils import NOTEBOOK_DIR

pytestmark = pytest.mark.slow
REQUEST = "Write a Python function that reverses a string."
BY_HAND = ("temperature_by_hand", "top_k_by_hand", "top_p_by_hand", "min_p_by_hand")


@pytest.fixture(scope="module")
def by_hand() -> dict:
    """The four functions as notebook 07 defines them (each ``def`` taken from its cell, nothing else run)."""
    nb = nbformat.read(NOTEBOOK_DIR / "07_sampling.ipynb", as_version=4)
    namespace = {"torch": torch, "math": math}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.parse(cell.source).body:
            if isinstance(node, ast.FunctionDef) and node.name in BY_HAND:
                exec(compile(ast.Module([node], []), "07_sampling.ipynb", "exec"), namespace)
    assert set(BY_HAND) <= set(namespace), "notebook 07 no longer writes the four filters by hand"
    return namespace


def _logits(model, tokenizer, messages) -> tuple[torch.Tensor, torch.Tensor]:
    continues = messages[-1]["role"] == "assistant"
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=not continues, continue_final_message=continues,
                                           return_dict=True, return_tensors="pt")
    with torch.no_grad():
        return inputs, model(**inputs).logits[0, -1].float()


def _positions(request=REQUEST):
    def code_so_far(text, code):
        return [{"role": "user", "content": text}, {"role": "assistant", "content": "```python\n" + code}]
    return [[{"role": "user", "content": request}],
            code_so_far(request, "def reverse_string(s):\n    return"),
            code_so_far("Write a Python function that sorts a list of words by length.",
                        "def sort_by_length(words):\n    return")]


def test_the_filters_written_in_07_equal_transformers_warpers(model_and_tokenizer, by_hand):
    model, tokenizer = model_and_tokenizer
    for messages in _positions():
        inputs, logits = _logits(model, tokenizer, messages)
        ids = inputs["input_ids"]
        for value in (0.5, 1.0, 1.7):
            assert torch.equal(by_hand["temperature_by_hand"](logits, value),
                               TemperatureLogitsWarper(value)(ids, logits[None])[0])
        for k in (1, 3, 50):
            assert torch.equal(by_hand["top_k_by_hand"](logits, k), TopKLogitsWarper(k)(ids, logits[None])[0])
        for p in (0.05, 0.5, 0.9, 0.99):
            assert torch.equal(by_hand["top_p_by_hand"](logits, p), TopPLogitsWarper(p)(ids, logits[None])[0])
        for m in (0.05, 0.1, 0.5, 1.0):
            assert torch.equal(by_hand["min_p_by_hand"](logits, m), MinPLogitsWarper(m)(ids, logits[None])[0])
    assert by_hand["top_k_by_hand"](torch.tensor([3.0, 2.0, 2.0, 1.0]), 2).isfinite().sum() == 3  # ties stay


def test_top_k_one_is_the_greedy_output_here(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    inputs, logits = _logits(model, tokenizer, _positions()[0])
    assert int((logits == logits.max()).sum()) == 1
    greedy = model.generate(**inputs, do_sample=False, repetition_penalty=1.0, max_new_tokens=16)
    top1 = model.generate(**inputs, do_sample=True, temperature=1.0, top_k=1, top_p=1.0, repetition_penalty=1.0,
                          num_return_sequences=3, max_new_tokens=16)
    assert all(torch.equal(row, greedy[0]) for row in top1)


def test_top_p_keeps_fewer_tokens_than_top_k_where_sure_and_more_where_not(model_and_tokenizer, by_hand):
    model, tokenizer = model_and_tokenizer
    kept = [int(by_hand["top_p_by_hand"](_logits(model, tokenizer, m)[1], 0.9).isfinite().sum()) for m in _positions()]
    assert min(kept) < 5 < max(kept), kept
