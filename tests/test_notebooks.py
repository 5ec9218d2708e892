"""Every course notebook runs top to bottom in a fresh kernel, offline, on the embedded model.

A notebook fails if a cell errors (other than cells tagged ``raises-exception``), if a cell tagged
``raises-exception`` does not raise, if a learner would see a warning (deprecation, missing
attention mask, pad token, any ``...Warning``) in a cell or in an Output widget, or if it takes
longer than its time budget. Each notebook's time is printed even when output is captured.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from notebook_utils import (ROOT, budget_for, course_notebooks, errors_shown, execute_notebook, has_tag,
                            learner_visible_warnings, offline_env, without_progress_bars)

NOTEBOOKS = course_notebooks()
TIMES_FILE = ROOT / "artifacts" / "notebook_times.json"


def test_kernel_is_this_venv():
    """``kernel_name="python3"`` must start the interpreter running the tests, not another Python."""
    from jupyter_client.manager import KernelManager
    km = KernelManager(kernel_name="python3")
    assert km.format_kernel_cmd()[0] == sys.executable


def test_offline_env_blocks_downloads():
    env = offline_env({"TOKENIZERS_PARALLELISM": "false", "PATH": "/bin"})
    assert env["HF_HUB_OFFLINE"] == "1" and env["HTTPS_PROXY"].startswith("http://127.0.0.1:")
    assert "TOKENIZERS_PARALLELISM" not in env and env["PATH"] == "/bin"


@pytest.mark.parametrize("text, expected", [
    ("Loading weights:  42%|████▏     | 115/272 [00:00<00:00, 1146.21it/s]\r"
     "Loading weights: 100%|██████████| 272/272 [00:00<00:00, 1200.00it/s]\n", ""),
    (" 50%|█████     | 5/10 [00:01<00:01,  4.99it/s]", ""),
    ("Loading weights: 100%|██████████| 272/272 [00:00<00:00]\n"
     "/x.py:3: FutureWarning: `torch_dtype` is deprecated! Use `dtype` instead!\n",
     "/x.py:3: FutureWarning: `torch_dtype` is deprecated! Use `dtype` instead!"),
])
def test_progress_bars_are_not_warnings(text, expected):
    assert without_progress_bars(text) == expected


def _fake_nb(*stderr_texts):
    import nbformat
    nb = nbformat.v4.new_notebook()
    for text in stderr_texts:
        cell = nbformat.v4.new_code_cell("pass")
        cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text=text)]
        nb.cells.append(cell)
    return nb


def test_learner_visible_warnings_detects_each_kind():
    nb = _fake_nb("Loading weights: 100%|██████████| 272/272 [00:00<00:00, 10.0it/s]\n",
                  "The attention mask is not set and cannot be inferred from input\n",
                  "Setting `pad_token_id` to `eos_token_id`:2 for open-end generation.\n",
                  "x.py:1: DeprecationWarning: old\n")
    widgets = {"abcdef0123": {"outputs": [{"output_type": "stream", "name": "stderr", "text": "UserWarning: w\n"}]}}
    found = learner_visible_warnings(nb, widgets)
    assert [f.split(":")[0] for f in found] == ["cell 1", "cell 2", "cell 3", "Output widget abcdef01"]


def _record_time(name: str, seconds: float) -> None:
    TIMES_FILE.parent.mkdir(exist_ok=True)
    times = json.loads(TIMES_FILE.read_text()) if TIMES_FILE.exists() else {}
    times[name] = round(seconds, 1)
    TIMES_FILE.write_text(json.dumps(times, indent=1, sort_keys=True) + "\n")


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_clean(path: Path, capsys, request):
    if path.name.endswith("_shared_server.ipynb"):
        request.getfixturevalue("llama_server")  # sets DEEPCODER_SERVER for the kernel: a real llama.cpp server
    run = execute_notebook(path)  # raises CellExecutionError on the first unexpected error
    with capsys.disabled():
        print(f"\n[notebook] {path.name}: {run.seconds:.1f} s ({run.code_cells} code cells, "
              f"budget {budget_for(path)} s)")
    _record_time(path.name, run.seconds)

    expected = [i for i, c in enumerate(run.nb.cells) if has_tag(c, "raises-exception")]
    assert set(errors_shown(run.nb)) <= set(expected)  # belt and braces: nbclient enforces this
    silent = sorted(set(expected) - set(errors_shown(run.nb)))
    assert not silent, f"cells {silent} are tagged raises-exception but did not raise"

    warnings = learner_visible_warnings(run.nb, run.widget_state)
    assert not warnings, "a learner would see these warnings:\n" + "\n".join(warnings)
    assert run.seconds <= budget_for(path), f"{path.name} took {run.seconds:.0f} s, budget {budget_for(path)} s"


@pytest.mark.slow
def test_shared_server_notebook_runs_with_no_server_listening():
    """Self-study without a class server: the notebook says how to start one and runs every other cell."""
    from server_utils import free_port
    path = next(p for p in NOTEBOOKS if p.name.endswith("_shared_server.ipynb"))
    run = execute_notebook(path, env={"DEEPCODER_SERVER": f"http://127.0.0.1:{free_port()}/v1"})
    setup = "".join(o.get("text", "") for o in run.nb.cells[1].outputs)
    assert "server: none (cannot reach" in setup and "python -m llama_cpp.server" in setup
    assert errors_shown(run.nb) == [i for i, c in enumerate(run.nb.cells) if has_tag(c, "raises-exception")]
    checks = "".join(str(o) for o in run.nb.cells[-2].outputs)
    assert "Not answered yet" in checks  # the exercise ran on the local top 20
