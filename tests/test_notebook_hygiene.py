"""Every notebook follows the course's shape and is committed clean. Fast: no kernel is started.

Shape: a numbered name ``NN_topic.ipynb``; at most 30 cells (one class); a ``# `` title in the first cell; "## You will learn"
with 3-5 bullets; "## Try it" exercises whose code calls ``check_...()`` from
``deepcoder_lib.exercises.nbNN``; "## Summary"; "## Next" linking the following notebook. Clean:
no outputs, no execution counts, no saved widget state (what nbstripout removes). Honest: no
``torch_dtype=`` (transformers 5 spells it ``dtype=``) and no silencing of warnings.

One class (issue 22): at most 1,500 markdown words and 130 non-blank lines of code; a lesson estimate
(``notebook_utils.lesson_minutes``: 100 words a minute, 1.5 minutes per code cell, 5 per exercise cell, plus the
execute time measured in ``artifacts/notebook_times.json``, else the notebook's time budget) of at most 45 minutes;
"## Next" tells the learner to shut this notebook's kernel down first; every exercise cell starts from ``...``.
"""
from __future__ import annotations

import importlib
import io
import re
import sys
import tokenize
import types
from pathlib import Path

import nbformat
import pytest

from notebook_utils import (LESSON_LIMIT_MIN, MAX_MARKDOWN_WORDS, MAX_NOTEBOOK_CODE_LINES, NOTEBOOK_DIR,
                            PER_CODE_CELL_MIN, PER_EXERCISE_MIN, READING_WPM, code_lines, course_notebooks,
                            execute_seconds_for, exercise_cells, has_tag, lesson_parts, markdown_words,
                            notebook_number)

NOTEBOOKS = course_notebooks()
MAX_CODE_LINES = 40  # "short cells": longer code belongs in deepcoder_lib
MAX_CELLS = 30  # one notebook, one class of ~45 minutes (docs/teaching.md lists the times)
LINK = re.compile(r"\[[^\]]+\]\(([^)#\s]+\.ipynb)(?:#[^)]*)?\)")
CHECK_CALL = re.compile(r"\b(check_\w+)\s*\(")
# catch_warnings(record=True) is allowed: a notebook may catch a warning to show it to the learner
SILENCING = re.compile(r"filterwarnings\s*\(\s*['\"]ignore|simplefilter\s*\(\s*['\"]ignore"
                       r"|set_verbosity_error|set_verbosity\s*\(\s*\w*\.?ERROR|transformers\.logging\.disable")
ENDS_COURSE = re.compile(r"end of the course|course ends|last notebook|you have finished", re.IGNORECASE)
SHUT_DOWN = re.compile(r"shut\s*(?:it\s+)?down[^.]*\bkernel|kernel\b[^.]*\bshut\s*down", re.IGNORECASE)


def sections(nb) -> list[tuple[int, str, str]]:
    """``(cell index, heading, text until the next heading)`` for every markdown heading."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        parts = re.split(r"^(#{1,6} .*)$", cell.source, flags=re.MULTILINE)
        for heading, body in zip(parts[1::2], parts[2::2]):
            found.append((i, heading.strip(), body))
    return found


def section_cells(nb, heading_re: str) -> list[int]:
    """Indices of cells under headings matching ``heading_re``, each up to the next heading of the
    same or a higher level (a "### Try it" ends at the next "###"; its "####" subsections belong to it)."""
    cells, level = [], 0  # level: the matching heading's level while inside one, else 0
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                hashes = re.match(r"^(#{1,6}) ", line)
                if hashes and re.match(heading_re, line.strip(), re.IGNORECASE):
                    level = len(hashes.group(1))
                elif hashes and len(hashes.group(1)) <= level:
                    level = 0
        if level:
            cells.append(i)
    return cells


def shape_problems(nb, path: Path, others: list[Path]) -> list[str]:
    """Everything wrong with the notebook's shape, in words; ``others`` are all course notebooks."""
    problems = []
    number = notebook_number(path)
    if number is None:
        problems.append(f"name {path.name!r} is not NN_topic.ipynb (two digits, lowercase words with _)")
    first = nb.cells[0] if nb.cells else None
    if first is None or first.cell_type != "markdown" or not first.source.startswith("# "):
        problems.append("the first cell must be markdown starting with a '# ' title")
    heads = sections(nb)
    names = [h for _, h, _ in heads]

    learn = [body for _, h, body in heads if re.match(r"^## You will learn", h, re.IGNORECASE)]
    bullets = len(re.findall(r"^\s*(?:[-*]|\d+\.) \S", learn[0], re.MULTILINE)) if learn else 0
    if not learn:
        problems.append("no '## You will learn' section")
    elif not 3 <= bullets <= 5:
        problems.append(f"'## You will learn' has {bullets} bullets; it needs 3-5 objectives")

    for title in ("Summary", "Next"):
        if not any(re.match(rf"^## {title}\b", h, re.IGNORECASE) for h in names):
            problems.append(f"no '## {title}' section")

    try_cells = section_cells(nb, r"^#{2,3} Try it")  # "## Try it", or "### Try it: ..." inside a part
    calls = {name for i in try_cells if nb.cells[i].cell_type == "code"
             for name in CHECK_CALL.findall(nb.cells[i].source)}
    if not try_cells:
        problems.append("no '## Try it' section")
    elif not calls:
        problems.append("the 'Try it' sections have no code cell calling a check_...() function")
    elif number is not None:
        problems += _check_module_problems(nb, number, calls)

    problems += _next_link_problems(nb, number, others)
    if len(nb.cells) > MAX_CELLS:
        problems.append(f"{len(nb.cells)} cells (> {MAX_CELLS}): one notebook is one class of ~45 minutes; "
                        "split it, and move benchmark narration to docs/")
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and len(cell.source.splitlines()) > MAX_CODE_LINES:
            problems.append(f"cell {i} has {len(cell.source.splitlines())} lines (> {MAX_CODE_LINES}): "
                            "move the long part into deepcoder_lib")
        if cell.cell_type == "code" and re.search(r"\btorch_dtype\s*=", cell.source):
            problems.append(f"cell {i} uses torch_dtype=; transformers 5 spells it dtype=")
        if cell.cell_type == "code" and SILENCING.search(cell.source):
            problems.append(f"cell {i} silences warnings; fix their cause instead")
        if has_tag(cell, "raises-exception") and cell.cell_type != "code":
            problems.append(f"cell {i} is tagged raises-exception but is not a code cell")
    for i, cell in enumerate(nb.cells):
        for target in LINK.findall(cell.source) if cell.cell_type == "markdown" else ():
            if "://" not in target and not (path.parent / target).is_file():
                problems.append(f"cell {i} links to {target}, which does not exist")
    return problems


def _check_module_problems(nb, number: str, calls: set[str]) -> list[str]:
    module_name = f"deepcoder_lib.exercises.nb{number}"
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    if module_name not in code and f"exercises import nb{number}" not in code:
        return [f"the checks must come from {module_name}, which the notebook never imports"]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        return [f"{module_name} cannot be imported: {exc}"]
    missing = sorted(name for name in calls if not callable(getattr(module, name, None)))
    return [f"{module_name} has no {', '.join(missing)}"] if missing else []


def _next_link_problems(nb, number: str | None, others: list[Path]) -> list[str]:
    next_cells = section_cells(nb, r"^## Next")
    if number is None or not next_cells:
        return []
    text = "\n".join(nb.cells[i].source for i in next_cells if nb.cells[i].cell_type == "markdown")
    links = LINK.findall(text)
    following = sorted(p.name for p in others if (notebook_number(p) or "") > number)
    if following:
        wanted = following[0]
        return [] if wanted in links else [f"'## Next' must link to the following notebook [..]({wanted}); "
                                           f"it links to {links or 'nothing'}"]
    if links or ENDS_COURSE.search(text):
        return []  # the last notebook: back to the start, or the course ends
    return ["the last notebook's '## Next' must link back (e.g. to 00_start_here.ipynb) or say the course ends"]


def stripped_problems(nb) -> list[str]:
    """What nbstripout would remove: outputs, execution counts, saved widget state."""
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and cell.get("outputs"):
            problems.append(f"cell {i} has saved outputs")
        if cell.cell_type == "code" and cell.get("execution_count") is not None:
            problems.append(f"cell {i} has an execution count")
    if "widgets" in nb.metadata:
        problems.append("the notebook metadata holds saved widget state")
    return problems


def has_ellipsis(source: str) -> bool:
    """True if ``source`` holds the placeholder ``...`` as Python (not inside a comment or a string)."""
    try:
        return any(t.type == tokenize.OP and t.string == "..."
                   for t in tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):  # not plain Python: strip comments and strings
        return "..." in re.sub(r"#.*|'[^'\n]*'|\"[^\"\n]*\"", "", source)


def class_problems(nb, execute_seconds: float, execute_source: str = "") -> list[str]:
    """Everything that makes ``nb`` more than one 45-minute class, in words, each with how much is over."""
    problems = []
    words, lines = markdown_words(nb), code_lines(nb)
    if words > MAX_MARKDOWN_WORDS:
        problems.append(f"{words:,} markdown words, {words - MAX_MARKDOWN_WORDS:,} over the limit of "
                        f"{MAX_MARKDOWN_WORDS:,}: move long prose to docs/ and link it")
    if lines > MAX_NOTEBOOK_CODE_LINES:
        problems.append(f"{lines} lines of code (non-blank, all code cells), {lines - MAX_NOTEBOOK_CODE_LINES} "
                        f"over the limit of {MAX_NOTEBOOK_CODE_LINES}")
    parts = lesson_parts(nb, execute_seconds)
    total = sum(parts.values())
    if total > LESSON_LIMIT_MIN:
        exercises = len(exercise_cells(nb))
        code = sum(c.cell_type == "code" for c in nb.cells) - exercises
        problems.append(
            f"lesson estimate {total:.1f} min, {total - LESSON_LIMIT_MIN:.1f} min over {LESSON_LIMIT_MIN}: "
            f"reading {parts['reading']:.1f} ({words:,} words at {READING_WPM}/min) + code cells "
            f"{parts['code cells']:.1f} ({code} x {PER_CODE_CELL_MIN:g}) + exercises {parts['exercises']:.1f} "
            f"({exercises} x {PER_EXERCISE_MIN:g}) + execute {parts['execute']:.1f}"
            + (f" ({execute_source})" if execute_source else ""))
    next_text = "\n".join(nb.cells[i].source for i in section_cells(nb, r"^## Next")
                          if nb.cells[i].cell_type == "markdown")
    if next_text and not SHUT_DOWN.search(next_text):
        problems.append("'## Next' must tell the learner to shut down this notebook's kernel before opening the "
                        "next (Kernel > Shut Down Kernel): each kernel holds about 1 GiB")
    for i in exercise_cells(nb):
        if not has_ellipsis(nb.cells[i].source):
            problems.append(f"exercise cell {i} has no `...` placeholder: the learner's answer starts from `...` "
                            "(Run All then shows 'Not answered yet'), never from a value that looks like an answer")
    return problems


# ---- the course's notebooks ------------------------------------------------------------------

def test_there_are_notebooks():
    assert NOTEBOOKS, f"no notebooks in {NOTEBOOK_DIR}"


def test_numbers_are_unique_and_start_at_00():
    numbers = [notebook_number(p) for p in NOTEBOOKS if notebook_number(p)]
    assert len(numbers) == len(set(numbers)), f"two notebooks share a number: {sorted(numbers)}"
    assert not numbers or min(numbers) == "00", "the course starts with 00_start_here.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert stripped_problems(nb) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_shape(path):
    nb = nbformat.read(path, as_version=4)
    problems = shape_problems(nb, path, NOTEBOOKS)
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_fits_one_class(path):
    nb = nbformat.read(path, as_version=4)
    problems = class_problems(nb, *execute_seconds_for(path))
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


# ---- the checks themselves, on notebooks made here ---------------------------------------------

def _notebook(*cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(s[3:]) if s.startswith("md:") else nbformat.v4.new_code_cell(s)
                for s in cells]
    return nb


GOOD = ("md:# 01 — Tokenizers\n\n## You will learn\n- one\n- two\n- three\n",
        "from deepcoder_lib.exercises.nb01 import check_x",
        "md:## Try it\nEdit the answer.",
        "answer = ...   # a number\ncheck_x(answer)",
        "md:## Summary\nDone.\n\n## Next\nShut down this notebook's kernel (Kernel > Shut Down Kernel), then "
        "open [02 — Loading](02_loading_models.ipynb)")


@pytest.fixture
def others(monkeypatch, tmp_path):
    """Two made-up course notebooks (01 and 02) and a stand-in exercises module for 01."""
    monkeypatch.setitem(sys.modules, "deepcoder_lib.exercises.nb01",
                        types.SimpleNamespace(check_x=lambda answer: None))
    (tmp_path / "02_loading_models.ipynb").write_text("{}")
    return [tmp_path / "01_tokenizers.ipynb", tmp_path / "02_loading_models.ipynb"]


def test_shape_checks_accept_a_good_notebook(others):
    assert shape_problems(_notebook(*GOOD), others[0], others) == []


@pytest.mark.parametrize("change, problem", [
    (lambda c: c[1:], "first cell must be markdown"),
    (lambda c: (c[0].replace("- three\n", ""),) + c[1:], "has 2 bullets"),
    (lambda c: c[:2] + c[4:], "no '## Try it' section"),
    (lambda c: c[:3] + ("answer = 0",) + c[4:], "no code cell calling a check_"),
    (lambda c: c[:4] + ("md:## Summary\n\n## Next\n[00](00_start_here.ipynb)",), "must link to the following"),
    (lambda c: c[:4] + ("md:## Next\n[02](02_loading_models.ipynb)",), "no '## Summary' section"),
    (lambda c: c + ("model = M.from_pretrained(p, torch_dtype='auto')",), "torch_dtype"),
    (lambda c: c + ("import warnings; warnings.filterwarnings('ignore')",), "silences warnings"),
    (lambda c: c + ("\n".join(["x = 1"] * 41),), "41 lines"),
])
def test_shape_checks_catch_each_problem(change, problem, others):
    problems = shape_problems(_notebook(*change(GOOD)), others[0], others)
    assert any(problem in p for p in problems), problems


def test_stripped_check_catches_outputs():
    nb = _notebook("print(1)")
    assert stripped_problems(nb) == []
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    nb.cells[0].execution_count = 1
    nb.metadata["widgets"] = {}
    assert len(stripped_problems(nb)) == 3


def test_names_must_be_numbered(tmp_path):
    problems = shape_problems(_notebook(*GOOD), tmp_path / "Tokenizers.ipynb", [])
    assert any("is not NN_topic.ipynb" in p for p in problems)


def test_try_it_may_be_a_subsection(others):
    """"### Try it: ..." inside a "## Part" counts; its section ends at the next "###" heading."""
    cells = (GOOD[0], GOOD[1], "md:## Part 1\n\n### Try it: count", GOOD[3], "md:### Afterwards", "x = 1", GOOD[4])
    nb = _notebook(*cells)
    assert section_cells(nb, r"^#{2,3} Try it") == [2, 3]
    assert shape_problems(nb, others[0], others) == []


def test_class_checks_accept_a_good_notebook():
    assert class_problems(_notebook(*GOOD), 180) == []


def _words(n):
    return "md:" + " ".join(["word"] * n)


@pytest.mark.parametrize("extra, execute_s, problem", [
    ((_words(1_501 - markdown_words(_notebook(*GOOD))),), 0, "1,501 markdown words, 1 over the limit of 1,500"),
    # GOOD has 3 lines of code: 3 + 3 x 40 + 8 (blank lines do not count) = 131
    (("\n".join(["x = 1"] * 40),) * 3 + ("y = 2\n\n" * 7 + "z = 3",), 0, "131 lines of code (non-blank, all code cells), 1 over"),
    (("x = 1",) * 26, 0, "+ code cells 40.5 (27 x 1.5) + exercises 5.0 (1 x 5) + execute 0.0"),
    ((), 41 * 60, "execute 41.0"),                                                 # a slow notebook alone
    ((), 0, None),
])
def test_class_checks_say_what_is_over_and_by_how_much(extra, execute_s, problem):
    problems = class_problems(_notebook(*GOOD[:4], *extra, GOOD[4]), execute_s)
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems


@pytest.mark.parametrize("cells, problem", [
    (GOOD[:4] + ("md:## Summary\n\n## Next\n[02](02_loading_models.ipynb)",), "shut down this notebook's kernel"),
    (GOOD[:3] + ("answer = 0\ncheck_x(answer)",) + GOOD[4:], "exercise cell 3 has no `...` placeholder"),
    (GOOD[:3] + ("answer = '...'  # ...\ncheck_x(answer)",) + GOOD[4:], "exercise cell 3 has no `...`"),
])
def test_class_checks_catch_next_and_placeholders(cells, problem):
    problems = class_problems(_notebook(*cells), 0)
    assert any(problem in p for p in problems), problems


def test_lesson_estimate_is_the_stated_arithmetic():
    nb = _notebook(_words(250), "from deepcoder_lib.exercises.nb99 import check_x", "y = 2", "answer = ...\ncheck_x(answer)")
    # 250 words / 100 per min + 2 code cells x 1.5 + 1 exercise x 5 + 90 s execute = 2.5 + 3 + 5 + 1.5
    assert lesson_parts(nb, 90) == {"reading": 2.5, "code cells": 3.0, "exercises": 5.0, "execute": 1.5}
    assert code_lines(nb) == 4 and markdown_words(nb) == 250


def test_execute_time_comes_from_the_measured_file_else_the_budget(tmp_path, monkeypatch):
    import notebook_utils
    monkeypatch.setattr(notebook_utils, "TIMES_FILE", tmp_path / "notebook_times.json")
    path = tmp_path / "02_bpe.ipynb"
    assert execute_seconds_for(path) == (180.0, "budget 180 s, no measured time")
    (tmp_path / "notebook_times.json").write_text('{"02_bpe.ipynb": 8.3}')
    assert execute_seconds_for(path)[0] == 8.3
    assert execute_seconds_for(tmp_path / "03_x.ipynb")[0] == 180.0
