"""The loading, generation, sampling, code-running, measuring, loss, big-model and adapter notebooks (03-15) run
top to bottom on the Qwen2-0.5B-Instruct twin, through the switch.

A teacher who is online sets ``DEEPCODER_CHECKPOINT=Qwen/Qwen2-0.5B-Instruct`` and every notebook's setup cell
(``checkpoint = course_checkpoint()``) loads it. Here the switch points at the Qwen2 *twin*: the real Qwen2
architecture, tokenizer, chat template and generation config (which samples by default and lists two EOS ids),
with random weights. A notebook passes when no cell errors and no warning shows; asserts that need a real
model's answer are skipped by the notebook itself when ``twins.is_twin(checkpoint)``, and it says so.
"""
from __future__ import annotations

import pytest

from notebook_utils import NOTEBOOK_DIR, errors_shown, execute_notebook, has_tag, learner_visible_warnings, notebook_number

# loading; generation (the loop; streaming and speed; decoding as search); sampling (the knobs; the explorer);
# running code safely, measuring code, logits and loss; big models; LoRA; adapters in practice; quantized and
# other adapters
ON_TWIN = ("03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "15", "17", "18", "19")
TWIN_BUDGET_S = 300
NOTEBOOKS = [p for p in sorted(NOTEBOOK_DIR.glob("*.ipynb")) if notebook_number(p) in ON_TWIN]


@pytest.fixture(scope="module")
def qwen2_twin():
    from deepcoder_lib.twins import build_twin
    return str(build_twin("qwen2"))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_on_the_qwen2_twin(path, qwen2_twin, capsys):
    run = execute_notebook(path, env={"DEEPCODER_CHECKPOINT": qwen2_twin})
    with capsys.disabled():
        print(f"\n[twin notebook] {path.name}: {run.seconds:.1f} s on the Qwen2 twin")
    tagged = [i for i, cell in enumerate(run.nb.cells) if has_tag(cell, "raises-exception")]
    assert set(errors_shown(run.nb)) <= set(tagged)
    warnings = learner_visible_warnings(run.nb, run.widget_state)
    assert not warnings, "a learner would see these warnings:\n" + "\n".join(warnings)
    assert run.seconds <= TWIN_BUDGET_S
    setup = "".join(c.source for c in run.nb.cells if c.cell_type == "code")
    assert "course_checkpoint()" in setup, "the setup cell must take the checkpoint from the course-wide switch"
