"""The solutions notebooks: generated from ``solutions/answers/NN.py``, up to date, complete, and right.

Every course notebook with "Try it" exercises has a solutions notebook (``scripts/make_solutions.py``), every
exercise cell (a code cell that calls ``check_...()``) is answered there, and, executed offline on the embedded
model, every check it shows says "Correct". The execution stops after the last exercise cell: what follows is
the course notebook's own and ``test_notebooks.py`` runs it.
"""
from __future__ import annotations

import importlib
import importlib.util
import re
import tempfile
from pathlib import Path

import nbformat
import pytest

from notebook_utils import ROOT, course_notebooks, execute_notebook, exercise_cells, notebook_number

spec = importlib.util.spec_from_file_location("make_solutions", ROOT / "scripts" / "make_solutions.py")
make_solutions = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_solutions)

def exercise_cell_ids(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    return [nb.cells[i].id for i in exercise_cells(nb)]


WITH_EXERCISES = [p for p in course_notebooks() if exercise_cell_ids(p)]


def test_solutions_are_up_to_date():
    assert make_solutions.main(["--check"]) == 0, "run: python scripts/make_solutions.py"


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=[p.stem for p in WITH_EXERCISES])
def test_every_exercise_is_answered(path: Path):
    answers_file = make_solutions.ANSWERS / f"{notebook_number(path)}.py"
    assert answers_file.exists(), f"{path.name} has exercises but no {answers_file.relative_to(ROOT)}"
    answered = make_solutions.read_answers(answers_file)
    missing = [i for i in exercise_cell_ids(path) if i not in answered]
    assert not missing, f"{path.name}: exercise cells without an answer: {missing}"
    for cell_id, source in answered.items():
        assert "..." not in re.sub(r"#.*", "", source), f"{answers_file.name} {cell_id}: the answer still holds `...`"


def test_read_answers_splits_on_markers(tmp_path):
    f = tmp_path / "99.py"
    f.write_text("# answers for 99\n# %% abc\nx = 1\ncheck_x(x)\n\n# %% def\ny = 2\n")
    assert make_solutions.read_answers(f) == {"abc": "x = 1\ncheck_x(x)", "def": "y = 2"}
    f.write_text("# %% abc\nx = 1\n# %% abc\nx = 2\n")
    with pytest.raises(ValueError, match="appears twice"):
        make_solutions.read_answers(f)


def check_texts(outputs) -> list[str]:
    """The plain-text form of every exercise check result a cell displayed."""
    texts = []
    for out in outputs:
        text = out.get("data", {}).get("text/plain") if out.get("output_type") in ("execute_result", "display_data") \
            else out.get("text") if out.get("output_type") == "stream" else None
        text = "".join(text) if isinstance(text, list) else (text or "")
        texts += [line for line in text.splitlines() if re.match(r"^\S* ?(Correct|Not yet|Not answered yet):", line)]
    return texts


@pytest.mark.slow
@pytest.mark.parametrize("path", WITH_EXERCISES, ids=[p.stem for p in WITH_EXERCISES])
def test_solutions_pass_every_check(path: Path, request):
    if path.name.endswith("_shared_server.ipynb"):
        request.getfixturevalue("llama_server")
    nb = make_solutions.solution_notebook(make_solutions.ANSWERS / f"{notebook_number(path)}.py")
    answered = set(exercise_cell_ids(path))
    last = max(i for i, c in enumerate(nb.cells) if c.get("id") in answered)
    nb.cells = nb.cells[:last + 1]  # the lean subset: up to the last exercise
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / path.name
        nbformat.write(nb, copy)
        run = execute_notebook(copy)
    for cell in run.nb.cells:
        if cell.get("id") not in answered:
            continue
        texts = check_texts(cell.outputs)
        assert texts, f"{path.name} cell {cell.id}: the answered exercise showed no check result"
        wrong = [t for t in texts if "Correct:" not in t]
        assert not wrong, f"{path.name} cell {cell.id}: {wrong}"
