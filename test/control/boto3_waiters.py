"""boto3's Lambda waiters against a Hearth gateway, unchanged: the script a
Lambda user's deployment pipeline would run. Driven by
test/gateway/boto3-waiters.test.ts, which starts the platform and reads the
one JSON line this prints (what each step saw).

Environment: HEARTH_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
HEARTH_FUNCTION (a name not in use), HEARTH_ZIP_A and HEARTH_ZIP_B (paths of
two deployment packages of a Python handler app.handler), HEARTH_ROLE.
Optional: HEARTH_WAIT_ATTEMPTS (each waiter's attempts, default 60) and
HEARTH_SKIP_FAILED_CASE=1 (leave out the function that cannot run, for a
platform that reports such a function only when it is invoked).
"""

import json
import os
import time

import boto3
from botocore.config import Config
from botocore.exceptions import WaiterError

# Short waits: the waiters' own delays (1 s and 5 s) and attempt counts (up to
# 312) are Lambda's; a bounded test keeps the delay and caps the attempts.
WAIT = {"Delay": 1, "MaxAttempts": int(os.environ.get("HEARTH_WAIT_ATTEMPTS", "60"))}


def main() -> None:
    client = boto3.client(
        "lambda",
        endpoint_url=os.environ["HEARTH_ENDPOINT"],
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )
    name = os.environ["HEARTH_FUNCTION"]
    role = os.environ["HEARTH_ROLE"]
    zip_a = open(os.environ["HEARTH_ZIP_A"], "rb").read()
    zip_b = open(os.environ["HEARTH_ZIP_B"], "rb").read()
    seen = {}

    created = client.create_function(
        FunctionName=name, Runtime="python3.12", Handler="app.handler", Role=role,
        Code={"ZipFile": zip_a}, Environment={"Variables": {"GREETING": "hello"}},
    )
    seen["created_state"] = created.get("State")

    started = time.monotonic()
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=WAIT)
    seen["active_after_s"] = round(time.monotonic() - started, 2)
    seen["active_state"] = client.get_function(FunctionName=name)["Configuration"]["State"]

    updated = client.update_function_configuration(FunctionName=name, Environment={"Variables": {"GREETING": "bonjour"}})
    seen["config_update_status"] = updated.get("LastUpdateStatus")
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=WAIT)
    after_config = client.get_function(FunctionName=name)["Configuration"]
    seen["after_config"] = {k: after_config.get(k) for k in ("State", "LastUpdateStatus")}
    seen["greeting"] = after_config.get("Environment", {}).get("Variables", {}).get("GREETING")

    code = client.update_function_code(FunctionName=name, ZipFile=zip_b)
    seen["code_update_status"] = code.get("LastUpdateStatus")
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=WAIT)
    answer = json.loads(client.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())
    seen["invoked_after_code_update"] = answer

    version = client.publish_version(FunctionName=name, Description="from boto3")["Version"]
    seen["version"] = version
    client.get_waiter("published_version_active").wait(FunctionName=name, Qualifier=version, WaiterConfig=WAIT)
    published = client.get_function_configuration(FunctionName=name, Qualifier=version)
    seen["published"] = {k: published.get(k) for k in ("Version", "State", "LastUpdateStatus")}
    answer = json.loads(client.invoke(FunctionName=name, Qualifier=version, Payload=b"{}")["Payload"].read())
    seen["invoked_version"] = answer

    # A custom-runtime function whose package has no bootstrap cannot become
    # Active (Hearth reports it Failed): function_active_v2 must stop at
    # Failed, not wait out its attempts.
    if os.environ.get("HEARTH_SKIP_FAILED_CASE") == "1":
        client.delete_function(FunctionName=name)
        print(json.dumps(seen))
        return
    broken = name + "-broken"
    client.create_function(FunctionName=broken, Runtime="provided.al2023", Handler="main", Role=role, Code={"ZipFile": zip_a})
    started = time.monotonic()
    try:
        client.get_waiter("function_active_v2").wait(FunctionName=broken, WaiterConfig=WAIT)
        seen["broken"] = "became Active"
    except WaiterError as err:
        last = err.last_response.get("Configuration", {})
        seen["broken"] = {"reason": err.kwargs.get("reason"), "State": last.get("State"), "StateReasonCode": last.get("StateReasonCode"), "after_s": round(time.monotonic() - started, 2)}

    client.delete_function(FunctionName=broken)
    client.delete_function(FunctionName=name)
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
