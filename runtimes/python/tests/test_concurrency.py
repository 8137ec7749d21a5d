"""AWS_LAMBDA_MAX_CONCURRENCY > 1: worker processes under one supervisor, against the stub Runtime API."""

import json
import os
import time

import pytest

import bootstrap
from conftest import base_env, write_files

APP = """import logging, os, time

logging.getLogger().setLevel(logging.INFO)
log = logging.getLogger(__name__)

def sleepy(event, context):
    log.info("start %s", event["tag"])
    time.sleep(event.get("sleep", 0.5))
    log.info("end %s", event["tag"])
    if event.get("fail"):
        raise ValueError("failed " + event["tag"])
    return {
        "tag": event["tag"],
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "request_id": context.aws_request_id,
        "remaining": context.get_remaining_time_in_millis(),
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
    }

def die(event, context):
    os._exit(3)
"""


def start(start_runtime, api, tmp_path, concurrency, handler="app.sleepy", files=None):
    write_files(tmp_path, files or {"app.py": APP})
    env = base_env(api.address, tmp_path, handler)
    env["AWS_LAMBDA_MAX_CONCURRENCY"] = str(concurrency)
    return start_runtime(env)


def wait_pollers(api, count, timeout=10):
    """Until `count` connections have asked for /next: every worker has initialised."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        ports = {port for method, path, port in list(api.requests) if method == "GET" and path.endswith("/next")}
        if len(ports) >= count:
            return
        time.sleep(0.02)
    raise AssertionError("fewer than %d workers polled /next within %ss" % (count, timeout))


def children(pid):
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        return [int(p) for p in f.read().split()]


def gone(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def wait_gone(pids, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if all(gone(p) for p in pids):
            return
        time.sleep(0.02)
    raise AssertionError("still running: %s" % [p for p in pids if not gone(p)])


@pytest.mark.parametrize("value,expected", [
    (None, 1), ("", 1), ("1", 1), ("4", 4), ("0", 1), ("-2", 1), ("many", 1),
])
def test_max_concurrency(value, expected):
    env = {} if value is None else {"AWS_LAMBDA_MAX_CONCURRENCY": value}
    assert bootstrap.max_concurrency(env) == expected


def test_concurrency_one_is_the_single_process(api, start_runtime, tmp_path):
    rt = start(start_runtime, api, tmp_path, 1)
    body = api.invoke({"tag": "a", "sleep": 0}).json()
    assert body["pid"] == rt.proc.pid


def test_runs_n_invocations_at_once_each_with_its_own_context(api, start_runtime, tmp_path):
    rt = start(start_runtime, api, tmp_path, 4)
    wait_pollers(api, 4)
    now = int(time.time() * 1000)
    t0 = time.time()
    ids = [api.enqueue({"tag": str(i), "sleep": 0.5}, trace_id="Root=%d" % i, deadline_ms=now + 10000 + i * 2000)
           for i in range(4)]
    bodies = [api.wait_result(rid).json() for rid in ids]
    # One after the other they would take 2 s.
    assert time.time() - t0 < 1.4
    assert len({b["pid"] for b in bodies}) == 4
    assert {b["ppid"] for b in bodies} == {rt.proc.pid}
    for i, (rid, body) in enumerate(zip(ids, bodies)):
        assert body["tag"] == str(i)
        assert body["request_id"] == rid
        assert body["trace"] == "Root=%d" % i
        own_deadline = 10000 + i * 2000
        assert own_deadline - 1500 < body["remaining"] <= own_deadline


def test_logging_names_each_invocations_request_id(api, start_runtime, tmp_path):
    rt = start(start_runtime, api, tmp_path, 3)
    wait_pollers(api, 3)
    ids = {tag: api.enqueue({"tag": tag, "sleep": 0.3}) for tag in ("x", "y", "z")}
    for rid in ids.values():
        assert api.wait_result(rid).kind == "response"
    stdout, _ = rt.stop()
    seen = {}
    for line in stdout.decode().splitlines():
        fields = line.split("\t")
        if len(fields) == 4 and fields[3].split(" ")[0] in ("start", "end"):
            word, tag = fields[3].split(" ")
            assert fields[0] == "[INFO]"
            assert fields[2] == ids[tag], line
            seen.setdefault(tag, []).append(word)
    assert seen == {"x": ["start", "end"], "y": ["start", "end"], "z": ["start", "end"]}


def test_an_error_in_one_invocation_leaves_the_others_alone(api, start_runtime, tmp_path):
    rt = start(start_runtime, api, tmp_path, 3)
    wait_pollers(api, 3)
    ok1 = api.enqueue({"tag": "ok1", "sleep": 0.4})
    bad = api.enqueue({"tag": "bad", "sleep": 0.1, "fail": True}, request_id="req-bad")
    ok2 = api.enqueue({"tag": "ok2", "sleep": 0.4})
    error = api.wait_result(bad)
    assert error.kind == "error"
    assert error.json()["errorType"] == "ValueError"
    assert error.json()["requestId"] == "req-bad"
    first = [api.wait_result(ok1).json(), api.wait_result(ok2).json()]
    assert [b["tag"] for b in first] == ["ok1", "ok2"]
    # All workers carry on: the next round is served by the same three processes.
    pids = set(children(rt.proc.pid))
    later = [api.wait_result(api.enqueue({"tag": str(i), "sleep": 0.2})).json() for i in range(3)]
    assert {b["pid"] for b in later} <= pids
    assert rt.proc.poll() is None


def test_a_worker_that_dies_ends_the_instance_with_its_status(api, start_runtime, tmp_path):
    rt = start(start_runtime, api, tmp_path, 3)
    wait_pollers(api, 3)
    workers = children(rt.proc.pid)
    assert len(workers) == 3
    api.enqueue({"tag": "long", "sleep": 30})
    time.sleep(0.1)
    os.kill(workers[0], 9)  # a crash, as far as the supervisor can tell
    # The supervisor ends as its worker did, so the agent reports "signal: killed".
    assert rt.wait(5) == -9
    wait_gone(workers)


def test_a_handler_exit_ends_the_instance_with_its_exit_code(api, start_runtime, tmp_path):
    rt = start(start_runtime, api, tmp_path, 2, handler="app.die")
    wait_pollers(api, 2)
    workers = children(rt.proc.pid)
    api.enqueue({})
    assert rt.wait(5) == 3
    wait_gone(workers)


def test_workers_die_with_the_supervisor(api, start_runtime, tmp_path):
    rt = start(start_runtime, api, tmp_path, 2)
    wait_pollers(api, 2)
    workers = children(rt.proc.pid)
    assert len(workers) == 2
    api.enqueue({"tag": "busy", "sleep": 30})
    time.sleep(0.1)
    rt.proc.kill()  # what the agent does to an instance after a timeout
    rt.wait(5)
    wait_gone(workers)


def test_init_error_is_reported_once(api, start_runtime, tmp_path):
    rt = start(start_runtime, api, tmp_path, 4, handler="missing.handler")
    err = api.wait_init_error()
    assert err.json()["errorType"] == "Runtime.ImportModuleError"
    assert rt.wait(10) == 1
    posts = [r for r in api.requests if r[0] == "POST"]
    assert [path for _, path, _ in posts] == ["/2018-06-01/runtime/init/error"]
    assert not any(method == "GET" for method, _, _ in api.requests)


def test_specialisation_with_concurrency(api, start_runtime, tmp_path):
    write_files(tmp_path, {"app.py": APP})
    env = base_env(api.address, tmp_path, "app.sleepy")
    function_env = {k: env.pop(k) for k in list(env) if k.startswith(("AWS_", "LAMBDA_", "_HANDLER"))}
    function_env["AWS_LAMBDA_MAX_CONCURRENCY"] = "2"
    env["HEARTH_SPECIALIZE"] = "stdin"
    rt = start_runtime(env, stdin=True, cwd="/")
    time.sleep(0.2)
    assert api.requests == []
    rt.proc.stdin.write((json.dumps({"env": function_env}) + "\n").encode())
    rt.proc.stdin.flush()
    wait_pollers(api, 2)
    t0 = time.time()
    ids = [api.enqueue({"tag": t, "sleep": 0.5}) for t in ("a", "b")]
    bodies = [api.wait_result(rid).json() for rid in ids]
    assert time.time() - t0 < 0.95
    assert len({b["pid"] for b in bodies}) == 2
    assert {b["ppid"] for b in bodies} == {rt.proc.pid}
