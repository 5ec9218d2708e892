"""What a run without bubblewrap needs beyond the common path: finding what it left behind.

Without bubblewrap there is no PID or IPC namespace that dies with the run. ``tree.BOOT`` is a child
subreaper that dies with the notebook kernel, and ``cgroup.py`` (where the machine has one) holds
every process of the run. On top of that, ``Marker`` puts a random variable in the run's environment
(a random name and value, so an answer cannot tell from a course-named variable that it is being
graded) and, after the run, kills any process that still carries it, and removes the POSIX shared
memory and semaphores (``/dev/shm``) the run created and no live process holds. System V IPC and
POSIX message queues cannot be made at all (``seccomp.py``).
"""
from __future__ import annotations

import os
import secrets
import shutil
import time

SHM = "/dev/shm"


def own_process_count() -> int:
    """How many processes our user runs now (RLIMIT_NPROC counts them all, not only the run's)."""
    import psutil
    uid = os.getuid()
    count = 0
    for proc in psutil.process_iter(["uids"]):
        try:
            count += proc.info["uids"].real == uid
        except (AttributeError, psutil.Error):
            pass
    return count


def _shm_entries() -> dict[str, float]:
    try:
        return {e.name: e.stat().st_ctime for e in os.scandir(SHM) if e.stat().st_uid == os.getuid()}
    except (OSError, AttributeError):
        return {}


def _held_by_live_process(paths: set[str]) -> set[str]:
    """Those of ``paths`` a running process has open or mapped (another program's, not the run's)."""
    held = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    held.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
                except OSError:
                    pass
            with open(f"/proc/{pid}/maps") as maps:
                held.update(line.split(None, 5)[-1].strip() for line in maps if SHM in line)
        except OSError:
            pass
    return {p for p in paths if any(h == p or h.startswith(p + "/") for h in held)}


class Marker:
    """The fallback run's environment marker and the clean-up after the run."""

    def __init__(self):
        self.name, self.value = "X" + secrets.token_hex(6).upper(), secrets.token_hex(16)
        self.env = {self.name: self.value}
        self.started = time.time()
        self.shm_before = _shm_entries() if os.path.isdir(SHM) and hasattr(os, "getuid") else None

    def clean_up(self) -> None:
        import psutil
        for proc in psutil.process_iter():
            try:
                if proc.environ().get(self.name) == self.value:
                    proc.kill()
            except (psutil.Error, OSError):
                pass
        if self.shm_before is None:
            return
        new = {os.path.join(SHM, name) for name, ctime in _shm_entries().items()
               if name not in self.shm_before and ctime >= self.started - 1}
        for path in new - _held_by_live_process(new) if new else ():
            try:
                shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.unlink(path)
            except OSError:
                pass
