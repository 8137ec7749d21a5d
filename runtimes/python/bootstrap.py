#!/usr/bin/env python3
"""Hearth's Python runtime: a client of the AWS Lambda Runtime API (2018-06-01).

Standard library only. One process serves one invocation at a time; with
AWS_LAMBDA_MAX_CONCURRENCY=N > 1 it supervises N such worker processes
(see "Concurrency" below):

    GET  /2018-06-01/runtime/invocation/next
    POST /2018-06-01/runtime/invocation/{id}/response   (JSON of the result)
    POST /2018-06-01/runtime/invocation/{id}/error      (Lambda's error JSON)
    POST /2018-06-01/runtime/init/error                 (handler failed to load)

See runtimes/README.md for the environment it reads and for the warm-pool
specialisation protocol (HEARTH_SPECIALIZE=stdin).
"""

import decimal
import importlib
import json
import logging
import os
import re
import signal
import socket
import sys
import time
import traceback

API_VERSION = "2018-06-01"
ERROR_CONTENT_TYPE = "application/vnd.aws.lambda.error+json"
_RUNTIME_FILES = {os.path.abspath(importlib.__file__)}
if "__file__" in globals():
    _RUNTIME_FILES.add(os.path.abspath(__file__))


# --------------------------------------------------------------------------
# Warm-pool specialisation
# --------------------------------------------------------------------------

def specialize_from_stdin(stream=None):
    """Read one line of JSON {"env": {...}} and make it this process's environment.

    Called before any function configuration is read, so that a generic,
    already started interpreter can become one function's instance.
    """
    stream = stream if stream is not None else sys.stdin.buffer
    line = stream.readline()
    if not line:
        raise RuntimeError("HEARTH_SPECIALIZE=stdin but stdin closed before a line was read")
    message = json.loads(line)
    env = message.get("env") if isinstance(message, dict) else None
    if not isinstance(env, dict):
        raise RuntimeError('specialisation line must be a JSON object {"env": {...}}')
    for name, value in env.items():
        os.environ[str(name)] = "" if value is None else str(value)
    # The interpreter read PYTHONPATH when it started, before the line came:
    # put the line's entries where a start with it would have (first).
    if "PYTHONPATH" in env:
        entries = [p for p in os.environ["PYTHONPATH"].split(os.pathsep) if p]
        for position, path in enumerate(entries):
            if path in sys.path:
                sys.path.remove(path)
            sys.path.insert(position, path)
    task_root = os.environ.get("LAMBDA_TASK_ROOT")
    if task_root:
        os.chdir(task_root)


# --------------------------------------------------------------------------
# Errors, in Lambda's shape
# --------------------------------------------------------------------------

class FaultError(Exception):
    """An error the runtime reports with a type of its own (Runtime.*)."""

    def __init__(self, error_type, message, stack_trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack_trace = stack_trace or []


def make_error(message, error_type, stack_trace, request_id=None):
    error = {
        "errorMessage": message if message else "",
        "errorType": error_type if error_type else "",
    }
    if request_id is not None:
        error["requestId"] = request_id
    error["stackTrace"] = stack_trace if stack_trace else []
    return error


def _is_runtime_frame(frame):
    name = frame.filename
    return name.startswith("<frozen importlib") or os.path.abspath(name) in _RUNTIME_FILES


def error_from_exception(exc, request_id=None):
    """Lambda's error JSON for an exception raised by user code (runtime frames left out)."""
    if isinstance(exc, FaultError):
        return make_error(exc.message, exc.error_type, exc.stack_trace, request_id)
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not _is_runtime_frame(f)]
    return make_error(str(exc), type(exc).__name__, traceback.format_list(frames), request_id)


def log_error(error):
    """Write the error to the log like Lambda does: `[ERROR] Type: message` and the trace (one JSON line in JSON format)."""
    if json_logs():
        entry = {"timestamp": _iso_now(), "level": "ERROR", "message": "%s: %s" % (error.get("errorType"), error.get("errorMessage"))}
        if _current_request_id is not None:
            entry["requestId"] = _current_request_id
        for key in ("errorType", "errorMessage", "stackTrace"):
            if error.get(key) is not None:
                entry[key] = error[key]
        sys.stderr.write(json.dumps(entry, default=str, ensure_ascii=False) + "\n")
        sys.stderr.flush()
        return
    lines = ["[ERROR] %s: %s" % (error.get("errorType"), error.get("errorMessage"))]
    if error.get("stackTrace"):
        lines.append("Traceback (most recent call last):")
        lines.extend(s.rstrip("\n") for s in error["stackTrace"])
    sys.stderr.write("\n".join(lines) + "\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------
# Handler loading
# --------------------------------------------------------------------------

def setup_sys_path(task_root):
    """LAMBDA_TASK_ROOT first, then the layer directories Lambda also searches."""
    version = "python%d.%d" % sys.version_info[:2]
    wanted = [task_root, "/opt/python/lib/%s/site-packages" % version, "/opt/python"]
    for position, path in enumerate(p for p in wanted if p):
        if path in sys.path:
            sys.path.remove(path)
        if position == 0 or os.path.isdir(path):
            sys.path.insert(position, path)


def load_handler(handler):
    """Resolve `module.function` (also `pkg/mod.func`, `pkg.mod.func`) to a callable.

    Raises FaultError with Lambda's error types when it cannot.
    """
    try:
        module_path, function_name = handler.rsplit(".", 1)
        if not module_path or not function_name:
            raise ValueError
    except ValueError:
        raise FaultError("Runtime.MalformedHandlerName",
                         "Bad handler '%s': not enough values to unpack (expected 2, got 1)" % handler)
    module_name = module_path.strip("/").replace("/", ".")
    if module_name.split(".")[0] in sys.builtin_module_names:
        raise FaultError("Runtime.BuiltInModuleConflict",
                         "Cannot use built-in module %s as a handler module" % module_path)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise FaultError("Runtime.ImportModuleError",
                         "Unable to import module '%s': %s" % (module_path, exc))
    except SyntaxError as exc:
        trace = ['  File "%s" Line %s\n    %s\n' % (exc.filename, exc.lineno, (exc.text or "").strip())]
        raise FaultError("Runtime.UserCodeSyntaxError",
                         "Syntax error in module '%s': %s" % (module_path, exc), trace)
    # Any other exception raised while the module runs is reported as is by the caller.
    function = getattr(module, function_name, None)
    if function is None:
        raise FaultError("Runtime.HandlerNotFound",
                         "Handler '%s' missing on module '%s'" % (function_name, module_path))
    if not callable(function):
        raise FaultError("Runtime.HandlerNotFound",
                         "Handler '%s' on module '%s' is not callable" % (function_name, module_path))
    return function


# --------------------------------------------------------------------------
# The context object
# --------------------------------------------------------------------------

class CognitoIdentity(object):
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]

    def __init__(self, identity_id=None, pool_id=None):
        self.cognito_identity_id = identity_id
        self.cognito_identity_pool_id = pool_id

    def __repr__(self):
        return "CognitoIdentity([cognito_identity_id=%s,cognito_identity_pool_id=%s])" % (
            self.cognito_identity_id, self.cognito_identity_pool_id)


class Client(object):
    __slots__ = ["installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name"]

    def __init__(self, data):
        for name in self.__slots__:
            setattr(self, name, data.get(name))

    def __repr__(self):
        return "Client(%s)" % ",".join("%s=%s" % (n, getattr(self, n)) for n in self.__slots__)


class ClientContext(object):
    __slots__ = ["custom", "env", "client"]

    def __init__(self, data):
        self.custom = data.get("custom")
        self.env = data.get("env")
        client = data.get("client")
        self.client = Client(client) if isinstance(client, dict) else None

    def __repr__(self):
        return "ClientContext([custom=%s,env=%s,client=%s])" % (self.custom, self.env, self.client)


class LambdaContext(object):
    """Lambda's Python context object."""

    def __init__(self, request_id, deadline_ms, invoked_function_arn,
                 client_context=None, cognito_identity=None, static=None):
        static = static if static is not None else static_config()
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_function_arn
        self.function_name = static["function_name"]
        self.function_version = static["function_version"]
        self.memory_limit_in_mb = static["memory_limit_in_mb"]
        self.log_group_name = static["log_group_name"]
        self.log_stream_name = static["log_stream_name"]
        self._deadline_ms = int(deadline_ms) if deadline_ms else 0
        self.client_context = ClientContext(client_context) if isinstance(client_context, dict) else None
        identity = cognito_identity if isinstance(cognito_identity, dict) else {}
        self.identity = CognitoIdentity(identity.get("cognitoIdentityId"), identity.get("cognitoIdentityPoolId"))

    def get_remaining_time_in_millis(self):
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def log(self, msg):
        sys.stdout.write(str(msg))
        sys.stdout.flush()

    def __repr__(self):
        return ("LambdaContext([aws_request_id=%s,log_group_name=%s,log_stream_name=%s,function_name=%s,"
                "memory_limit_in_mb=%s,function_version=%s,invoked_function_arn=%s,client_context=%s,identity=%s])") % (
            self.aws_request_id, self.log_group_name, self.log_stream_name, self.function_name,
            self.memory_limit_in_mb, self.function_version, self.invoked_function_arn,
            self.client_context, self.identity)


def static_config():
    env = os.environ
    return {
        "function_name": env.get("AWS_LAMBDA_FUNCTION_NAME"),
        "function_version": env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        # Lambda gives the memory size as the string from the environment.
        "memory_limit_in_mb": env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
        "log_group_name": env.get("AWS_LAMBDA_LOG_GROUP_NAME"),
        "log_stream_name": env.get("AWS_LAMBDA_LOG_STREAM_NAME"),
    }


def parse_json_header(value):
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


# --------------------------------------------------------------------------
# Serialisation
# --------------------------------------------------------------------------

def _default(obj):
    if isinstance(obj, decimal.Decimal):
        if obj.is_nan():
            raise TypeError("Object of type Decimal is not JSON serializable: NaN")
        return int(obj) if obj == obj.to_integral_value() else float(obj)
    raise TypeError("Object of type %s is not JSON serializable" % type(obj).__name__)


def to_json(result):
    """The response body, as Lambda's Python runtime writes it (json.dumps, default separators)."""
    return json.dumps(result, default=_default).encode("utf-8")


# --------------------------------------------------------------------------
# Runtime API client (one persistent HTTP/1.1 connection)
# --------------------------------------------------------------------------
#
# A small HTTP/1.1 client of its own rather than http.client: it runs twice
# per invocation, and http.client parses every answer's headers with the
# email package (about 30 us an answer) and sends a POST's headers and body
# in two writes, two segments the agent reads apart. Here a request is one
# sendall and an answer is parsed by splitting its head. It reads what any
# HTTP/1.1 server may answer: a Content-Length body, a chunked one, or one
# that ends when the server closes the connection.

class RuntimeAPIError(Exception):
    pass


class ProtocolError(Exception):
    """The Runtime API answered something that is not HTTP/1.x."""


# Request ids are UUIDs; anything else in one is percent-encoded (the agent decodes the path).
_UNSAFE_IN_PATH = re.compile(r"[^A-Za-z0-9._~-]")
# Bodies larger than this are sent in a second write instead of being copied behind the head.
_JOIN_LIMIT = 64 * 1024
_RECV_SIZE = 64 * 1024


def _path_segment(value):
    if not _UNSAFE_IN_PATH.search(value):
        return value
    return _UNSAFE_IN_PATH.sub(lambda m: "".join("%%%02X" % b for b in m.group(0).encode("utf-8")), value)


def parse_head(head):
    """(status, version, headers) of an answer's head (the bytes before the blank line); header names lower-cased."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ProtocolError("not an HTTP/1.x status line: %r" % lines[0][:100])
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            name = name.strip().lower()
            value = value.strip()
            headers[name] = headers[name] + ", " + value if name in headers else value
    return int(parts[1]), parts[0], headers


class RuntimeClient(object):
    def __init__(self, address):
        host, _, port = address.rpartition(":")
        if not host:
            host, port = address, "80"
        self._host = host.strip("[]")
        self._port = int(port)
        self._sock = None
        self._buffer = b""
        self._base = "/%s/runtime" % API_VERSION
        authority = "[%s]:%d" % (self._host, self._port) if ":" in self._host else "%s:%d" % (self._host, self._port)
        self._host_line = "Host: %s\r\n" % authority
        # Pre-built once: every invocation starts with it.
        self._next_request = ("GET %s/invocation/next HTTP/1.1\r\n%s\r\n" % (self._base, self._host_line)).encode("latin-1")

    def close(self):
        sock, self._sock, self._buffer = self._sock, None, b""
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def _exchange(self, head, body=b"", retry=True):
        """Sends one request and returns (status, headers, body) of its answer."""
        try:
            if self._sock is None:
                self._sock = socket.create_connection((self._host, self._port))
                self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if len(body) <= _JOIN_LIMIT:
                self._sock.sendall(head + body if body else head)
            else:
                self._sock.sendall(head)
                self._sock.sendall(body)
            return self._read_answer()
        except (OSError, ProtocolError, ValueError):
            self.close()
            if not retry:
                raise
            # The agent may have closed an idle keep-alive connection; try once more.
            return self._exchange(head, body, retry=False)

    def _fill(self, data, size):
        """`data` extended with reads from the connection until it holds at least `size` bytes."""
        if len(data) >= size:
            return data
        parts = [data]
        have = len(data)
        while have < size:
            chunk = self._sock.recv(max(size - have, _RECV_SIZE))
            if not chunk:
                raise ConnectionError("the Runtime API closed the connection")
            parts.append(chunk)
            have += len(chunk)
        return b"".join(parts)

    def _read_line(self, data):
        """(line, rest): the next CRLF-ended line of `data`, reading more as needed."""
        end = data.find(b"\r\n")
        while end < 0:
            data = self._fill(data, len(data) + 1)
            end = data.find(b"\r\n")
        return data[:end], data[end + 2:]

    def _read_answer(self):
        data = self._buffer
        while True:
            end = data.find(b"\r\n\r\n")
            while end < 0:
                data = self._fill(data, len(data) + 1)
                end = data.find(b"\r\n\r\n", max(len(data) - _RECV_SIZE - 3, 0))
            status, version, headers = parse_head(data[:end])
            data = data[end + 4:]
            if status >= 200:
                break  # a 1xx (never asked for) is skipped
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body, data = self._read_chunked(data)
        elif "content-length" in headers:
            size = int(headers["content-length"])
            data = self._fill(data, size)
            body, data = data[:size], data[size:]
        elif status in (204, 304):
            body = b""
        else:
            # No length given: the body ends with the connection.
            parts = [data]
            while True:
                chunk = self._sock.recv(_RECV_SIZE)
                if not chunk:
                    break
                parts.append(chunk)
            body, data = b"".join(parts), b""
            headers["connection"] = "close"
        connection = headers.get("connection", "").lower()
        if connection == "close" or (version == "HTTP/1.0" and connection != "keep-alive"):
            self.close()
        else:
            self._buffer = data
        return status, headers, body

    def _read_chunked(self, data):
        parts = []
        while True:
            line, data = self._read_line(data)
            size = int(line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                break
            data = self._fill(data, size + 2)
            parts.append(data[:size])
            data = data[size + 2:]
        while True:  # trailers, up to the blank line
            line, data = self._read_line(data)
            if not line:
                return b"".join(parts), data

    def next(self):
        """(headers, body) of the next invocation; header names are lower-case."""
        return self._next_answer(self._exchange(self._next_request))

    @staticmethod
    def _next_answer(answer):
        status, headers, body = answer
        if status != 200:
            raise RuntimeAPIError("GET /invocation/next: HTTP %d %s" % (status, body[:200]))
        return headers, body

    def respond_then_next(self, request_id, body):
        """Posts the invocation's answer and returns the next invocation, as next() does (one write: see _post_then_next)."""
        return self._post_then_next("/invocation/%s/response" % _path_segment(request_id), body, {"Content-Type": "application/json"})

    def error_then_next(self, request_id, error):
        """Posts the invocation's error and returns the next invocation, as next() does (one write: see _post_then_next)."""
        return self._post_then_next("/invocation/%s/error" % _path_segment(request_id), *self._error_payload(error))

    def post_init_error(self, error):
        self._post("/init/error", *self._error_payload(error))

    @staticmethod
    def _error_payload(error):
        error_type = str(error.get("errorType") or "Unknown")
        header_value = "".join(c for c in error_type if 32 <= ord(c) < 127)
        headers = {"Content-Type": ERROR_CONTENT_TYPE, "Lambda-Runtime-Function-Error-Type": header_value}
        return to_json(error), headers

    def _post_head(self, path, body, headers):
        head = "POST %s%s HTTP/1.1\r\n%sContent-Length: %d\r\n" % (self._base, path, self._host_line, len(body))
        head += "".join("%s: %s\r\n" % item for item in headers.items()) + "\r\n"
        return head.encode("latin-1")

    def _post(self, path, body, headers):
        status, _, data = self._exchange(self._post_head(path, body, headers), body)
        self._check_post(path, status, data)

    def _post_then_next(self, path, body, headers):
        """An invocation's outcome and the request for the next event in one
        write (HTTP/1.1 pipelining): the agent reads both at once and hands
        the next event over as soon as the outcome is settled, with no round
        trip between the 202 and the /next in which the runtime waits.
        Returns next()'s (headers, body). A connection lost before the post's
        answer posts again on a new one (a post the agent already has is
        answered 400 and logged, as _exchange's retry does); one lost after
        it asks for the next event again.
        """
        if self._sock is None or len(body) > _JOIN_LIMIT:
            self._post(path, body, headers)
            return self.next()
        try:
            self._sock.sendall(self._post_head(path, body, headers) + body + self._next_request)
            status, _, data = self._read_answer()
        except (OSError, ProtocolError, ValueError):
            self.close()
            self._post(path, body, headers)
            return self.next()
        self._check_post(path, status, data)
        if self._sock is None:
            # The post's answer closed the connection: the /next sent behind it was never read.
            return self.next()
        try:
            return self._next_answer(self._read_answer())
        except (OSError, ProtocolError, ValueError):
            self.close()
            return self.next()

    @staticmethod
    def _check_post(path, status, data):
        if status >= 300:
            # 413 (payload too large) or 400 (unknown/expired request): the agent has
            # already decided the outcome; log it and carry on with the next invocation.
            sys.stderr.write("[WARNING] POST %s: HTTP %d %s\n" % (path, status, data[:200].decode("utf-8", "replace")))
            sys.stderr.flush()


# --------------------------------------------------------------------------
# Logging: Lambda's format for the logging module
# --------------------------------------------------------------------------

_current_request_id = None


class _RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = _current_request_id
        return True


# Lambda's advanced logging controls: with AWS_LAMBDA_LOG_FORMAT=JSON the
# root logger writes one JSON object a line (timestamp, level, message,
# logger, requestId) and its level is AWS_LAMBDA_LOG_LEVEL's.
TRACE = 5  # below DEBUG: Python has no TRACE, Lambda's levels do
_LEVEL_NAMES = {TRACE: "TRACE", logging.DEBUG: "DEBUG", logging.INFO: "INFO", logging.WARNING: "WARN", logging.ERROR: "ERROR", logging.CRITICAL: "FATAL"}
_LAMBDA_LEVELS = {"TRACE": TRACE, "DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARN": logging.WARNING, "ERROR": logging.ERROR, "FATAL": logging.CRITICAL}
# What every LogRecord has; anything else on a record came from `extra=` and is logged as a field.
_RECORD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "aws_request_id", "taskName"}


def json_logs(env=None):
    return (env if env is not None else os.environ).get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"


def log_level(env=None):
    """The root logger's level from AWS_LAMBDA_LOG_LEVEL (INFO when unset or unknown)."""
    name = (env if env is not None else os.environ).get("AWS_LAMBDA_LOG_LEVEL", "INFO").upper()
    return _LAMBDA_LEVELS.get(name, logging.INFO)


def level_name(levelno):
    """Lambda's name of a Python level: WARNING is WARN, CRITICAL is FATAL; in between, the level below."""
    for number in sorted(_LEVEL_NAMES, reverse=True):
        if levelno >= number:
            return _LEVEL_NAMES[number]
    return "TRACE"


def _iso(created):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + ".%03dZ" % (int(created * 1000) % 1000)


def _iso_now():
    return _iso(time.time())


class JsonFormatter(logging.Formatter):
    """One JSON object a record, in the shape of Lambda's Python runtime."""

    def format(self, record):
        # A dict logged on its own stays an object, as Lambda shows it.
        message = record.msg if isinstance(record.msg, dict) and not record.args else record.getMessage()
        entry = {"timestamp": _iso(record.created), "level": level_name(record.levelno), "message": message, "logger": record.name}
        request_id = getattr(record, "aws_request_id", None)
        if request_id is not None:
            entry["requestId"] = request_id
        if record.exc_info and record.exc_info[0] is not None:
            exc_type, exc, tb = record.exc_info
            entry["errorType"] = exc_type.__name__
            entry["errorMessage"] = str(exc)
            entry["stackTrace"] = traceback.format_tb(tb)
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and key not in entry:
                entry[key] = value
        return json.dumps(entry, default=str, ensure_ascii=False)


def setup_logging():
    """Give the root logger Lambda's handler and format, unless the user has one."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stdout)
    if json_logs():
        logging.addLevelName(TRACE, "TRACE")
        handler.setFormatter(JsonFormatter())
        root.setLevel(log_level())
    else:
        handler.setFormatter(logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n", "%Y-%m-%dT%H:%M:%S"))
        handler.formatter.converter = time.gmtime
    handler.addFilter(_RequestIdFilter())
    root.addHandler(handler)


# --------------------------------------------------------------------------
# The loop
# --------------------------------------------------------------------------

def handle_one(client, handler, headers, body, static):
    """Run one invocation, post its outcome and return the next invocation's (headers, body)."""
    global _current_request_id
    request_id = headers.get("lambda-runtime-aws-request-id")
    _current_request_id = request_id
    trace_id = headers.get("lambda-runtime-trace-id")
    if trace_id:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)
    # The same trace in W3C form, in the variable OpenTelemetry's environment carrier reads.
    traceparent = headers.get("traceparent")
    if traceparent:
        os.environ["TRACEPARENT"] = traceparent
    else:
        os.environ.pop("TRACEPARENT", None)
    context = LambdaContext(
        request_id,
        headers.get("lambda-runtime-deadline-ms"),
        headers.get("lambda-runtime-invoked-function-arn"),
        parse_json_header(headers.get("lambda-runtime-client-context")),
        parse_json_header(headers.get("lambda-runtime-cognito-identity")),
        static,
    )
    try:
        try:
            event = json.loads(body) if body else None
        except ValueError as exc:
            raise FaultError("Runtime.UnmarshalError", "Unable to unmarshal input: %s" % exc)
        result = handler(event, context)
        try:
            payload = to_json(result)
        except (TypeError, ValueError) as exc:
            raise FaultError("Runtime.MarshalError", "Unable to marshal response: %s" % exc)
    except Exception as exc:  # noqa: BLE001 - every user error is reported
        error = error_from_exception(exc, request_id)
        log_error(error)
        flush_streams()
        return client.error_then_next(request_id, error)
    flush_streams()
    return client.respond_then_next(request_id, payload)


def flush_streams():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass


def init(client):
    """Load the handler, or report the failure to /init/error and exit non-zero."""
    task_root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    try:
        # Lambda runs functions with the task root as working directory.
        os.chdir(task_root)
    except OSError:
        pass  # a missing task root shows up as an import error below
    setup_sys_path(task_root)
    setup_logging()
    handler_name = os.environ.get("_HANDLER", "")
    try:
        return load_handler(handler_name)
    except Exception as exc:  # noqa: BLE001
        error = error_from_exception(exc)
        log_error(error)
        try:
            client.post_init_error(error)
        except Exception as post_exc:  # noqa: BLE001
            sys.stderr.write("[ERROR] could not post the init error: %s\n" % post_exc)
        flush_streams()
        sys.exit(1)


def serve(api, ready_fd=None):
    """One runtime: init, then the /next loop on its own connection, for ever.

    ready_fd (a worker's pipe to its supervisor) gets one byte once the
    handler has loaded, just before the first /next.
    """
    client = RuntimeClient(api)
    handler = init(client)
    static = static_config()
    if ready_fd is not None:
        os.write(ready_fd, b"1")
        os.close(ready_fd)
    headers, body = client.next()
    while True:
        headers, body = handle_one(client, handler, headers, body, static)


# --------------------------------------------------------------------------
# Concurrency: one worker process per concurrent invocation
# --------------------------------------------------------------------------
#
# AWS_LAMBDA_MAX_CONCURRENCY=N > 1 makes this process a supervisor of N
# worker processes, each a complete runtime as above: its own init (the
# handler's module is imported in every worker), its own /next loop and HTTP
# connection, one invocation at a time. Processes, not threads, because that
# is how Lambda's own multi-concurrent Python runtime works and the only way
# handlers written for Lambda keep running unchanged: module-level globals,
# clients and connections made at init are never used by two invocations at
# once; _X_AMZN_TRACE_ID (an environment variable, read by the X-Ray SDK),
# the logging request id and the context stay per invocation without any
# thread-local plumbing; and CPU-bound handlers are not serialised by the GIL.
# The price is memory (N imports) and N inits.
#
# The first worker inits alone; the others are forked once it has loaded the
# handler, so an init error is reported once, exactly as with one process,
# and the first call waits for one init only. The instance is one unit for
# the agent: the first worker to end (a crash, sys.exit) ends the supervisor
# with the same status, after killing the other workers, so the agent fails
# the invocations in flight and restarts the instance; and workers die with
# the supervisor (which the agent kills on a timeout) through
# PR_SET_PDEATHSIG, or a pipe where that does not exist.

PR_SET_PDEATHSIG = 1


def max_concurrency(env=None):
    """AWS_LAMBDA_MAX_CONCURRENCY as a count of workers (1 when unset or not a positive integer)."""
    value = (os.environ if env is None else env).get("AWS_LAMBDA_MAX_CONCURRENCY", "")
    try:
        return max(int(value), 1)
    except ValueError:
        return 1


def exit_code(exc):
    """The exit status for an exception that ends a runtime (or None to let it propagate)."""
    if isinstance(exc, SystemExit):
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        sys.stderr.write("%s\n" % exc.code)
        return 1
    if isinstance(exc, KeyboardInterrupt):
        return 130
    if isinstance(exc, RuntimeAPIError):
        sys.stderr.write("[ERROR] %s\n" % exc)
        return 1
    if isinstance(exc, (ConnectionError, ProtocolError, OSError)):
        sys.stderr.write("[ERROR] lost the Runtime API: %s\n" % exc)
        return 1
    return None


def _die_with_parent(parent, alive_fd):
    """Make this worker end when the supervisor ends, however it ends."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    except (ImportError, OSError, AttributeError):
        # Not Linux: the supervisor holds the pipe's write end; EOF means it is gone.
        import threading

        def watch():
            os.read(alive_fd, 1)
            os._exit(1)
        threading.Thread(target=watch, name="hearth-parent-watch", daemon=True).start()
    if os.getppid() != parent:  # the supervisor died before the line above took effect
        os._exit(1)


def _fork_worker(api, alive, ready=None):
    """Start one worker process; returns its pid (in the supervisor)."""
    parent = os.getpid()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        os.close(alive[1])
        if ready is not None:
            os.close(ready[0])
        _die_with_parent(parent, alive[0])
        # Whole lines reach the shared pipe in one write each, so the lines of
        # concurrent workers do not mix (the agent reads them line by line).
        if hasattr(sys.stdout, "reconfigure"):
            sys.stdout.reconfigure(line_buffering=True)
        serve(api, ready[1] if ready is not None else None)
    except BaseException as exc:  # noqa: BLE001 - a worker never returns into the supervisor
        code = exit_code(exc)
        if code is None:
            traceback.print_exc()
            code = 1
    finally:
        flush_streams()
        os._exit(code)


def _exit_as(status):
    """End the supervisor the way its worker ended, so the agent reports the same."""
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        try:
            signal.signal(-code, signal.SIG_DFL)
        except (OSError, ValueError):
            pass  # SIGKILL and SIGSTOP keep their default anyway
        os.kill(os.getpid(), -code)
        code = 128 - code
    sys.exit(code)


def supervise(api, workers):
    """Run `workers` worker processes; return only by exiting when the first of them ends."""
    flush_streams()  # nothing buffered here may be written again by a worker
    alive = os.pipe()
    ready = os.pipe()
    pids = {_fork_worker(api, alive, ready)}
    os.close(ready[1])
    first_ready = os.read(ready[0], 1) == b"1"
    os.close(ready[0])
    if first_ready:
        for _ in range(workers - 1):
            pids.add(_fork_worker(api, alive))
    pid, status = os.wait()
    pids.discard(pid)
    for other in pids:
        try:
            os.kill(other, signal.SIGKILL)
        except OSError:
            pass
    for other in pids:
        try:
            os.waitpid(other, 0)
        except OSError:
            pass
    _exit_as(status)


def main():
    if os.environ.get("HEARTH_SPECIALIZE") == "stdin":
        specialize_from_stdin()
    api = os.environ.get("AWS_LAMBDA_RUNTIME_API")
    if not api:
        sys.stderr.write("AWS_LAMBDA_RUNTIME_API is not set\n")
        sys.exit(2)
    workers = max_concurrency()
    if workers > 1:
        supervise(api, workers)
    else:
        serve(api)


if __name__ == "__main__":
    # Keep this directory off the import path so it cannot shadow user modules.
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
    try:
        main()
    except (KeyboardInterrupt, RuntimeAPIError, ConnectionError, ProtocolError, OSError) as _exc:
        sys.exit(exit_code(_exc))
