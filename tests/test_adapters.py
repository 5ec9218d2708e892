"""Tests for deepcoder_lib.adapters: LoRA save/load/merge on the real model, and the error cases.

Fast tests use tiny randomly initialised Llama/Qwen2 models (no download); slow ones the embedded
SmolLM2-135M through the session fixture. The base model is never modified in place: each slow
test wraps a deep copy, because merge_and_unload() writes into the base weights.
"""
import copy
import json

import pytest
import torch

from deepcoder_lib import adapters as A


def tiny_llama(hidden=64, layers=2, vocab=300, seed=0):
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=vocab, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                      num_attention_heads=4, num_key_value_heads=2, pad_token_id=0)
    return LlamaForCausalLM(cfg).eval()


@pytest.fixture
def small_copy(model):
    """A private copy of the embedded model (~0.5 GB), so merging never touches the shared fixture."""
    return copy.deepcopy(model)


# ---- the dataset ---------------------------------------------------------------------------
def test_dataset_is_in_the_house_style_and_held_out_is_unseen():
    data = A.load_dataset()
    assert len(data["train"]) >= 12 and len(data["held_out"]) >= 3
    for row in data["train"]:
        assert A.house_style(row["response"]) == {"type_hints": True, "docstring": True}, row["request"]
        compile(row["response"].split("```python\n")[1].split("```")[0], row["request"], "exec")
    assert not set(data["held_out"]) & {row["request"] for row in data["train"]}


@pytest.mark.parametrize("answer, expected", [
    ("def f(x: int) -> int:\n    \"\"\"Doc.\"\"\"\n    return x", (True, True)),
    ("def f(x):\n    return x", (False, False)),
    ("def f(x) -> int:\n    return x", (True, False)),
    ("def f(x):\n    '''Doc.'''\n    return x", (False, True)),
    ("no code at all", (False, False)),
])
def test_house_style(answer, expected):
    assert tuple(A.house_style(answer).values()) == expected


# ---- attaching LoRA --------------------------------------------------------------------------
def test_lora_parameter_count_is_r_times_in_plus_out_per_layer():
    model = tiny_llama(hidden=64, layers=3)
    peft_model = A.add_lora(model, r=4, target_modules=("q_proj", "v_proj"))
    q, v = model.model.layers[0].self_attn.q_proj, model.model.layers[0].self_attn.v_proj
    per_layer = 4 * (q.in_features + q.out_features) + 4 * (v.in_features + v.out_features)
    counts = A.count_parameters(peft_model)
    assert counts["trainable"] == 3 * per_layer
    assert counts["total"] == sum(p.numel() for p in model.parameters())
    assert 0 < counts["percent"] < 100


def test_fresh_lora_changes_nothing_because_b_starts_at_zero():
    model = tiny_llama()
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        before = model(input_ids=ids).logits
        after = A.add_lora(model, r=4)(input_ids=ids).logits
    torch.testing.assert_close(before, after)


def test_mismatched_target_modules_name_the_layers_that_exist():
    with pytest.raises(A.AdapterError, match=r"\['c_attn'\] name no layer of this LlamaForCausalLM.*'q_proj'"):
        A.add_lora(tiny_llama(), target_modules=["c_attn"])
    # a partly right list: peft alone would silently skip 'qkv'
    with pytest.raises(A.AdapterError, match=r"\['qkv'\]"):
        A.add_lora(tiny_llama(), target_modules=["q_proj", "qkv"])


@pytest.mark.parametrize("r", [0, -1, 2.5, True])
def test_bad_rank(r):
    with pytest.raises(ValueError, match=r"`r` must be a positive whole number, got .*; it is the rank"):
        A.add_lora(tiny_llama(), r=r)


# ---- loading, with errors a learner can act on ------------------------------------------------
def saved_adapter(tmp_path, model, name="adapter", **kwargs):
    folder = tmp_path / name
    files = A.save_adapter(A.add_lora(model, **kwargs), folder)
    assert set(A.ADAPTER_FILES) <= set(files)
    return folder


def test_check_adapter_summary(tmp_path):
    folder = saved_adapter(tmp_path, tiny_llama(layers=3), r=4)
    summary = A.check_adapter(tiny_llama(layers=3), folder)
    assert summary["peft_type"] == "LORA" and summary["r"] == 4 and summary["modules"] == 6
    assert sorted(summary["target_modules"]) == ["q_proj", "v_proj"]


def test_adapter_for_another_base_model(tmp_path):
    folder = saved_adapter(tmp_path, tiny_llama(hidden=96))
    with pytest.raises(A.AdapterError, match=r"trained for another base model.*expects 96 inputs.*has 64"):
        A.load_adapter(tiny_llama(hidden=64), folder)


def test_peft_alone_gives_an_obscure_error_for_another_base_model(tmp_path):
    """Why check_adapter exists: peft's own message is a size-mismatch dump from load_state_dict."""
    from peft import PeftModel
    folder = saved_adapter(tmp_path, tiny_llama(hidden=96))
    with pytest.raises(RuntimeError, match="size mismatch"):
        PeftModel.from_pretrained(tiny_llama(hidden=64), str(folder))


def test_adapter_with_layers_the_base_does_not_have(tmp_path):
    folder = saved_adapter(tmp_path, tiny_llama(layers=4))
    with pytest.raises(A.AdapterError, match=r"'model.layers.2.self_attn.q_proj' does not exist"):
        A.load_adapter(tiny_llama(layers=2), folder)


def test_adapter_targeting_modules_of_another_architecture(tmp_path):
    folder = saved_adapter(tmp_path, tiny_llama(), target_modules=("q_proj",))
    path = folder / "adapter_model.safetensors"
    from safetensors.torch import load_file, save_file
    renamed = {k.replace("q_proj", "c_attn"): v for k, v in load_file(path).items()}
    save_file(renamed, path)
    with pytest.raises(A.AdapterError, match=r"'model.layers.0.self_attn.c_attn' does not exist.*'q_proj'"):
        A.check_adapter(tiny_llama(), folder)


@pytest.mark.parametrize("path, message", [
    ("/no/such/adapter", r"'/no/such/adapter' is not a folder on this computer. Check the spelling"),
    ("bigcode/astraios-7b-parallel", r"looks like a hub id: downloading it needs the network"),
])
def test_missing_folder(path, message):
    with pytest.raises(A.AdapterError, match=message):
        A.load_adapter(tiny_llama(), path)


def test_folder_without_adapter_files(tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(A.AdapterError, match=r"has no adapter_config.json; it holds \['notes.txt'\]"):
        A.check_adapter(tiny_llama(), tmp_path)


def test_adapter_type_peft_does_not_implement(tmp_path):
    folder = saved_adapter(tmp_path, tiny_llama())
    config = json.loads((folder / "adapter_config.json").read_text())
    config["peft_type"] = "BOTTLENECK"  # what the Astraios fork writes for its parallel adapter
    (folder / "adapter_config.json").write_text(json.dumps(config))
    with pytest.raises(A.AdapterError, match=r"adapter type 'BOTTLENECK' .* mainline peft does not implement.*load_bottleneck_adapter"):
        A.load_adapter(tiny_llama(), folder)


# ---- training, save/load and merge on the real model -------------------------------------------
@pytest.mark.slow
def test_train_save_load_merge_roundtrip(model, small_copy, tokenizer, tmp_path):
    rows = A.load_dataset()["train"]
    peft_model = A.add_lora(small_copy, r=4)
    losses = A.train_lora(peft_model, tokenizer, rows, steps=4, batch_size=2, learning_rate=3e-3, progress=False)
    assert len(losses) == 4 and all(l > 0 for l in losses)
    assert losses[-1] < losses[0]  # fitting the same tiny dataset: the loss must drop
    inputs = A.chat_inputs(tokenizer, "Write a Python function that returns the cube of a number.")
    with torch.no_grad():
        trained = peft_model(**inputs).logits
        with peft_model.disable_adapter():
            base = peft_model(**inputs).logits
    assert (trained - base).abs().max() > 1e-3  # training moved the adapter away from zero

    folder = tmp_path / "lora"
    files = A.save_adapter(peft_model, folder)
    assert "adapter_model.safetensors" in files and "model.safetensors" not in files
    assert (folder / "adapter_model.safetensors").stat().st_size < 5_000_000  # adapter only, not 540 MB
    fresh = A.load_adapter(copy.deepcopy(model), folder)  # the way the source snippet loads one
    with torch.no_grad():
        torch.testing.assert_close(fresh(**inputs).logits, trained, rtol=0, atol=1e-5)

    merged, diff = A.merge_and_compare(fresh, inputs)
    assert diff < 1e-3, diff
    assert not any("lora" in name for name, _ in merged.named_modules())
    with torch.no_grad():
        torch.testing.assert_close(merged(**inputs).logits, trained, rtol=0, atol=1e-3)


@pytest.mark.slow
def test_next_token_probs_and_compare_outputs(small_copy, tokenizer):
    peft_model = A.add_lora(small_copy, r=4)
    request = "Write a Python function that returns the cube of a number."
    rows = A.next_token_probs(peft_model, tokenizer, request, "```python\ndef cube(x", n=5)
    # a fresh adapter is the identity: same distribution both ways, and it matches a plain forward pass
    assert all(abs(r["base"] - r["adapter"]) < 1e-6 for r in rows)
    inputs = A.chat_inputs(tokenizer, request, "```python\ndef cube(x")
    with torch.no_grad():
        probs = small_copy(**inputs).logits[0, -1].softmax(-1)
    top = probs.topk(5).indices.tolist()
    assert [r["token_id"] for r in rows][:5] == top
    assert abs(rows[0]["base"] - probs[top[0]].item()) < 1e-6
    [row] = A.compare_outputs(peft_model, tokenizer, [request], max_new_tokens=12)
    assert row["base"] == row["adapter"] and row["base"].strip()


def test_plots_return_axes_with_labels():
    import matplotlib
    matplotlib.use("Agg")
    ax = A.plot_loss([3.0, 2.0, 1.5])
    assert ax.get_xlabel() and "loss" in ax.get_ylabel() and len(ax.lines[0].get_xdata()) == 3
    rows = [{"token": ":", "token_id": 1, "base": 0.1, "adapter": 0.8},
            {"token": ")", "token_id": 2, "base": 0.7, "adapter": 0.1}]
    ax = A.plot_next_token_probs(rows)
    assert len(ax.patches) == 4 and "probability" in ax.get_ylabel()


@pytest.mark.parametrize("kwargs, message", [
    ({"steps": 0}, r"`steps` must be a positive whole number, got 0"),
    ({"batch_size": 1.5}, r"`batch_size` must be a positive whole number, got 1.5"),
])
def test_train_lora_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        A.train_lora(None, None, [{"request": "x", "response": "y"}], **kwargs)


def test_one_step_by_hand_then_train_lora_is_train_lora(tokenizer):
    """Notebook 13's hand-written first step (forward with labels, backward, step, zero_grad) followed by
    train_lora(start_step=1, optimizer=...) trains exactly as train_lora alone: same losses, same weights."""
    rows = A.load_dataset()["train"][:6]
    torch.manual_seed(0)
    whole = A.add_lora(tiny_llama(vocab=len(tokenizer)), r=4)
    torch.manual_seed(0)
    by_hand = A.add_lora(tiny_llama(vocab=len(tokenizer)), r=4)
    expected = A.train_lora(whole, tokenizer, rows, steps=3, batch_size=2, learning_rate=3e-3, progress=False)
    batch = A.training_batches(tokenizer, rows, steps=3, batch_size=2)[0]
    optimizer = torch.optim.AdamW([p for p in by_hand.parameters() if p.requires_grad], lr=3e-3)
    by_hand.train()
    loss = by_hand(**batch).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    rest = A.train_lora(by_hand, tokenizer, rows, steps=3, batch_size=2, optimizer=optimizer, start_step=1,
                        progress=False)
    assert [loss.item()] + rest == pytest.approx(expected, rel=1e-5)
    for (name, a), (_, b) in zip(whole.named_parameters(), by_hand.named_parameters()):
        torch.testing.assert_close(a, b, msg=name)
    with pytest.raises(ValueError, match="`start_step` must be a whole number from 0 to 2, got 3; it counts the steps already taken"):
        A.train_lora(by_hand, tokenizer, rows, steps=3, start_step=3)


# ---- the notebooks' exercise checks (nb13: LoRA's count; nb15: the source snippet) ----------------------
def test_lora_param_exercise_matches_a_real_peft_model():
    """Notebook 13's exercise (rank 4 on gate_proj and up_proj): the check's count agrees with peft on a model of
    SmolLM2's shapes (meta device: no memory), takes any number type, and says what a wrong count missed."""
    import numpy as np
    from transformers import AutoConfig, AutoModelForCausalLM
    from deepcoder_lib.exercises import nb13
    from deepcoder_lib.models import default_checkpoint
    config = AutoConfig.from_pretrained(default_checkpoint())
    with torch.device("meta"):
        shaped = AutoModelForCausalLM.from_config(config)
        counted = A.count_parameters(A.add_lora(AutoModelForCausalLM.from_config(config), r=4,
                                                target_modules=["gate_proj", "up_proj"]))["trainable"]
    model = A.add_lora(shaped, r=8)  # as in the notebook: q_proj and v_proj already wrapped
    right = 30 * 2 * 4 * (576 + 1536)
    assert counted == right == 506_880
    for answer in (right, 30 * 4 * (2112 + 2112), np.int64(right), torch.tensor(right), float(right), counted):
        result = nb13.check_lora_params(model, answer)
        assert result.ok and result.label == "Correct", (answer, result)
    for wrong, says in ((..., "Replace `...` in `lora_mlp_params`"), (right // 30, "one block's"),
                        (right // 60, "one block's"), (30 * 2 * 576 * 1536, "frozen weight matrices"),
                        (2 * right, "Check the rank"), (right // 2, "Check the rank"),
                        (30 * 2 * 4 * 576, "Count both matrices"), (right + 1, "Not "), ("506880", "whole number"),
                        (506_880.5, "whole number"), (True, "whole number")):
        result = nb13.check_lora_params(model, wrong)
        assert not result.ok and says in result.message, (wrong, result)
    assert nb13.check_lora_params(model, ...).label == "Not answered yet"


SNIPPET = '''
checkpoint = "bigcode/starcoderbase-7b"
model = AutoModelForCausalLM.from_pretrained(checkpoint)
model = PeftModel.from_pretrained(model, "bigcode/astraios-7b-parallel")
tokenizer = AutoTokenizer.from_pretrained(checkpoint)
model = AutoModelForCausalLM.from_pretrained(checkpoint).to("cuda")
inputs = tokenizer.encode("def print_hello_world():", return_tensors="pt").to("cuda")
outputs = model.generate(inputs)
'''
RELOAD = 'model = AutoModelForCausalLM.from_pretrained(checkpoint).to("cuda")\n'
FIXED = '''
import torch
checkpoint = "bigcode/starcoderbase-7b"
ADAPTER = "bigcode/astraios-7b-lora"
tokenizer = AutoTokenizer.from_pretrained(checkpoint)
base_model = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.bfloat16, device_map="auto")
model = PeftModel.from_pretrained(base_model, ADAPTER)
inputs = tokenizer("def print_hello_world():", return_tensors="pt").to(model.device)
outputs = model.generate(**inputs, max_new_tokens=128)
'''
BOTTLENECK_FIXED = '''
import torch
from huggingface_hub import snapshot_download
from deepcoder_lib.adapters import load_bottleneck_adapter
checkpoint = "bigcode/starcoderbase-7b"
ADAPTER_ID = "bigcode/astraios-7b-parallel"
tokenizer = AutoTokenizer.from_pretrained(checkpoint)
base_model = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.bfloat16, device_map="auto")
model = load_bottleneck_adapter(base_model, snapshot_download(ADAPTER_ID))
inputs = tokenizer("def print_hello_world():", return_tensors="pt").to(model.device)
outputs = model.generate(**inputs, max_new_tokens=128)
'''
# each wrong fix, and the message that says what is still wrong
WRONG_FIXES = {
    # run as written, line 2 already fails: mainline peft cannot load a parallel (BOTTLENECK) adapter
    "the source snippet": (SNIPPET, "parallel adapter (peft type BOTTLENECK"),
    "the source snippet with a LoRA adapter": (SNIPPET.replace("7b-parallel", "7b-lora"), "adapter is thrown away"),
    "an adapter trained for another base model": (FIXED.replace("starcoderbase-7b", "starcoderbase-1b"),
                                                  "was trained on 'bigcode/starcoderbase-7b'"),
    "the base loaded twice before the wrap": (
        FIXED.replace("model = PeftModel", 'base_model = AutoModelForCausalLM.from_pretrained(checkpoint, '
                      'device_map="auto")\nmodel = PeftModel'), "is loaded 2 times"),
    "generate under a branch that never runs": (
        FIXED.replace("outputs = model.generate", "if False:\n    outputs = model.generate"), "never called generate"),
    "generate inside a function never called": (
        FIXED.replace("outputs = model.generate", "def complete():\n    return model.generate"),
        "never called generate"),
    "a short length passed through a variable": (
        FIXED.replace("max_new_tokens=128", "max_new_tokens=n").replace("outputs =", "n = 16\noutputs ="),
        "max_new_tokens=16 is barely more"),
    "the learner's code raises": (FIXED.replace("model.device", "model.devise"), "your code stopped: AttributeError"),
    "an endless loop": (FIXED + "while True:\n    pass\n", "TimeoutError: the snippet ran for more than"),
    "only the reload line deleted (adapter cannot load, model on CPU, ids on CUDA)":
        (SNIPPET.replace(RELOAD, ""), "parallel adapter (peft type BOTTLENECK"),
    "reload deleted, LoRA adapter, model still on the CPU":
        (SNIPPET.replace(RELOAD, "").replace("7b-parallel", "7b-lora").replace("tokenizer.encode(", "tokenizer(")
         .replace("generate(inputs)", "generate(**inputs, max_new_tokens=128)"),
         "The model is on cpu but the inputs are on cuda"),
    "model on the GPU, inputs left on the CPU": (FIXED.replace(".to(model.device)", ""),
                                                 "The model is on cuda but the inputs are on cpu"),
    "max_length=20": (FIXED.replace("max_new_tokens=128", "max_length=20"), "max_length counts the prompt too"),
    "no length": (FIXED.replace(", max_new_tokens=128", ""), "stops after 20 new tokens"),
    "max_new_tokens=20": (FIXED.replace("max_new_tokens=128", "max_new_tokens=20"), "too short for a function"),
    "generate on a reloaded plain model": (
        FIXED.replace("outputs = model.generate", 'plain = AutoModelForCausalLM.from_pretrained(checkpoint, '
                      'device_map="auto")\noutputs = plain.generate'), "adapter is thrown away"),
    "generate on a second plain model loaded before the adapter": (
        FIXED.replace("model = PeftModel", 'plain = AutoModelForCausalLM.from_pretrained(checkpoint, device_map="auto")'
                      "\nmodel = PeftModel").replace("model.generate", "plain.generate"),
        "generate is called on `plain`, a plain model"),
    "tokenizer.encode without an attention mask": (
        FIXED.replace('tokenizer("def', 'tokenizer.encode("def').replace("**inputs", "inputs"), "attention_mask"),
    "no adapter at all": (FIXED.replace("PeftModel.from_pretrained(base_model, ADAPTER)", "base_model"),
                          "Keep the adapter"),
    "does not parse": ("model.generate(", "does not parse"),
    "parallel adapter through load_bottleneck_adapter, straight from the hub id": (
        BOTTLENECK_FIXED.replace("snapshot_download(ADAPTER_ID)", "ADAPTER_ID"), "not the hub id"),
    "a LoRA adapter through load_bottleneck_adapter": (
        BOTTLENECK_FIXED.replace("7b-parallel", "7b-lora"), "is a LoRA adapter: load it with PeftModel"),
    "load_bottleneck_adapter without a base model": (
        BOTTLENECK_FIXED.replace("load_bottleneck_adapter(base_model, ", "load_bottleneck_adapter(checkpoint, "),
        "load_bottleneck_adapter(base_model, adapter) needs the model"),
    "generate on a plain model reloaded after load_bottleneck_adapter": (
        BOTTLENECK_FIXED.replace("outputs = model.generate", "model = AutoModelForCausalLM.from_pretrained(checkpoint, "
                                 'device_map="auto")\noutputs = model.generate'), "adapter is thrown away"),
}
RIGHT_FIXES = {
    "the notebook's corrected snippet": FIXED,
    "inputs to the device string": FIXED.replace('device_map="auto"', 'device_map="cuda"')
                                         .replace(".to(model.device)", '.to("cuda")'),
    "model moved with .to(device)": FIXED.replace(', device_map="auto"', "").replace(
        "model = PeftModel.from_pretrained(base_model, ADAPTER)",
        'device = "cuda"\nmodel = PeftModel.from_pretrained(base_model, ADAPTER).to(device)'),
    "merged first, inside no_grad": FIXED.replace("outputs = model.generate", "model = model.merge_and_unload()\n"
                                                  "with torch.no_grad():\n    outputs = model.generate"),
    "ids with an explicit attention mask": FIXED.replace("**inputs", 'inputs["input_ids"], '
                                                         'attention_mask=inputs["attention_mask"]'),
    "the parallel adapter through load_bottleneck_adapter (notebook 14 runs this)": BOTTLENECK_FIXED,
    "load_bottleneck_adapter from a local folder, generate on the base it changed in place":
        BOTTLENECK_FIXED.replace("snapshot_download(ADAPTER_ID)", '"/data/astraios-7b-parallel"')
                        .replace("model.generate", "base_model.generate"),
    # PeftModel.from_pretrained injects the LoRA layers into base_model in place: this runs with the adapter
    "generate on the base the adapter wraps": FIXED.replace("model.generate", "base_model.generate"),
    "a long length through a variable, device chosen at run time": FIXED.replace(
        'device_map="auto"', "device_map=device").replace("max_new_tokens=128", "max_new_tokens=n").replace(
        "tokenizer = ", 'device = "cuda" if torch.cuda.is_available() else "cpu"\nn = 256\ntokenizer = '),
    "in a function that is called, printing the answer": FIXED.replace(
        "outputs = model.generate(**inputs, max_new_tokens=128)",
        "def complete(prompt, n=128):\n    batch = tokenizer(prompt, return_tensors='pt').to(model.device)\n"
        "    return model.generate(**batch, max_new_tokens=n)\n"
        "print(tokenizer.decode(complete('def print_hello_world():')[0], skip_special_tokens=True))"),
    "the 1B pair of Astraios' README": FIXED.replace("starcoderbase-7b", "starcoderbase-1b").replace(
        "astraios-7b-lora", "astraios-1b-lora"),
}


@pytest.mark.parametrize("name", list(WRONG_FIXES))
def test_fixed_snippet_rejects_wrong_fixes(name):
    from deepcoder_lib.exercises import nb15
    code, says = WRONG_FIXES[name]
    result = nb15.check_fixed_snippet(code)
    assert not result.ok, (name, result.message)
    assert says in result.message, result.message


@pytest.mark.parametrize("name", list(RIGHT_FIXES))
def test_fixed_snippet_accepts_right_fixes(name):
    from deepcoder_lib.exercises import nb15
    result = nb15.check_fixed_snippet(RIGHT_FIXES[name])
    assert result.ok, (name, result.message)
    assert "Fixed" in result.message
    assert ("load_bottleneck_adapter" in result.message) == ("load_bottleneck_adapter" in RIGHT_FIXES[name])


def test_generate_on_the_wrapped_base_runs_with_the_adapter(tmp_path):
    """Why check_fixed_snippet accepts base_model.generate after PeftModel.from_pretrained(base_model, ...):
    peft injects its LoRA layers into the base model in place, so the base model's logits are the adapter's."""
    from peft import PeftModel
    from deepcoder_lib.exercises import nb15
    trained = A.add_lora(tiny_llama(), r=4)
    with torch.no_grad():
        for name, p in trained.named_parameters():
            if "lora_B" in name:
                p.normal_()  # a trained-looking adapter: B is no longer zero
    trained.save_pretrained(tmp_path / "lora")
    base_model, ids = tiny_llama(), torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        plain = base_model(input_ids=ids).logits
        model = PeftModel.from_pretrained(base_model, str(tmp_path / "lora"))
        torch.testing.assert_close(base_model(input_ids=ids).logits, model(input_ids=ids).logits)
        assert not torch.allclose(base_model(input_ids=ids).logits, plain)
    result = nb15.check_fixed_snippet(RIGHT_FIXES["generate on the base the adapter wraps"])
    assert result.ok and "in place" in result.message


def test_fixed_snippet_placeholder_is_not_answered():
    from deepcoder_lib.exercises import nb15
    for untouched in (..., "", "   \n"):
        result = nb15.check_fixed_snippet(untouched)
        assert not result.ok and result.label == "Not answered yet" and "generate" not in result.message
