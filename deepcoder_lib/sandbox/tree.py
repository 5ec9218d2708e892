"""Start, watch and kill one sandboxed run's whole process tree, on Linux, macOS and Windows.

``runner.run_code`` decides *what* to run (inside bubblewrap or not); this module runs it:
``BOOT`` is the first Python process of every run (copy inputs, rlimits where the OS has them, the
seccomp filter where bubblewrap did not install it, drop root, then run ``main.py`` as its child
and, on Linux without bubblewrap, stay behind as a child subreaper that kills every descendant left
when ``main.py`` ends, even a double-forked ``setsid`` daemon, and when the notebook kernel dies).
``supervise`` feeds stdin, caps output, enforces the wall-clock timeout and runs a psutil watchdog
that sums the RSS and counts the processes of the whole tree, so that six forked children cannot
hold six times ``memory_mb``, and where rlimits are missing (Windows) or not enforced (macOS
``RLIMIT_AS``) memory is still watched; where the run has a cgroup (``cgroup.py``) it also stops
the run at the kernel's first out-of-memory kill and kills every process the cgroup holds. Every
platform-specific name sits behind a check, so this module imports everywhere.
"""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import psutil

from . import seccomp

POLL_S = 0.05  # how often the watchdog looks at the tree; a run can overshoot its memory for this long

# Runs as the run's first Python process: inputs, limits, seccomp (without bwrap), user, then main.py as a child.
BOOT = r"""
import json, os, shutil, sys
""" + seccomp.INSTALL + r"""
cfg = json.loads(sys.argv[1])
if cfg["copy_from"]:
    shutil.copytree(cfg["copy_from"], cfg["work"], dirs_exist_ok=True)
    os.chmod(cfg["work"], 0o777)
os.chdir(cfg["work"])
try:
    import resource
except ImportError:  # Windows: the parent's watchdog is the only limit
    resource = None
for name, (soft, hard) in cfg["limits"].items():
    if resource is not None and hasattr(resource, name):
        try:
            resource.setrlimit(getattr(resource, name), (soft, hard))
        except (ValueError, OSError):
            pass  # macOS refuses some values; the watchdog still counts memory and processes
if cfg["seccomp"]:  # without bubblewrap, the run installs the filter of seccomp.py itself
    install_seccomp(bytes.fromhex(cfg["seccomp"]))
if hasattr(os, "getuid") and os.getuid() == 0 and cfg["uid"] is not None:
    os.setgroups([]); os.setgid(cfg["uid"]); os.setuid(cfg["uid"])
argv = [cfg["python"], "-B", "main.py", *cfg["args"]]
if not cfg["reaper"] or not hasattr(os, "fork"):
    if os.name == "nt":  # no exec on Windows: run main.py as a child and pass its status on
        import subprocess
        sys.exit(subprocess.call(argv))
    os.execv(argv[0], argv)
import ctypes, signal
def descendants():
    found, todo = [], [os.getpid()]
    while todo:
        p = todo.pop()
        for task in os.listdir(f"/proc/{p}/task") if os.path.isdir(f"/proc/{p}/task") else []:
            try:
                kids = [int(k) for k in open(f"/proc/{p}/task/{task}/children").read().split()]
            except OSError:
                kids = []
            found += kids; todo += kids
    return found
def clean_up():
    for _ in range(100):  # stop them all first (a stopped process cannot fork), then kill
        left = descendants()
        if not left:
            break
        for p in left:
            try: os.kill(p, signal.SIGSTOP)
            except OSError: pass
        for p in descendants():
            try: os.kill(p, signal.SIGKILL)
            except OSError: pass
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
libc = ctypes.CDLL(None)
libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: orphans of this run come to us
parent = os.getppid()
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
signal.signal(signal.SIGUSR2, lambda *_: (clean_up(), os._exit(137)))
libc.prctl(1, int(signal.SIGUSR2), 0, 0, 0)  # PR_SET_PDEATHSIG: the kernel that started us died -> clean up
pid = os.fork()
if pid == 0:
    libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # and main.py dies with us, whoever kills us
    os.execv(argv[0], argv)
if os.getppid() != parent:  # the kernel died before PR_SET_PDEATHSIG was set
    clean_up(); os._exit(137)
status = os.waitpid(pid, 0)[1]
clean_up()
sys.stdout.flush()
if os.WIFSIGNALED(status):
    signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
    os.kill(os.getpid(), os.WTERMSIG(status))
os._exit(os.waitstatus_to_exitcode(status))
"""


def process_tree(root: psutil.Process) -> list[psutil.Process]:
    """``root`` and every process below it (those that still exist)."""
    try:
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def kill_tree(root_pid: int) -> None:
    """Freeze, then kill ``root_pid`` and all its descendants; on POSIX also its process group."""
    try:
        root = psutil.Process(root_pid)
    except psutil.Error:
        return
    for _ in range(5):  # suspend first: a stopped process cannot fork a new child behind our back
        tree = process_tree(root)
        if not tree:
            break
        for p in tree:
            try:
                p.suspend()
            except psutil.Error:
                pass
        if len(process_tree(root)) == len(tree):
            break
    for p in reversed(process_tree(root)):
        try:
            p.kill()
        except psutil.Error:
            pass
    if hasattr(os, "killpg"):
        try:
            os.killpg(root_pid, signal.SIGKILL)  # bwrap's PID namespace then takes everything inside
        except (ProcessLookupError, PermissionError):
            pass


def supervise(command, env, cwd, timeout, max_output, stdin, memory_mb, max_processes, pass_fds=(),
              cgroup=None, bwrap=False, stop=None) -> dict:
    """Run ``command``; return returncode, stdout, stderr and what stopped it, as RunResult fields.

    ``cgroup``: the run's ``cgroup.RunCgroup`` (``command`` already wrapped) or None; ``bwrap``:
    the command is bubblewrap, which reports a child killed by signal N as 128 + N; ``stop``: a
    ``threading.Event`` that ends the run early (not a timeout).
    """
    start = time.monotonic()
    posix = os.name == "posix"
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=cwd, env=env, start_new_session=posix, pass_fds=pass_fds,
                            creationflags=0 if posix else getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0))
    if cgroup is not None:
        cgroup.attach(proc.pid)
    captured = {"stdout": bytearray(), "stderr": bytearray()}
    too_much, over_memory, over_procs, done = (threading.Event() for _ in range(4))
    lock = threading.Lock()

    def kill():
        with lock:
            kill_tree(proc.pid)
            if cgroup is not None:
                cgroup.kill()

    def drain(stream, buffer):
        while chunk := stream.read1(65536):
            room = max_output - len(buffer)
            buffer += chunk[:max(room, 0)]
            if len(chunk) > room:
                too_much.set()
                kill()

    def feed():  # in a thread: a child that never reads stdin must not block us
        try:
            proc.stdin.write(stdin.encode())
            proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass

    def watch():  # the whole tree's memory and process count, whatever the OS enforces itself
        try:
            root = psutil.Process(proc.pid)
        except psutil.Error:
            return
        while not done.wait(POLL_S):
            tree, rss = process_tree(root), 0
            for p in tree:
                try:
                    rss += p.memory_info().rss
                except psutil.Error:
                    pass
            if rss > memory_mb << 20 or (cgroup is not None and cgroup.oom_killed()):
                over_memory.set()
            elif len(tree) > max_processes + 3:  # + bwrap, its init and the boot process
                over_procs.set()
            else:
                continue
            kill()
            return

    threads = [threading.Thread(target=drain, args=(getattr(proc, n), captured[n]), daemon=True) for n in captured]
    threads += [threading.Thread(target=feed, daemon=True), threading.Thread(target=watch, daemon=True)]
    for thread in threads:
        thread.start()
    timed_out, deadline = False, start + timeout
    while proc.poll() is None and not (stop is not None and stop.is_set()):
        try:
            proc.wait(timeout=max(0.0, min(deadline - time.monotonic(), 0.05 if stop is not None else timeout)))
        except subprocess.TimeoutExpired:
            if time.monotonic() >= deadline:
                timed_out = not (too_much.is_set() or over_memory.is_set() or over_procs.is_set())
                break
    done.set()
    kill()
    proc.wait()
    for thread in threads:
        thread.join(timeout=1.0)  # a grandchild holding the pipe open must not hang us
    if cgroup is not None and cgroup.oom_killed():  # the kernel killed for memory: that is the cause
        over_memory.set()
        timed_out = False
    returncode = proc.returncode
    if returncode is not None and returncode > 128 and bwrap:
        returncode = -(returncode - 128)  # bwrap reports a child killed by signal N as 128 + N
    return {"returncode": None if timed_out else returncode, "timed_out": timed_out,
            "stdout": captured["stdout"].decode("utf-8", "replace"),
            "stderr": captured["stderr"].decode("utf-8", "replace"),
            "output_truncated": too_much.is_set(), "memory_exceeded": over_memory.is_set(),
            "processes_exceeded": over_procs.is_set(), "duration": time.monotonic() - start}
