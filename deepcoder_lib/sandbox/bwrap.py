"""The bubblewrap command line of a sandboxed run, and the checks of what this machine allows.

``runner.run_code`` calls ``bwrap_command`` for the namespaces and mounts; this module knows
bubblewrap's flags and versions, the folders to hide (home, /root, /tmp, /var/tmp, /run), the
tmpfs size caps, the seccomp filter that forbids nested user namespaces (bubblewrap's own
``--disable-userns`` works only where bubblewrap itself is unprivileged, not as root), and
``probe`` that tries bubblewrap once to tell "installed" from "allowed to create namespaces".
"""
from __future__ import annotations

import functools
import os
import platform
import re
import shutil
import struct
import subprocess
import sys

# (AUDIT_ARCH, unshare, clone, clone3, keyctl) syscall numbers where the seccomp filter is known to fit
ARCHES = {"x86_64": (0xC000003E, 272, 56, 435, 250), "aarch64": (0xC00000B7, 97, 220, 435, 219)}
CLONE_NEWUSER = 0x10000000


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
    """The keyctl syscall number on this CPU (for a new session keyring), or None where unknown."""
    arch = ARCHES.get(platform.machine())
    return arch[4] if arch and sys.platform == "linux" else None


def seccomp_program() -> bytes | None:
    """A classic-BPF seccomp filter: unshare/clone with CLONE_NEWUSER -> EPERM, clone3 -> ENOSYS.

    glibc falls back from clone3 to clone on ENOSYS (as under Flatpak), so threads still work.
    None on CPUs whose syscall numbers are not listed in ``ARCHES``.
    """
    arch = ARCHES.get(platform.machine())
    if arch is None:
        return None
    audit, unshare, clone, clone3 = arch[:4]
    ld, jeq, jset, ret = 0x20, 0x15, 0x45, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, BPF_JMP|JSET|K, BPF_RET|K
    allow, eperm, enosys = 0x7FFF0000, 0x00050000 | 1, 0x00050000 | 38
    prog = [(ld, 0, 0, 4),                    # 0: A = arch
            (jeq, 0, 6, audit),               # 1: another ABI -> allow (at 8)
            (ld, 0, 0, 0),                    # 2: A = syscall number
            (jeq, 7, 0, clone3),              # 3: clone3 -> ENOSYS (at 11)
            (jeq, 1, 0, unshare),             # 4: unshare -> check flags (at 6)
            (jeq, 0, 2, clone),               # 5: clone -> check flags; else allow (at 8)
            (ld, 0, 0, 16),                   # 6: A = low 32 bits of the first argument (flags)
            (jset, 1, 0, CLONE_NEWUSER),      # 7: CLONE_NEWUSER -> EPERM (at 9)
            (ret, 0, 0, allow),               # 8
            (ret, 0, 0, eperm),               # 9
            (ret, 0, 0, allow),               # 10 (unused)
            (ret, 0, 0, enosys)]              # 11
    return b"".join(struct.pack("=HBBI", *ins) for ins in prog)


def hidden_dirs() -> list[str]:
    """Folders replaced by an empty, size-capped tmpfs: homes, temp folders, /run (sockets, D-Bus)."""
    home = os.path.realpath(os.path.expanduser("~"))
    dirs = {home, "/root", "/home", "/tmp", "/var/tmp", "/run"}
    if os.path.isdir("/var/run") and not os.path.islink("/var/run"):
        dirs.add("/var/run")
    return sorted(d for d in dirs if d != "/" and os.path.isdir(d))


def bwrap_command(scratch: str, disk_mb: int, seccomp_fd: int | None) -> list[str]:
    """bwrap and its flags, up to ``--``: read-only system, hidden folders, no network, no nesting."""
    size = str(disk_mb * 1024 * 1024)
    args = [shutil.which("bwrap"), "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev",
            "--perms", "1777", "--size", size, "--tmpfs", "/dev/shm"]  # multiprocessing needs it, as nobody
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
    args += ["--ro-bind", scratch, "/tmp/.input", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
             "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--chdir", "/tmp"]
    if os.getuid() == 0:
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]  # only to become nobody, then dropped
    elif version() >= (0, 8, 0):
        args += ["--unshare-user", "--disable-userns"]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    return args + ["--"]
