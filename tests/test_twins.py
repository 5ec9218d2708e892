"""The architecture twins: built offline, loaded without remote code, generating; facts match the published configs."""
import json
import time

import pytest
import torch

from deepcoder_lib import catalog, models, twins

CHECKPOINT = {name: twin.checkpoint for name, twin in twins.TWINS.items()}


@pytest.fixture(scope="module")
def twin_folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("twins")
    folders, seconds = {}, {}
    for name in twins.TWINS:
        start = time.perf_counter()
        folders[name] = twins.build_twin(name, root / name)
        seconds[name] = time.perf_counter() - start
    return folders, seconds


def _load(folder):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    model = AutoModelForCausalLM.from_pretrained(folder, trust_remote_code=False)
    return model.eval(), AutoTokenizer.from_pretrained(folder)


def test_twins_build_once_offline_in_seconds(twin_folders):
    folders, seconds = twin_folders
    for name, folder in folders.items():
        assert seconds[name] < 30, (name, seconds[name])  # a few seconds alone; the first also builds Qwen2's tokenizer
        for file in ("config.json", "model.safetensors", "generation_config.json", "tokenizer.json", "README.txt"):
            assert (folder / file).is_file(), (name, file)
        marker = (folder / twins.MARKER).stat().st_mtime_ns
        assert twins.build_twin(name, folder) == folder and (folder / twins.MARKER).stat().st_mtime_ns == marker
    assert "STAND-IN" in (folders["deepseek-coder-v2-lite"] / "README.txt").read_text()
    assert "the real one" in (folders["qwen2"] / "README.txt").read_text()


@pytest.mark.parametrize("name", list(twins.TWINS))
def test_twin_keeps_the_architecture_and_generates(twin_folders, name):
    published = twins.published_config(name)
    model, tokenizer = _load(twin_folders[0][name])
    assert type(model).__name__ == published["architectures"][0]
    assert model.config.vocab_size >= len(tokenizer)  # Qwen2 pads its embedding: 151,936 rows, 151,646 tokens
    input_ids = tokenizer("def add(a, b):", return_tensors="pt").input_ids
    torch.manual_seed(0)
    with_defaults = model.generate(input_ids, max_new_tokens=5)  # the checkpoint's own decoding
    greedy = model.generate(input_ids, max_new_tokens=5, do_sample=False)
    again = model.generate(input_ids, max_new_tokens=5, do_sample=False)
    assert with_defaults.shape[0] == 1 and with_defaults.shape[1] <= input_ids.shape[1] + 5
    assert torch.equal(greedy, again)
    expected = twins.twin_config(name)[1]
    assert model.generation_config.eos_token_id == expected["eos_token_id"]
    assert bool(model.generation_config.do_sample) == expected.get("do_sample", False)


def test_twins_keep_the_checkpoints_dtype(twin_folders):
    from transformers import AutoModelForCausalLM
    for name in ("qwen2", "deepseek-coder-v2-lite"):  # published as bfloat16; StarCoderBase's dtype is not recorded
        assert AutoModelForCausalLM.from_pretrained(twin_folders[0][name], dtype="auto").dtype == torch.bfloat16


def test_default_folder_is_in_the_course_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("DEEPCODER_CACHE", str(tmp_path))
    folder = twins.build_twin("starcoderbase-7b")
    assert folder == tmp_path / "twins" / f"starcoderbase-7b-v{twins.FORMAT_VERSION}" and (folder / twins.MARKER).is_file()
    assert not [p.name for p in folder.parent.iterdir() if p.name.startswith(".") and "tmp" in p.name]


def test_qwen2_twin_has_the_published_generation_defaults(twin_folders):
    from transformers import GenerationConfig
    generation = GenerationConfig.from_pretrained(twin_folders[0]["qwen2"])
    assert generation.do_sample is True and generation.eos_token_id == [151645, 151643]
    assert (generation.temperature, generation.top_p, generation.top_k, generation.repetition_penalty) == (0.7, 0.8, 20, 1.1)
    config = json.loads((twin_folders[0]["qwen2"] / "config.json").read_text())
    assert (config["num_attention_heads"], config["num_key_value_heads"]) == (14, 2)  # GQA 7:1 as published


def test_qwen2_twin_has_the_real_tokenizer_and_template(twin_folders):
    from transformers import AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(twin_folders[0]["qwen2"])
    assert tokenizer.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", "<|im_end|>"]) == [151643, 151644, 151645]
    text = tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True)
    assert text == ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                    "<|im_start|>assistant\n")


def test_deepseek_twin_template_and_special_tokens(twin_folders):
    from transformers import AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(twin_folders[0]["deepseek-coder-v2-lite"])
    text = tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True)
    assert text == "<｜begin▁of▁sentence｜>User: Hi\n\nAssistant:"
    config = json.loads((twin_folders[0]["deepseek-coder-v2-lite"] / "config.json").read_text())
    assert tokenizer.convert_ids_to_tokens([config["bos_token_id"], config["eos_token_id"]]) == [
        "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"]  # the published strings, at the stand-in's ids


def test_starcoder_twin_is_multi_query_without_a_chat_template(twin_folders):
    model, tokenizer = _load(twin_folders[0]["starcoderbase-7b"])
    assert model.config.multi_query is True and tokenizer.chat_template is None
    assert tokenizer.convert_ids_to_tokens(0) == "<|endoftext|>" and model.config.eos_token_id == 0
    attn = model.transformer.h[0].attn
    head_dim = model.config.n_embd // model.config.n_head
    assert attn.c_attn.out_features == model.config.n_embd + 2 * head_dim  # one K and one V head


def test_deepseek_moe_facts_against_the_twins_modules(twin_folders):
    published = twins.published_config("deepseek-coder-v2-lite")
    assert (published["n_routed_experts"], published["n_shared_experts"], published["num_experts_per_tok"]) == (64, 2, 6)
    model, _ = _load(twin_folders[0]["deepseek-coder-v2-lite"])
    config = model.config
    assert (config.n_routed_experts, config.n_shared_experts, config.num_experts_per_tok) == (8, 2, 6)
    assert config.routed_scaling_factor == published["routed_scaling_factor"] and config.q_lora_rank is None
    dense, moe = model.model.layers
    assert not hasattr(dense.mlp, "experts")  # first_k_dense_replace = 1
    assert moe.mlp.gate.weight.shape[0] == config.n_routed_experts
    experts = moe.mlp.experts
    n_experts = getattr(experts, "num_experts", None) or len(experts)
    assert n_experts == config.n_routed_experts
    shared = moe.mlp.shared_experts
    assert shared.down_proj.in_features == config.n_shared_experts * config.moe_intermediate_size
    attn = model.model.layers[0].self_attn
    assert hasattr(attn, "kv_a_proj_with_mqa") and attn.kv_a_proj_with_mqa.out_features == (
        config.kv_lora_rank + config.qk_rope_head_dim)  # MLA: a compressed latent plus the rope part


def _count_on_meta(config_dict) -> int:
    from transformers import AutoConfig, AutoModelForCausalLM
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.for_model(**config_dict))
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", list(twins.TWINS))
def test_full_published_config_matches_the_catalog_and_memory_estimates(name):
    n_params = _count_on_meta(twins.published_config(name))
    entry = catalog.info(CHECKPOINT[name])
    assert n_params == entry.params
    for dtype, size in (("float32", 4), ("bfloat16", 2), ("int8", 1)):
        assert catalog.estimate_memory(CHECKPOINT[name], dtype) == n_params * size
        assert models.estimate_memory(CHECKPOINT[name], dtype) == n_params * size


def test_bad_twin_name_is_refused():
    with pytest.raises(ValueError, match=r"`name` must be one of .*got 'llama'"):
        twins.build_twin("llama")


def test_is_twin_tells_a_twin_from_a_real_folder(twin_folders, tmp_path):
    from deepcoder_lib import models
    assert all(twins.is_twin(folder) for folder in twin_folders[0].values())
    assert not twins.is_twin(models.default_checkpoint())  # the embedded model is real
    assert not twins.is_twin(tmp_path) and not twins.is_twin("Qwen/Qwen2-0.5B-Instruct") and not twins.is_twin(None)
