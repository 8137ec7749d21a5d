"""Unit tests of the runtime's pieces, in process: handler loading, context, error JSON."""

import decimal
import io
import json
import os
import re
import socket
import sys
import threading
import time
import uuid

import pytest

import bootstrap
from conftest import write_files


@pytest.fixture
def task_root(tmp_path, monkeypatch):
    """A task root on sys.path whose modules are forgotten afterwards."""
    before = set(sys.modules)
    monkeypatch.setattr(sys, "path", [str(tmp_path)] + sys.path)
    yield tmp_path
    for name in set(sys.modules) - before:
        del sys.modules[name]


def unique(prefix="m"):
    return "%s_%s" % (prefix, uuid.uuid4().hex[:8])


# -- handler loading -------------------------------------------------------

def test_loads_module_function(task_root):
    mod = unique()
    write_files(task_root, {mod + ".py": "def handler(e, c):\n    return e\n"})
    fn = bootstrap.load_handler(mod + ".handler")
    assert fn({"a": 1}, None) == {"a": 1}


@pytest.mark.parametrize("style", ["slash", "dot"])
def test_loads_nested_module(task_root, style):
    pkg = unique("pkg")
    write_files(task_root, {
        pkg + "/__init__.py": "",
        pkg + "/sub/__init__.py": "",
        pkg + "/sub/app.py": "def run(e, c):\n    return 'nested'\n",
    })
    sep = "/" if style == "slash" else "."
    fn = bootstrap.load_handler("%s%ssub%sapp.run" % (pkg, sep, sep))
    assert fn(None, None) == "nested"


def test_namespace_package_without_init(task_root):
    pkg = unique("ns")
    write_files(task_root, {pkg + "/app.py": "def run(e, c):\n    return 'ns'\n"})
    assert bootstrap.load_handler(pkg + "/app.run")(None, None) == "ns"


def test_missing_module_is_import_module_error(task_root):
    with pytest.raises(bootstrap.FaultError) as info:
        bootstrap.load_handler("does_not_exist_xyz.handler")
    assert info.value.error_type == "Runtime.ImportModuleError"
    assert "Unable to import module 'does_not_exist_xyz'" in info.value.message


def test_import_error_inside_module_is_import_module_error(task_root):
    mod = unique()
    write_files(task_root, {mod + ".py": "import no_such_dependency_abc\ndef h(e, c):\n    pass\n"})
    with pytest.raises(bootstrap.FaultError) as info:
        bootstrap.load_handler(mod + ".h")
    assert info.value.error_type == "Runtime.ImportModuleError"
    assert "No module named 'no_such_dependency_abc'" in info.value.message


def test_missing_function_is_handler_not_found(task_root):
    mod = unique()
    write_files(task_root, {mod + ".py": "x = 1\n"})
    with pytest.raises(bootstrap.FaultError) as info:
        bootstrap.load_handler(mod + ".handler")
    assert info.value.error_type == "Runtime.HandlerNotFound"
    assert info.value.message == "Handler 'handler' missing on module '%s'" % mod


def test_syntax_error_is_user_code_syntax_error(task_root):
    mod = unique()
    write_files(task_root, {mod + ".py": "def handler(e, c)\n    return 1\n"})
    with pytest.raises(bootstrap.FaultError) as info:
        bootstrap.load_handler(mod + ".handler")
    assert info.value.error_type == "Runtime.UserCodeSyntaxError"
    assert info.value.message.startswith("Syntax error in module '%s'" % mod)
    assert info.value.stack_trace and "Line 1" in info.value.stack_trace[0]


def test_malformed_handler_name():
    with pytest.raises(bootstrap.FaultError) as info:
        bootstrap.load_handler("nodot")
    assert info.value.error_type == "Runtime.MalformedHandlerName"


def test_sys_path_puts_task_root_first(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", ["/somewhere", str(tmp_path), "/else"])
    bootstrap.setup_sys_path(str(tmp_path))
    assert sys.path[0] == str(tmp_path)
    assert sys.path.count(str(tmp_path)) == 1


# -- context -----------------------------------------------------------------

STATIC = {
    "function_name": "fn", "function_version": "$LATEST", "memory_limit_in_mb": "512",
    "log_group_name": "/aws/lambda/fn", "log_stream_name": "stream",
}


def test_context_fields():
    deadline = int(time.time() * 1000) + 5000
    ctx = bootstrap.LambdaContext(
        "req-1", str(deadline), "arn:aws:lambda:eu-west-1:1:function:fn",
        {"client": {"installation_id": "i1", "app_title": "t"}, "custom": {"k": "v"}, "env": {"e": "1"}},
        {"cognitoIdentityId": "id1", "cognitoIdentityPoolId": "pool1"},
        STATIC,
    )
    assert ctx.aws_request_id == "req-1"
    assert ctx.invoked_function_arn == "arn:aws:lambda:eu-west-1:1:function:fn"
    assert ctx.function_name == "fn"
    assert ctx.function_version == "$LATEST"
    assert ctx.memory_limit_in_mb == "512"
    assert ctx.log_group_name == "/aws/lambda/fn"
    assert ctx.log_stream_name == "stream"
    assert ctx.identity.cognito_identity_id == "id1"
    assert ctx.identity.cognito_identity_pool_id == "pool1"
    assert ctx.client_context.custom == {"k": "v"}
    assert ctx.client_context.env == {"e": "1"}
    assert ctx.client_context.client.installation_id == "i1"
    assert ctx.client_context.client.app_title == "t"
    assert ctx.client_context.client.app_package_name is None
    assert 4000 < ctx.get_remaining_time_in_millis() <= 5000
    assert "req-1" in repr(ctx)


def test_context_without_optional_headers():
    ctx = bootstrap.LambdaContext("r", str(int(time.time() * 1000) - 10), "arn", None, None, STATIC)
    assert ctx.client_context is None
    assert ctx.identity.cognito_identity_id is None
    assert ctx.get_remaining_time_in_millis() == 0


def test_static_config_reads_environment(monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "f")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_VERSION", "7")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
    monkeypatch.setenv("AWS_LAMBDA_LOG_GROUP_NAME", "g")
    monkeypatch.setenv("AWS_LAMBDA_LOG_STREAM_NAME", "s")
    assert bootstrap.static_config() == {
        "function_name": "f", "function_version": "7", "memory_limit_in_mb": "1024",
        "log_group_name": "g", "log_stream_name": "s",
    }


# -- error JSON and serialisation ------------------------------------------

def _raise_value_error():
    raise ValueError("bad input")


def test_error_json_from_exception():
    try:
        _raise_value_error()
    except ValueError as exc:
        error = bootstrap.error_from_exception(exc, "req-9")
    assert list(error) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert error["errorMessage"] == "bad input"
    assert error["errorType"] == "ValueError"
    assert error["requestId"] == "req-9"
    assert any('in _raise_value_error' in line and 'raise ValueError("bad input")' in line
               for line in error["stackTrace"])
    assert all(line.startswith('  File "') for line in error["stackTrace"])


def test_fault_error_json():
    error = bootstrap.error_from_exception(bootstrap.FaultError("Runtime.X", "msg"), "r")
    assert error == {"errorMessage": "msg", "errorType": "Runtime.X", "requestId": "r", "stackTrace": []}


def test_error_header_is_error_type():
    body, headers = bootstrap.RuntimeClient._error_payload({"errorType": "ValueError", "errorMessage": "x"})
    assert headers["Lambda-Runtime-Function-Error-Type"] == "ValueError"
    assert headers["Content-Type"] == "application/vnd.aws.lambda.error+json"
    assert json.loads(body)["errorType"] == "ValueError"


def test_to_json_matches_python_json_dumps():
    result = {"statusCode": 200, "body": json.dumps("Hello, world!")}
    assert bootstrap.to_json(result) == b'{"statusCode": 200, "body": "\\"Hello, world!\\""}'
    assert bootstrap.to_json(None) == b"null"
    assert bootstrap.to_json("é") == b'"\\u00e9"'


def test_to_json_decimal():
    assert bootstrap.to_json({"a": decimal.Decimal("3"), "b": decimal.Decimal("1.5")}) == b'{"a": 3, "b": 1.5}'


def test_to_json_rejects_unserialisable():
    with pytest.raises(TypeError):
        bootstrap.to_json({"s": {1, 2}})


# -- specialisation ----------------------------------------------------------

def test_specialize_from_stdin(tmp_path, monkeypatch):
    monkeypatch.delenv("HEARTH_TEST_VAR", raising=False)
    monkeypatch.chdir("/")
    line = json.dumps({"env": {"HEARTH_TEST_VAR": "v1", "LAMBDA_TASK_ROOT": str(tmp_path)}}) + "\n"
    stream = io.BytesIO(line.encode() + b"not read\n")
    bootstrap.specialize_from_stdin(stream)
    assert os.environ["HEARTH_TEST_VAR"] == "v1"
    assert os.getcwd() == str(tmp_path)
    assert stream.read() == b"not read\n"


def test_specialize_puts_pythonpath_on_sys_path(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", ["/usr/lib/python3"])
    monkeypatch.setenv("PYTHONPATH", "")
    layer = str(tmp_path / "python")
    line = json.dumps({"env": {"PYTHONPATH": layer + ":/usr/lib/python3"}}) + "\n"
    bootstrap.specialize_from_stdin(io.BytesIO(line.encode()))
    assert sys.path == [layer, "/usr/lib/python3"]


def test_specialize_rejects_bad_line():
    with pytest.raises(RuntimeError):
        bootstrap.specialize_from_stdin(io.BytesIO(b'{"nope": 1}\n'))
    with pytest.raises(RuntimeError):
        bootstrap.specialize_from_stdin(io.BytesIO(b""))


# -- the Runtime API client's HTTP reading ----------------------------------

def _client_answering(raw):
    """A RuntimeClient whose connection is one end of a socket pair; `raw` waits on the other end."""
    ours, theirs = socket.socketpair()
    client = bootstrap.RuntimeClient("127.0.0.1:1")
    client._sock = ours
    theirs.sendall(raw)
    return client, theirs


def test_client_reads_content_length_answers_back_to_back():
    client, peer = _client_answering(
        b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: a\r\nContent-Length: 2\r\n\r\n{}"
        b"HTTP/1.1 202 Accepted\r\ncontent-length: 15\r\n\r\n{\"status\":\"OK\"}")
    headers, body = client.next()
    assert headers["lambda-runtime-aws-request-id"] == "a" and body == b"{}"
    status, _, body = client._read_answer()
    assert status == 202 and body == b'{"status":"OK"}'
    peer.close()


def test_client_reads_chunked_answer_with_trailers():
    client, peer = _client_answering(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n")
    headers, body = client.next()
    assert body == b"abcde"
    peer.close()


def test_client_reads_body_until_close_without_length():
    client, peer = _client_answering(b"HTTP/1.0 200 OK\r\nA: 1\r\n\r\nhello")
    peer.shutdown(2)
    status, _, body = client._read_answer()
    assert status == 200 and body == b"hello" and client._sock is None


def test_client_rejects_what_is_not_http():
    client, peer = _client_answering(b"SSH-2.0-OpenSSH\r\n\r\n")
    with pytest.raises(bootstrap.ProtocolError):
        client._read_answer()
    peer.close()


def test_request_id_is_percent_encoded_in_the_path():
    assert bootstrap._path_segment("7d3c7c8e-1f0b-4b8e") == "7d3c7c8e-1f0b-4b8e"
    assert bootstrap._path_segment("a b/é") == "a%20b%2F%C3%A9"


# -- an outcome and the next /next in one write -------------------------------

_EVENT_ANSWER = b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: b\r\nContent-Length: 7\r\n\r\n{\"n\":2}"


def _requests_in(data):
    """The request lines of the requests in `data`, in order."""
    return re.findall(rb"(?:GET|POST) \S+(?= HTTP/1\.1\r\n)", data)


def test_respond_then_next_sends_both_requests_in_one_write():
    client, peer = _client_answering(b"HTTP/1.1 202 Accepted\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}" + _EVENT_ANSWER)
    headers, body = client.respond_then_next("a", b'"one"')
    assert headers["lambda-runtime-aws-request-id"] == "b" and body == b'{"n":2}'
    sent = peer.recv(65536)
    assert _requests_in(sent) == [b"POST /2018-06-01/runtime/invocation/a/response", b"GET /2018-06-01/runtime/invocation/next"]
    assert b'\r\n\r\n"one"GET ' in sent
    peer.close()


def test_error_then_next_logs_a_refused_post_and_still_returns_the_next(capsys):
    client, peer = _client_answering(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\n{}" + _EVENT_ANSWER)
    headers, _ = client.error_then_next("a", {"errorType": "ValueError", "errorMessage": "bad"})
    assert headers["lambda-runtime-aws-request-id"] == "b"
    assert "POST /invocation/a/error: HTTP 400" in capsys.readouterr().err
    assert _requests_in(peer.recv(65536))[0] == b"POST /2018-06-01/runtime/invocation/a/error"
    peer.close()


class _ScriptedServer(object):
    """A Runtime API on loopback whose n-th connection reads one read's worth and answers answers[n] (None: closes unanswered)."""

    def __init__(self, answers):
        self.received = []
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(4)
        self._listener.settimeout(10)
        self.address = "127.0.0.1:%d" % self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, args=(answers,), daemon=True)
        self._thread.start()

    def _serve(self, answers):
        for answer in answers:
            conn, _ = self._listener.accept()
            conn.settimeout(10)
            for part in answer if answer is not None else [None]:
                self.received.append(conn.recv(65536))
                if part is None:
                    break
                conn.sendall(part)
            conn.close()

    def close(self):
        self._thread.join(10)
        self._listener.close()


_POST = b"POST /2018-06-01/runtime/invocation/a/response"
_NEXT = b"GET /2018-06-01/runtime/invocation/next"


@pytest.mark.parametrize("answers, requests", [
    # Lost before the post's answer: unknown whether it arrived, so it is posted again on a new connection, then the next asked for.
    ([None, [b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}", _EVENT_ANSWER]], [[_POST, _NEXT], [_POST], [_NEXT]]),
    # The post's answer closes the connection: the /next behind it was never read, so it is asked for again.
    ([[b"HTTP/1.1 202 Accepted\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"], [_EVENT_ANSWER]], [[_POST, _NEXT], [_NEXT]]),
], ids=["lost before the post's answer", "closed by the post's answer"])
def test_respond_then_next_recovers_a_connection_that_ends(answers, requests):
    server = _ScriptedServer(answers)
    client = bootstrap.RuntimeClient(server.address)
    client._sock = socket.create_connection(("127.0.0.1", int(server.address.split(":")[1])))
    headers, _ = client.respond_then_next("a", b'"one"')
    server.close()
    client.close()
    assert headers["lambda-runtime-aws-request-id"] == "b"
    assert [_requests_in(r) for r in server.received] == requests
