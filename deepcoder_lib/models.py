"""Load a model and its tokenizer: the embedded default or a hub checkpoint, one code path.

``load(None)`` loads the embedded SmolLM2-135M-Instruct from its prepared folder (see
``prepare.py``); ``load("Qwen/Qwen2-0.5B-Instruct")`` loads a hub checkpoint for learners who
are online. Both end in the same ``AutoModelForCausalLM.from_pretrained(...)`` call. Before
that call we check what the course can check cheaply: that a hub id is reachable (offline it
fails in seconds with a way out, instead of retrying for a minute) and that the weights fit in
free memory (``catalog.py`` holds the estimates).
"""
from __future__ import annotations

import os
from pathlib import Path

from . import catalog, course, prepare

EMBEDDED_HINT = ("Use the embedded default instead: deepcoder_lib.models.load() "
                 "(or load(deepcoder_lib.models.default_checkpoint())).")


class HubUnavailableError(RuntimeError):
    """A hub checkpoint was asked for, but the hub cannot be reached (offline, no network)."""


class NotEnoughMemoryError(MemoryError):
    """The estimated weights do not fit in the free memory of the target device."""


def default_checkpoint() -> str:
    """Path of the embedded model's prepared folder (prepared on first call, ~20 s once)."""
    return str(prepare.prepare())


def course_checkpoint() -> str:
    """The checkpoint the whole course uses: ``$DEEPCODER_CHECKPOINT`` if set (a hub id such as
    'Qwen/Qwen2-0.5B-Instruct', a short name, or a folder), else the embedded model's folder.

    Resolved at once, so an unreachable hub id fails here, in the setup cell, with the way out.
    """
    value = os.environ.get("DEEPCODER_CHECKPOINT", "").strip()
    return resolve(value) if value else default_checkpoint()


def hub_offline() -> bool:
    """True when the learner asked for offline mode (HF_HUB_OFFLINE=1 or TRANSFORMERS_OFFLINE=1)."""
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
               for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def _hub_head(url: str, timeout: float):
    """HEAD ``url`` through huggingface_hub's own HTTP session: the one downloads use, so it honours
    HTTPS_PROXY / HTTP_PROXY / NO_PROXY (a school proxy) exactly as a download would. None: no answer."""
    from huggingface_hub import get_session
    try:
        return get_session().head(url, timeout=timeout, follow_redirects=False)
    except Exception:  # httpx's connect, proxy and timeout errors: the hub did not answer
        return None


def hub_reachable(timeout: float = 3.0) -> bool:
    """Does the hub endpoint answer an HTTP request within ``timeout`` seconds (through any configured proxy)?"""
    return _hub_head(hub_endpoint(), timeout) is not None


def check_hub_id(checkpoint: str) -> None:
    """Raise ValueError if ``checkpoint`` is not even a valid hub id ('namespace/name' or 'name')."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id
    try:
        validate_repo_id(checkpoint)
    except HFValidationError as e:
        raise ValueError(f"`checkpoint` {checkpoint!r} is not a valid hub id ({e}). Hub ids look like "
                         "'Qwen/Qwen2-0.5B-Instruct'. " + EMBEDDED_HINT) from None


def estimate_memory(checkpoint: str, dtype="bfloat16") -> int:
    """Bytes the weights of ``checkpoint`` take in ``dtype`` (a catalog entry or a local folder); see catalog.py.

    The KV cache and activations come on top: ``catalog.kv_cache_bytes`` and ``catalog.memory_table``.
    """
    return catalog.estimate_memory(checkpoint, dtype)


def is_local(checkpoint: str) -> bool:
    return Path(checkpoint).expanduser().is_dir()


def _in_local_hub_cache(checkpoint: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
        return isinstance(try_to_load_from_cache(checkpoint, "config.json"), str)
    except Exception:
        return False


def resolve(checkpoint: str | None) -> str:
    """Turn None / a short name / a hub id / a folder into what from_pretrained takes.

    None and "smollm2" are the embedded model's prepared folder; other short names ("qwen2") become hub ids.
    Hub ids that cannot be reached raise ``HubUnavailableError`` quickly, unless the checkpoint is
    already in the local Hugging Face cache.
    """
    if checkpoint is None:
        return default_checkpoint()
    if not isinstance(checkpoint, (str, os.PathLike)) or not str(checkpoint).strip():
        raise ValueError(f"`checkpoint` must be None (embedded default), a hub id or a folder path, got {checkpoint!r}")
    checkpoint = str(checkpoint)
    if checkpoint == "smollm2":
        # Only the course's short name means the embedded copy (dequantized from a Q4_1 GGUF). The full hub id
        # "HuggingFaceTB/SmolLM2-135M-Instruct" means the hub's own bf16 weights, so it goes to the hub.
        return default_checkpoint()
    checkpoint = catalog.SHORT_NAMES.get(checkpoint, checkpoint)
    if is_local(checkpoint):
        return str(Path(checkpoint).expanduser())
    if checkpoint.startswith((".", "/", "~")) or checkpoint.count("/") > 1:
        raise ValueError(f"`checkpoint` {checkpoint!r} looks like a folder path, but no such folder exists. "
                         + EMBEDDED_HINT)
    check_hub_id(checkpoint)
    if _in_local_hub_cache(checkpoint):
        return checkpoint
    if hub_offline():
        raise HubUnavailableError(
            f"{checkpoint!r} is a hub checkpoint, but offline mode is on (HF_HUB_OFFLINE=1) and it is not in "
            f"your local Hugging Face cache. Go online and unset HF_HUB_OFFLINE to download it. " + EMBEDDED_HINT)
    answer = _hub_head(f"{hub_endpoint()}/api/models/{checkpoint}", timeout=3.0)
    if answer is None:
        raise HubUnavailableError(
            f"{checkpoint!r} is a hub checkpoint, but {hub_endpoint()} cannot be reached (no network, or a proxy "
            "that HTTPS_PROXY does not name?). Connect to the internet to download it once, or set HF_HUB_OFFLINE=1 "
            "to work offline. " + EMBEDDED_HINT)
    if answer.status_code in (401, 404):  # the hub answers 401 for a repo that does not exist (or is private)
        raise ValueError(f"`checkpoint` {checkpoint!r}: the hub has no such public model (HTTP {answer.status_code}). "
                         "Check the spelling on huggingface.co; a private or gated model needs `hf auth login`. "
                         + EMBEDDED_HINT)
    return checkpoint


def free_memory_bytes(device: str = "cpu") -> int:
    """Free memory where the weights would go: available RAM (also for Apple's MPS, which shares it),
    or free VRAM on a CUDA device."""
    if device.startswith("cuda"):
        import torch
        free, _total = torch.cuda.mem_get_info(torch.device(device))
        return int(free)
    import psutil
    return int(psutil.virtual_memory().available)


def check_fits(checkpoint: str, dtype: str, device: str = "cpu", *, headroom: float = 1.2,
               offload: bool = False) -> int:
    """Raise NotEnoughMemoryError if the weights (x ``headroom``) cannot fit; return the estimate.

    ``offload=True`` (``device_map="auto"``): accelerate puts what does not fit on the GPU in RAM, so free
    VRAM and free RAM count together. Slower (layers in RAM are copied to the GPU at each step), but it loads.
    """
    try:
        need = catalog.estimate_memory(checkpoint, dtype)
    except ValueError:
        return 0  # not in the catalog and not local: nothing to compare against
    free = free_memory_bytes(device)
    if offload and device != "cpu":
        free += free_memory_bytes("cpu")
        device = f"{device} + RAM (device_map='auto' offloads)"
    if need * headroom > free:
        gib = catalog.GIB
        smaller = [d for d in ("bfloat16", "int8", "4bit")
                   if catalog.estimate_memory(checkpoint, d) * headroom <= free]
        raise NotEnoughMemoryError(
            f"{checkpoint} needs about {need / gib:.1f} GiB for its weights in {dtype} "
            f"(+{headroom - 1:.0%} working room), but {device} has {free / gib:.1f} GiB free. "
            + (f"A smaller dtype would fit: {smaller[0]}. " if smaller else "No dtype fits on this machine. ")
            + "Use a smaller checkpoint (the embedded default needs 0.5 GiB), a GPU with device_map='auto', "
            "or pass force=True if you know better.")
    return need


def load(checkpoint: str | None = None, *, dtype=None, device_map=None, trust_remote_code: bool = False,
         force: bool = False):
    """Load ``(model, tokenizer)``: ``None`` is the embedded default; otherwise a hub id or folder.

    With neither ``dtype`` nor ``device_map`` given, the course's device rule decides
    (``course.device_settings()``: float32 on the CPU; bfloat16 spread by ``device_map="auto"`` on an NVIDIA GPU;
    ``DEEPCODER_DEVICE`` overrides). ``dtype`` is passed to from_pretrained (None: float32; 'bfloat16' halves memory). ``trust_remote_code`` stays False unless you have read the repository's code.
    ``force=True`` skips the memory check.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if trust_remote_code not in (True, False):
        raise ValueError(f"`trust_remote_code` must be True or False, got {trust_remote_code!r}")
    path = resolve(checkpoint)
    if dtype is None and device_map is None:
        settings = course.device_settings()
        dtype, device_map = settings.get("dtype"), settings.get("device_map")
    if dtype is not None and not isinstance(dtype, torch.dtype):
        name = catalog.normalize_dtype(dtype)
        if name not in ("float32", "bfloat16", "float16"):
            raise ValueError(f"`dtype` {dtype!r} is a quantized format; load() takes float32, bfloat16 or float16. "
                             "For 8-bit/4-bit on CUDA pass a BitsAndBytesConfig to from_pretrained yourself.")
        dtype = getattr(torch, name)
    dtype = dtype or torch.float32
    if not force:
        target = "cuda" if device_map in ("auto", "cuda") and course.device() == "cuda" else "cpu"
        check_fits(path if is_local(path) else (checkpoint or path), str(dtype), target,
                   offload=device_map == "auto")
    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, device_map=device_map,
                                                 trust_remote_code=trust_remote_code)
    model.eval()
    return model, tokenizer
