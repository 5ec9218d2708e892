"""Class load test: 30 simulated students share one llama.cpp server on loopback, for a bounded time.

Every student streams one request at the same moment (the teacher says "now run the cell"), then keeps
asking, waiting a think time between answers, until ``--seconds`` have passed; no request starts after
that, and the ones in flight are waited for. Nothing is lost: every request ends with its answer or a
clear error, and both are counted. Reported: requests answered, errors, p50/p95 time to first token,
tokens/s per student (while its answer streams) and in total (all tokens over the wall time).

The server is llama-cpp-python's (``python -m llama_cpp.server``) on the embedded model's GGUF, with
``--interrupt_requests False`` (its default True cuts a streaming answer off when the next request
arrives). It has no parallel-slot option: one model handles one request at a time and the rest queue,
so ``--servers N`` starts N server processes (threads split among them) and students are spread over them;
llama.cpp's own ``llama-server --parallel N`` (not built by the PyPI package) batches slots in one process.
vLLM batches all of them on a GPU. Streamed chunks are counted as tokens: llama.cpp sends one per token.

Measured 2026-12-01 on the 2-core course machine (CPU figures; defaults: 30 students, one server, 10 s think,
64 new tokens, 150 s): 120 requests, 120 answered, 0 errors, time to first token p50 23.6 s / p95 69.7 s,
66 tokens/s per student while streaming, 44.5 tokens/s in total over 173 s. The server completes ~0.7
requests/s, so at a 10 s think time it keeps ~8 students without queueing (Little's law). ``--servers 2``
(one thread each, 60 s): 149 of 149 answered, 158 tokens/s in total, p50/p95 TTFT 1.1 / 10.4 s. The machine
is shared and noisy: compare runs made back to back.

Run: .venv/bin/python benchmarks/bench_class_load.py [--students 30] [--seconds 150] [--servers 1]
     .venv/bin/python benchmarks/bench_class_load.py --url http://GPU-BOX:8000/v1   # the class's real server
"""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

REQUESTS = ["Write a Python function that returns the area of a circle.",
            "Write a Python function that reverses a string.",
            "Write a Python function that computes the factorial of n.",
            "Write a Python function that counts the vowels in a string."]


def student(index: int, urls: list[str], api_key: str, until: float, think_s: float, max_new_tokens: int,
            start: threading.Barrier, results: list[dict]) -> None:
    from deepcoder_lib import server

    srv = server.connect(urls[index % len(urls)], api_key=api_key, retries=2)
    start.wait()
    while True:
        request, sent = REQUESTS[index % len(REQUESTS)], time.perf_counter()
        first, chunks = [], []

        def on_text(piece):
            first or first.append(time.perf_counter())
            chunks.append(piece)

        try:
            srv.stream(request, on_text, max_new_tokens=max_new_tokens)
            ended = time.perf_counter()
            results.append({"student": index, "ok": bool(chunks), "error": "" if chunks else "empty answer",
                            "ttft_s": (first[0] if first else ended) - sent, "tokens": len(chunks),
                            "stream_s": ended - (first[0] if first else ended)})
        except Exception as exc:  # counted and reported, never dropped
            results.append({"student": index, "ok": False, "error": f"{type(exc).__name__}: {exc}"[:200],
                            "ttft_s": None, "tokens": len(chunks), "stream_s": 0.0})
        if time.perf_counter() + think_s >= until:
            break
        time.sleep(think_s)
    srv.close()


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main(students: int = 30, seconds: float = 150.0, think_s: float = 10.0, max_new_tokens: int = 64,
         servers: int = 1, url: str | None = None, api_key: str | None = None,
         threads: int | None = None) -> list[dict]:
    from server_utils import API_KEY, running_llama_server

    threads_each = str(threads or max(1, (os.cpu_count() or 2) // servers))  # llama.cpp threads per server
    with contextlib.ExitStack() as stack:
        urls = [url] if url else [stack.enter_context(running_llama_server(extra_args=("--n_threads", threads_each)))
                                  for _ in range(servers)]
        api_key = api_key if url else API_KEY
        results: list[dict] = []
        start = threading.Barrier(students + 1)
        began = time.perf_counter()
        until = began + seconds
        pool = [threading.Thread(target=student, args=(i, urls, api_key, until, think_s, max_new_tokens,
                                                         start, results)) for i in range(students)]
        for thread in pool:
            thread.start()
        start.wait()
        began = time.perf_counter()
        for thread in pool:
            thread.join()
        wall = time.perf_counter() - began
    ok = [r for r in results if r["ok"]]
    ttft = [r["ttft_s"] for r in ok]
    per_student = [r["tokens"] / r["stream_s"] for r in ok if r["stream_s"] > 0]
    errors = sorted({r["error"] for r in results if not r["ok"]})
    where = url or f"{servers} llama.cpp server(s) on loopback"
    return [{"benchmark": "class_load", "setup": f"{students} students, {where}, "
             f"{threads_each} thread(s) each, think {think_s:g} s, {max_new_tokens} new tokens", "requests": len(results), "answered": len(ok),
             "errors": len(results) - len(ok), "ttft_p50_s": statistics.median(ttft) if ttft else None,
             "ttft_p95_s": percentile(ttft, 95) if ttft else None,
             "tok_s_per_student": statistics.median(per_student) if per_student else None,
             "tok_s_total": sum(r["tokens"] for r in results) / wall, "wall_s": wall,
             "first_error": errors[0] if errors else ""}]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=150.0, help="no new request after this (in-flight ones finish)")
    parser.add_argument("--think", type=float, default=10.0, help="seconds a student waits between answers")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--servers", type=int, default=1, help="server processes (llama-cpp-python has no slots)")
    parser.add_argument("--threads", type=int, help="llama.cpp threads per server (default: cores / servers)")
    parser.add_argument("--url", help="load an existing server (e.g. vLLM on the class GPU) instead of starting one")
    parser.add_argument("--api-key", default=os.environ.get("DEEPCODER_API_KEY"), help="its key (default $DEEPCODER_API_KEY)")
    args = parser.parse_args()
    rows = main(args.students, args.seconds, args.think, args.max_new_tokens, args.servers, args.url, args.api_key,
                args.threads)
    for key, value in rows[0].items():
        print(f"{key:>18}: {value:.3g}" if isinstance(value, float) else f"{key:>18}: {value}")
