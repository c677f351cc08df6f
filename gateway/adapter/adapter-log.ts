// The adapter's log: JSON lines in pino's shape (level, time, name, msg and fields), written by hand
// because the adapter starts in every cold start and pino costs ~15 ms to load there; the adapter
// logs only a few lines in its life.

const LEVELS = { info: 30, warn: 40, error: 50 } as const;

/** What ContainerWorker logs with; pino's Logger has the same shape, so tests pass theirs. */
export interface AdapterLogger {
  info(fields: object | string, message?: string): void;
  warn(fields: object | string, message?: string): void;
  error(fields: object | string, message?: string): void;
}

export function createAdapterLogger(name: string, bindings: object): AdapterLogger {
  const write = (level: keyof typeof LEVELS) => (fields: object | string, message?: string): void => {
    const [extra, msg] = typeof fields === "string" ? [{}, fields] : [serializeErrors(fields), message];
    process.stdout.write(`${JSON.stringify({ level: LEVELS[level], time: Date.now(), name, ...bindings, ...extra, msg })}\n`);
  };
  return { info: write("info"), warn: write("warn"), error: write("error") };
}

/** Errors as {type, message, stack}, as pino's err serializer writes them (JSON.stringify drops them to {}). */
function serializeErrors(fields: object): object {
  return Object.fromEntries(
    Object.entries(fields).map(([key, value]) => [key, value instanceof Error ? { type: value.name, message: value.message, stack: value.stack } : value]),
  );
}
