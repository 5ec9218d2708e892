"""Every course notebook runs top to bottom in a fresh kernel, offline, on the embedded model.

A notebook fails if a cell errors (other than cells tagged ``raises-exception``), if a cell tagged
``raises-exception`` does not raise, if a learner would see a warning (deprecation, missing
attention mask, pad token, any ``...Warning``) in a cell or in an Output widget, or if it takes
longer than its time budget. Each notebook's time is printed even when output is captured.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from notebook_utils import (TIMES_FILE, budget_for, course_notebooks, errors_shown, execute_notebook, has_tag,
                            learner_visible_warnings, notebook_number, offline_env, spoiled_exercises,
                            without_progress_bars)

NOTEBOOKS = course_notebooks()
MEMORY_FILE = TIMES_FILE.with_name("notebook_memory.json")  # peak kernel RSS in MiB, for the teacher's guide


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


def test_spoiled_exercises_finds_answered_and_silent_checks():
    import nbformat
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("from deepcoder_lib.exercises.nb99 import check_x"))
    for verdict in ("… Not answered yet: Replace `...` in `x` with a number, then run the cell again.",
                    "✗ Not yet: 5 is too low; try a number above 7.", None):
        cell = nbformat.v4.new_code_cell("x = ...\ncheck_x(x)")
        cell.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": verdict})] if verdict else []
        nb.cells.append(cell)
    assert spoiled_exercises(nb) == ["cell 2: ✗ Not yet: 5 is too low; try a number above 7.",
                                     "cell 3: the check showed no verdict"]


def _record(file: Path, name: str, value: float) -> None:
    file.parent.mkdir(exist_ok=True)
    values = json.loads(file.read_text()) if file.exists() else {}
    values[name] = round(value, 1)
    file.write_text(json.dumps(values, indent=1, sort_keys=True) + "\n")


# What a lesson cell shows and its prose says, on the embedded model on a CPU (the cell itself asserts nothing: on
# another checkpoint or a GPU in bf16 the figures differ): (cell id, regex its output must match, why).
OUTPUT_CHECKS = {
    "13": [("96ea0d52", r"base 0/3, adapter 3/3", "every held-out answer of the adapter is in the house style"),
           ("1450da78", r"float32 max \|logits\(adapter\) - logits\(merged\)\| = \d\.\d\de-0[4-9]",
            "merged logits match the adapter's below 1e-3 in float32"),
           ("c13-step", r"(?s)\|B\| = 0, .*after one step: \|B\| = (0\.\d*[1-9]|[1-9])", "B starts at zero and one step moves it")],
    "15": [("nb15-14", r"bit for bit: True", "the disabled bottleneck adapter gives the plain twin's logits")],
}


def cell_text(nb, cell_id: str) -> str:
    """Everything a cell printed or displayed as text."""
    cell = next(c for c in nb.cells if c.get("id") == cell_id)
    parts = []
    for out in cell.get("outputs", []):
        text = out.get("text") if out.get("output_type") == "stream" else out.get("data", {}).get("text/plain", "")
        parts.append("".join(text) if isinstance(text, list) else (text or ""))
    return "".join(parts)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_clean(path: Path, capsys, request):
    if path.name.endswith("_shared_server.ipynb"):
        request.getfixturevalue("llama_server")  # sets DEEPCODER_SERVER for the kernel: a real llama.cpp server
    run = execute_notebook(path)  # raises CellExecutionError on the first unexpected error
    with capsys.disabled():
        print(f"\n[notebook] {path.name}: {run.seconds:.1f} s ({run.code_cells} code cells, "
              f"budget {budget_for(path)} s), kernel peak {run.peak_rss_mb:.0f} MiB; slowest {run.slowest_cells(1)}")
    _record(TIMES_FILE, path.name, run.seconds)
    _record(MEMORY_FILE, path.name, run.peak_rss_mb)

    expected = [i for i, c in enumerate(run.nb.cells) if has_tag(c, "raises-exception")]
    assert set(errors_shown(run.nb)) <= set(expected)  # belt and braces: nbclient enforces this
    silent = sorted(set(expected) - set(errors_shown(run.nb)))
    assert not silent, f"cells {silent} are tagged raises-exception but did not raise"

    warnings = learner_visible_warnings(run.nb, run.widget_state)
    assert not warnings, "a learner would see these warnings:\n" + "\n".join(warnings)
    spoiled = spoiled_exercises(run.nb)
    assert not spoiled, "after Run All every exercise must say 'Not answered yet' only:\n" + "\n".join(spoiled)
    for cell_id, pattern, why in OUTPUT_CHECKS.get(notebook_number(path), ()):
        shown = cell_text(run.nb, cell_id)
        assert re.search(pattern, shown), f"{path.name} cell {cell_id}: {why}; it showed:\n{shown[-2000:]}"
    assert run.seconds <= budget_for(path), (f"{path.name} took {run.seconds:.0f} s, budget {budget_for(path)} s; "
                                             f"slowest cells: {run.slowest_cells()}")


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
