"""extract_code on many answer shapes; run_code against each hostile behaviour the issue lists.

Every hostile test is bounded (timeouts of 2-5 s) and checks that the host and this test process
are unharmed: no process left over, no file touched, no scratch folder left in the temp dir.
"""
import os
import socket
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
    ("```python\n```", "or they are empty"),
    ("", "no python code"),
])
def test_extract_code_clear_errors(answer, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        extract_code(answer)


def test_extract_code_rejects_non_text():
    with pytest.raises(ValueError, match="must be the model's answer as a str, got list"):
        extract_code(["print(1)"])


# ---------------------------------------------------------------- run_code basics
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
    ({"memory_mb": -1}, "`memory_mb` must be a positive number, got -1"),
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
    assert _processes_of(65534) == before_nobody
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


@needs_bwrap
@pytest.mark.skipif(platform.machine() not in _ADD_KEY, reason="add_key syscall number unknown on this CPU")
def test_session_keyring_is_new_and_empty(host_unharmed):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    name = f"deepcoder-test-{uuid.uuid4().hex[:8]}".encode()
    key = libc.syscall(_ADD_KEY[platform.machine()], b"user", name, b"s3cret", 6, ctypes.c_int(-3))  # session
    assert key > 0, f"add_key failed, errno {ctypes.get_errno()}"
    try:
        assert name.decode() in Path("/proc/keys").read_text()  # visible to us and to our children
        result = run_code("print(open('/proc/keys').read())", timeout=5)
        assert result.ok and name.decode() not in result.stdout, result.stdout
    finally:
        libc.syscall(sandbox_bwrap.keyctl_syscall(), 21, ctypes.c_long(key))  # KEYCTL_INVALIDATE


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_forked_children_share_one_memory_limit(isolation, host_unharmed):
    """6 children of 150 MB each stay under a per-process 512 MB limit; the whole run may not."""
    code = ("import os, time\nfor _ in range(6):\n    if os.fork() == 0:\n        data = b'x' * (150 << 20)\n"
            "        time.sleep(10)\n        os._exit(0)\nfor _ in range(6):\n    os.wait()\nprint('ALL HELD')")
    start = time.monotonic()
    result = run_code(code, timeout=8, memory_mb=512, isolation=isolation)
    assert result.memory_exceeded and not result.ok and "ALL HELD" not in result.stdout
    assert "memory_mb" in result.verdict and time.monotonic() - start < 6


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
    assert result.stdout == "[1, 2, 3]\n", result.stderr


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
