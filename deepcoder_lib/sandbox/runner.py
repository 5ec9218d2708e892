"""Run model-written Python in a separate, limited process: never in the notebook's kernel.

``run_code`` runs model-written code and returns a
``RunResult``. ``webcheck.py`` builds the Flask/HTML checks on top, ``evaluation.py`` the task suite.
``bwrap.py`` builds the bubblewrap command, ``tree.py`` starts, watches and kills the run's
process tree.

Every run, everywhere: a fresh scratch folder as working directory, a minimal environment (no
course-named variable an answer could test for), stdin fed and output captured up to ``max_output``
characters, a wall-clock ``timeout``, and a psutil watchdog that kills the whole process tree when
its summed RSS passes ``memory_mb`` or it holds more than ``max_processes`` processes (it looks every
50 ms, so a run can overshoot briefly). Where the machine gives one (``cgroup.py``), a memory and
pids cgroup per run makes ``memory_mb`` cap ALL the memory the run holds (RAM folders, pipe buffers,
inodes, kernel objects) at once and finds every process. On Linux x86_64/aarch64 the seccomp filter
of ``seccomp.py`` allows only the CPU's native system calls and refuses nested user namespaces,
memfds, System V and POSIX message-queue IPC, 1 MB pipes, keys and ptrace. When the run ends, every
process it started is killed and the scratch folder removed.

With bubblewrap (``sandbox_level == "bwrap"``, Linux where bubblewrap can create namespaces):
  * new network, PID, IPC and UTS namespaces: no network at all (not even the host's loopback),
    and when the run ends (or the notebook kernel dies) every process it started dies with them;
  * a read-only view of the system, ``/dev`` included; home folders, /root, /tmp, /var/tmp and /run
    (so no Docker or D-Bus socket) replaced by empty RAM folders of at most ``disk_mb`` each, as is a
    private, writable /dev/shm (``multiprocessing`` works); only the Python installation is mapped
    back; ``/proc/keys`` masked; a new terminal session;
  * as root: the code runs as user ``nobody`` with no capabilities;
  * rlimits: CPU seconds, address space (``memory_mb``), processes, file size, open files.
  Still visible: folders outside the home folders (a course or data folder there, read-only) and,
  in ``/proc/self/mountinfo``, the paths of the folders mounted over.
Without it (``sandbox_level == "fallback"``) the code runs as YOU: with network access and your
user's access to your files. ``run_code`` then warns (a ``SandboxWarning`` and ``RunResult.warning``).
On Linux the rlimits and the seccomp filter still apply, and the run's first process is a child
subreaper that dies with the kernel and kills every descendant, even a double-forked daemon
(``fallback.py`` cleans up what is left: marked processes, POSIX shared memory). Without a cgroup,
code that kills the subreaper first can leave a daemon behind. On macOS the address-space limit is
not enforced by the kernel and on Windows there are no rlimits at all: memory and processes are
limited by the watchdog only, and a process that leaves the tree (a double fork) and clears its
environment can outlive the run. What it never protects against: kernel exploits, a CPU-hungry run
slowing the rest of the machine until its timeout, bugs in bubblewrap itself and, without a cgroup,
memory no RSS shows and spikes shorter than the watchdog's 50 ms. Treat it as a seat belt, not a vault.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

from ..checks import positive_int, positive_number
from . import bwrap, cgroup, fallback, seccomp, tree

NOBODY = 65534
SHARED_NPROC = 4096  # user nobody's RLIMIT_NPROC where a cgroup caps each run's own processes
_SIGNALS = {getattr(signal, name): text for name, text in (
    ("SIGKILL", "killed (SIGKILL): memory, CPU or process limit, or the timeout"),
    ("SIGXCPU", "killed (SIGXCPU): CPU-time limit"), ("SIGXFSZ", "killed (SIGXFSZ): file-size limit"),
    ("SIGSEGV", "crashed (SIGSEGV)")) if hasattr(signal, name)}
ISOLATIONS = ("auto", "bwrap", "fallback")


class SandboxWarning(UserWarning):
    """Model-written code ran with less isolation than bubblewrap gives (see the module docstring)."""



@dataclass
class RunResult:
    """What happened when code ran: ``ok`` means exit status 0, in time, within every limit."""
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool = False
    output_truncated: bool = False
    duration: float = 0.0
    sandbox_level: str = "bwrap"  # "bwrap" (namespaces + limits) or "fallback" (limits only)
    warning: str = ""
    memory_exceeded: bool = False  # the watchdog killed the tree: its RSS summed over memory_mb
    processes_exceeded: bool = False  # the watchdog killed the tree: more than max_processes

    @property
    def ok(self) -> bool:
        return (self.returncode == 0 and not self.timed_out and not self.output_truncated
                and not self.memory_exceeded and not self.processes_exceeded)

    @property
    def verdict(self) -> str:
        if self.timed_out:
            return "timed out: killed after the time limit"
        if self.output_truncated:
            return "too much output: killed at the output limit"
        if self.memory_exceeded:
            return "killed: the run held more than memory_mb (its processes' RSS, or all its memory in a cgroup)"
        if self.processes_exceeded:
            return "killed: it started more than max_processes processes"
        if self.returncode == 0:
            return "ok"
        if self.returncode is not None and self.returncode < 0:
            return _SIGNALS.get(-self.returncode, f"killed by signal {-self.returncode}")
        last = self.stderr.strip().splitlines()[-1:] or [""]
        return f"exit status {self.returncode}: {last[0]}".rstrip(": ")

    def __str__(self) -> str:
        return f"RunResult({self.verdict}, {self.duration:.2f} s, sandbox={self.sandbox_level})"


def bwrap_available() -> bool:
    """Is bubblewrap installed AND allowed to create namespaces here? (checked once, by trying)"""
    return bwrap.probe()[0]


def isolation_status() -> tuple[str, str]:
    """("bwrap" | "fallback", one line for people): what ``run_code`` gives on this machine, and the fix."""
    ok, why = bwrap.probe()
    kind, memory = cgroup.probe()
    memory = (f"; memory: {memory}" if kind else
              f"; memory: only the processes' RSS is watched ({memory}): RAM disks, pipes and kernel memory are not")
    if ok:
        gap = "" if seccomp.program() is not None or bwrap.version() >= (0, 8, 0) else \
            " (nested user namespaces are NOT blocked on this CPU with this bubblewrap: upgrade to >= 0.8)"
        return "bwrap", (f"{why}: model-written code runs without network, your home folder or your keys{gap}; "
                         "it can still read folders outside your home (a course or data folder there) and see "
                         f"their paths in /proc/self/mountinfo{memory}")
    if sys.platform == "linux" and "cannot create its namespaces" in why:
        fix = ("allow unprivileged user namespaces for bwrap (Ubuntu 24.04: an AppArmor profile for "
               "/usr/bin/bwrap, or `sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0`)")
    elif sys.platform == "linux":
        fix = "install bubblewrap (Debian/Ubuntu: sudo apt-get install bubblewrap)"
    else:
        fix = "use WSL2 (Windows) or a Linux machine with bubblewrap for isolation"
    return "fallback", f"{why}: {_missing()}{memory if sys.platform == 'linux' else ''}; fix: {fix}"


def _missing() -> str:
    what = "model-written code runs as you, WITH network access and your files"
    if sys.platform == "darwin":
        return what + "; memory is only watched (macOS does not enforce RLIMIT_AS)"
    if os.name == "nt":
        return what + "; memory and processes are only watched (Windows has no rlimits)"
    return what


def run_code(code: str, *, timeout: float = 10.0, memory_mb: int = 512, max_processes: int = 32,
             disk_mb: int = 32, max_output: int = 100_000, files: dict[str, str] | None = None,
             args: tuple[str, ...] = (), stdin: str = "", isolation: str | None = None, pass_fds: tuple[int, ...] = (),
             stop: threading.Event | None = None) -> RunResult:
    """Run ``code`` as ``main.py`` in a fresh scratch folder, isolated as the module docstring says.

    ``pass_fds`` hands the run open file descriptors (``webcheck`` gives an app its listening socket
    this way); setting ``stop`` ends the run early, as a timeout would but reported as not timed out.

    ``files`` adds more files next to it (name -> text). ``isolation``: "auto" (bubblewrap if it
    works here, else the fallback, with a ``SandboxWarning``), "bwrap" (refuse to run without it)
    or "fallback"; None reads the environment variable DEEPCODER_SANDBOX (default "auto").
    Every run ends within ``timeout`` plus about a second, and leaves no process or file behind.
    """
    if not isinstance(code, str):
        raise ValueError(f"`code` must be a str of Python source, got {type(code).__name__}")
    positive_number(timeout, "timeout", "e.g. timeout=5.0 seconds")
    for name, value in (("memory_mb", memory_mb), ("max_processes", max_processes), ("disk_mb", disk_mb),
                        ("max_output", max_output)):
        positive_int(value, name, "the limits are whole numbers such as 512")
    if isolation is None:
        isolation = os.environ.get("DEEPCODER_SANDBOX", "auto") or "auto"
        if isolation not in ISOLATIONS:
            raise ValueError(f"the environment variable DEEPCODER_SANDBOX must be 'auto', 'bwrap' or 'fallback', "
                             f"got {isolation!r}; unset it for 'auto'")
    if isolation not in ISOLATIONS:
        raise ValueError(f"`isolation` must be 'auto', 'bwrap' or 'fallback', got {isolation!r}")
    use_bwrap = isolation != "fallback" and bwrap_available()
    if isolation == "bwrap" and not use_bwrap:
        raise RuntimeError(f"{bwrap.probe()[1]}: install it (Debian/Ubuntu: apt-get install bubblewrap) "
                           "or pass isolation='fallback' to run with resource limits only")
    root = hasattr(os, "getuid") and os.getuid() == 0
    scratch = tempfile.mkdtemp(prefix="deepcoder-run-")
    seccomp_fd, run_cgroup, marker = None, None, fallback.Marker() if not use_bwrap else None
    program = seccomp.program()
    try:
        for name, text in {**(files or {}), "main.py": code}.items():
            if Path(name).is_absolute() or ".." in Path(name).parts:
                raise ValueError(f"`files` names must be relative, got {name!r}")
            (Path(scratch) / name).parent.mkdir(parents=True, exist_ok=True)
            (Path(scratch) / name).write_text(text, encoding="utf-8")
        run_cgroup = cgroup.RunCgroup.create(memory_mb, max_processes)
        nproc = max_processes if (use_bwrap and root) or not hasattr(os, "getuid") else \
            fallback.own_process_count() + max_processes
        if use_bwrap and root and run_cgroup is not None and run_cgroup.counts_processes:
            # every run as root becomes user nobody, and RLIMIT_NPROC counts all of nobody's processes: concurrent
            # runs (a class, a test suite) would fail each other with EAGAIN. The cgroup caps this run's processes.
            nproc = SHARED_NPROC
        cpu = int(timeout) + 1
        limits = {"RLIMIT_CPU": (cpu, cpu + 1), "RLIMIT_AS": (memory_mb << 20,) * 2,
                  "RLIMIT_NPROC": (nproc,) * 2, "RLIMIT_FSIZE": (disk_mb << 20,) * 2,
                  "RLIMIT_NOFILE": (64, 64), "RLIMIT_CORE": (0, 0)}
        cfg = {"copy_from": "/tmp/.input" if use_bwrap else None, "work": "/tmp/sandbox" if use_bwrap else scratch,
               "limits": limits, "uid": NOBODY if use_bwrap else None, "python": sys.executable, "args": list(args),
               "seccomp": program.hex() if program is not None and not use_bwrap else None,
               "reaper": not use_bwrap and sys.platform == "linux"}
        env = {"PATH": os.pathsep.join([os.path.dirname(sys.executable), "/usr/bin", "/bin"]), "LANG": "C.UTF-8",
               "HOME": cfg["work"], "TMPDIR": "/tmp" if use_bwrap else scratch, "PYTHONIOENCODING": "utf-8",
               "MPLBACKEND": "Agg", **(marker.env if marker else {})}
        if os.name == "nt":  # Python on Windows does not start without SYSTEMROOT
            env.update({k: os.environ[k] for k in ("SYSTEMROOT", "WINDIR") if k in os.environ},
                       TEMP=scratch, TMP=scratch)
        prefix = []
        if use_bwrap:
            if program is not None:  # bwrap reads the filter from a file descriptor: a pipe (< 64 KiB)
                seccomp_fd, write_end = os.pipe()
                os.write(write_end, program)
                os.close(write_end)
            prefix = bwrap.bwrap_command(scratch, disk_mb, seccomp_fd)
        command = prefix + [sys.executable, "-c", tree.BOOT, json.dumps(cfg)]
        if run_cgroup is not None:
            command = run_cgroup.wrap(command)
        fields = tree.supervise(command, env, scratch, timeout, max_output, stdin, memory_mb, max_processes,
                                pass_fds=tuple(pass_fds) + (() if seccomp_fd is None else (seccomp_fd,)),
                                cgroup=run_cgroup, bwrap=use_bwrap, stop=stop)
    finally:
        if seccomp_fd is not None:
            os.close(seccomp_fd)
        if run_cgroup is not None:
            run_cgroup.remove()
        if marker is not None:
            marker.clean_up()
        shutil.rmtree(scratch, ignore_errors=True)
    result = RunResult(**fields, sandbox_level="bwrap" if use_bwrap else "fallback")
    if not use_bwrap:
        ok, why = bwrap.probe()
        why = "isolation='fallback' was asked for" if ok else why
        result.warning = f"bubblewrap is not available ({why}): {_missing()}"
        warnings.warn(result.warning, SandboxWarning, stacklevel=2)
    return result
