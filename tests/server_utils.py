"""A real llama.cpp server on loopback for the tests, on the embedded model's own GGUF file.

``llama_server`` (session fixture) starts ``python -m llama_cpp.server`` on a free 127.0.0.1 port,
waits until /v1/models answers, exports DEEPCODER_SERVER / DEEPCODER_API_KEY (so a notebook kernel
started later inherits them) and stops the server at the end. Without llama_cpp the tests skip,
unless DEEPCODER_REQUIRE_SERVER=1 (CI), then they fail.

``no_logprobs_server`` is the one stand-in: a plain loopback HTTP server that speaks the same
protocol but never sends logprobs, because llama.cpp always sends them when asked.
"""
from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

API_KEY = "deepcoder-test-key"
MODEL_ALIAS = "smollm2-135m-instruct"
STARTUP_S = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_llama_cpp() -> None:
    """Skip without llama_cpp's server, unless DEEPCODER_REQUIRE_SERVER=1 says it must run."""
    problem = None
    if importlib.util.find_spec("llama_cpp") is None:
        problem = 'llama_cpp is not installed (pip install "llama-cpp-python[server]==0.3.36")'
    elif importlib.util.find_spec("uvicorn") is None or importlib.util.find_spec("sse_starlette") is None:
        problem = "llama_cpp is installed without its [server] extra"
    if problem and os.environ.get("DEEPCODER_REQUIRE_SERVER") == "1":
        pytest.fail(problem + "; DEEPCODER_REQUIRE_SERVER=1 says the server tests must run")
    if problem:
        pytest.skip(problem)


@contextlib.contextmanager
def running_llama_server(*, api_key: str | None = API_KEY, extra_args=(), log_path=None):
    """Start llama.cpp's OpenAI-compatible server on the embedded GGUF; yield its base URL; stop it."""
    from deepcoder_lib.prepare import find_gguf

    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(find_gguf()), "--model_alias", MODEL_ALIAS,
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--chat_format", "chatml",
           "--n_threads", "2", "--interrupt_requests", "False", *extra_args]
    if api_key:
        cmd += ["--api_key", api_key]
    log = open(log_path or os.devnull, "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        import httpx
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        deadline = time.monotonic() + STARTUP_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {proc.returncode}: {' '.join(cmd)}")
            try:
                if httpx.get(url + "/models", headers=headers, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama_cpp.server did not answer /v1/models within {STARTUP_S} s")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@contextlib.contextmanager
def server_environment():
    """Start the llama.cpp server and point DEEPCODER_SERVER / DEEPCODER_API_KEY at it; restore them after."""
    saved = {name: os.environ.get(name) for name in ("DEEPCODER_SERVER", "DEEPCODER_API_KEY")}
    with running_llama_server() as url:
        os.environ.update(DEEPCODER_SERVER=url, DEEPCODER_API_KEY=API_KEY)
        try:
            yield url
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


@pytest.fixture(scope="session")
def llama_server():
    """Base URL of the session's llama.cpp server; DEEPCODER_SERVER / DEEPCODER_API_KEY point at it."""
    require_llama_cpp()
    with server_environment() as url:
        yield url


class _NoLogprobsHandler(BaseHTTPRequestHandler):
    """/v1/models lists one model; /v1/chat/completions answers "ok" and never sends logprobs."""

    def _reply(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._reply({"object": "list", "data": [{"id": "no-logprobs-model", "object": "model"}]})

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._reply({"object": "chat.completion", "model": "no-logprobs-model", "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "ok"}, "logprobs": None,
             "finish_reason": "stop"}]})

    def log_message(self, *args):
        pass


@pytest.fixture()
def no_logprobs_server():
    """Base URL of a loopback server that answers chats but never returns logprobs."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _NoLogprobsHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()
