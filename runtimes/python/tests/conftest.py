"""Shared fixtures: a stub of the Lambda Runtime API and a way to start the runtime.

The stub is only enough of Hearth's agent to drive the runtime in its own
tests; the agent's contract tests live with the agent.
"""

import http.server
import json
import os
import queue
import select
import subprocess
import sys
import threading
import time
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
RUNTIME_DIR = os.path.dirname(HERE)
BOOTSTRAP = os.path.join(RUNTIME_DIR, "bootstrap.py")
PREFIX = "/2018-06-01/runtime"

if RUNTIME_DIR not in sys.path:
    sys.path.insert(0, RUNTIME_DIR)


class Result(object):
    def __init__(self, kind, headers, body):
        self.kind = kind  # "response" | "error"
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)


class FakeRuntimeAPI(object):
    """Serves queued invocations on GET /next and records what the runtime posts."""

    def __init__(self):
        self._pending = queue.Queue()
        self._results = {}
        self._cond = threading.Condition()
        self.init_error = None
        self.requests = []  # (method, path, client port)
        self.closed = threading.Event()
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _body(self):
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _reply(self, status, body=b"", headers=None):
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                api.requests.append(("GET", self.path, self.client_address[1]))
                if self.path != PREFIX + "/invocation/next":
                    return self._reply(404)
                while not api.closed.is_set():
                    try:
                        request_id, body, headers = api._pending.get(timeout=0.1)
                    except queue.Empty:
                        continue
                    return self._reply(200, body, headers)
                self._reply(503, b"closing")

            def do_POST(self):
                api.requests.append(("POST", self.path, self.client_address[1]))
                body = self._body()
                headers = {k: v for k, v in self.headers.items()}
                if self.path == PREFIX + "/init/error":
                    with api._cond:
                        api.init_error = Result("init_error", headers, body)
                        api._cond.notify_all()
                    return self._reply(202, b'{"status":"OK"}')
                parts = self.path[len(PREFIX):].split("/")
                # ['', 'invocation', id, 'response'|'error']
                if len(parts) == 4 and parts[1] == "invocation" and parts[3] in ("response", "error"):
                    with api._cond:
                        api._results[parts[2]] = Result(parts[3], headers, body)
                        api._cond.notify_all()
                    return self._reply(202, b'{"status":"OK"}')
                self._reply(404)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = "127.0.0.1:%d" % self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def enqueue(self, event, request_id=None, deadline_ms=None, arn=None, trace_id=None,
                client_context=None, identity=None, raw=None):
        request_id = request_id or str(uuid.uuid4())
        headers = {
            "Content-Type": "application/json",
            "Lambda-Runtime-Aws-Request-Id": request_id,
            "Lambda-Runtime-Deadline-Ms": str(deadline_ms or int(time.time() * 1000) + 30000),
            "Lambda-Runtime-Invoked-Function-Arn": arn or "arn:aws:lambda:us-east-1:000000000000:function:test",
        }
        if trace_id:
            headers["Lambda-Runtime-Trace-Id"] = trace_id
        if client_context is not None:
            headers["Lambda-Runtime-Client-Context"] = json.dumps(client_context)
        if identity is not None:
            headers["Lambda-Runtime-Cognito-Identity"] = json.dumps(identity)
        body = raw if raw is not None else json.dumps(event).encode()
        self._pending.put((request_id, body, headers))
        return request_id

    def wait_result(self, request_id, timeout=10):
        deadline = time.time() + timeout
        with self._cond:
            while request_id not in self._results:
                left = deadline - time.time()
                if left <= 0:
                    raise AssertionError("no result for %s within %ss" % (request_id, timeout))
                self._cond.wait(left)
            return self._results[request_id]

    def invoke(self, event, timeout=10, **kw):
        return self.wait_result(self.enqueue(event, **kw), timeout)

    def wait_init_error(self, timeout=10):
        deadline = time.time() + timeout
        with self._cond:
            while self.init_error is None:
                left = deadline - time.time()
                if left <= 0:
                    raise AssertionError("no init error within %ss" % timeout)
                self._cond.wait(left)
            return self.init_error

    def close(self):
        self.closed.set()
        self.server.shutdown()
        self.server.server_close()


class RuntimeProcess(object):
    def __init__(self, proc):
        self.proc = proc

    def wait(self, timeout=10):
        return self.proc.wait(timeout=timeout)

    def read_stdout_until(self, needle, timeout=5):
        """Read the child's stdout until `needle` shows up (bounded)."""
        return _read_until(self.proc.stdout, needle, timeout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            out, err = self.proc.communicate(timeout=5)
        except (subprocess.TimeoutExpired, ValueError):
            out, err = b"", b""
        return out, err


def _read_until(stream, needle, timeout):
    seen = b""
    deadline = time.time() + timeout
    fd = stream.fileno()
    while needle.encode() not in seen:
        left = deadline - time.time()
        if left <= 0:
            raise AssertionError("%r not seen within %ss; got %r" % (needle, timeout, seen))
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            seen += chunk
    return seen.decode("utf-8", "replace")


@pytest.fixture
def api():
    server = FakeRuntimeAPI()
    yield server
    server.close()


def base_env(api_address, task_root, handler):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAMBDA_", "_HANDLER", "HEARTH_"))}
    env.update({
        "AWS_LAMBDA_RUNTIME_API": api_address,
        "_HANDLER": handler,
        "LAMBDA_TASK_ROOT": str(task_root),
        "AWS_LAMBDA_FUNCTION_NAME": "test-fn",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/test-fn",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2024/01/01/[$LATEST]abc",
    })
    return env


@pytest.fixture
def start_runtime():
    started = []

    def start(env, stdin=None, cwd=None):
        proc = subprocess.Popen(
            [sys.executable, BOOTSTRAP], env=env, cwd=cwd,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        rp = RuntimeProcess(proc)
        started.append(rp)
        return rp

    yield start
    for rp in started:
        rp.stop()


def write_files(root, files):
    for name, text in files.items():
        path = os.path.join(str(root), name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    return root
