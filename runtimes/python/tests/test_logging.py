"""Lambda's advanced logging controls in the Python runtime: AWS_LAMBDA_LOG_FORMAT=JSON
gives the root logger Lambda's JSON lines, AWS_LAMBDA_LOG_LEVEL its level."""

import json
import logging

import pytest

import bootstrap
from conftest import base_env, write_files


@pytest.mark.parametrize("env,want", [
    ({}, False),
    ({"AWS_LAMBDA_LOG_FORMAT": "Text"}, False),
    ({"AWS_LAMBDA_LOG_FORMAT": "JSON"}, True),
    ({"AWS_LAMBDA_LOG_FORMAT": "json"}, True),
])
def test_json_logs(env, want):
    assert bootstrap.json_logs(env) is want


@pytest.mark.parametrize("env,level", [
    ({}, logging.INFO),
    ({"AWS_LAMBDA_LOG_LEVEL": "TRACE"}, bootstrap.TRACE),
    ({"AWS_LAMBDA_LOG_LEVEL": "debug"}, logging.DEBUG),
    ({"AWS_LAMBDA_LOG_LEVEL": "WARN"}, logging.WARNING),
    ({"AWS_LAMBDA_LOG_LEVEL": "ERROR"}, logging.ERROR),
    ({"AWS_LAMBDA_LOG_LEVEL": "FATAL"}, logging.CRITICAL),
    ({"AWS_LAMBDA_LOG_LEVEL": "LOUD"}, logging.INFO),
])
def test_log_level(env, level):
    assert bootstrap.log_level(env) == level


@pytest.mark.parametrize("levelno,name", [
    (bootstrap.TRACE, "TRACE"), (logging.DEBUG, "DEBUG"), (logging.INFO, "INFO"), (25, "INFO"),
    (logging.WARNING, "WARN"), (logging.ERROR, "ERROR"), (logging.CRITICAL, "FATAL"), (1, "TRACE"),
])
def test_level_name(levelno, name):
    assert bootstrap.level_name(levelno) == name


def _record(msg, args=(), level=logging.INFO, exc_info=None, **extra):
    record = logging.LogRecord("my.logger", level, __file__, 1, msg, args, exc_info)
    record.created = 1765083600.25  # 2025-12-07T05:00:00.250Z
    for key, value in extra.items():
        setattr(record, key, value)
    return record


@pytest.mark.parametrize("record,want", [
    (_record("hello %s", ("you",), aws_request_id="r1"),
     {"timestamp": "2025-12-07T05:00:00.250Z", "level": "INFO", "message": "hello you", "logger": "my.logger", "requestId": "r1"}),
    (_record("careful", level=logging.WARNING, aws_request_id=None),
     {"timestamp": "2025-12-07T05:00:00.250Z", "level": "WARN", "message": "careful", "logger": "my.logger"}),
    (_record({"k": 1}, aws_request_id="r1"),
     {"timestamp": "2025-12-07T05:00:00.250Z", "level": "INFO", "message": {"k": 1}, "logger": "my.logger", "requestId": "r1"}),
    (_record("with extra", aws_request_id="r1", order=7),
     {"timestamp": "2025-12-07T05:00:00.250Z", "level": "INFO", "message": "with extra", "logger": "my.logger", "requestId": "r1", "order": 7}),
])
def test_json_formatter(record, want):
    assert json.loads(bootstrap.JsonFormatter().format(record)) == want


def test_json_formatter_exception():
    try:
        raise ValueError("bad")
    except ValueError:
        import sys
        record = _record("failed", level=logging.ERROR, exc_info=sys.exc_info(), aws_request_id="r1")
    doc = json.loads(bootstrap.JsonFormatter().format(record))
    assert doc["errorType"] == "ValueError"
    assert doc["errorMessage"] == "bad"
    assert any("raise ValueError" in line for line in doc["stackTrace"])


HANDLER = '''
import logging
logger = logging.getLogger()
def handler(event, context):
    logger.debug("debug line")
    logger.info("info line")
    logger.warning("warn line")
    logger.error("error line")
    print("printed line")
    if event.get("fail"):
        raise RuntimeError("boom")
    return "ok"
'''


def _run(api, start_runtime, tmp_path, env_extra, event):
    write_files(tmp_path, {"fn.py": HANDLER})
    env = base_env(api.address, tmp_path, "fn.handler")
    env.update(env_extra)
    rt = start_runtime(env)
    request_id = api.enqueue(event)
    result = api.wait_result(request_id)
    out, err = rt.stop()
    return request_id, result, out.decode(), err.decode()


def test_runtime_writes_json_at_the_level_asked(api, start_runtime, tmp_path):
    request_id, result, out, _ = _run(api, start_runtime, tmp_path, {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "WARN"}, {})
    assert result.kind == "response"
    lines = [line for line in out.splitlines() if line.startswith("{")]
    docs = [json.loads(line) for line in lines]
    assert [(d["level"], d["message"]) for d in docs] == [("WARN", "warn line"), ("ERROR", "error line")]
    for d in docs:
        assert d["requestId"] == request_id
        assert d["logger"] == "root"
        assert d["timestamp"].endswith("Z")
    # print() is not the logging module: written as is, for the agent to wrap.
    assert "printed line" in out.splitlines()


def test_runtime_json_error_is_one_line(api, start_runtime, tmp_path):
    request_id, result, _, err = _run(api, start_runtime, tmp_path, {"AWS_LAMBDA_LOG_FORMAT": "JSON"}, {"fail": True})
    assert result.kind == "error"
    doc = json.loads([line for line in err.splitlines() if "boom" in line][0])
    assert doc["level"] == "ERROR"
    assert doc["errorType"] == "RuntimeError"
    assert doc["requestId"] == request_id


def test_runtime_text_unchanged(api, start_runtime, tmp_path):
    request_id, _, out, _ = _run(api, start_runtime, tmp_path, {}, {})
    # Text: Lambda's tab-separated lines, and the root logger at WARNING as on Lambda.
    assert "[WARNING]\t" in out and ("\t%s\twarn line" % request_id) in out
    assert "info line" not in out
    assert not any(line.startswith("{") for line in out.splitlines())
