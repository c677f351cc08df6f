// The environment of the language runtime process: the function's own variables, then Lambda's and
// Function Compute's, which point at the runtime APIs the adapter serves on loopback.

import path from "node:path";
import type { RuntimeFunction } from "./runtime-api.js";

export interface RuntimeEnvironmentSpec {
  fn: RuntimeFunction;
  /** The function's own variables (the reserved prefixes are refused at deploy). */
  environment: Record<string, string>;
  taskRoot: string;
  bootstrap: string;
  containerId: string;
  /** Port of the runtime APIs on 127.0.0.1. */
  port: number;
  /** The day in the log stream name; today unless given. */
  now?: Date;
}

export function runtimeEnvironment({ fn, environment, taskRoot, bootstrap, containerId, port, now = new Date() }: RuntimeEnvironmentSpec): NodeJS.ProcessEnv {
  const day = now.toISOString().slice(0, 10).replace(/-/g, "/");
  const api = `127.0.0.1:${port}`;
  return {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    LANG: "C.UTF-8",
    HOME: "/tmp",
    ...environment,
    _HANDLER: fn.handler,
    LAMBDA_TASK_ROOT: taskRoot,
    LAMBDA_RUNTIME_DIR: path.dirname(bootstrap),
    AWS_LAMBDA_RUNTIME_API: api,
    AWS_LAMBDA_FUNCTION_NAME: fn.name,
    AWS_LAMBDA_FUNCTION_VERSION: String(fn.version),
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.name}`,
    // Lambda's form ends with the instance id: handlers can tell containers apart by it.
    AWS_LAMBDA_LOG_STREAM_NAME: `${day}/[${fn.version}]${containerId}`,
    AWS_REGION: fn.region,
    AWS_DEFAULT_REGION: fn.region,
    // The same server speaks Function Compute's runtime API, for runtimes built on FC's SDKs.
    FC_RUNTIME_API: api,
    FC_FUNCTION_NAME: fn.name,
    FC_FUNCTION_HANDLER: fn.handler,
    FC_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
    FC_FUNC_CODE_PATH: taskRoot,
    FC_REGION: fn.region,
    FC_INSTANCE_ID: containerId,
  };
}
