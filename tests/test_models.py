"""Loading: the embedded default offline, hub ids failing fast and clearly, memory refusal, bad input."""
import os
import socket
import subprocess
import sys
import time

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
                                        "bigcode/starcoderbase-7b"])
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
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    start = time.perf_counter()
    with pytest.raises(models.HubUnavailableError, match="cannot be reached.*embedded default"):
        models.load("Qwen/Qwen2-0.5B-Instruct")
    assert time.perf_counter() - start < 5


def test_unreachable_address_times_out_quickly(monkeypatch):
    """A listening socket that never accepts stands in for a black-holed network: bounded by the timeout."""
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
