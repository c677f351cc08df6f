#!/usr/bin/env python3
# An AWS Lambda runtime client written only against the published Lambda Runtime API (2018-06-01),
# knowing nothing of Hearth: one keep-alive connection, results posted chunked, expecting 202.
import http.client
import json
import os

HOST, PORT = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
BASE = "/2018-06-01/runtime/invocation"
connection = http.client.HTTPConnection(HOST, int(PORT))


def call(method, path, payload=None, headers=None):
    if payload is None:
        connection.request(method, path)
    else:
        data = json.dumps(payload).encode()
        connection.request(method, path, body=iter([data[:5], data[5:]]), headers=headers or {}, encode_chunked=True)
    response = connection.getresponse()
    return response.status, dict((k.lower(), v) for k, v in response.getheaders()), response.read()


while True:
    status, headers, body = call("GET", BASE + "/next")
    event = json.loads(body)
    request_id = headers["lambda-runtime-aws-request-id"]
    if event.get("fail"):
        status, _, _ = call("POST", "%s/%s/error" % (BASE, request_id), {"errorMessage": event["fail"], "errorType": "ClientError"}, {"Lambda-Runtime-Function-Error-Type": "ClientError"})
    else:
        status, _, _ = call("POST", "%s/%s/response" % (BASE, request_id), {
            "client": "lambda",
            "requestId": request_id,
            "deadline": int(headers["lambda-runtime-deadline-ms"]),
            "arn": headers["lambda-runtime-invoked-function-arn"],
            "functionName": os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
            "handler": os.environ.get("_HANDLER"),
            "event": event,
        })
    if status != 202:
        raise SystemExit("Lambda client: post answered %d, expected 202" % status)
