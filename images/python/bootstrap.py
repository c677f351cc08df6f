#!/usr/bin/python3 -u
"""Hearth's Python runtime: a client of the AWS Lambda Runtime API (AWS_LAMBDA_RUNTIME_API) that runs
Lambda-style handlers, `def handler(event, context)`, named by _HANDLER ("module.function", the module
may be in a sub-folder: "pkg/app.handler" or "pkg.app.handler") from LAMBDA_TASK_ROOT.

Standard library only. -u in the shebang: print() reaches the container log at once.
"""

import decimal
import http.client
import importlib
import json
import logging
import os
import sys
import time
import traceback
from types import SimpleNamespace

RUNTIME_PATH = "/2018-06-01/runtime"
# How the adapter marks a Function Compute lifecycle hook's event (x-fc-control-path).
HOOK_PATHS = ("/initialize", "/pre-stop")
# A failed /next is retried 10 ms, 20 ms, ... apart (about 2 s in all); after that the adapter is
# gone and so is this runtime.
NEXT_ATTEMPTS = 20
CLIENT_FIELDS = ("installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name")


class RuntimeApiError(Exception):
    """The Runtime API is gone, or answers what no runtime can serve: this runtime exits."""


class Fault(Exception):
    """A failure the runtime reports under one of Lambda's Runtime.* error types."""

    def __init__(self, error_type, message, stack_trace=()):
        super().__init__(message)
        self.error_type = error_type
        self.stack_trace = list(stack_trace)


class RuntimeApiClient:
    """One keep-alive connection to the Runtime API; http.client reopens it after an error."""

    def __init__(self, address):
        self.address = address
        self.connection = http.client.HTTPConnection(address)

    def _request(self, method, path, body=None, headers=None):
        try:
            self.connection.request(method, path, body, headers or {})
            response = self.connection.getresponse()
            return response, response.read()
        except (OSError, http.client.HTTPException):
            self.connection.close()
            raise

    def next_invocation(self):
        """Blocks until the adapter has an event; returns its headers and body."""
        for attempt in range(1, NEXT_ATTEMPTS + 1):
            try:
                response, body = self._request("GET", f"{RUNTIME_PATH}/invocation/next")
            except (OSError, http.client.HTTPException) as error:
                failure = error
                time.sleep(0.01 * attempt)
                continue
            if response.status != 200:
                raise RuntimeApiError(f"/next answered {response.status}: {body[:200]!r}")
            return response.headers, body
        raise RuntimeApiError(f"the Runtime API at {self.address} does not answer: {failure!r}")

    def post(self, path, body, headers=None):
        """Posts a result, once more on a fresh connection if the first attempt fails: a result is
        never dropped for a reset socket."""
        headers = {"Content-Type": "application/json", **(headers or {})}
        try:
            self._request("POST", path, body, headers)
        except (OSError, http.client.HTTPException):
            try:
                self._request("POST", path, body, headers)
            except (OSError, http.client.HTTPException) as error:
                raise RuntimeApiError(f"posting to {path} failed: {error!r}") from error


class LambdaContext:
    """The `context` a Lambda handler receives, for one invocation."""

    def __init__(self, request_id, headers):
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = headers.get("Lambda-Runtime-Invoked-Function-Arn")
        # A string, as in Lambda's own Python runtime (handlers concatenate it).
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = cognito_identity(json_header(headers, "Lambda-Runtime-Cognito-Identity"))
        self.client_context = client_context(json_header(headers, "Lambda-Runtime-Client-Context"))
        self._deadline_ms = int(headers.get("Lambda-Runtime-Deadline-Ms", "0"))

    def get_remaining_time_in_millis(self):
        return max(0, self._deadline_ms - int(time.time() * 1000))

    def __repr__(self):
        fields = ", ".join(f"{name}={value!r}" for name, value in vars(self).items() if not name.startswith("_"))
        return f"LambdaContext({fields})"


def json_header(headers, name):
    text = headers.get(name)
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError as error:
        raise Fault("Runtime.LambdaContextUnmarshalError", f"Unable to parse {name} JSON: {error}") from None


def cognito_identity(identity):
    if identity is None:
        return None
    return SimpleNamespace(
        cognito_identity_id=identity.get("cognitoIdentityId"),
        cognito_identity_pool_id=identity.get("cognitoIdentityPoolId"),
    )


def client_context(context):
    if context is None:
        return None
    client = context.get("client")
    return SimpleNamespace(
        client=SimpleNamespace(**{field: client.get(field) for field in CLIENT_FIELDS}) if client else None,
        custom=context.get("custom"),
        env=context.get("env"),
    )


class RequestIdFilter(logging.Filter):
    """Puts the running invocation's request id on every log record."""

    request_id = ""

    def filter(self, record):
        record.aws_request_id = self.request_id
        return True


def setup_logging():
    """The root logger writes Lambda's lines, `[LEVEL]\\t<UTC time>\\t<request id>\\t<message>`, to
    stdout; its level stays WARNING as in Lambda. Returns the filter that carries the request id and
    the runtime's own logger, which reports errors whatever level the handler sets on the root."""
    formatter = logging.Formatter("[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s", "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    request_ids = RequestIdFilter()
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    handler.addFilter(request_ids)
    logging.getLogger().addHandler(handler)
    runtime_log = logging.getLogger("hearth.runtime")
    runtime_log.addHandler(handler)
    runtime_log.propagate = False
    return request_ids, runtime_log


def load_handler(spec):
    """Imports the handler's module from LAMBDA_TASK_ROOT; every failure is a Fault or the exception
    the module raised while it ran."""
    module_name, dot, function_name = spec.rpartition(".")
    if not dot or not module_name or not function_name:
        raise Fault("Runtime.MalformedHandlerName", f"Bad handler '{spec}': expected module.function, for example app.handler")
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as error:
        raise Fault("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}", user_stack_trace(error)) from None
    except SyntaxError as error:
        # The offending line with its caret, without the line that repeats the message.
        where = "".join(traceback.format_exception_only(error)[:-1])
        raise Fault("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {error}", [where] if where else []) from None
    handler = getattr(module, function_name, None)
    if handler is None:
        # Where it came from tells a module shadowed by the standard library (json.py, logging.py).
        origin = f" (loaded from {module.__file__})" if getattr(module, "__file__", None) else ""
        raise Fault("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'{origin}")
    if not callable(handler):
        raise Fault("Runtime.HandlerNotFound", f"Handler '{function_name}' on module '{module_name}' is a {type(handler).__name__}, not a function")
    return handler


def is_runtime_frame(frame):
    return frame.filename in (__file__, importlib.__file__) or frame.filename.startswith("<frozen importlib")


def user_stack_trace(error):
    """The traceback's frames from the first one of the user's code on, formatted as Lambda does."""
    frames = traceback.extract_tb(error.__traceback__)
    while frames and is_runtime_frame(frames[0]):
        del frames[0]
    return traceback.format_list(frames)


def error_payload(error, request_id=""):
    if isinstance(error, Fault):
        error_type, stack_trace = error.error_type, error.stack_trace
    else:
        error_type, stack_trace = type(error).__name__, user_stack_trace(error)
    return {"errorMessage": str(error), "errorType": error_type, "requestId": request_id, "stackTrace": stack_trace}


def log_error(runtime_log, payload):
    trace = "".join(payload["stackTrace"]).rstrip("\n")
    runtime_log.error("%s: %s%s", payload["errorType"], payload["errorMessage"], f"\nTraceback (most recent call last):\n{trace}" if trace else "")


def decode_event(body):
    """The JSON event; a body that is not JSON (Hearth's raw HTTP integration) as a str."""
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", errors="replace")


def json_default(value):
    # Lambda marshals Decimal (what DynamoDB returns) as a number.
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def encode_result(result):
    try:
        return json.dumps(result, default=json_default).encode("utf-8")
    except Exception as error:
        raise Fault("Runtime.MarshalError", f"Unable to marshal response: {error}") from None


def main():
    if not sys.stdout.write_through:
        # Started without -u (python3 bootstrap.py): print() must still reach the log line by line.
        sys.stdout.reconfigure(line_buffering=True)
    request_ids, runtime_log = setup_logging()
    api = RuntimeApiClient(os.environ["AWS_LAMBDA_RUNTIME_API"])
    sys.path.insert(0, os.environ.get("LAMBDA_TASK_ROOT", "/var/task"))

    try:
        handler = load_handler(os.environ.get("_HANDLER", ""))
    except Exception as error:
        payload = error_payload(error)
        log_error(runtime_log, payload)
        api.post(f"{RUNTIME_PATH}/init/error", json.dumps(payload).encode(), {"Lambda-Runtime-Function-Error-Type": payload["errorType"]})
        return 1

    # Function Compute's lifecycle hooks (initializer, preStop), `def hook(context)`, by handler name.
    hooks = {}

    def call(headers, body, context):
        if headers.get("x-fc-control-path") in HOOK_PATHS:
            spec = headers.get("x-fc-function-handler", "")
            if spec not in hooks:
                hooks[spec] = load_handler(spec)
            hooks[spec](context)
            return b"null"
        return encode_result(handler(decode_event(body), context))

    while True:
        headers, body = api.next_invocation()
        request_id = headers.get("Lambda-Runtime-Aws-Request-Id", "")
        request_ids.request_id = request_id
        # Read by AWS X-Ray clients, as in Lambda.
        os.environ["_X_AMZN_TRACE_ID"] = headers.get("Lambda-Runtime-Trace-Id", "")
        try:
            result = call(headers, body, LambdaContext(request_id, headers))
        except Exception as error:
            payload = error_payload(error, request_id)
            log_error(runtime_log, payload)
            api.post(f"{RUNTIME_PATH}/invocation/{request_id}/error", json.dumps(payload).encode(), {"Lambda-Runtime-Function-Error-Type": payload["errorType"]})
        else:
            api.post(f"{RUNTIME_PATH}/invocation/{request_id}/response", result)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RuntimeApiError as error:
        print(f"hearth python runtime: {error}", file=sys.stderr)
        sys.exit(1)
