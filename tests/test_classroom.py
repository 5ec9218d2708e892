"""The offline classroom path, for real: wheelhouse -> fresh venv with no index -> notebook 00 runs.

Opt-in (about 10 minutes and 400 MB of downloads): set DEEPCODER_CLASSROOM_TEST=1. The wheelhouse is
built into DEEPCODER_WHEELHOUSE (default: ``.whl/classroom``, git-ignored) unless it already exists;
the install and the notebook run inside a network namespace without network when run as root.
Manual equivalent: ``scripts/classroom_wheelhouse.sh build W && scripts/classroom_wheelhouse.sh check W V``.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from notebook_utils import ROOT

SCRIPT = ROOT / "scripts" / "classroom_wheelhouse.sh"
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.environ.get("DEEPCODER_CLASSROOM_TEST") != "1",
                                 reason="opt-in: set DEEPCODER_CLASSROOM_TEST=1 (~10 min, downloads ~400 MB)")]


def test_offline_install_from_wheelhouse_runs_notebook_00(tmp_path, capsys):
    wheelhouse = Path(os.environ.get("DEEPCODER_WHEELHOUSE", ROOT / ".whl" / "classroom"))
    if not any(wheelhouse.glob("torch-*.whl")):
        subprocess.run(["bash", str(SCRIPT), "build", str(wheelhouse)], check=True, cwd=ROOT, timeout=1800)
    result = subprocess.run(["bash", str(SCRIPT), "check", str(wheelhouse), str(tmp_path / "venv")],
                            capture_output=True, text=True, cwd=ROOT, timeout=1800)
    summary = [line for line in result.stdout.splitlines() if line.startswith(("install:", "notebook 00:"))
               or "code cells executed" in line]
    with capsys.disabled():
        print("\n[classroom] " + "; ".join(summary))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert any("0 errors or warnings" in line for line in summary), summary
