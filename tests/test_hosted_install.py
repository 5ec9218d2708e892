"""A hosted runtime (Colab and the like) keeps its own, newer torch when the course is installed into it.

A fresh virtual environment stands in for the runtime: it gets a torch newer than the course's pin (as a
distribution with metadata only: the resolver reads nothing else, and the CUDA wheel is GBs), then pip
resolves ``requirements-hosted.txt`` with ``--dry-run --report`` and must plan to install no torch at all.
"""
from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from notebook_utils import ROOT

# Newer than requirements.txt's torch==2.13.0, as a hosted runtime's usually is. 2.14, not PyPI's newest: this
# machine's pip configuration caps torch at 2.14.1 (/etc/xdg/pip/constraints.txt), which no runtime has.
NEWER_TORCH = "2.14.0"


@pytest.mark.slow
def test_hosted_install_keeps_the_runtimes_torch(tmp_path):
    env_dir = tmp_path / "runtime"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    info = Path(site) / f"torch-{NEWER_TORCH}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: torch\nVersion: {NEWER_TORCH}\n")
    (info / "INSTALLER").write_text("pip\n")
    (info / "RECORD").write_text("")
    report = tmp_path / "report.json"
    out = subprocess.run([python, "-m", "pip", "install", "--dry-run", "--quiet", "--report", report,
                          "-r", ROOT / "requirements-hosted.txt"], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    planned = {item["metadata"]["name"].lower(): item["metadata"]["version"]
               for item in json.loads(report.read_text())["install"]}
    assert "torch" not in planned, f"pip would replace the runtime's torch {NEWER_TORCH} with {planned.get('torch')}"
    assert planned.get("transformers") == "5.23.0" and planned.get("peft") == "0.21.2"
