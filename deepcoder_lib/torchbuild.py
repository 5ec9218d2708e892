"""Which PyTorch build to install on this machine, and the pip command that installs it.

On Linux, PyPI's ``torch`` wheel is the CUDA build: about 5 GB in a virtual environment with its
NVIDIA libraries, useless on a laptop without an NVIDIA GPU. PyTorch's own CPU wheel index serves
the same version as a CPU-only build (the Linux x86_64 wheel is 192 MB, 754 MB installed). macOS and
Windows wheels on PyPI are CPU builds already (Apple's MPS is in the macOS wheel).

``make install`` runs ``python -m deepcoder_lib.torchbuild install`` before the other requirements:
  * ``DEEPCODER_TORCH=auto`` (default): CPU build on Linux unless an NVIDIA GPU is present;
  * ``DEEPCODER_TORCH=cpu`` / ``cuda``: the learner's choice, whatever the machine has.
Where the CPU index cannot be reached (a school mirror, CI), pip installs from its own
configuration instead, and this says so. Standard library only: it runs before anything else is installed.
"""
from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
PYPI_INDEX = "https://pypi.org/simple"
CHOICES = ("auto", "cpu", "cuda")
# Sizes in a fresh venv: the CPU figures were measured for torch 2.13.0 on Linux x86_64 (this repository's
# reference machine); the CUDA figure is the order of magnitude of PyPI's Linux build with its nvidia-* wheels.
SIZES = {"cpu": "~190 MB download, ~750 MB installed", "cuda": "~2.5 GB download, ~5 GB installed"}
REQUIREMENTS = Path(__file__).resolve().parents[1] / "requirements.txt"


@dataclass(frozen=True)
class Plan:
    """What to install: ``build`` is 'cpu', 'cuda' or 'pypi' (PyPI's own wheel for this platform)."""
    build: str
    reason: str
    pip_args: tuple[str, ...]

    def command(self) -> str:
        return " ".join(["pip install", *self.pip_args])


def pinned_torch(requirements: Path = REQUIREMENTS) -> str:
    """The ``torch==X`` line of requirements.txt (the course pins one version)."""
    for line in requirements.read_text().splitlines():
        if re.match(r"^torch\s*==", line.strip()):
            return line.split("#")[0].strip().replace(" ", "")
    raise ValueError(f"no `torch==...` pin in {requirements}")


def nvidia_gpu_present() -> bool:
    """An NVIDIA GPU with its driver: ``nvidia-smi -L`` lists one, or the kernel driver exposes one."""
    if Path("/proc/driver/nvidia/gpus").is_dir() and any(Path("/proc/driver/nvidia/gpus").iterdir()):
        return True
    smi = shutil.which("nvidia-smi")
    if not smi:
        return False
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


def wanted(value: str | None = None) -> str:
    value = (os.environ.get("DEEPCODER_TORCH", "auto") if value is None else value).strip().lower() or "auto"
    if value not in CHOICES:
        raise ValueError(f"`DEEPCODER_TORCH` must be one of {', '.join(CHOICES)}, got {value!r}; "
                         "leave it unset (auto) to get the CPU build unless an NVIDIA GPU is present")
    return value


def plan(*, want: str | None = None, system: str | None = None, has_nvidia: bool | None = None,
         torch_pin: str | None = None) -> Plan:
    """Decide the build. Pure apart from its defaults (the real platform, GPU and pin), so tests pass them in."""
    want = wanted(want)
    system = system or platform.system()
    pin = torch_pin or pinned_torch()
    if system != "Linux":
        if want == "cuda" and system == "Windows":
            return Plan("pypi", "Windows: PyPI's wheel is CPU-only; for CUDA install torch from the index that "
                        "pytorch.org's 'Get started' page gives for your CUDA version, then run make again", (pin,))
        return Plan("pypi", f"{system}: PyPI's wheel is the right build here (CPU; MPS on Apple silicon)", (pin,))
    if want == "cpu":
        return Plan("cpu", "DEEPCODER_TORCH=cpu", (pin, "--index-url", CPU_INDEX, "--extra-index-url", PYPI_INDEX))
    if want == "cuda":
        return Plan("cuda", "DEEPCODER_TORCH=cuda: PyPI's Linux build with CUDA", (pin,))
    if has_nvidia if has_nvidia is not None else nvidia_gpu_present():
        return Plan("cuda", "an NVIDIA GPU is present: PyPI's Linux build with CUDA", (pin,))
    return Plan("cpu", "Linux without an NVIDIA GPU: the CPU-only build",
                (pin, "--index-url", CPU_INDEX, "--extra-index-url", PYPI_INDEX))


def index_reachable(url: str = CPU_INDEX, timeout: float = 5.0) -> bool:
    try:
        urllib.request.urlopen(urllib.request.Request(url.rstrip("/") + "/torch/", method="HEAD"), timeout=timeout)
        return True
    except urllib.error.HTTPError:
        return True  # the server answered: it is reachable, whatever it thought of a HEAD request
    except (urllib.error.URLError, OSError, ValueError):
        return False


def install(chosen: Plan | None = None, python: str = sys.executable) -> int:
    """Install torch as planned; if the CPU index is unreachable, from pip's own configuration (said loudly)."""
    chosen = chosen or plan()
    args = list(chosen.pip_args)
    print(f"torch: {chosen.build} build ({chosen.reason}); {SIZES.get(chosen.build, '')}".rstrip("; "))
    if chosen.build == "cpu" and not index_reachable():
        print(f"torch: {CPU_INDEX} cannot be reached; installing {args[0]} from your pip configuration instead. "
              "On Linux that is the CUDA build (GBs) unless your pip configuration or mirror serves the CPU one; "
              "`python -m deepcoder_lib doctor` tells which build you got.")
        args = args[:1]
    print("torch: running", " ".join(["pip install", *args]), flush=True)
    return subprocess.call([python, "-m", "pip", "install", *args])


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        chosen = plan()
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if argv[:1] == ["install"]:
        return install(chosen)
    print(f"{chosen.build}: {chosen.reason}\n{chosen.command()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
