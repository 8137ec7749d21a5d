# boto3's invoke_with_response_stream against a Hearth gateway, for
# test/platform/response-stream.test.ts and test/e2e/streaming.test.ts: each function named on the command
# line (NAME or NAME=JSON-PAYLOAD) is invoked, and every event of the answer
# is printed with the milliseconds since the call began, as one JSON line.
import json
import os
import sys
import time

import boto3
from botocore.config import Config

client = boto3.client(
    "lambda",
    endpoint_url=os.environ["HEARTH_ENDPOINT"],
    region_name="us-east-1",
    aws_access_key_id="test",
    aws_secret_access_key="test",
    config=Config(retries={"max_attempts": 1}, read_timeout=60, connect_timeout=10),
)
# A gateway that takes API keys (the chart's, in test/e2e/streaming.test.ts): the key in place of the signature.
if os.environ.get("HEARTH_API_KEY"):
    client.meta.events.register(
        "before-send.lambda",
        lambda request, **_: request.headers.__setitem__("Authorization", "Bearer " + os.environ["HEARTH_API_KEY"]),
    )


def run(name, payload):
    start = time.monotonic()
    res = client.invoke_with_response_stream(FunctionName=name, Payload=payload.encode())
    events = []
    for event in res["EventStream"]:
        at = (time.monotonic() - start) * 1000
        if "PayloadChunk" in event:
            events.append({"at": at, "chunk": event["PayloadChunk"]["Payload"].decode()})
        if "InvokeComplete" in event:
            events.append({"at": at, "complete": event["InvokeComplete"]})
    return {
        "status": res["StatusCode"],
        "version": res.get("ExecutedVersion"),
        "contentType": res.get("ResponseStreamContentType"),
        "events": events,
        "endAt": (time.monotonic() - start) * 1000,
    }


out = {}
for arg in sys.argv[1:]:
    name, _, payload = arg.partition("=")
    out[arg] = run(name, payload or "{}")
print(json.dumps(out))
