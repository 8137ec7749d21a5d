"""The runtime as a real child process against a stub Runtime API."""

import json
import time

from conftest import base_env, write_files

HELLO = """import json

def lambda_handler(event, context):
    # Your code here
    return {
        'statusCode': 200,
        'body': json.dumps('Hello, world!')
    }
"""

APP = """import os, sys, decimal

COUNT = 0

def count(event, context):
    global COUNT
    COUNT += 1
    return {"count": COUNT, "pid": os.getpid()}

def ctx(event, context):
    return {
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "invoked_function_arn": context.invoked_function_arn,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "identity_id": context.identity.cognito_identity_id,
        "identity_pool": context.identity.cognito_identity_pool_id,
        "client_custom": context.client_context.custom if context.client_context else None,
        "remaining": context.get_remaining_time_in_millis(),
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
        "event": event,
        "cwd": os.getcwd(),
        "path0": sys.path[0],
    }

def fail(event, context):
    raise ValueError("bad value: " + str(event.get("x")))

def printer(event, context):
    print("printed " + event["tag"])
    sys.stderr.write("stderr " + event["tag"] + "\\n")
    return "ok"

def dec(event, context):
    return {"d": decimal.Decimal("2.5")}

def unserialisable(event, context):
    return {1, 2}
"""


def start(start_runtime, api, tmp_path, handler, files=None):
    write_files(tmp_path, files or {"app.py": APP})
    return start_runtime(base_env(api.address, tmp_path, handler))


def test_lambda_guide_hello_world(api, start_runtime, tmp_path):
    start(start_runtime, api, tmp_path, "lambda_function.lambda_handler", {"lambda_function.py": HELLO})
    result = api.invoke({"key1": "value1"})
    assert result.kind == "response"
    assert result.body == b'{"statusCode": 200, "body": "\\"Hello, world!\\""}'
    assert result.headers["Content-Type"] == "application/json"


def test_many_invocations_one_process_one_connection(api, start_runtime, tmp_path):
    start(start_runtime, api, tmp_path, "app.count")
    bodies = [api.invoke({}).json() for _ in range(20)]
    assert [b["count"] for b in bodies] == list(range(1, 21))
    assert len({b["pid"] for b in bodies}) == 1
    ports = {port for _, _, port in api.requests}
    assert len(ports) == 1, "the runtime should keep one persistent connection"


def test_context_and_trace_id(api, start_runtime, tmp_path):
    start(start_runtime, api, tmp_path, "app.ctx")
    deadline = int(time.time() * 1000) + 60000
    body = api.invoke(
        {"hello": "there"}, request_id="req-ctx-1", deadline_ms=deadline,
        arn="arn:aws:lambda:us-east-1:123456789012:function:test-fn:prod", trace_id="Root=1-abc;Parent=def;Sampled=1",
        client_context={"custom": {"a": "b"}}, identity={"cognitoIdentityId": "cid", "cognitoIdentityPoolId": "pool"},
    ).json()
    assert body["aws_request_id"] == "req-ctx-1"
    assert body["function_name"] == "test-fn"
    assert body["function_version"] == "$LATEST"
    assert body["memory_limit_in_mb"] == "256"
    assert body["invoked_function_arn"] == "arn:aws:lambda:us-east-1:123456789012:function:test-fn:prod"
    assert body["log_group_name"] == "/aws/lambda/test-fn"
    assert body["log_stream_name"] == "2024/01/01/[$LATEST]abc"
    assert body["identity_id"] == "cid" and body["identity_pool"] == "pool"
    assert body["client_custom"] == {"a": "b"}
    assert 50000 < body["remaining"] <= 60000
    assert body["trace"] == "Root=1-abc;Parent=def;Sampled=1"
    assert body["event"] == {"hello": "there"}
    assert body["path0"] == str(tmp_path)
    assert body["cwd"] == str(tmp_path)
    # The trace id is per invocation: the next one has none.
    assert api.invoke({}).json()["trace"] is None
    assert api.invoke({}, trace_id="Root=2").json()["trace"] == "Root=2"


def test_handler_error_is_posted_in_lambda_shape(api, start_runtime, tmp_path):
    rt = start(start_runtime, api, tmp_path, "app.fail")
    result = api.invoke({"x": 42}, request_id="req-err-1")
    assert result.kind == "error"
    assert result.headers["Lambda-Runtime-Function-Error-Type"] == "ValueError"
    assert result.headers["Content-Type"] == "application/vnd.aws.lambda.error+json"
    error = result.json()
    assert list(error) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert error["errorMessage"] == "bad value: 42"
    assert error["errorType"] == "ValueError"
    assert error["requestId"] == "req-err-1"
    assert len(error["stackTrace"]) == 1
    assert 'app.py", line' in error["stackTrace"][0] and "in fail" in error["stackTrace"][0]
    # The process survives and serves the next invocation.
    assert api.invoke({"x": 1}).kind == "error"
    assert rt.proc.poll() is None


def test_invalid_json_event_is_unmarshal_error(api, start_runtime, tmp_path):
    start(start_runtime, api, tmp_path, "app.count")
    result = api.invoke(None, raw=b"{not json")
    assert result.kind == "error"
    assert result.headers["Lambda-Runtime-Function-Error-Type"] == "Runtime.UnmarshalError"


def test_decimal_and_marshal_error(api, start_runtime, tmp_path):
    start(start_runtime, api, tmp_path, "app.dec")
    assert api.invoke({}).body == b'{"d": 2.5}'


def test_unserialisable_result(api, start_runtime, tmp_path):
    start(start_runtime, api, tmp_path, "app.unserialisable")
    result = api.invoke({})
    assert result.kind == "error"
    assert result.json()["errorType"] == "Runtime.MarshalError"
    assert "Unable to marshal response" in result.json()["errorMessage"]


def test_output_is_flushed_after_each_invocation(api, start_runtime, tmp_path):
    rt = start(start_runtime, api, tmp_path, "app.printer")
    assert api.invoke({"tag": "one"}).json() == "ok"
    assert "printed one" in rt.read_stdout_until("printed one")
    assert api.invoke({"tag": "two"}).json() == "ok"
    assert "printed two" in rt.read_stdout_until("printed two")


def _init_failure(api, start_runtime, tmp_path, handler, files):
    rt = start(start_runtime, api, tmp_path, handler, files)
    init_error = api.wait_init_error()
    assert rt.wait(10) != 0
    return init_error


def test_init_error_import(api, start_runtime, tmp_path):
    err = _init_failure(api, start_runtime, tmp_path, "missing.handler", {"app.py": APP})
    assert err.headers["Lambda-Runtime-Function-Error-Type"] == "Runtime.ImportModuleError"
    body = err.json()
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"] == "Unable to import module 'missing': No module named 'missing'"


def test_init_error_handler_not_found(api, start_runtime, tmp_path):
    err = _init_failure(api, start_runtime, tmp_path, "app.nope", {"app.py": APP})
    assert err.headers["Lambda-Runtime-Function-Error-Type"] == "Runtime.HandlerNotFound"
    assert err.json()["errorMessage"] == "Handler 'nope' missing on module 'app'"


def test_init_error_syntax(api, start_runtime, tmp_path):
    err = _init_failure(api, start_runtime, tmp_path, "bad.handler", {"bad.py": "def handler(:\n"})
    assert err.headers["Lambda-Runtime-Function-Error-Type"] == "Runtime.UserCodeSyntaxError"
    assert err.json()["errorMessage"].startswith("Syntax error in module 'bad'")


def test_init_error_exception_at_import(api, start_runtime, tmp_path):
    err = _init_failure(api, start_runtime, tmp_path, "boom.handler",
                        {"boom.py": "raise KeyError('config')\ndef handler(e, c):\n    pass\n"})
    body = err.json()
    assert body["errorType"] == "KeyError"
    assert body["stackTrace"] and "boom.py" in body["stackTrace"][0]
    assert not any("bootstrap.py" in line for line in body["stackTrace"])


def test_specialisation_from_stdin(api, start_runtime, tmp_path):
    write_files(tmp_path, {"app.py": APP})
    env = base_env(api.address, tmp_path, "app.ctx")
    function_env = {k: env.pop(k) for k in list(env) if k.startswith(("AWS_", "LAMBDA_", "_HANDLER"))}
    env["HEARTH_SPECIALIZE"] = "stdin"
    rt = start_runtime(env, stdin=True, cwd="/")
    # Before the line arrives the runtime knows no function and must not call the API.
    time.sleep(0.3)
    assert rt.proc.poll() is None
    assert api.requests == []
    rt.proc.stdin.write((json.dumps({"env": function_env}) + "\n").encode())
    rt.proc.stdin.flush()
    body = api.invoke({"n": 1}, request_id="spec-1").json()
    assert body["aws_request_id"] == "spec-1"
    assert body["function_name"] == "test-fn"
    assert body["memory_limit_in_mb"] == "256"
    assert body["cwd"] == str(tmp_path)
    assert body["path0"] == str(tmp_path)
    assert api.invoke({"n": 2}).json()["event"] == {"n": 2}
