"""Run a course notebook as a learner would, and read what the learner would see.

Shared by ``test_notebooks.py`` (pass/fail), ``test_browser.py`` and ``benchmarks/bench_notebooks.py``
(timings). A notebook runs top to bottom in a fresh kernel (the venv's ``python3`` kernel spec) in a
temporary copy of ``notebooks/``, offline: ``HF_HUB_OFFLINE=1`` and every HTTP(S) proxy pointed at a
closed loopback port, so a stray download fails fast instead of reaching the network.

"What a learner sees" includes the outputs of ``ipywidgets.Output`` widgets, which nbclient keeps
in ``client.widget_state`` rather than in the cell outputs. Progress bars (tqdm's "Loading weights"
bar, printed as text on stderr outside Jupyter) are not warnings; everything else on stderr that
mentions a warning, a deprecation, the attention mask or the pad token is.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = Path(os.environ.get("DEEPCODER_NOTEBOOKS", ROOT / "notebooks"))  # override: try other notebooks
NOTEBOOK_NAME = re.compile(r"^(\d\d)_[a-z0-9]+(?:_[a-z0-9]+)*\.ipynb$")

DEFAULT_BUDGET_S = 180  # whole notebook, wall clock, on a 2-core laptop-class CPU
BUDGET_S = {"10": 300, "13": 300, "14": 300, "15": 180}  # pass@k sampling, LoRA training, the adapter comparison; twins
CELL_TIMEOUT_S = 300

WARNING_WORDS = re.compile(r"warn|deprecat|attention.mask|pad.token|futurewarning", re.IGNORECASE)
# tqdm: "Loading weights:  42%|████▏     | 115/272 [00:00<00:00, 1146.21it/s]" (also without a label)
PROGRESS_LINE = re.compile(r"^\s*(?:[^|\n]*:\s*)?\d{1,3}%\|[^|]*\|\s*\d+(?:\.\d+)?[kMG]?/\d+(?:\.\d+)?[kMG]?\b.*$")
DEAD_PROXY = "http://127.0.0.1:9"  # discard port: nothing listens, so connections fail at once


def course_notebooks() -> list[Path]:
    """All ``notebooks/*.ipynb`` (checkpoint folders excluded), sorted by name."""
    return sorted(p for p in NOTEBOOK_DIR.glob("*.ipynb") if p.is_file())


def notebook_number(path: Path) -> str | None:
    match = NOTEBOOK_NAME.match(Path(path).name)
    return match.group(1) if match else None


def budget_for(path: Path) -> int:
    return BUDGET_S.get(notebook_number(path) or "", DEFAULT_BUDGET_S)


# One class is one notebook (issue 22). The lesson estimate is a planning figure, stated so that a teacher can
# redo it, at a realistic pace for a lab class: the markdown read at 100 words per minute, 1.5 minutes for each
# code cell (read it, run it, look at what it shows), 5 minutes for each "Try it" exercise cell (predict, write,
# run the check, try again; counted instead of, not on top of, the 1.5), plus the machine's execute time.
READING_WPM = 100
PER_CODE_CELL_MIN = 1.5
PER_EXERCISE_MIN = 5.0
LESSON_LIMIT_MIN = 45
MAX_MARKDOWN_WORDS = 1_500  # more prose than a class reads: move it to docs/
MAX_NOTEBOOK_CODE_LINES = 130  # non-blank lines over all code cells, comments included (a learner reads them)
TIMES_FILE = ROOT / "artifacts" / "notebook_times.json"  # written by tests/test_notebooks.py


def markdown_words(nb) -> int:
    return sum(len(c.source.split()) for c in nb.cells if c.cell_type == "markdown")


def code_lines(nb) -> int:
    """Non-blank lines in all code cells (comments count: a learner reads them too)."""
    return sum(1 for c in nb.cells if c.cell_type == "code" for line in c.source.splitlines() if line.strip())


EXERCISE_IMPORT = re.compile(r"from\s+deepcoder_lib\.exercises\.\w+\s+import\s+(\([^)]*\)|[^\n]*)")


def exercise_checks(nb) -> set[str]:
    """The exercise checks a notebook imports from ``deepcoder_lib.exercises`` (not the library's own
    ``check_answer`` or ``check_flask_app``, which lesson cells call too)."""
    names = set()
    for cell in nb.cells:
        if cell.cell_type == "code":
            for imported in EXERCISE_IMPORT.findall(cell.source):
                names.update(re.findall(r"\bcheck_\w+", imported))
    return names


def exercise_cells(nb) -> list[int]:
    """Indices of "Try it" exercise cells: code cells that call one of the notebook's exercise checks."""
    checks = exercise_checks(nb)
    return [i for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and checks & set(re.findall(r"\b(check_\w+)\s*\(", c.source))]


def lesson_parts(nb, execute_seconds: float) -> dict[str, float]:
    """The lesson estimate's parts in minutes: reading, code cells, exercises, execute (see the constants above)."""
    exercises = len(exercise_cells(nb))
    other_code = sum(c.cell_type == "code" for c in nb.cells) - exercises
    return {"reading": markdown_words(nb) / READING_WPM, "code cells": other_code * PER_CODE_CELL_MIN,
            "exercises": exercises * PER_EXERCISE_MIN, "execute": execute_seconds / 60}


def lesson_minutes(nb, execute_seconds: float) -> float:
    """Estimated minutes a learner spends on ``nb`` (see the constants above); the guide lists it per notebook."""
    return sum(lesson_parts(nb, execute_seconds).values())


def execute_seconds_for(path: Path) -> tuple[float, str]:
    """The execute time to plan with, and where it comes from: the last measured run in ``artifacts/
    notebook_times.json`` when there is one, else the notebook's time budget (``budget_for``), the most a
    notebook may take and still pass ``test_notebooks.py``, so the estimate errs on the long side."""
    import json
    path = Path(path)
    if TIMES_FILE.exists():
        try:
            measured = json.loads(TIMES_FILE.read_text()).get(path.name)
        except ValueError:
            measured = None
        if isinstance(measured, (int, float)):
            return float(measured), f"measured {measured:.0f} s ({TIMES_FILE.name})"
    return float(budget_for(path)), f"budget {budget_for(path)} s, no measured time"


def offline_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a notebook kernel gets: the caller's, forced offline."""
    env = dict(os.environ if base is None else base)
    env.update({
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HTTP_PROXY": DEAD_PROXY, "HTTPS_PROXY": DEAD_PROXY, "ALL_PROXY": DEAD_PROXY,
        "http_proxy": DEAD_PROXY, "https_proxy": DEAD_PROXY, "all_proxy": DEAD_PROXY,
        "NO_PROXY": "127.0.0.1,localhost,::1", "no_proxy": "127.0.0.1,localhost,::1",
    })
    # A learner's machine does not set this; if a notebook forks after using a tokenizer,
    # the learner sees the tokenizers warning, and so must the test.
    env.pop("TOKENIZERS_PARALLELISM", None)
    env.pop("PYTEST_CURRENT_TEST", None)
    return env


@dataclass
class NotebookRun:
    """One executed notebook: the notebook with outputs, wall time, and nbclient's widget state."""
    path: Path
    nb: object
    seconds: float
    widget_state: dict = field(default_factory=dict)
    error: BaseException | None = None
    peak_rss_mb: float = 0.0  # the kernel's peak resident memory (with its child processes), sampled every 0.2 s

    @property
    def code_cells(self) -> int:
        return sum(c.cell_type == "code" for c in self.nb.cells)

    def slowest_cells(self, count: int = 3) -> str:
        """The ``count`` slowest code cells, from nbclient's timing of each: "#18 32.5 s (first line), ..."."""
        from datetime import datetime
        times = []
        for index, cell in enumerate(self.nb.cells):
            timing = cell.get("metadata", {}).get("execution", {}) if cell.cell_type == "code" else {}
            began, ended = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
            if began and ended:
                seconds = (datetime.fromisoformat(ended.replace("Z", "+00:00"))
                           - datetime.fromisoformat(began.replace("Z", "+00:00"))).total_seconds()
                first = next((line for line in cell.source.splitlines() if line.strip()), "")
                times.append((seconds, index, first[:60]))
        return ", ".join(f"#{index} {seconds:.1f} s ({first})" for seconds, index, first in sorted(times)[::-1][:count])


def copy_notebooks(dest: Path) -> Path:
    """Copy ``notebooks/`` (minus checkpoints) to ``dest``; return the copy's folder."""
    shutil.copytree(NOTEBOOK_DIR, dest, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return dest


class Sampler:
    """Calls ``sample()`` every ``interval`` seconds in a thread while its ``with`` block runs."""

    def __init__(self, interval: float):
        import threading
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def tree_usage(root) -> tuple[int, float]:
    """Resident bytes and CPU seconds of the psutil process ``root`` and all its descendants (a process that
    ends between listing and reading is skipped)."""
    import psutil
    rss, cpu = 0, 0.0
    try:
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0, 0.0
    for proc in processes:
        try:
            rss += proc.memory_info().rss
            times = proc.cpu_times()
            cpu += times.user + times.system
        except psutil.Error:
            continue
    return rss, cpu


class KernelMemory(Sampler):
    """The peak resident memory of this process's kernel children (and their children), sampled in a thread.

    The kernel is the child process whose command line runs ``ipykernel``; sandbox runs and servers that a
    notebook starts are its children and count too, as they do on a learner's laptop."""

    def __init__(self, interval: float = 0.2):
        super().__init__(interval)
        self.peak_bytes = 0

    def sample(self) -> None:
        import psutil
        total = 0
        for child in psutil.Process().children():
            try:
                if "ipykernel" in " ".join(child.cmdline()):
                    total += tree_usage(child)[0]
            except psutil.Error:  # it ended between listing and reading
                continue
        self.peak_bytes = max(self.peak_bytes, total)


def execute_notebook(path: Path, *, cell_timeout: int = CELL_TIMEOUT_S, raise_on_error: bool = True,
                     env: dict[str, str] | None = None) -> NotebookRun:
    """Execute ``path`` top to bottom in a fresh kernel, in a temporary copy of its folder.

    Cells tagged ``raises-exception`` may fail (nbclient's rule); any other error raises
    ``nbclient.exceptions.CellExecutionError`` unless ``raise_on_error=False``, in which case it is
    kept in ``NotebookRun.error``. ``env`` adds variables to the kernel's (offline) environment, e.g.
    ``{"DEEPCODER_CHECKPOINT": folder}`` to run the notebook on another checkpoint.
    """
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="deepcoder-nb-") as tmp:
        workdir = copy_notebooks(Path(tmp) / "notebooks")
        client = NotebookClient(nb, kernel_name="python3", timeout=cell_timeout, allow_errors=False,
                                record_timing=True, resources={"metadata": {"path": str(workdir)}})
        start = time.perf_counter()
        error = None
        try:
            with KernelMemory() as memory:
                client.execute(env={**offline_env(), **(env or {})}, cwd=str(workdir))
        except Exception as exc:  # kept for the caller; nbclient already shut the kernel down
            if raise_on_error:
                raise
            error = exc
        seconds = time.perf_counter() - start
    return NotebookRun(path, nb, seconds, dict(client.widget_state), error, memory.peak_bytes / 2**20)


def is_progress_line(line: str) -> bool:
    return bool(PROGRESS_LINE.match(line))


def without_progress_bars(text: str) -> str:
    r"""Drop tqdm progress-bar lines (tqdm redraws with \r, so split on both \r and \n)."""
    lines = re.split(r"[\r\n]+", text)
    return "\n".join(line for line in lines if line.strip() and not is_progress_line(line))


def _stderr_texts(outputs) -> list[str]:
    texts = []
    for out in outputs or ():
        if out.get("output_type") == "stream" and out.get("name") == "stderr":
            text = out.get("text", "")
            texts.append("".join(text) if isinstance(text, list) else text)
    return texts


def learner_visible_warnings(nb, widget_state: dict | None = None) -> list[str]:
    """Every warning a learner would see, as ``"cell N: <text>"`` (or ``"widget <id>: ..."``)."""
    found = []
    sources = [(f"cell {i}", cell.get("outputs")) for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    sources += [(f"Output widget {model_id[:8]}", state.get("outputs"))
                for model_id, state in (widget_state or {}).items() if state.get("outputs")]
    for where, outputs in sources:
        for text in _stderr_texts(outputs):
            shown = without_progress_bars(text)
            if WARNING_WORDS.search(shown):
                found.append(f"{where}: {shown.strip()[:500]}")
    return found


def errors_shown(nb) -> list[int]:
    """Indices of code cells whose outputs include an error."""
    return [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
            and any(o.get("output_type") == "error" for o in cell.get("outputs", ()))]


VERDICT_LINE = re.compile(r"^\S* ?(Correct|Not yet|Not answered yet):")


def check_verdicts(cell) -> list[str]:
    """The verdict lines ("Correct: ...", "Not yet: ...", "Not answered yet: ...") an executed cell shows."""
    found = []
    for out in cell.get("outputs", ()):
        kind = out.get("output_type")
        text = (out.get("data", {}).get("text/plain") if kind in ("execute_result", "display_data")
                else out.get("text") if kind == "stream" else None)
        text = "".join(text) if isinstance(text, list) else (text or "")
        found += [line for line in text.splitlines() if VERDICT_LINE.match(line)]
    return found


def spoiled_exercises(nb) -> list[str]:
    """After a Run All, every exercise cell must show "Not answered yet" and nothing else: ``"cell N: ..."`` for
    each that shows no verdict, or another one (a check that ran on a value, or gave the answer away)."""
    problems = []
    for i in exercise_cells(nb):
        verdicts = check_verdicts(nb.cells[i])
        if not verdicts:
            problems.append(f"cell {i}: the check showed no verdict")
        problems += [f"cell {i}: {line[:200]}" for line in verdicts if "Not answered yet:" not in line]
    return problems


def has_tag(cell, tag: str) -> bool:
    return tag in cell.get("metadata", {}).get("tags", ())
