"""`make install`'s torch choice: the CPU-only build on a Linux laptop without an NVIDIA GPU, nothing downloaded."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deepcoder_lib import torchbuild

ROOT = Path(__file__).resolve().parents[1]
PIN = "torch==2.13.0"


def test_the_pin_is_read_from_requirements():
    assert torchbuild.pinned_torch() == PIN


def test_linux_without_nvidia_gets_the_cpu_index():
    plan = torchbuild.plan(want="auto", system="Linux", has_nvidia=False)
    assert plan.build == "cpu"
    assert plan.pip_args[:3] == (PIN, "--index-url", torchbuild.CPU_INDEX)
    assert "--index-url https://download.pytorch.org/whl/cpu" in plan.command()


@pytest.mark.parametrize("want,system,has_nvidia,build,index", [
    ("auto", "Linux", True, "cuda", False),     # a GPU laptop: PyPI's CUDA build
    ("cpu", "Linux", True, "cpu", True),        # the learner asks for CPU anyway
    ("cuda", "Linux", False, "cuda", False),    # or for CUDA (say, to build a wheelhouse for a GPU room)
    ("auto", "Darwin", False, "pypi", False),   # macOS: PyPI's wheel is the CPU/MPS build
    ("auto", "Windows", False, "pypi", False),  # Windows: PyPI's wheel is CPU-only
    ("cuda", "Windows", True, "pypi", False),
])
def test_choices(want, system, has_nvidia, build, index):
    plan = torchbuild.plan(want=want, system=system, has_nvidia=has_nvidia)
    assert plan.build == build
    assert (torchbuild.CPU_INDEX in plan.pip_args) is index
    assert plan.pip_args[0] == PIN


def test_windows_cuda_says_where_to_get_it():
    assert "pytorch.org" in torchbuild.plan(want="cuda", system="Windows", has_nvidia=True).reason


def test_bad_choice_names_the_variable():
    with pytest.raises(ValueError, match=r"`DEEPCODER_TORCH` must be one of auto, cpu, cuda, got 'gpu'"):
        torchbuild.plan(want="gpu", system="Linux", has_nvidia=False)


def test_this_machine_plans_the_cpu_build_without_downloading():
    """The real detection on the CI machine (Linux, no NVIDIA GPU), run as make runs it, in a fresh process
    with only the standard library (it runs before anything is installed). Nothing is downloaded: plain
    `python -m deepcoder_lib.torchbuild` only prints the plan."""
    if sys.platform != "linux" or torchbuild.nvidia_gpu_present():
        pytest.skip("this test is about a Linux machine without an NVIDIA GPU")
    env = {k: v for k, v in os.environ.items() if k != "DEEPCODER_TORCH"}
    out = subprocess.run([sys.executable, "-S", "-m", "deepcoder_lib.torchbuild"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["cpu: Linux without an NVIDIA GPU: the CPU-only build",
                                       f"pip install {PIN} --index-url {torchbuild.CPU_INDEX} "
                                       f"--extra-index-url {torchbuild.PYPI_INDEX}"]


def _dry_run(*args: str) -> list[str]:
    """The commands ``python course.py ARGS --dry-run`` would run, into a venv that does not exist."""
    out = subprocess.run([sys.executable, "course.py", *args, "--dry-run", "--venv", "no-such-venv"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return [line[2:] for line in out.stdout.splitlines() if line.startswith("+ ")]


def test_course_py_installs_torch_before_the_requirements():
    lines = _dry_run("install")
    torch_line = next(i for i, line in enumerate(lines) if "deepcoder_lib.torchbuild install" in line)
    requirements_line = next(i for i, line in enumerate(lines) if "-r requirements.txt" in line)
    assert lines[0].endswith("-m venv " + str(ROOT / "no-such-venv"))
    assert torch_line < requirements_line


def test_course_py_test_adds_the_extras_and_runs_pytest_offline():
    lines = _dry_run("test")
    assert any("-r requirements-test.txt" in line for line in lines)
    assert lines[-1].startswith("HF_HUB_OFFLINE=1 ") and "-m pytest -ra" in lines[-1]


def test_make_targets_run_course_py():
    for target in ("install", "lab", "test", "prepare", "doctor"):
        out = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert f"course.py {target} --venv .venv" in out.stdout, (target, out.stdout)


def test_course_py_lab_opens_the_course_launcher():
    assert _dry_run("lab")[-1].endswith("-m deepcoder_lib lab")


def _other_python() -> Path | None:
    """An installed Python 3.12 or 3.13 (pyenv's on the project's machines), for the course's other versions."""
    import glob
    for pattern in ("~/.pyenv/versions/3.12*/bin/python", "~/.pyenv/versions/3.13*/bin/python",
                    "/usr/bin/python3.12", "/usr/bin/python3.13"):
        found = sorted(glob.glob(os.path.expanduser(pattern)))
        if found:
            return Path(found[-1])
    return None


def test_uv_runs_course_py_with_another_python_and_no_project():
    """The README's first command, with an installed Python (uv cannot download one here: PyPI only)."""
    import shutil
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    other = _other_python()
    if not Path(uv).exists() or other is None:
        pytest.skip("needs uv (requirements-test.txt) and a Python 3.12 or 3.13")
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    out = subprocess.run([uv, "run", "--no-project", "--python", str(other), "course.py", "install", "--dry-run",
                          "--venv", "no-such-venv"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == f"+ {other} -m venv {ROOT / 'no-such-venv'}"
    assert not (ROOT / "no-such-venv").exists()
