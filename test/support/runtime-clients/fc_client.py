#!/usr/bin/env python3
# A Function Compute runtime client written only against FC's published runtime API (2020-11-11),
# knowing nothing of Hearth. It behaves as FC's own clients do: it asks for the next event again
# while one still runs, retries /next on any error, and posts results chunked, expecting 200. Its
# lifecycle hooks come as events marked by x-fc-function-type (1 initializer, 3 preStop), as FC's Go
# SDK reads them; it prints FC's SDK's log lines for them.
import http.client
import json
import os
import threading
import time

HOST, PORT = os.environ["FC_RUNTIME_API"].split(":")
BASE = "/2020-11-11/runtime/invocation"


def next_event():
    while True:
        try:
            connection = http.client.HTTPConnection(HOST, int(PORT))
            connection.request("GET", BASE + "/next")
            response = connection.getresponse()
            body = response.read()
            if response.status == 200:
                return dict((k.lower(), v) for k, v in response.getheaders()), body
        except OSError:
            pass
        time.sleep(0.01)


def post(path, payload):
    data = json.dumps(payload).encode()
    connection = http.client.HTTPConnection(HOST, int(PORT))
    connection.request("POST", path, body=iter([data[:5], data[5:]]), headers={"Content-Type": "application/json"}, encode_chunked=True)
    response = connection.getresponse()
    response.read()
    if response.status != 200:
        raise SystemExit("FC client: %s answered %d, expected 200" % (path, response.status))


class Prefetch(threading.Thread):
    """The next /next, asked for as soon as an event arrives (FC's clients do this)."""

    def run(self):
        self.event = next_event()


headers, body = next_event()
while True:
    prefetch = Prefetch()
    prefetch.start()
    request_id = headers["x-fc-request-id"]
    function_type = headers.get("x-fc-function-type", "0")
    if function_type in ("1", "3"):
        hook = "Initialize" if function_type == "1" else "PreStop"
        print("FC %s Start RequestId: %s" % (hook, request_id), flush=True)
        post("%s/%s/response" % (BASE, request_id), "")
        prefetch.join()
        headers, body = prefetch.event
        continue
    event = json.loads(body)
    if event.get("fail"):
        post("%s/%s/error" % (BASE, request_id), {"errorMessage": event["fail"], "errorType": "ClientError"})
    else:
        post("%s/%s/response" % (BASE, request_id), {
            "client": "fc",
            "requestId": request_id,
            "deadline": int(headers["x-fc-function-deadline"]),
            "timeout": int(headers["x-fc-function-timeout"]),
            "functionName": headers.get("x-fc-function-name"),
            "handler": headers.get("x-fc-function-handler"),
            "event": event,
        })
    prefetch.join()
    headers, body = prefetch.event
