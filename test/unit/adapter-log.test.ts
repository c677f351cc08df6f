// The adapter's log lines: JSON in pino's shape, so that one log pipeline reads gateway and containers.

import { afterEach, describe, expect, it, vi } from "vitest";
import { createAdapterLogger } from "../../gateway/adapter/adapter-log.js";

afterEach(() => vi.restoreAllMocks());

function captureLines(run: () => void): Record<string, unknown>[] {
  const lines: string[] = [];
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  run();
  vi.restoreAllMocks();
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe("adapter log", () => {
  it("writes one JSON line per call with pino's level numbers, the bindings, fields and message", () => {
    const log = createAdapterLogger("hearth-adapter", { function: "f", container: "c1" });
    const [info, warn] = captureLines(() => {
      log.info("started");
      log.warn({ error: "no handler" }, "runtime failed to initialise");
    });
    expect(info).toMatchObject({ level: 30, name: "hearth-adapter", function: "f", container: "c1", msg: "started" });
    expect(info!.time).toEqual(expect.any(Number));
    expect(warn).toMatchObject({ level: 40, error: "no handler", msg: "runtime failed to initialise" });
  });

  it("writes errors with their type, message and stack, not as {}", () => {
    const log = createAdapterLogger("hearth-adapter", {});
    const [line] = captureLines(() => log.error({ err: new TypeError("boom") }, "adapter failed"));
    expect(line).toMatchObject({ level: 50, msg: "adapter failed", err: { type: "TypeError", message: "boom", stack: expect.stringContaining("TypeError: boom") } });
  });
});
