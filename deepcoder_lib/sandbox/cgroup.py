"""A memory and process cgroup for one sandboxed run, where this machine lets the course make one.

The watchdog in ``tree.py`` sums the RSS of the run's processes; memory that no RSS shows (a memfd,
shared memory, files on a RAM disk, pipe buffers, inodes, kernel objects) escapes it. A cgroup's
memory counter includes all of that, and the kernel enforces its limit at once (it kills the biggest
process of the run; ``RunResult.memory_exceeded`` then says so). Its process list also finds every
process of the run, even one that killed the run's subreaper and left its session.

Where the cgroup comes from, in order (``probe`` tries them once):
  * cgroup v1 (``/sys/fs/cgroup/memory`` and ``.../pids`` writable, e.g. as root): a child of this
    process's own memory cgroup, so whatever limits this process has still hold;
  * cgroup v2 with a writable, delegated cgroup whose ``cgroup.subtree_control`` enables memory;
  * cgroup v2 through systemd: ``systemd-run --user --scope -p MemoryMax=...`` (an ordinary user's
    desktop session), or ``systemd-run --scope`` as root;
  * none: the watchdog and the rlimits are all there is (the README's isolation table says what then
    goes unseen).
"""
from __future__ import annotations

import functools
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid

PREFIX = "deepcoder-run-"


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _own_paths(pid: int | str = "self") -> dict[str, str]:
    """A process's cgroup per controller ("memory", "pids"; "" for the v2 hierarchy)."""
    paths = {}
    for line in _read(f"/proc/{pid}/cgroup").splitlines():
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            paths[name] = path
    return paths


def _mounts() -> dict[str, str]:
    """Where each cgroup controller is mounted: {"memory": "/sys/fs/cgroup/memory", "": "/sys/fs/cgroup", ...}."""
    found = {}
    for line in _read("/proc/self/mounts").splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        if fields[2] == "cgroup2":
            found.setdefault("", fields[1])
        elif fields[2] == "cgroup":
            for option in fields[3].split(","):
                if option in ("memory", "pids"):
                    found.setdefault(option, fields[1])
    return found


def _owner_alive(name: str) -> bool:
    try:
        return os.path.exists(f"/proc/{int(name[len(PREFIX):].split('-')[0])}")
    except ValueError:
        return True


def _kill_procs(dirs: list[str]) -> None:
    """SIGKILL every process in these cgroups until none is left (a killed process forks no more)."""
    for _ in range(200):
        pids = {int(p) for d in dirs for p in _read(os.path.join(d, "cgroup.procs")).split()}
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.005)


def _remove(dirs: list[str]) -> None:
    for d in dirs:
        for _ in range(100):  # rmdir fails while a killed process is not yet reaped
            try:
                os.rmdir(d)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.01)


def _sweep(parents: list[str]) -> None:
    """Kill and remove the cgroups of runs whose notebook kernel died (their runs outlived it)."""
    for parent in parents:
        try:
            names = [n for n in os.listdir(parent) if n.startswith(PREFIX)]
        except OSError:
            continue
        stale = [os.path.join(parent, n) for n in names if not _owner_alive(n)]
        _kill_procs(stale)
        _remove(stale)


def _parents() -> tuple[str, list[str]] | None:
    """("v1" | "v2", the folders to create a run's cgroups in), or None where none is writable."""
    own, mounts = _own_paths(), _mounts()
    if "memory" in mounts and "memory" in own:
        parents = [mounts["memory"] + own["memory"].rstrip("/")]
        if "pids" in mounts and "pids" in own:
            parents.append(mounts["pids"] + own["pids"].rstrip("/"))
        if all(os.access(p, os.W_OK) for p in parents):
            return "v1", parents
    if "" in mounts and "" in own:
        parent = mounts[""] + own[""].rstrip("/")
        if os.access(parent, os.W_OK) and "memory" in _read(os.path.join(parent, "cgroup.subtree_control")).split():
            return "v2", [parent]
    return None


@functools.lru_cache(maxsize=1)
def probe() -> tuple[str | None, str]:
    """("v1" | "v2" | "systemd" | None, a line for people): how runs get a memory cgroup here, tried once."""
    if sys.platform != "linux":
        return None, f"no cgroups on {sys.platform}"
    found = _parents()
    if found:
        kind, parents = found
        test = os.path.join(parents[0], f"{PREFIX}{os.getpid()}-probe")
        try:
            os.mkdir(test)
            os.rmdir(test)
            return kind, f"a cgroup {kind} memory limit per run (under {parents[0]})"
        except OSError as error:
            why = f"cannot create a cgroup under {parents[0]}: {error}"
    else:
        why = "no writable cgroup with the memory controller"
    exe = shutil.which("systemd-run")
    if exe:
        try:
            ok = subprocess.run(_systemd_prefix(exe, 64 << 20, 16) + ["true"], capture_output=True,
                                timeout=10).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        if ok:
            return "systemd", "a cgroup v2 memory limit per run (systemd-run --scope)"
        why += "; systemd-run --scope failed"
    return None, why


def _systemd_prefix(exe: str, memory: int, tasks: int) -> list[str]:
    user = ["--user"] if os.getuid() != 0 else []
    return [exe, *user, "--scope", "--quiet", "--collect", "-p", f"MemoryMax={memory}", "-p", "MemorySwapMax=0",
            "-p", f"TasksMax={tasks}", "--"]


class RunCgroup:
    """The cgroup(s) of one run: ``wrap`` its command, then read ``oom_killed``, ``kill`` and ``remove`` it."""

    def __init__(self, kind: str, dirs: list[str], memory: int, tasks: int, counts_processes: bool = True):
        self.kind, self.dirs, self.memory, self.tasks = kind, dirs, memory, tasks
        # True when this cgroup caps the run's processes (pids.max, or systemd's TasksMax): then the per-user
        # RLIMIT_NPROC, which every concurrent run as the same user shares, need not be the cap
        self.counts_processes = counts_processes

    @classmethod
    def create(cls, memory_mb: int, max_processes: int) -> RunCgroup | None:
        """A new cgroup limited to ``memory_mb`` (swap included) and ``max_processes`` + 4 tasks, or None."""
        kind, _ = probe()
        memory, tasks = memory_mb << 20, max_processes + 4  # + bwrap, its init, the boot process, a shell
        if kind == "systemd":
            return cls(kind, [], memory, tasks)
        found = _parents() if kind else None
        if not found:
            return None
        _sweep(found[1])
        name = f"{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
        dirs = [os.path.join(parent, name) for parent in found[1]]
        try:
            for d in dirs:
                os.mkdir(d)
            if kind == "v1":
                cls._write(dirs[0], "memory.limit_in_bytes", memory)
                cls._write(dirs[0], "memory.memsw.limit_in_bytes", memory, required=False)  # no swap either
                counts = len(dirs) > 1
                if counts:
                    cls._write(dirs[1], "pids.max", tasks)
            else:
                cls._write(dirs[0], "memory.max", memory)
                cls._write(dirs[0], "memory.swap.max", 0, required=False)
                cls._write(dirs[0], "memory.oom.group", 1, required=False)  # an OOM kills the whole run
                counts = os.path.exists(os.path.join(dirs[0], "pids.max"))
                cls._write(dirs[0], "pids.max", tasks, required=False)
        except OSError:
            _remove(dirs)
            return None
        return cls(kind, dirs, memory, tasks, counts)

    @staticmethod
    def _write(folder: str, name: str, value, required: bool = True) -> None:
        try:
            with open(os.path.join(folder, name), "w") as f:
                f.write(str(value))
        except OSError:
            if required:
                raise

    def wrap(self, command: list[str]) -> list[str]:
        """``command``, started inside the cgroup before its first instruction runs."""
        if self.kind == "systemd":
            return _systemd_prefix(shutil.which("systemd-run"), self.memory, self.tasks) + command
        moves = " && ".join(f"echo $$ > {shlex.quote(os.path.join(d, 'cgroup.procs'))}" for d in self.dirs)
        return ["/bin/sh", "-c", moves + ' && exec "$@"', "sh", *command]

    def attach(self, pid: int) -> None:
        """After the start: find the scope systemd made (it moves ``pid`` into it before exec)."""
        if self.kind != "systemd":
            return
        for _ in range(200):
            path = _own_paths(pid).get("", "")
            if path.endswith(".scope") and "run-" in path:
                self.dirs = [_mounts().get("", "/sys/fs/cgroup") + path]
                return
            time.sleep(0.005)

    def oom_killed(self) -> bool:
        """Did the kernel kill a process of the run for passing the memory limit?"""
        if not self.dirs:
            return False
        text = _read(os.path.join(self.dirs[0], "memory.oom_control" if self.kind == "v1" else "memory.events"))
        counts = dict(line.split() for line in text.splitlines() if len(line.split()) == 2)
        return int(counts.get("oom_kill", 0)) > 0 or int(counts.get("oom_group_kill", 0)) > 0

    def peak_mb(self) -> float:
        """The most memory the run held at once (all of it, not only RSS), in MiB; 0 where unknown."""
        name = "memory.max_usage_in_bytes" if self.kind == "v1" else "memory.peak"
        value = _read(os.path.join(self.dirs[0], name)).strip() if self.dirs else ""
        return int(value) / 2**20 if value.isdigit() else 0.0

    def kill(self) -> None:
        if self.dirs and os.path.exists(os.path.join(self.dirs[0], "cgroup.kill")):
            self._write(self.dirs[0], "cgroup.kill", 1, required=False)
        _kill_procs(self.dirs)

    def remove(self) -> None:
        self.kill()
        if self.kind != "systemd":  # systemd removes a --collect scope once it is empty
            _remove(self.dirs)

