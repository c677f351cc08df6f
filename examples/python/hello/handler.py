# A Lambda-style Python function for Hearth: greets event["name"] and says which request it served.
#
# Deploy and invoke, with Hearth running on 127.0.0.1:8080 (scripts/run.sh):
#   tar -C examples/python/hello -czf hello-py.tgz handler.py
#   curl -X PUT http://127.0.0.1:8080/system/functions/hello-py \
#     -F 'config={"runtime":"python","handler":"handler.handler"}' -F code=@hello-py.tgz
#   curl -X POST http://127.0.0.1:8080/function/hello-py -d '{"name":"Hearth"}'

import logging

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def handler(event, context):
    # A body that is not JSON arrives as a str; anything without a name is greeted as the world.
    name = event.get("name") if isinstance(event, dict) else None
    logger.info("greeting %s", name or "the world")
    return {
        "greeting": f"Hello, {name or 'world'}!",
        "requestId": context.aws_request_id,
        "remainingMs": context.get_remaining_time_in_millis(),
    }
