"""Every deepcoder_lib module imports without the POSIX-only names Windows lacks.

A fresh interpreter first imports the third-party libraries (their Windows builds take their own
paths), then deletes the POSIX-only names from ``os`` and ``signal``, blocks the POSIX-only
modules, and imports each deepcoder_lib module: a bare ``signal.SIGKILL`` or ``import resource`` at
import time in our code fails this test.
"""
import pkgutil
import subprocess
import sys
from pathlib import Path

import deepcoder_lib

POSIX_OS = ["fork", "forkpty", "killpg", "setsid", "getsid", "setpgid", "getpgid", "getuid", "geteuid", "getgid",
            "setuid", "setgid", "setgroups", "getgroups", "wait", "wait3", "wait4", "WIFSIGNALED", "WTERMSIG",
            "WNOHANG", "sched_getaffinity", "getloadavg", "sysconf", "pipe2", "mkfifo", "chown", "lchown"]
POSIX_SIGNAL = ["SIGKILL", "SIGXCPU", "SIGXFSZ", "SIGHUP", "SIGSTOP", "SIGCONT", "SIGCHLD", "SIGALRM", "SIGUSR1",
                "SIGUSR2", "SIGPIPE", "SIGQUIT", "alarm", "setitimer", "getitimer", "pthread_kill", "siginterrupt"]
POSIX_MODULES = ["resource", "fcntl", "pwd", "grp", "termios", "tty", "pty", "posix_ipc", "syslog", "crypt"]
THIRD_PARTY = ["numpy", "torch", "transformers", "accelerate", "peft", "safetensors", "matplotlib", "matplotlib.pyplot",
               "ipywidgets", "IPython", "flask", "psutil", "tqdm", "huggingface_hub", "tokenizers", "gguf"]

SCRIPT = r"""
import importlib, os, signal, sys
for name in THIRD_PARTY:
    try:
        importlib.import_module(name)
    except ImportError:
        pass
for name in POSIX_OS:
    if hasattr(os, name):
        delattr(os, name)
for name in POSIX_SIGNAL:
    if hasattr(signal, name):
        delattr(signal, name)
for name in POSIX_MODULES:
    sys.modules[name] = None  # `import name` now raises ImportError, as on Windows
failed = []
for module in MODULES:
    try:
        importlib.import_module(module)
    except Exception as error:
        failed.append(f"{module}: {type(error).__name__}: {error}")
print("\n".join(failed) or "ALL IMPORTED")
"""


def test_every_module_imports_without_posix_names():
    folder = Path(deepcoder_lib.__file__).parent
    modules = ["deepcoder_lib"] + [f"deepcoder_lib.{m.name}" for m in pkgutil.walk_packages([str(folder)])
                                   if not m.name.startswith("_")]
    modules += [f"deepcoder_lib.exercises.{m.name}" for m in pkgutil.iter_modules([str(folder / "exercises")])]
    assert "deepcoder_lib.sandbox" in modules and "deepcoder_lib.evaluation" in modules
    script = (f"THIRD_PARTY = {THIRD_PARTY!r}\nPOSIX_OS = {POSIX_OS!r}\nPOSIX_SIGNAL = {POSIX_SIGNAL!r}\n"
              f"POSIX_MODULES = {POSIX_MODULES!r}\nMODULES = {modules!r}\n" + SCRIPT)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=240,
                         cwd=folder.parent)
    assert run.stdout.strip() == "ALL IMPORTED", run.stdout + run.stderr[-2000:]


def test_the_package_lists_exactly_its_modules_and_each_loads_by_name():
    """``deepcoder_lib.__all__`` names every module and subpackage, and nothing else (``from deepcoder_lib import *``
    and ``deepcoder_lib.<name>`` load each on first use)."""
    found = {info.name for info in pkgutil.iter_modules(deepcoder_lib.__path__) if not info.name.startswith("_")}
    assert sorted(deepcoder_lib.__all__) == sorted(found)
    for name in deepcoder_lib.__all__:
        assert getattr(deepcoder_lib, name).__name__ == f"deepcoder_lib.{name}"
