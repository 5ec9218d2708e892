"""Run model-written Python in a separate, limited process: never in the notebook's kernel.

``extract_code`` pulls the code out of a model's answer; ``run_code`` runs it and returns a
``RunResult``. ``webcheck.py`` builds the Flask/HTML checks on top, ``evaluation.py`` the task suite.

What a run gets (``sandbox_level == "bwrap"``, Linux with bubblewrap installed):
  * new network, PID, IPC and UTS namespaces: no network at all (not even the host's loopback),
    and when the run ends every process it started dies with its namespace;
  * a read-only view of the system; home folders, /root, /tmp and /var/tmp replaced by empty
    folders (only the Python installation is mapped back), a fresh /proc and /dev;
  * a size-limited scratch folder (``/tmp/sandbox``, in RAM, ``disk_mb``) as the working directory;
  * as root: the code runs as user ``nobody`` with no capabilities;
  * resource limits: CPU seconds, address space (``memory_mb``), processes, file size, open files;
  * a minimal environment, a wall-clock ``timeout`` after which the whole session is SIGKILLed,
    and captured output capped at ``max_output`` characters.
Without bubblewrap (macOS, Windows, locked-down Linux) ``run_code`` falls back openly
(``sandbox_level == "fallback"``, ``warning`` says so): same limits, timeout, scratch folder and
clean-up, but NO network isolation and the code can read and write whatever your user can.
What it never protects against: kernel exploits, a CPU-hungry run slowing the rest of the machine
until its timeout, and bugs in bubblewrap itself. Treat it as a seat belt, not a vault.
"""
from __future__ import annotations

import ast
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

NOBODY = 65534
_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:^[ \t]*```|\Z)", re.S | re.M)
_ALIASES = {"python": {"python", "py", "python3", "py3"}, "html": {"html", "htm"},
            "javascript": {"javascript", "js"}}
_CODE_START = re.compile(r"^(def |class |import |from \S+ import |@\w|async def |if __name__|[A-Za-z_]\w* = )")
_SIGNALS = {signal.SIGKILL: "killed (SIGKILL): memory, CPU or process limit, or the timeout",
            signal.SIGXCPU: "killed (SIGXCPU): CPU-time limit", signal.SIGXFSZ: "killed (SIGXFSZ): file-size limit",
            signal.SIGSEGV: "crashed (SIGSEGV)"}


from .extract import extract_code  # re-exported


def _parses(source: str) -> bool:
    try:
        ast.parse(source)
        return True
    except (SyntaxError, ValueError):
        return False


@dataclass
class RunResult:
    """What happened when code ran: ``ok`` means exit status 0, in time, output not cut."""
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool = False
    output_truncated: bool = False
    duration: float = 0.0
    sandbox_level: str = "bwrap"  # "bwrap" (namespaces + limits) or "fallback" (limits only)
    warning: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out and not self.output_truncated

    @property
    def verdict(self) -> str:
        if self.timed_out:
            return "timed out: killed after the time limit"
        if self.output_truncated:
            return "too much output: killed at the output limit"
        if self.returncode == 0:
            return "ok"
        if self.returncode is not None and self.returncode < 0:
            return _SIGNALS.get(-self.returncode, f"killed by signal {-self.returncode}")
        last = self.stderr.strip().splitlines()[-1:] or [""]
        return f"exit status {self.returncode}: {last[0]}".rstrip(": ")

    def __str__(self) -> str:
        return f"RunResult({self.verdict}, {self.duration:.2f} s, sandbox={self.sandbox_level})"


@functools.lru_cache(maxsize=1)
def bwrap_available() -> bool:
    """Is bubblewrap installed AND allowed to create namespaces here? (checked once, by trying)"""
    exe = shutil.which("bwrap")
    if exe is None or sys.platform != "linux":
        return False
    try:
        probe = subprocess.run([exe, "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "--", "true"],
                               capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


# Runs inside the sandbox as the first process: copy inputs, set limits, drop root, exec the code.
_BOOT = r"""
import json, os, resource, shutil, sys
cfg = json.loads(sys.argv[1])
if cfg["copy_from"]:
    shutil.copytree(cfg["copy_from"], cfg["work"], dirs_exist_ok=True)
    os.chmod(cfg["work"], 0o777)
os.chdir(cfg["work"])
for name, (soft, hard) in cfg["limits"].items():
    resource.setrlimit(getattr(resource, name), (soft, hard))
if os.getuid() == 0 and cfg["uid"] is not None:
    os.setgroups([]); os.setgid(cfg["uid"]); os.setuid(cfg["uid"])
os.execv(cfg["python"], [cfg["python"], "-B", "main.py", *cfg["args"]])
"""


def _hidden_dirs() -> list[str]:
    home = os.path.realpath(os.path.expanduser("~"))
    dirs = {home, "/root", "/home", "/tmp", "/var/tmp", "/run/user"}
    return sorted(d for d in dirs if d != "/" and os.path.isdir(d))


def _bwrap_command(scratch: str, disk_mb: int) -> list[str]:
    size = str(disk_mb * 1024 * 1024)
    args = [shutil.which("bwrap"), "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev"]
    hidden = _hidden_dirs()
    for d in hidden:
        args += ["--perms", "1777", "--size", size, "--tmpfs", d] if d == "/tmp" else ["--tmpfs", d]
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
    args += ["--ro-bind", scratch, "/tmp/.input", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
             "--die-with-parent", "--new-session", "--chdir", "/tmp"]
    if os.getuid() == 0:
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]  # only to become nobody, then dropped
    return args + ["--"]


def _own_process_count() -> int:
    import psutil
    uid = os.getuid()
    count = 0
    for proc in psutil.process_iter(["uids"]):
        try:
            count += proc.info["uids"].real == uid
        except (AttributeError, psutil.Error):
            pass
    return count


def _kill_leftovers(token: str) -> None:
    """Kill any process still carrying this run's marker in its environment (fallback clean-up)."""
    import psutil
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("DEEPCODER_RUN") == token:
                proc.kill()
        except (psutil.Error, OSError):
            pass


def _check_positive(name: str, value, hint: str) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"`{name}` must be a positive number, got {value!r}; {hint}")


def run_code(code: str, *, timeout: float = 10.0, memory_mb: int = 512, max_processes: int = 32,
             disk_mb: int = 32, max_output: int = 100_000, files: dict[str, str] | None = None,
             args: tuple[str, ...] = (), stdin: str = "", isolation: str = "auto") -> RunResult:
    """Run ``code`` as ``main.py`` in a fresh scratch folder, isolated as the module docstring says.

    ``files`` adds more files next to it (name -> text). ``isolation``: "auto" (bubblewrap if it
    works here, else the fallback), "bwrap" (refuse to run without it) or "fallback".
    Every run ends within ``timeout`` plus about a second, and leaves no process or file behind.
    """
    if not isinstance(code, str):
        raise ValueError(f"`code` must be a str of Python source, got {type(code).__name__}")
    _check_positive("timeout", timeout, "e.g. timeout=5.0 seconds")
    for name, value in (("memory_mb", memory_mb), ("max_processes", max_processes), ("disk_mb", disk_mb),
                        ("max_output", max_output)):
        _check_positive(name, value, "the limits are whole numbers such as 512")
    if isolation not in ("auto", "bwrap", "fallback"):
        raise ValueError(f"`isolation` must be 'auto', 'bwrap' or 'fallback', got {isolation!r}")
    use_bwrap = isolation != "fallback" and bwrap_available()
    if isolation == "bwrap" and not use_bwrap:
        raise RuntimeError("bubblewrap is not available here: install it (Debian/Ubuntu: apt-get install bubblewrap) "
                           "or pass isolation='fallback' to run with resource limits only")
    scratch = tempfile.mkdtemp(prefix="deepcoder-run-")
    token = uuid.uuid4().hex
    try:
        for name, text in {**(files or {}), "main.py": code}.items():
            if Path(name).is_absolute() or ".." in Path(name).parts:
                raise ValueError(f"`files` names must be relative, got {name!r}")
            (Path(scratch) / name).parent.mkdir(parents=True, exist_ok=True)
            (Path(scratch) / name).write_text(text, encoding="utf-8")
        nproc = max_processes if (use_bwrap and os.getuid() == 0) else _own_process_count() + max_processes
        cpu = int(timeout) + 1
        limits = {"RLIMIT_CPU": (cpu, cpu + 1), "RLIMIT_AS": (memory_mb << 20,) * 2,
                  "RLIMIT_NPROC": (nproc,) * 2, "RLIMIT_FSIZE": (disk_mb << 20,) * 2,
                  "RLIMIT_NOFILE": (64, 64), "RLIMIT_CORE": (0, 0)}
        cfg = {"copy_from": "/tmp/.input" if use_bwrap else None, "work": "/tmp/sandbox" if use_bwrap else scratch,
               "limits": limits, "uid": NOBODY if use_bwrap else None, "python": sys.executable, "args": list(args)}
        env = {"PATH": f"{os.path.dirname(sys.executable)}:/usr/bin:/bin", "LANG": "C.UTF-8",
               "HOME": cfg["work"], "TMPDIR": "/tmp" if use_bwrap else scratch, "PYTHONIOENCODING": "utf-8",
               "MPLBACKEND": "Agg", "DEEPCODER_RUN": token}
        prefix = _bwrap_command(scratch, disk_mb) if use_bwrap else []
        command = prefix + [sys.executable, "-c", _BOOT, json.dumps(cfg)]
        result = _supervise(command, env, scratch, timeout, max_output, stdin)
    finally:
        _kill_leftovers(token)
        shutil.rmtree(scratch, ignore_errors=True)
    result.sandbox_level = "bwrap" if use_bwrap else "fallback"
    if not use_bwrap:
        result.warning = ("bubblewrap is not available: the code ran with resource limits and a timeout only, "
                          "WITH network access and your user's access to your files")
    return result


def _supervise(command, env, cwd, timeout, max_output, stdin) -> RunResult:
    start = time.monotonic()
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=cwd, env=env, start_new_session=True)
    captured = {"stdout": bytearray(), "stderr": bytearray()}
    too_much = threading.Event()

    def kill():
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the whole session; bwrap's PID namespace takes the rest
        except ProcessLookupError:
            pass

    def drain(stream, buffer):
        while chunk := stream.read1(65536):
            room = max_output - len(buffer)
            buffer += chunk[:max(room, 0)]
            if len(chunk) > room:
                too_much.set()
                kill()

    readers = [threading.Thread(target=drain, args=(getattr(proc, n), captured[n]), daemon=True) for n in captured]
    for reader in readers:
        reader.start()

    def feed():  # in a thread: a child that never reads stdin must not block us
        try:
            proc.stdin.write(stdin.encode())
            proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass

    readers.append(threading.Thread(target=feed, daemon=True))
    readers[-1].start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = not too_much.is_set()
    kill()
    proc.wait()
    for reader in readers:
        reader.join(timeout=1.0)  # a grandchild holding the pipe open must not hang us
    returncode = proc.returncode
    if returncode is not None and returncode > 128 and command[0].endswith("bwrap"):
        returncode = -(returncode - 128)  # bwrap reports a child killed by signal N as 128 + N
    return RunResult(returncode=None if timed_out else returncode,
                     stdout=captured["stdout"].decode("utf-8", "replace"),
                     stderr=captured["stderr"].decode("utf-8", "replace"),
                     timed_out=timed_out, output_truncated=too_much.is_set(),
                     duration=time.monotonic() - start)
