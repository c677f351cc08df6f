#!/bin/sh
# Starts a Go function. Its package holds one static Linux binary named like the handler setting
# (Function Compute style): handler index.Handler runs $LAMBDA_TASK_ROOT/index.Handler, which the
# Hearth Go builder compiled from index.go with the SDK's hearth.Start as its main.
binary="${LAMBDA_TASK_ROOT:-/var/task}/${_HANDLER:?_HANDLER is not set}"
if [ ! -f "$binary" ]; then
  echo "hearth go runtime: no file $binary: the package of a Go function holds its compiled binary, named like the handler ($_HANDLER)" >&2
  exit 127
fi
if [ ! -x "$binary" ]; then
  echo "hearth go runtime: $binary is not executable: package the binary with mode 0755" >&2
  exit 126
fi
exec "$binary"
