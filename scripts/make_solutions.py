"""Write the solutions notebooks: each course notebook with its "Try it" cells answered.

A solutions notebook is generated, never edited by hand: ``solutions/answers/NN.py`` holds, for each
exercise cell of ``notebooks/NN_topic.ipynb``, the answered cell's source under a ``# %% <cell id>`` line
(the cell ids are the notebook's own, stable ones). This script copies the notebook, replaces those
cells, adds a first cell that says what the notebook is, points links to other course notebooks back at
``notebooks/`` and writes ``solutions/NN_topic.ipynb``, outputs stripped like the course notebooks.

    python scripts/make_solutions.py          # write every solutions notebook
    python scripts/make_solutions.py --check  # exit 1 if one is missing or out of date (CI runs this test)
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SOLUTIONS = ROOT / "solutions"
ANSWERS = SOLUTIONS / "answers"
MARKER = re.compile(r"^# %% (\S+)[ \t]*$", re.MULTILINE)
COURSE_LINK = re.compile(r"\]\((\d\d_[a-z0-9_]+\.ipynb)")
INTRO = ("**Solutions for [{name}](../notebooks/{name}).** Try the exercises in the course notebook first: the\n"
         "answers below are one natural way to solve each, not the only one. Every check in this notebook says\n"
         "\"Correct\" (the course's tests run it). Other cells are the course notebook's own.")


def read_answers(path: Path) -> dict[str, str]:
    """``{cell id: answered source}`` from one answers file; text before the first marker is ignored."""
    text = path.read_text(encoding="utf-8")
    parts = MARKER.split(text)
    answers = {}
    for cell_id, source in zip(parts[1::2], parts[2::2]):
        if cell_id in answers:
            raise ValueError(f"{path.name}: cell id {cell_id} appears twice")
        answers[cell_id] = source.strip("\n")
    return answers


def notebook_for(answers_file: Path) -> Path:
    number = answers_file.stem
    found = sorted(NOTEBOOKS.glob(f"{number}_*.ipynb"))
    if len(found) != 1:
        raise FileNotFoundError(f"{answers_file.name}: expected one notebooks/{number}_*.ipynb, found {len(found)}")
    return found[0]


def solution_notebook(answers_file: Path):
    """The solutions notebook for one answers file, as an nbformat notebook."""
    source = notebook_for(answers_file)
    nb = nbformat.read(source, as_version=4)
    answers = read_answers(answers_file)
    ids = {cell.get("id") for cell in nb.cells}
    unknown = sorted(set(answers) - ids)
    if unknown:
        raise KeyError(f"{answers_file.name}: no cell with id {', '.join(unknown)} in {source.name}")
    for cell in nb.cells:
        if cell.get("id") in answers:
            if cell.cell_type != "code":
                raise ValueError(f"{answers_file.name}: cell {cell.id} of {source.name} is not a code cell")
            cell.source = answers[cell.id]
        elif cell.cell_type == "markdown":
            cell.source = COURSE_LINK.sub(r"](../notebooks/\1", cell.source)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    intro = nbformat.v4.new_markdown_cell(INTRO.format(name=source.name))
    intro.id = "solutions-intro"
    nb.cells.insert(0, intro)
    nb.metadata.pop("widgets", None)
    return nb


def target_for(answers_file: Path) -> Path:
    return SOLUTIONS / notebook_for(answers_file).name


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that every solutions notebook is up to date")
    args = parser.parse_args(argv)
    stale = []
    for answers_file in sorted(ANSWERS.glob("[0-9][0-9].py")):
        text = nbformat.writes(solution_notebook(answers_file)) + "\n"
        target = target_for(answers_file)
        if args.check:
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                stale.append(target.relative_to(ROOT))
        else:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target.relative_to(ROOT)}")
    if stale:
        print("out of date (run python scripts/make_solutions.py): " + ", ".join(map(str, stale)), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
