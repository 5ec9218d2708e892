"""The Astraios parallel bottleneck adapter on the StarCoderBase twin, against a hand-computed forward."""
import json

import pytest
import torch

from deepcoder_lib import bottleneck, twins

TARGETS = ["c_attn", "mlp.c_proj"]  # c_attn: the fork's parallel default for gpt_bigcode; mlp.c_proj tests suffix matching
SIZE = 8


@pytest.fixture(scope="module")
def twin_folder(tmp_path_factory):
    return twins.build_twin("starcoderbase-7b", tmp_path_factory.mktemp("twin") / "starcoder")


def _base(folder):
    from transformers import AutoModelForCausalLM
    return AutoModelForCausalLM.from_pretrained(folder).eval()


def _write_adapter(folder, model, *, fmt="bin", scaling=0.5, non_linearity="tanh", **config_overrides):
    """An adapter in the fork's layout: PeftModel state-dict keys, adapter_down (size x in), adapter_up (out x size)."""
    folder.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(1)
    weights = {}
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and any(name == t or name.endswith("." + t) for t in TARGETS):
            prefix = f"base_model.model.{name}"
            weights[f"{prefix}.adapter_down.weight"] = torch.randn(SIZE, module.in_features, generator=generator) * 0.1
            weights[f"{prefix}.adapter_up.weight"] = torch.randn(module.out_features, SIZE, generator=generator) * 0.1
    config = {"peft_type": "BOTTLENECK", "task_type": "CAUSAL_LM", "base_model_name_or_path": "bigcode/starcoderbase-7b",
              "bottleneck_size": SIZE, "non_linearity": non_linearity, "adapter_dropout": 0.0,
              "use_parallel_adapter": True, "use_adapterp": False, "scaling": scaling, "target_modules": TARGETS,
              "bias": "none", "inference_mode": True} | config_overrides
    (folder / "adapter_config.json").write_text(json.dumps(config))
    if fmt == "bin":
        torch.save(weights, folder / "adapter_model.bin")
    else:
        from safetensors.torch import save_file
        save_file(weights, folder / "adapter_model.safetensors")
    return weights


@pytest.mark.parametrize("fmt", ["bin", "safetensors"])
def test_adapter_matches_a_hand_computed_forward(twin_folder, tmp_path, fmt):
    reference = _base(twin_folder)
    weights = _write_adapter(tmp_path / "adapter", reference, fmt=fmt)
    input_ids = torch.tensor([[5, 17, 300, 42, 7]])

    # Reference: hooks add scaling * up(tanh(down(x))) to each target layer's output, computed by hand.
    def hook_for(name):
        down = weights[f"base_model.model.{name}.adapter_down.weight"]
        up = weights[f"base_model.model.{name}.adapter_up.weight"]
        return lambda module, args, output: output + 0.5 * (torch.tanh(args[0].float() @ down.T) @ up.T).to(output.dtype)
    handles = [module.register_forward_hook(hook_for(name)) for name, module in reference.named_modules()
               if f"base_model.model.{name}.adapter_down.weight" in weights]
    assert len(handles) == 2 * reference.config.n_layer
    with torch.no_grad():
        expected = reference(input_ids).logits
        for handle in handles:
            handle.remove()
        base_logits = reference(input_ids).logits

    model = bottleneck.load_bottleneck_adapter(_base(twin_folder), tmp_path / "adapter")
    assert len(bottleneck.adapter_layers(model)) == 2 * model.config.n_layer
    assert not isinstance(model.transformer.h[0].attn.c_proj, bottleneck.ParallelAdapterLinear)  # only mlp.c_proj
    with torch.no_grad():
        adapted = model(input_ids).logits
        with bottleneck.disable_bottleneck(model):
            disabled = model(input_ids).logits
        again = model(input_ids).logits
    torch.testing.assert_close(adapted, expected, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(adapted, base_logits, atol=1e-3)  # the adapter changes the output
    assert torch.equal(disabled, base_logits)  # disabled: exactly the base model
    assert torch.equal(again, adapted)
    assert model.generate(input_ids, max_new_tokens=3, do_sample=False).shape == (1, 8)


def test_branch_runs_in_float32_and_casts_back():
    base = torch.nn.Linear(4, 3).to(torch.bfloat16)
    layer = bottleneck.ParallelAdapterLinear(base, torch.ones(2, 4), torch.ones(3, 2), "relu", 0.25)
    x = torch.tensor([[1.0, 2.0, 0.0, -1.0]], dtype=torch.bfloat16)
    out = layer(x)
    # relu(down x) = [2, 2]; up -> [4, 4, 4]; x 0.25 -> 1.0 added to each output
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out, base(x) + torch.tensor([[1.0, 1.0, 1.0]], dtype=torch.bfloat16))


@pytest.mark.parametrize("overrides, match", [
    ({"use_parallel_adapter": False}, r"`use_parallel_adapter` is False.*sequential"),
    ({"use_adapterp": True}, r"`use_adapterp` is true.*AdapterP"),
    ({"non_linearity": "swish2"}, r"`non_linearity` must be one of .*got 'swish2'"),
    ({"scaling": "learned"}, r"`scaling` must be a number, got 'learned'"),
    ({"target_modules": ["q_proj"]}, r"`target_modules` \['q_proj'\].*match no linear layer"),
    ({"target_modules": ["c_attn"]}, r"weights do not fit `target_modules`.*unknown modules"),
    ({"bias": "all"}, r"`bias` is 'all'.*not supported"),
    ({"peft_type": "LORA"}, r"'LORA' adapter, not an Astraios BOTTLENECK"),
])
def test_unsupported_or_mismatched_adapters_get_clear_errors(twin_folder, tmp_path, overrides, match):
    model = _base(twin_folder)
    _write_adapter(tmp_path / "adapter", model, **overrides)
    with pytest.raises(ValueError, match=match):
        bottleneck.load_bottleneck_adapter(model, tmp_path / "adapter")
    assert not bottleneck.adapter_layers(model)  # nothing was half-applied


def test_bad_folders_get_clear_errors(twin_folder, tmp_path):
    model = _base(twin_folder)
    with pytest.raises(ValueError, match=r"`adapter_path` '.*nowhere' is not a folder"):
        bottleneck.load_bottleneck_adapter(model, tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"`adapter_path` .* has no adapter_config.json"):
        bottleneck.load_bottleneck_adapter(model, tmp_path / "empty")
    weights = _write_adapter(tmp_path / "wrong", model)
    key = next(k for k in weights if k.endswith("adapter_down.weight"))
    weights[key] = torch.zeros(SIZE, 3)
    torch.save(weights, tmp_path / "wrong" / "adapter_model.bin")
    with pytest.raises(ValueError, match=r"`adapter_path` shapes do not fit .*another base model"):
        bottleneck.load_bottleneck_adapter(model, tmp_path / "wrong")
    (tmp_path / "wrong" / "adapter_model.bin").unlink()
    with pytest.raises(ValueError, match=r"has no weights"):
        bottleneck.load_bottleneck_adapter(model, tmp_path / "wrong")
    with pytest.raises(ValueError, match=r"`model` has no bottleneck adapter layers"):
        with bottleneck.disable_bottleneck(model):
            pass


# ---- writing an adapter in the fork's layout, and check_adapter on it ---------------------------
@pytest.mark.parametrize("fmt", ["bin", "safetensors"])
def test_write_parallel_adapter_has_the_fork_s_layout_and_loads(twin_folder, tmp_path, fmt):
    model = _base(twin_folder)
    reference = _write_adapter(tmp_path / "by_hand", model)  # the layout the tests above take from the fork
    folder = bottleneck.write_parallel_adapter(model, tmp_path / "written", target_modules=TARGETS,
                                               bottleneck_size=SIZE, scaling=0.5, weights_format=fmt)
    written = json.loads((folder / "adapter_config.json").read_text())
    assert set(written) == set(json.loads((tmp_path / "by_hand" / "adapter_config.json").read_text()))
    assert written["peft_type"] == "BOTTLENECK" and written["use_parallel_adapter"] is True
    from safetensors.torch import load_file
    weights = (torch.load(folder / "adapter_model.bin", weights_only=True) if fmt == "bin"
               else load_file(folder / "adapter_model.safetensors"))
    assert {k: v.shape for k, v in weights.items()} == {k: v.shape for k, v in reference.items()}
    assert bottleneck.check_bottleneck_adapter(model, folder)["modules"] == 2 * model.config.n_layer
    assert not bottleneck.adapter_layers(model)  # checking changes nothing
    input_ids = torch.tensor([[5, 17, 300, 42, 7]])
    with torch.no_grad():
        base_logits = model(input_ids).logits
        bottleneck.load_bottleneck_adapter(model, folder)
        adapted = model(input_ids).logits
        with bottleneck.disable_bottleneck(model):
            assert torch.equal(model(input_ids).logits, base_logits)
    assert not torch.allclose(adapted, base_logits, atol=1e-3)


def test_write_parallel_adapter_errors(twin_folder, tmp_path):
    model = _base(twin_folder)
    for kwargs, match in [({"target_modules": ["q_proj"]}, r"`target_modules` \['q_proj'\] match no linear layer"),
                          ({"weights_format": "pt"}, r"`weights_format` must be 'bin' or 'safetensors', got 'pt'"),
                          ({"bottleneck_size": 0}, r"`bottleneck_size` must be a positive whole number, got 0"),
                          ({"non_linearity": "swish2"}, r"`non_linearity` must be one of .*got 'swish2'")]:
        with pytest.raises(ValueError, match=match):
            bottleneck.write_parallel_adapter(model, tmp_path / "a", **kwargs)


def test_check_adapter_says_a_parallel_adapter_loads_with_load_bottleneck_adapter(twin_folder, tmp_path):
    from deepcoder_lib import adapters
    model = _base(twin_folder)
    folder = bottleneck.write_parallel_adapter(model, tmp_path / "parallel", bottleneck_size=SIZE)
    summary = adapters.check_adapter(model, folder)
    assert summary["peft_type"] == "BOTTLENECK" and summary["loader"] == "deepcoder_lib.adapters.load_bottleneck_adapter"
    assert summary["modules"] == model.config.n_layer and summary["bottleneck_size"] == SIZE
    c_attn = model.transformer.h[0].attn.c_attn
    assert summary["parameters"] == model.config.n_layer * SIZE * (c_attn.in_features + c_attn.out_features)
    with pytest.raises(adapters.AdapterError, match=r"mainline peft cannot load: use .*load_bottleneck_adapter"):
        adapters.load_adapter(model, folder)
    _write_adapter(tmp_path / "sequential", model, use_parallel_adapter=False)
    with pytest.raises(adapters.AdapterError, match=r"'BOTTLENECK'.*this one cannot: `use_parallel_adapter` is False"):
        adapters.check_adapter(model, tmp_path / "sequential")
