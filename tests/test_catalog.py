"""Catalog figures and memory arithmetic, checked by hand and against the real architectures."""
import pytest
import torch

from deepcoder_lib import catalog


def test_estimate_memory_hand_computed():
    # Qwen2-0.5B: 494,032,768 parameters x 2 bytes (bf16)
    assert catalog.estimate_memory("Qwen/Qwen2-0.5B-Instruct", "bfloat16") == 988_065_536
    # SmolLM2-135M: 134,515,008 x 4 bytes (fp32) = 538,060,032 bytes (~513 MiB)
    assert catalog.estimate_memory("smollm2", "fp32") == 538_060_032
    # DeepSeek-Coder-V2-Lite: all 15,706,484,224 parameters stay in memory (MoE), 0.5 byte each at 4 bit
    assert catalog.estimate_memory("deepseek-ai/DeepSeek-Coder-V2-Lite-Instruct", "4bit") == 7_853_242_112
    # StarCoderBase-7B int8: 1 byte per parameter
    assert catalog.estimate_memory("bigcode/starcoderbase-7b", "int8") == 7_327_263_232
    # The full 236B model in bf16: 472 GB, far beyond any laptop
    assert catalog.estimate_memory("deepseek-ai/DeepSeek-Coder-V2-Instruct", torch.bfloat16) == 472_000_000_000


def test_kv_cache_hand_computed():
    # SmolLM2: 30 layers x 1000 tokens x (K+V: 2 x 3 heads x 64 dims) x 4 bytes
    assert catalog.kv_cache_bytes("smollm2", 1000, 1, "float32") == 30 * 1000 * 384 * 4
    # Qwen2-0.5B, 4 sequences of 2048 tokens in bf16: 24 x 2048 x 4 x 256 x 2
    assert catalog.kv_cache_bytes("Qwen/Qwen2-0.5B-Instruct", 2048, 4) == 24 * 2048 * 4 * 256 * 2
    # DeepSeek-Coder-V2-Lite (MLA): 27 layers x 4096 tokens x (512 latent + 64 RoPE key) x 2 bytes (bf16) = 0.12 GiB
    assert catalog.kv_cache_bytes("deepseek-lite", 4096) == 27 * 4096 * 576 * 2 == 127_401_984
    # the 236B model caches the same 576-value latent, in 60 layers
    assert catalog.kv_cache_bytes("deepseek", 4096) == 60 * 4096 * 576 * 2


@pytest.mark.parametrize("alias,name", [("bf16", "bfloat16"), ("FP16", "float16"), ("torch.float32", "float32"),
                                        (torch.float16, "float16"), ("nf4", "4bit"), ("8bit", "int8")])
def test_dtype_aliases(alias, name):
    assert catalog.normalize_dtype(alias) == name


@pytest.mark.parametrize("call,match", [
    (lambda: catalog.estimate_memory("Qwen/Qwen2-0.5B-Instruct", "float13"), r"`dtype` must be one of .*float13"),
    (lambda: catalog.estimate_memory("no/such-model"), r"`checkpoint` 'no/such-model' is not in the course catalog"),
    (lambda: catalog.estimate_memory(""), r"`checkpoint` must be"),
    (lambda: catalog.estimate_memory_from_params(-5), r"`n_params` must be a whole number >= 0, got -5"),
    (lambda: catalog.kv_cache_bytes("smollm2", -1), r"`seq_len` must be a whole number >= 0, got -1"),
    (lambda: catalog.kv_cache_bytes("smollm2", 10, batch_size=0.5), r"`batch_size` must be"),
    (lambda: catalog.kv_cache_bytes("smollm2", 10, dtype="4bit"), r"KV cache"),
])
def test_bad_inputs_get_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def _count_on_meta(config) -> int:
    from transformers import AutoModelForCausalLM
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return sum(p.numel() for p in model.parameters())


def test_parameter_counts_match_the_published_architectures():
    """Instantiate each published config.json on the meta device (no memory) and count."""
    from transformers import DeepseekV2Config, GPTBigCodeConfig, Qwen2Config
    qwen2 = Qwen2Config(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                        num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
                        tie_word_embeddings=True)
    starcoder = GPTBigCodeConfig(n_embd=4096, n_head=32, n_inner=16384, n_layer=42, n_positions=8192,
                                 multi_query=True, vocab_size=49152, bos_token_id=0, eos_token_id=0)
    ds_lite = DeepseekV2Config(vocab_size=102400, hidden_size=2048, intermediate_size=10944,
                               moe_intermediate_size=1408, num_hidden_layers=27, num_attention_heads=16,
                               num_key_value_heads=16, n_shared_experts=2, n_routed_experts=64,
                               num_experts_per_tok=6, first_k_dense_replace=1, kv_lora_rank=512, q_lora_rank=None,
                               qk_nope_head_dim=128, qk_rope_head_dim=64, v_head_dim=128,
                               max_position_embeddings=163840, tie_word_embeddings=False)
    for checkpoint, config in [("Qwen/Qwen2-0.5B-Instruct", qwen2), ("bigcode/starcoderbase-7b", starcoder),
                               ("deepseek-ai/DeepSeek-Coder-V2-Lite-Instruct", ds_lite)]:
        entry = catalog.info(checkpoint)
        assert _count_on_meta(config) == entry.params, checkpoint
        assert config.num_hidden_layers == entry.layers and config.vocab_size == entry.vocab_size


@pytest.mark.slow
def test_embedded_model_matches_its_catalog_entry(model):
    entry = catalog.info("smollm2")
    assert sum(p.numel() for p in model.parameters()) == entry.params
    assert model.config.num_hidden_layers == entry.layers
    assert model.config.max_position_embeddings == entry.context_length
    from deepcoder_lib.models import default_checkpoint
    local = catalog.info(default_checkpoint())  # counted from safetensors headers
    assert local.params == entry.params and local.kv_per_token_per_layer == entry.kv_per_token_per_layer


def test_moe_active_parameters_are_smaller_and_sourced():
    for entry in catalog.CATALOG.values():
        assert entry.active_params <= entry.params
        assert entry.sources, entry.checkpoint
    lite = catalog.info("deepseek-lite")
    assert lite.active_params < lite.params / 5


def test_memory_table_covers_every_dtype():
    rows = catalog.memory_table("qwen2", seq_len=4096)
    assert [r["dtype"] for r in rows] == list(catalog.BYTES_PER_PARAM)
    fp32, bf16 = rows[0], rows[1]
    assert fp32["weights_gib"] == pytest.approx(2 * bf16["weights_gib"])
    assert all(r["total_gib"] == pytest.approx(r["weights_gib"] + r["kv_cache_gib"]) for r in rows)


def test_mla_cache_is_the_latent_transformers_caches():
    """DeepSeek-V2's attention caches kv_lora_rank + qk_rope_head_dim values per token per layer, not the decompressed
    K/V. Measured on transformers' own DeepseekV2 with the published attention sizes (one dense layer, tiny vocabulary
    and MLP: they do not touch the cache)."""
    from transformers import DeepseekV2Config, DeepseekV2ForCausalLM

    from deepcoder_lib import twins
    published = twins.published_config("deepseek-coder-v2-lite")
    small = {**published, "num_hidden_layers": 1, "vocab_size": 64, "intermediate_size": 16, "bos_token_id": 0,
             "eos_token_id": 1}
    model = DeepseekV2ForCausalLM(DeepseekV2Config(**small)).to(torch.bfloat16).eval()
    with torch.inference_mode():
        layer = model(torch.arange(8)[None], use_cache=True).past_key_values.layers[0]
    cached_per_token = sum(t.numel() for t in (layer.keys, layer.values)) // 8
    lite = catalog.info("deepseek-lite")
    assert cached_per_token == published["kv_lora_rank"] + published["qk_rope_head_dim"] == lite.kv_per_token_per_layer
    bytes_per_token = sum(t.numel() * t.element_size() for t in (layer.keys, layer.values)) // 8
    assert catalog.kv_cache_bytes("deepseek-lite", 1000) == bytes_per_token * published["num_hidden_layers"] * 1000
    heads = published["num_attention_heads"]
    decompressed = heads * (published["qk_nope_head_dim"] + published["qk_rope_head_dim"] + published["v_head_dim"])
    assert lite.decompressed_kv_per_token_per_layer == decompressed == 5_120
    assert catalog.info("deepseek").decompressed_kv_per_token_per_layer == 128 * 320
    for entry in catalog.CATALOG.values():  # only MLA models have a decompressed figure apart from the cache
        assert bool(entry.decompressed_kv_per_token_per_layer) == ("MLA" in entry.architecture), entry.checkpoint
