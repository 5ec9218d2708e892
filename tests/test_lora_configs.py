"""Tests for deepcoder_lib.lora_configs: LoRA's knobs against peft, and held-out grading in the real sandbox."""
import pytest
import torch

from deepcoder_lib import adapters, lora_configs as L


def tiny_llama(hidden=64, layers=2, vocab=300, seed=0):
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=vocab, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                      num_attention_heads=4, num_key_value_heads=2, pad_token_id=0)
    return LlamaForCausalLM(cfg).eval()


@pytest.mark.parametrize("r, alpha, rslora", [(8, 16, False), (2, 4, False), (32, 64, False), (8, 64, False),
                                              (16, 16, True), (1, 3, True)])
def test_scaling_is_peft_s(r, alpha, rslora):
    from peft import LoraConfig, get_peft_model
    peft_model = get_peft_model(tiny_llama(), LoraConfig(r=r, lora_alpha=alpha, use_rslora=rslora,
                                                         target_modules=["q_proj"], task_type="CAUSAL_LM"))
    layer = peft_model.base_model.model.model.layers[0].self_attn.q_proj
    assert L.lora_scaling(r, alpha, use_rslora=rslora) == pytest.approx(layer.scaling["default"])


@pytest.mark.parametrize("targets", [("q_proj", "v_proj"), L.ATTENTION, L.MLP, L.ALL_LINEAR])
@pytest.mark.parametrize("r", [1, 4, 16])
def test_parameter_count_is_peft_s(targets, r):
    model = tiny_llama(layers=3)
    expected = L.lora_parameter_count(L.target_shapes(model, targets), r)
    peft_model = adapters.add_lora(model, r=r, target_modules=targets)
    assert adapters.count_parameters(peft_model)["trainable"] == expected
    assert L.lora_parameter_count(L.target_shapes(peft_model, targets), r) == expected  # also once wrapped


def test_all_linear_is_peft_s_all_linear():
    """ALL_LINEAR names exactly the layers peft's "all-linear" picks (every linear layer but the output head)."""
    from peft import LoraConfig, get_peft_model
    peft_model = get_peft_model(tiny_llama(), LoraConfig(r=2, target_modules="all-linear", task_type="CAUSAL_LM"))
    picked = {name.rsplit(".", 1)[-1] for name in peft_model.peft_config["default"].target_modules}
    assert picked == set(L.ALL_LINEAR)


def test_extra_flops_hand_computed():
    """One layer 4 -> 3, r = 2: W x costs 2*4*3 = 24 FLOPs; A x then B (A x) cost 2*(2*4 + 3*2) = 28."""
    flops = L.extra_flops_per_token([(4, 3)], r=2)
    assert flops == {"base": 24, "adapter": 28, "percent": pytest.approx(100 * 28 / 24), "extra_matmuls": 2}


def test_extra_flops_for_smollm2_q_v():
    """SmolLM2-135M, r=8 on q_proj (576 -> 576) and v_proj (576 -> 192) in 30 layers."""
    shapes = [(576, 576), (576, 192)] * 30
    flops = L.extra_flops_per_token(shapes, r=8)
    assert flops["adapter"] == 2 * 460_800 and flops["extra_matmuls"] == 120
    assert flops["percent"] == pytest.approx(100 * 8 * (1152 + 768) / (576 * 576 + 576 * 192))


@pytest.mark.parametrize("call, message", [
    (lambda: L.lora_scaling(0, 16), r"`r` must be a positive whole number, got 0; it is the rank"),
    (lambda: L.lora_scaling(8, -1), r"`lora_alpha` must be a positive number, got -1"),
    (lambda: L.lora_parameter_count([(4, 3)], 2.5), r"`r` must be a positive whole number, got 2.5; it is the rank"),
    (lambda: L.target_shapes(tiny_llama(), ["c_attn"]), r"\['c_attn'\] match no linear layer of this LlamaForCausalLM"),
])
def test_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---- grading held-out answers ---------------------------------------------------------------
def test_held_out_matches_the_dataset_and_its_references_pass_in_the_sandbox():
    held_out = L.load_held_out()
    assert [h["request"] for h in held_out] == adapters.load_dataset()["held_out"]
    for row in held_out:
        assert adapters.house_style(row["response"]) == {"type_hints": True, "docstring": True}
        outcome = L.grade_answer(row["response"], row["tests"])
        assert outcome.passed, (row["request"], outcome.reason)


@pytest.mark.parametrize("answer, category", [
    ("```python\ndef is_neg(x):\n    return x <= 0\n```", "wrong"),   # the adapter's answer notebook 13 shows
    ("```python\ndef is_neg(x):\n    return x < 0\n```", "pass"),
    ("```python\nimport math\n\ndef helper():\n    pass\n\ndef is_neg(x):\n    return x < 0\n```", "wrong"),  # graded: helper
    ("```python\nx = 1\n```", "no_code"),
    ("no code here", "no_code"),
])
def test_grade_answer_runs_the_first_function(answer, category):
    negative = L.load_held_out()[1]["tests"]  # "checks whether a number is negative"
    outcome = L.grade_answer(answer, negative)
    assert outcome.category == category, outcome
    assert outcome.passed == (category == "pass")
    if outcome.passed:
        assert outcome.reason == "all 3 tests passed on is_neg()"


def test_first_function():
    assert L.first_function("import os\n\nclass A:\n    def m(self): pass\n\ndef g(): pass\ndef h(): pass") == "g"
    assert L.first_function("def (") is None and L.first_function("x = 1") is None


def test_answer_loss_is_the_mean_token_cross_entropy(tokenizer):
    """Against a hand-written shift + cross-entropy over the answer tokens of both rows together."""
    model = tiny_llama(hidden=16, vocab=len(tokenizer))
    rows = L.load_held_out()[:2]
    total, count = 0.0, 0
    with torch.no_grad():
        for example in adapters.build_examples(tokenizer, rows):
            ids, labels = torch.tensor([example["input_ids"]]), torch.tensor(example["labels"])
            logits = model(input_ids=ids).logits[0, :-1]
            keep = labels[1:] != -100
            total += torch.nn.functional.cross_entropy(logits[keep], labels[1:][keep], reduction="sum").item()
            count += int(keep.sum())
    assert L.answer_loss(model, tokenizer, rows) == pytest.approx(total / count, rel=1e-5)


def test_notebook_14_reading_of_the_stored_table():
    """Notebook 14's sentences about benchmarks/lora_configs.csv (its cell after the table), checked on the table."""
    import csv
    from pathlib import Path
    rows = list(csv.DictReader(open(Path(__file__).resolve().parents[1] / "benchmarks" / "lora_configs.csv")))
    by_name = {row["config"].split(" (")[0]: row for row in rows}
    base, qv, every = rows[0], by_name["r=8, alpha=16, q_proj+v_proj"], by_name["r=8, alpha=16, all linear layers"]
    number = lambda row, *keys: sum(float(row[key]) for key in keys)
    passes = lambda row: number(row, "held_out_pass", "tasks_pass")
    # every adapter took up the style and lowered the held-out loss
    assert all(number(r, "held_out_style", "tasks_style") > number(base, "held_out_style", "tasks_style")
               and number(r, "held_out_loss") < number(base, "held_out_loss") for r in rows[1:])
    # all linear layers: lower training loss, not a lower held-out loss, no more passing tests; over 5x the parameters
    assert number(every, "final_train_loss") < number(qv, "final_train_loss")
    assert number(every, "held_out_loss") >= number(qv, "held_out_loss") and passes(every) <= passes(qv)
    assert int(every["trainable"]) > 5 * int(qv["trainable"])
    # no adapter passed clearly more tests than the base model
    assert max(map(passes, rows[1:])) <= passes(base) + 1
    # the largest scale: lower held-out loss than notebook 13's adapter, and the fewest passing tests
    scale8 = by_name["r=8, alpha=64, q_proj+v_proj"]
    assert number(scale8, "held_out_loss") < number(qv, "held_out_loss") and passes(scale8) == min(map(passes, rows))


@pytest.fixture(scope="module")
def smollm2_shaped():
    from transformers import AutoConfig, AutoModelForCausalLM
    from deepcoder_lib.models import default_checkpoint
    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(default_checkpoint()))


def test_extra_work_check(smollm2_shaped):
    """Notebook 14's exercise: multiply-adds per token of an unmerged rank-16 LoRA on the MLP's three layers."""
    from deepcoder_lib.exercises import nb14
    import numpy as np
    model = smollm2_shaped
    expected = 30 * 16 * ((576 + 1536) * 3)  # per block: gate 576->1536, up 576->1536, down 1536->576
    assert expected == 3_041_280
    for right in (expected, 30 * 16 * 3 * 2112, np.int64(expected), torch.tensor(expected), float(expected),
                  sum(16 * (m.in_features + m.out_features) for name, m in model.named_modules()
                      if name.endswith(("gate_proj", "up_proj", "down_proj")))):
        result = nb14.check_extra_work(model, right)
        assert result.ok and result.label == "Correct", (right, result)
    for wrong, says in ((..., "Replace `...` in `extra_multiply_adds`"), (2 * expected, "FLOPs"),
                        (30 * 3 * 576 * 1536, "frozen weights"), (expected // 30, "count every targeted layer"),
                        (expected // 2, "Check the rank"), (expected + 1, "Not "), ("3041280", "must be a whole"),
                        (expected + 0.5, "must be a whole"), (torch.tensor([1, 2]), "must be a whole")):
        result = nb14.check_extra_work(model, wrong)
        assert not result.ok and says in result.message, (wrong, result)
    assert nb14.check_extra_work(..., ...).label == "Not answered yet"
