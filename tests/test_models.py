"""Loading: the embedded default offline, hub ids failing fast and clearly, memory refusal, bad input."""
import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from deepcoder_lib import models


@pytest.fixture
def no_hub_cache(monkeypatch, tmp_path):
    """An empty Hugging Face cache, so nothing is found locally."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))


def test_default_checkpoint_is_a_plain_folder():
    path = models.default_checkpoint()
    assert os.path.isfile(os.path.join(path, "config.json"))
    assert os.path.isfile(os.path.join(path, "model.safetensors"))
    assert models.resolve(None) == path == models.resolve("smollm2")


@pytest.mark.slow
def test_default_model_writes_circle_code(model_and_tokenizer):
    """The issue's acceptance check: a chat-templated request produces code with `def`."""
    model, tokenizer = model_and_tokenizer
    messages = [{"role": "user", "content": "Write a Python function that computes the area of a circle."}]
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                           return_dict=True)
    out = model.generate(**inputs, max_new_tokens=64, do_sample=False)
    text = tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    assert "def " in text, text


def test_default_model_loads_fast_in_a_fresh_process():
    """The later loads are the plain from_pretrained(path): about a second, offline."""
    code = ("import time; t=time.perf_counter(); from deepcoder_lib.models import load; m, t2 = load(); "
            "print(time.perf_counter()-t)")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout.strip().splitlines()[-1]) < 60  # generous: the figure itself goes to the benchmark


@pytest.mark.parametrize("checkpoint", ["Qwen/Qwen2-0.5B-Instruct", "qwen2", "deepseek-ai/DeepSeek-Coder-V2-Lite-Instruct",
                                        "bigcode/starcoderbase-7b",
                                        # the hub's own SmolLM2 is not the embedded Q4_1 copy: it needs the hub
                                        "HuggingFaceTB/SmolLM2-135M-Instruct"])
def test_hub_id_offline_fails_fast_and_points_to_the_default(checkpoint, monkeypatch, no_hub_cache):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(models.HubUnavailableError, match=r"offline mode is on \(HF_HUB_OFFLINE=1\).*load\(\)"):
        models.load(checkpoint)
    assert time.perf_counter() - start < 3


def test_hub_id_without_network_fails_fast(monkeypatch, no_hub_cache):
    """No offline flag, but the hub endpoint does not answer (a closed loopback port stands in for no network)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: connections are refused
    _online(monkeypatch)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    start = time.perf_counter()
    with pytest.raises(models.HubUnavailableError, match="cannot be reached.*embedded default"):
        models.load("Qwen/Qwen2-0.5B-Instruct")
    assert time.perf_counter() - start < 5


def test_unreachable_address_times_out_quickly(monkeypatch):
    """A listening socket that never accepts stands in for a black-holed network: bounded by the timeout."""
    _online(monkeypatch)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
        start = time.perf_counter()
        models.hub_reachable(timeout=0.5)
        assert time.perf_counter() - start < 2


@pytest.mark.parametrize("kwargs,error,match", [
    ({"checkpoint": "./no/such/folder"}, ValueError, r"looks like a folder path, but no such folder exists"),
    ({"checkpoint": 42}, ValueError, r"`checkpoint` must be None"),
    ({"checkpoint": "  "}, ValueError, r"`checkpoint` must be None"),
    ({"dtype": "float13"}, ValueError, r"`dtype` must be one of"),
    ({"dtype": "int8"}, ValueError, r"quantized format"),
    ({"trust_remote_code": "yes"}, ValueError, r"`trust_remote_code` must be True or False"),
])
def test_bad_inputs_get_clear_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        models.load(**kwargs)


def test_too_big_for_memory_is_refused_with_the_estimate(monkeypatch):
    monkeypatch.setattr(models, "free_memory_bytes", lambda device="cpu": 2 * 1024 ** 3)
    with pytest.raises(models.NotEnoughMemoryError, match=r"needs about 29.3 GiB .* 2.0 GiB free.*force=True"):
        models.check_fits("deepseek-ai/DeepSeek-Coder-V2-Lite-Instruct", "bfloat16")
    with pytest.raises(models.NotEnoughMemoryError, match="A smaller dtype would fit: int8"):
        models.check_fits("Qwen/Qwen2-0.5B-Instruct", "float32", headroom=3.0)


@pytest.mark.slow
def test_force_skips_the_memory_check(monkeypatch):
    monkeypatch.setattr(models, "free_memory_bytes", lambda device="cpu": 1024)
    with pytest.raises(models.NotEnoughMemoryError):
        models.load()
    model, tokenizer = models.load(force=True, dtype="bf16")
    assert model.dtype == torch.bfloat16 and not model.training


class _Recorder(http.server.BaseHTTPRequestHandler):
    """A loopback stand-in for the hub (or a proxy): answers 404 for /api/models/nobody/*, 200 otherwise,
    and records each request line, so a test sees which URL was asked for and through whom."""
    seen: list[str] = []

    def do_HEAD(self):
        type(self).seen.append(self.path)
        self.send_response(404 if "/api/models/nobody/" in self.path else 200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def loopback_server():
    _Recorder.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def fresh_hub_session():
    """huggingface_hub builds its HTTP client once; a fresh one reads the proxy variables the test set."""
    import huggingface_hub
    huggingface_hub.close_session()
    yield
    huggingface_hub.close_session()


def _online(monkeypatch):
    """A learner who is online: no offline variables (huggingface_hub read them once, at import)."""
    from huggingface_hub import constants
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


def test_hub_probe_goes_through_the_proxy(monkeypatch, loopback_server, fresh_hub_session):
    """A school network: no direct route to the hub, only HTTPS_PROXY/HTTP_PROXY. The probe must use the proxy
    (the old raw-socket probe reported 'offline' here). The hub name below does not resolve: only a proxy can answer."""
    _online(monkeypatch)
    monkeypatch.setenv("HF_ENDPOINT", "http://hub.deepcoder.invalid")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert not models.hub_reachable(timeout=2)
    import huggingface_hub
    huggingface_hub.close_session()
    for name in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, loopback_server)
    assert models.hub_reachable(timeout=2)
    assert [url.rstrip("/") for url in _Recorder.seen] == ["http://hub.deepcoder.invalid"]  # absolute URL: a proxy


def test_a_missing_model_is_reported_as_missing_not_offline(monkeypatch, loopback_server, no_hub_cache,
                                                           fresh_hub_session):
    _online(monkeypatch)
    monkeypatch.setenv("HF_ENDPOINT", loopback_server)
    with pytest.raises(ValueError, match=r"'nobody/no-such-model': the hub has no such public model \(HTTP 404\)"):
        models.resolve("nobody/no-such-model")
    assert models.resolve("Qwen/Qwen2-0.5B-Instruct") == "Qwen/Qwen2-0.5B-Instruct"  # it exists on this 'hub'


@pytest.mark.parametrize("checkpoint", ["Qwen/Qwen2 0.5B", "Qwen/Qwen2..0.5B", "a--b/c"])
def test_an_invalid_hub_id_is_invalid_even_offline(checkpoint, monkeypatch, no_hub_cache):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ValueError, match=r"is not a valid hub id .*Qwen/Qwen2-0.5B-Instruct"):
        models.resolve(checkpoint)


def test_estimate_memory_is_public_in_models():
    """Issue 2's promised name: models.estimate_memory(checkpoint, dtype='bfloat16') -> int."""
    need = models.estimate_memory("Qwen/Qwen2-0.5B-Instruct")
    assert isinstance(need, int) and need == 494_032_768 * 2
    assert models.estimate_memory("Qwen/Qwen2-0.5B-Instruct", dtype="float32") == 494_032_768 * 4


def test_fit_check_counts_ram_when_device_map_auto_can_offload(monkeypatch):
    """DeepSeek-Coder-V2-Lite in bf16 (29.3 GiB) on a 16 GiB GPU with 32 GiB of free RAM: too big for the GPU
    alone, but device_map='auto' offloads the rest to RAM, so it loads (slowly)."""
    gib = 1024 ** 3
    monkeypatch.setattr(models, "free_memory_bytes", lambda device="cpu": 16 * gib if device == "cuda" else 32 * gib)
    checkpoint = "deepseek-ai/DeepSeek-Coder-V2-Lite-Instruct"
    with pytest.raises(models.NotEnoughMemoryError, match="cuda has 16.0 GiB free"):
        models.check_fits(checkpoint, "bfloat16", "cuda")
    assert models.check_fits(checkpoint, "bfloat16", "cuda", offload=True) == models.estimate_memory(checkpoint)
    with pytest.raises(models.NotEnoughMemoryError, match=r"cuda \+ RAM \(device_map='auto' offloads\) has 48.0 GiB"):
        models.check_fits(checkpoint, "float32", "cuda", offload=True)


def test_course_checkpoint_defaults_to_the_embedded_folder(monkeypatch):
    monkeypatch.delenv("DEEPCODER_CHECKPOINT", raising=False)
    assert models.course_checkpoint() == models.default_checkpoint()


def test_course_checkpoint_honours_the_variable(monkeypatch, tmp_path, no_hub_cache):
    monkeypatch.setenv("DEEPCODER_CHECKPOINT", str(tmp_path))
    assert models.course_checkpoint() == str(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("DEEPCODER_CHECKPOINT", "Qwen/Qwen2-0.5B-Instruct")
    with pytest.raises(models.HubUnavailableError, match="offline mode is on"):
        models.course_checkpoint()


# ---- notebook 00's exercise check (deepcoder_lib.exercises.nb00) ---------------------------------------

def test_offline_checkpoint_check_agrees_with_from_pretrained(no_hub_cache):
    """The check passes exactly the value that from_pretrained loads with downloads forbidden, and each
    wrong choice offered in the notebook really fails there."""
    from transformers import AutoConfig

    from deepcoder_lib.exercises import nb00
    folder = models.default_checkpoint()
    for right in (folder, Path(folder)):
        assert nb00.check_offline_checkpoint(right), right
        assert AutoConfig.from_pretrained(right, local_files_only=True).model_type == "llama"
    for wrong, says in ((None, "from_pretrained(None) is an error"), ("smollm2", "course's short name"),
                        ("HuggingFaceTB/SmolLM2-135M-Instruct", "is a hub id"),
                        ("Qwen/Qwen2-0.5B-Instruct", "is a hub id")):
        result = nb00.check_offline_checkpoint(wrong)
        assert not result and says in result.message, (wrong, result)
        with pytest.raises((OSError, TypeError, ValueError)):
            AutoConfig.from_pretrained(wrong, local_files_only=True)
    assert "Replace `...`" in nb00.check_offline_checkpoint(...).message
    assert "is not the prepared folder" in nb00.check_offline_checkpoint(str(Path(folder).parent)).message


def test_first_exercise_counts_the_course_notebooks():
    from deepcoder_lib.exercises import nb00
    notebooks = sorted((Path(__file__).parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    following = len(notebooks) - 1
    assert nb00.check_first_exercise(following)
    assert "counts this notebook too" in nb00.check_first_exercise(following + 1).message
    assert not nb00.check_first_exercise(following - 1) and not nb00.check_first_exercise(str(following))


# ---- notebooks 03 and 11: exercise checks (deepcoder_lib.exercises.nb03, nb11) -----------------------

def test_layer_params_check_matches_the_architecture(model_and_tokenizer):
    """The passing count is the one the Llama architecture gives from the config; the usual slips fail with a hint."""
    from deepcoder_lib.exercises import nb03
    model, _ = model_and_tokenizer
    c = model.config
    head_dim = c.hidden_size // c.num_attention_heads
    attention = 2 * c.hidden_size * c.hidden_size + 2 * c.hidden_size * c.num_key_value_heads * head_dim  # q, o; k, v
    mlp = 3 * c.hidden_size * c.intermediate_size  # gate, up, down
    per_layer = attention + mlp + 2 * c.hidden_size  # two RMSNorms
    assert nb03.check_layer_params(model, per_layer)
    total = sum(p.numel() for p in model.parameters())
    for wrong, says in ((total, "whole model"), (total / c.num_hidden_layers, "embedding matrix is not in any layer"),
                        (attention, "attention block alone"), (mlp, "MLP block alone"), (per_layer + 1, "is not it"),
                        (..., "Replace `...` in `layer_params`"), ("3540096", "must be a number")):
        result = nb03.check_layer_params(model, wrong)
        assert not result and says in result.message, (wrong, result)


def _kv_cache_from_transformers(seq_len: int) -> int:
    """Bytes of Qwen2-0.5B's bfloat16 KV cache, measured on transformers' own DynamicCache: one layer of the
    real config (vocabulary shrunk: it does not touch the cache) on 8 tokens, scaled to all layers and seq_len."""
    from transformers import AutoConfig, Qwen2ForCausalLM

    from deepcoder_lib import twins
    config = AutoConfig.from_pretrained(twins.DATA_DIR / "qwen2")
    one_layer = AutoConfig.from_pretrained(twins.DATA_DIR / "qwen2", num_hidden_layers=1, vocab_size=32)
    model = Qwen2ForCausalLM(one_layer).to(torch.bfloat16).eval()
    with torch.inference_mode():
        cache = model(input_ids=torch.zeros(1, 8, dtype=torch.long), use_cache=True).past_key_values
    layer = cache.layers[0]
    per_token = sum(t.numel() * t.element_size() for t in (layer.keys, layer.values)) // 8
    return per_token * config.num_hidden_layers * seq_len


def test_kv_cache_check_agrees_with_transformers_cache():
    from deepcoder_lib.exercises import nb03
    true = _kv_cache_from_transformers(nb03.KV_TOKENS)
    assert nb03.check_kv_cache(true) and nb03.check_kv_cache(float(true))
    for factor, says in ((7, "grouped-query attention"), (0.5, "two tensors, K and V"), (2, "float32"),
                         (8, "Bits vs bytes"), (1 / 24, "multiply by the 24 layers"), (1.5, "is not it")):
        result = nb03.check_kv_cache(true * factor)
        assert not result and says in result.message, (factor, result)
    assert "`qwen_kv_bytes`" in nb03.check_kv_cache(...).message


def test_fits_here_check_uses_this_machines_free_ram():
    import psutil

    from deepcoder_lib import catalog
    from deepcoder_lib.exercises import nb11
    memory = psutil.virtual_memory()
    free = memory.available
    fits = catalog.estimate_memory("qwen2", "float32") * 1.2 <= free
    assert nb11.check_fits_here(fits, free)
    assert not nb11.check_fits_here(not fits, free)
    assert nb11.check_fits_here(False, free, "deepseek", "float32")  # 880 GiB of weights fit nowhere here
    assert not nb11.check_fits_here(True, free, "deepseek", "float32")
    for free_here, says in ((memory.total, "total RAM"), (free / 2**30, "give bytes"), (free / 2, "not this machine's"),
                            (..., "Replace `...` in `free_here`")):
        result = nb11.check_fits_here(fits, free_here)
        assert not result and says in result.message, (free_here, result)
    assert "`qwen_fp32_fits` must be True or False" in nb11.check_fits_here(..., free).message
    import numpy as np
    params = catalog.info("qwen2").params
    for answer, free_here in ((fits, free), (np.bool_(params * 4 * 1.2 <= free), np.int64(free)),
                              (torch.tensor(params * 4 * 1.2 <= free), torch.tensor(free)),
                              (params * 4 * 1.2 / 2**30 <= free / 2**30, float(free))):
        result = nb11.check_fits_here(answer, free_here)
        assert result.ok and result.label == "Correct", (answer, free_here, result)
    for answer in ("yes", 1.5, None):
        assert not nb11.check_fits_here(answer, free).ok
    assert nb11.check_fits_here(fits, ...).label == "Not answered yet"


def test_moe_gpus_check_counts_every_expert():
    """Notebook 11's exercise: 24 GB GPUs for DeepSeek-Coder-V2-Instruct in 4-bit, KV cache and 20% room."""
    import math

    import numpy as np

    from deepcoder_lib import catalog
    from deepcoder_lib.exercises import nb11
    big = catalog.info("deepseek")
    need = (big.params * 0.5 + catalog.kv_cache_bytes("deepseek", 4096)) * 1.2  # bytes
    right = math.ceil(need / 24e9)
    assert right == nb11.gpus_needed()["gpus"] == 6
    for answer in (right, 6.0, np.int64(6), torch.tensor(6), math.ceil(need / 2**30 / (24e9 / 2**30))):
        result = nb11.check_moe_gpus(answer)
        assert result.ok and result.label == "Correct", (answer, result)
    for wrong, says in ((1, "*active* parameters"), (5, "One short"), (24, "count for bfloat16"),
                        (12, "count for int8"), (7, "Not 7"), (5.9, "whole number"), ("6", "whole number"),
                        (True, "whole number"), (..., "Replace `...` in `gpus`")):
        result = nb11.check_moe_gpus(wrong)
        assert not result and says in result.message, (wrong, result)
    assert nb11.check_moe_gpus(...).label == "Not answered yet"


def test_deepseek_twin_experts_and_latent_cache():
    """What notebook 11 shows on the DeepSeek-Coder-V2-Lite twin: the published MoE layout, and a cache that holds
    the latent + RoPE key per token while kv_b_proj rebuilds keys and values for every cached token at each step."""
    from transformers import AutoModelForCausalLM

    from deepcoder_lib import twins
    published = twins.published_config("deepseek-coder-v2-lite")
    assert (published["n_routed_experts"], published["n_shared_experts"], published["num_experts_per_tok"]) == (64, 2, 6)
    twin = AutoModelForCausalLM.from_pretrained(twins.build_twin("deepseek-coder-v2-lite"))
    c, (dense, moe) = twin.config, twin.model.layers
    assert moe.mlp.gate.weight.shape[0] == moe.mlp.experts.num_experts == c.n_routed_experts and moe.mlp.gate.top_k == 6
    assert moe.mlp.shared_experts.down_proj.in_features == published["n_shared_experts"] * c.moe_intermediate_size
    rows = []
    hook = twin.model.layers[0].self_attn.kv_b_proj.register_forward_hook(lambda m, a, o: rows.append(a[0].shape[-2]))
    with torch.no_grad():
        cache = twin(torch.arange(10)[None], use_cache=True).past_key_values
        twin(torch.tensor([[10]]), past_key_values=cache, use_cache=True)
    hook.remove()
    layer = cache.layers[0]
    assert layer.keys.shape[-1] + layer.values.shape[-1] == c.kv_lora_rank + c.qk_rope_head_dim
    assert layer.keys.shape[-2] == 11 and rows == [10, 11]


