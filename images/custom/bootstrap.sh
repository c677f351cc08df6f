#!/bin/sh
# Starts a custom runtime: the package's executable `bootstrap`, as Lambda's provided runtimes do. It
# finds the runtime API in AWS_LAMBDA_RUNTIME_API (and FC_RUNTIME_API) and the handler setting in _HANDLER.
bootstrap="${LAMBDA_TASK_ROOT:-/var/task}/bootstrap"
if [ ! -x "$bootstrap" ]; then
  echo "hearth custom runtime: $bootstrap is missing or not executable: a custom runtime's package holds its runtime as an executable bootstrap" >&2
  exit 126
fi
exec "$bootstrap"
