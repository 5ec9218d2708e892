"""The answer's Flask app, serving real HTTP from ONE sandbox run for a whole check, and the client that calls it.

``App`` makes a listening Unix socket on this side and hands it to ``sandbox.run_code`` as an open
file: the sandbox keeps no network and shares no folder, yet the checker (and the browser's route
handler) can send the app requests and read exactly what it answers. ``HARNESS`` is the run's
``main.py``: it loads ``app.py`` as ``python app.py`` would (``app.run()`` skipped) and serves it
with werkzeug. What the harness prints only words failure messages (the routes, a load error); no
verdict comes from the app's process. Every call waits at most until the check's deadline.
"""
from __future__ import annotations

import http.client
import json
import os
import select
import shutil
import socket
import tempfile
import threading
import time

from ..sandbox import RunResult, run_code

MAX_BODY = 1 << 20  # bytes of one answer the checker reads
ERROR_MARK = "DEEPCODER-APP "

# Runs in the sandbox as main.py next to app.py: load the app as `python app.py` would (app.run() skipped),
# then serve it on the listening socket the checker passed in (file descriptor argv[1]). What it prints
# to stderr after ERROR_MARK only words failure messages; the verdict comes from the HTTP answers.
HARNESS = r'''
import json, sys, traceback
import flask
from werkzeug.serving import make_server
flask.Flask.run = lambda self, *a, **k: print("(app.run() was skipped by the checker)", file=sys.stderr)
ns = {"__name__": "__main__", "__file__": "app.py"}
try:
    exec(compile(open("app.py").read(), "app.py", "exec"), ns)
except BaseException:
    sys.stderr.write("\nDEEPCODER-APP " + json.dumps({"error": "the code raised while loading:\n"
                                                        + traceback.format_exc(limit=-3)}) + "\n")
    sys.exit(3)
apps = [v for v in list(ns.values()) if isinstance(v, flask.Flask)]
if not apps and callable(ns.get("create_app")):
    apps = [ns["create_app"]()]
if not apps:
    sys.stderr.write("\nDEEPCODER-APP " + json.dumps({"error": "no Flask app: the code never creates flask.Flask(...)"}) + "\n")
    sys.exit(4)
routes = [f"{sorted(r.methods - {'HEAD', 'OPTIONS'})} {r.rule}" for r in apps[0].url_map.iter_rules() if r.endpoint != "static"]
sys.stderr.write("\nDEEPCODER-APP " + json.dumps({"routes": routes}) + "\n")
sys.stderr.flush()
make_server("unix:///tmp/app.sock", 0, apps[0], threaded=True, fd=int(sys.argv[1])).serve_forever()
'''


UNSUPPORTED = ("" if hasattr(socket, "AF_UNIX") and os.name == "posix" else
               "Flask and HTML checks need Unix sockets (Linux, macOS or WSL2), which this Python lacks")


class App:
    """The answer's app, serving in one sandbox run for the whole check; ``call`` sends it one HTTP request.

    The listening Unix socket is made here and handed in as an open file (the sandbox has no network
    and no folder shared with this side); ``call`` waits at most until the check's ``deadline``.
    """

    def __init__(self, code: str, budget: float, slack: float = 0.0):
        self.folder = tempfile.mkdtemp(prefix="deepcoder-app-")
        if len(self.folder) > 90 and os.path.isdir("/tmp"):  # a socket path has at most 104-108 bytes
            os.rmdir(self.folder)
            self.folder = tempfile.mkdtemp(prefix="deepcoder-app-", dir="/tmp")
        self.path = os.path.join(self.folder, "app.sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(16)
        self.budget, self.deadline, self.stop, self.run = budget, time.monotonic() + budget, threading.Event(), None
        fd = self.listener.fileno()
        self.slack = slack  # seconds the deadline may still move (a browser's start-up), within the run's timeout
        self.thread = threading.Thread(target=self._serve, args=(code, fd, budget + slack), daemon=True)
        self.thread.start()

    def extend(self, seconds: float) -> None:
        """Move the deadline, once, by ``seconds`` not spent on the app (at most the slack)."""
        self.deadline, self.slack = self.deadline + max(0.0, min(seconds, self.slack)), 0.0

    def _serve(self, code: str, fd: int, budget: float) -> None:
        self.run = run_code(HARNESS, files={"app.py": code}, args=(str(fd),), pass_fds=(fd,), timeout=budget,
                            stop=self.stop)

    def alive(self) -> bool:
        return self.thread.is_alive()

    def call(self, method: str, url: str, body: bytes = b"", headers: dict | None = None) -> dict:
        """{"status", "type", "body"} of the app's answer, or {"status": None, "why": ...} if none came in time."""
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.connect(self.path)
            head = {"Host": "deepcoder.check", "Connection": "close", "Content-Length": str(len(body)),
                    **{k: v for k, v in (headers or {}).items() if k.lower() not in ("host", "connection",
                                                                                    "content-length")}}
            request = f"{method} {url} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in head.items()) + "\r\n"
            conn.sendall(request.encode("latin-1", "replace") + body)
            while not select.select([conn], [], [], 0.05)[0]:  # the app answers, ends, or the budget ends
                if not self.alive():
                    return {"status": None, "why": "the app's process ended before it answered"}
                if time.monotonic() > self.deadline:
                    return {"status": None, "why": "no answer within the check's time budget (an endless handler?)"}
            conn.settimeout(max(0.1, self.deadline - time.monotonic()))
            answer = http.client.HTTPResponse(conn, method=method)
            answer.begin()
            data = answer.read(MAX_BODY)
            return {"status": answer.status, "type": answer.getheader("Content-Type", ""),
                    "location": answer.getheader("Location", ""), "body": data.decode("utf-8", "replace"), "raw": data}
        except (OSError, http.client.HTTPException) as error:
            return {"status": None, "why": f"the app sent no valid HTTP answer ({type(error).__name__}: {error})"}
        finally:
            conn.close()

    def get(self, url: str) -> dict:
        """GET ``url``, following up to 5 redirects within the app, as a browser or ``requests`` would."""
        for _ in range(6):
            answer = self.call("GET", url)
            location = answer.get("location", "")
            if answer["status"] not in (301, 302, 303, 307, 308) or not location:
                break
            url = location.split("://", 1)[-1].partition("/")[1:] if "://" in location else location
            url = "".join(url) if isinstance(url, tuple) else url
        return answer

    def close(self) -> RunResult:
        self.stop.set()
        self.thread.join()
        self.listener.close()
        if time.monotonic() >= self.deadline and self.run is not None and not self.run.ok and self.run.duration > 1:
            self.run.timed_out, self.run.returncode = True, None  # stopped at the end of the budget: a timeout
        shutil.rmtree(self.folder, ignore_errors=True)
        return self.run

    def report(self) -> dict:
        """What the harness said about the app (its routes or why it did not load): words for messages only."""
        found = {}
        for line in (self.run.stderr if self.run else "").splitlines():
            if line.startswith(ERROR_MARK):
                try:
                    found.update(json.loads(line[len(ERROR_MARK):]))
                except ValueError:
                    pass
        return found


def no_answer(app: App, run: RunResult, asked: str, answer: dict) -> str:
    """Why ``asked`` got no answer: the app did not load, it ended, or it ran out of time."""
    said = app.report()
    if "error" in said:
        return str(said["error"]).strip()
    if run is not None and run.timed_out:
        return f"the checker did not finish: timed out: {asked} got no answer within the check's {app.budget:g} s"
    if answer.get("why", "").startswith("the app's process ended") and run is not None:
        return f"the checker did not finish: the app's process ended before {asked} was answered ({run.verdict})"
    return f"the checker did not finish: {asked}: {answer['why']}"
