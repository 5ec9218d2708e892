"""Course-wide settings read by every notebook's setup cell: where the model runs.

``device_settings()`` is what the setup cells pass to ``from_pretrained``, chosen from what the machine
has, so a learner with a GPU uses it without editing a notebook:
  * CPU (the tested default): ``{}``, i.e. float32 on the CPU, the plain call every notebook explains;
  * an NVIDIA GPU: ``device_map="auto"`` (accelerate places the layers, spilling to RAM if needed) in bfloat16;
  * Apple's MPS only when asked for (``DEEPCODER_DEVICE=mps``): ``device_map="mps"`` in float32. Users of
    comparable courses report different or unrepeatable numbers on MPS (other kernels, operations falling back
    to the CPU), and the course's checks and figures are made on the CPU, so a Mac stays on the CPU by default.
``DEEPCODER_DEVICE=cpu|cuda|mps|auto`` overrides the choice (auto, the default: CUDA if present, else the CPU).
The checkpoint itself is ``models.course_checkpoint()`` (``DEEPCODER_CHECKPOINT``).
"""
from __future__ import annotations

import os

CHOICES = ("auto", "cpu", "cuda", "mps")


def _available() -> dict[str, bool]:
    import torch
    return {"cuda": torch.cuda.is_available(),
            "mps": bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())}


def device() -> str:
    """'cpu', 'cuda' or 'mps': ``$DEEPCODER_DEVICE`` if set (checked against the machine), else CUDA if present,
    else the CPU (MPS is opt-in: see the module docstring)."""
    wanted = os.environ.get("DEEPCODER_DEVICE", "auto").strip().lower() or "auto"
    if wanted not in CHOICES:
        raise ValueError(f"`DEEPCODER_DEVICE` must be one of {', '.join(CHOICES)}, got {wanted!r}; "
                         "leave it unset to use the best device this machine has")
    available = _available()
    if wanted == "auto":
        return "cuda" if available["cuda"] else "cpu"
    if wanted != "cpu" and not available[wanted]:
        raise ValueError(f"`DEEPCODER_DEVICE` is {wanted!r}, but torch sees no {wanted.upper()} device here "
                         f"(torch.{wanted if wanted == 'cuda' else 'backends.mps'}.is_available() is False); "
                         "unset it to run on the CPU")
    return wanted


def device_settings() -> dict:
    """Keyword arguments for ``AutoModelForCausalLM.from_pretrained`` on this machine (see the module docstring)."""
    import torch
    chosen = device()
    if chosen == "cuda":
        return {"device_map": "auto", "dtype": torch.bfloat16}
    if chosen == "mps":
        return {"device_map": "mps", "dtype": torch.float32}
    return {}


def from_pretrained_call(settings: dict | None = None) -> str:
    """The call a learner would type for these settings, e.g. ``from_pretrained(checkpoint, device_map="auto", ...)``."""
    settings = device_settings() if settings is None else settings
    args = "".join(f", {key}={value!r}" if isinstance(value, str) else f", {key}={value}"
                   for key, value in settings.items())
    return f"AutoModelForCausalLM.from_pretrained(checkpoint{args})"


def describe() -> str:
    """One line for the doctor: the device the notebooks will use and the call they make."""
    chosen = device()
    why = "DEEPCODER_DEVICE" if os.environ.get("DEEPCODER_DEVICE", "").strip() else "the best device found"
    line = f"{chosen} ({why}): notebooks load with {from_pretrained_call()}"
    if chosen == "cpu" and why != "DEEPCODER_DEVICE" and _available()["mps"]:
        line += "; Apple's MPS is present but opt-in (DEEPCODER_DEVICE=mps; the course's figures are the CPU's)"
    return line
