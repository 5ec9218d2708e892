"""The seccomp filter of every sandboxed run on Linux x86_64 and aarch64: which system calls the code may not make.

``bwrap.py`` hands the filter to bubblewrap (``--seccomp FD``); without bubblewrap the run's first
process installs it itself (``tree.BOOT``, through ``prctl``). It is a classic-BPF program, built here
by a ten-line assembler so that each rule reads as one line:

* only the CPU's native system-call ABI: the i386 entry point on x86_64 (``int 0x80``), x32 numbers
  (``__X32_SYSCALL_BIT``) and 32-bit ARM on aarch64 are refused, since a filter that matches
  numbers of one table says nothing about another (root code got a new user namespace through
  ``int 0x80`` before this rule);
* no new user namespace (``unshare``/``clone`` with ``CLONE_NEWUSER``); ``clone3`` answers ENOSYS so
  that glibc falls back to ``clone``, whose flags a filter can read;
* no memory that no process's RSS shows and that may outlive the run: ``memfd_create``,
  ``memfd_secret``, System V shared memory, semaphores and message queues, POSIX message queues,
  and ``fcntl(F_SETPIPE_SZ)`` (pipes keep their 64 KiB default);
* no keys: ``add_key``, ``request_key``, ``keyctl`` (the caller's keyrings stay out of reach);
* no reaching into other processes or rarely needed kernel surfaces: ``ptrace``,
  ``process_vm_readv/writev``, ``pidfd_getfd``, ``kcmp``, ``perf_event_open``, ``bpf``,
  ``userfaultfd``, ``io_uring_*``.

A refused call fails with EPERM (ENOSYS for another ABI and clone3), so Python raises an OSError.
"""
from __future__ import annotations

import platform
import struct
import sys

CLONE_NEWUSER = 0x10000000
F_SETPIPE_SZ = 1031
X32_SYSCALL_BIT = 0x40000000
# The calls refused outright, by name (the numbers per CPU are in ARCHES)
DENIED = ("memfd_create", "memfd_secret", "shmget", "shmat", "shmctl", "shmdt", "semget", "semop", "semctl",
          "semtimedop", "msgget", "msgsnd", "msgrcv", "msgctl", "mq_open", "mq_unlink", "mq_timedsend",
          "mq_timedreceive", "mq_notify", "mq_getsetattr", "add_key", "request_key", "keyctl", "ptrace",
          "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp", "perf_event_open", "bpf", "userfaultfd",
          "io_uring_setup", "io_uring_enter", "io_uring_register")
ARCHES = {  # AUDIT_ARCH and the system-call numbers of each CPU (asm/unistd_64.h; asm-generic/unistd.h)
    "x86_64": {"audit": 0xC000003E, "x32": True, "unshare": 272, "clone": 56, "clone3": 435, "fcntl": 72,
               "memfd_create": 319, "memfd_secret": 447, "shmget": 29, "shmat": 30, "shmctl": 31, "shmdt": 67,
               "semget": 64, "semop": 65, "semctl": 66, "semtimedop": 220, "msgget": 68, "msgsnd": 69, "msgrcv": 70,
               "msgctl": 71, "mq_open": 240, "mq_unlink": 241, "mq_timedsend": 242, "mq_timedreceive": 243,
               "mq_notify": 244, "mq_getsetattr": 245, "add_key": 248, "request_key": 249, "keyctl": 250,
               "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "pidfd_getfd": 438, "kcmp": 312,
               "perf_event_open": 298, "bpf": 321, "userfaultfd": 323, "io_uring_setup": 425,
               "io_uring_enter": 426, "io_uring_register": 427},
    "aarch64": {"audit": 0xC00000B7, "x32": False, "unshare": 97, "clone": 220, "clone3": 435, "fcntl": 25,
                "memfd_create": 279, "memfd_secret": 447, "shmget": 194, "shmat": 196, "shmctl": 195, "shmdt": 197,
                "semget": 190, "semop": 193, "semctl": 191, "semtimedop": 192, "msgget": 186, "msgsnd": 189,
                "msgrcv": 188, "msgctl": 187, "mq_open": 180, "mq_unlink": 181, "mq_timedsend": 182,
                "mq_timedreceive": 183, "mq_notify": 184, "mq_getsetattr": 185, "add_key": 217, "request_key": 218,
                "keyctl": 219, "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271, "pidfd_getfd": 438,
                "kcmp": 272, "perf_event_open": 241, "bpf": 280, "userfaultfd": 282, "io_uring_setup": 425,
                "io_uring_enter": 426, "io_uring_register": 427},
}
_LD, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ/JGE/JSET|K, BPF_RET|K
_ALLOW, _ERRNO = 0x7FFF0000, 0x00050000
EPERM, ENOSYS = 1, 38
_ARCH, _NR, _ARG0, _ARG1 = 4, 0, 16, 24  # offsets in struct seccomp_data (low 32 bits of args, little-endian)


def _assemble(lines: list[tuple]) -> bytes:
    """(op, jump-if-true label, jump-if-false label, k) and ("label", name) lines -> BPF bytes."""
    labels, code = {}, []
    for line in lines:
        if line[0] == "label":
            labels[line[1]] = len(code)
        else:
            code.append(line)
    out = []
    for at, (op, jt, jf, k) in enumerate(code):
        jt = labels[jt] - at - 1 if isinstance(jt, str) else jt
        jf = labels[jf] - at - 1 if isinstance(jf, str) else jf
        assert 0 <= jt < 256 and 0 <= jf < 256, "BPF jumps go forward, at most 255 instructions"
        out.append(struct.pack("=HBBI", op, jt, jf, k))
    return b"".join(out)


def program(machine: str | None = None) -> bytes | None:
    """The filter for ``machine`` (default: this CPU) as BPF bytes; None where its numbers are not listed."""
    machine = machine or platform.machine()
    nr = ARCHES.get(machine)
    if nr is None or (machine == platform.machine() and sys.platform != "linux"):
        return None
    lines = [(_LD, 0, 0, _ARCH), (_JEQ, 0, "enosys", nr["audit"]), (_LD, 0, 0, _NR)]
    if nr["x32"]:
        lines.append((_JGE, "enosys", 0, X32_SYSCALL_BIT))
    lines += [(_JEQ, "enosys", 0, nr["clone3"]), (_JEQ, "flags", 0, nr["unshare"]), (_JEQ, "flags", 0, nr["clone"]),
              (_JEQ, "fcntl", 0, nr["fcntl"])]
    lines += [(_JEQ, "eperm", 0, nr[name]) for name in DENIED]
    lines += [(_RET, 0, 0, _ALLOW),
              ("label", "flags"), (_LD, 0, 0, _ARG0), (_JSET, "eperm", "allow", CLONE_NEWUSER),
              ("label", "fcntl"), (_LD, 0, 0, _ARG1), (_JEQ, "eperm", "allow", F_SETPIPE_SZ),
              ("label", "allow"), (_RET, 0, 0, _ALLOW),
              ("label", "eperm"), (_RET, 0, 0, _ERRNO | EPERM),
              ("label", "enosys"), (_RET, 0, 0, _ERRNO | ENOSYS)]
    return _assemble(lines)


# Run by tree.BOOT where bubblewrap does not install the filter: prctl(PR_SET_NO_NEW_PRIVS), then
# prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &sock_fprog). Kept as text: BOOT runs in a bare interpreter.
INSTALL = r"""
def install_seccomp(program):
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    class Fprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]
    prog = Fprog(len(program) // 8, program)
    if libc.prctl(38, 1, 0, 0, 0) != 0 or libc.prctl(22, 2, ctypes.byref(prog), 0, 0) != 0:
        sys.exit("sandbox: cannot install the seccomp filter, errno %d" % ctypes.get_errno())
"""
