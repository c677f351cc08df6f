import { describe, expect, it } from "vitest";
import { decodeMessage, encodeMessage, errorResult, type ResultMeta } from "../../gateway/protocol/envelope.js";
import { parseEvent } from "../../gateway/protocol/events.js";
import { formatContainerRecord, parseContainerRecord } from "../../gateway/protocol/container-lifecycle.js";

describe("wire formats", () => {
  it("keeps payload bytes exactly, newlines and binary included", () => {
    const payload = Buffer.from([0x00, 0x0a, 0xff, 0x0a, 0x7b]);
    const decoded = decodeMessage<{ id: string }>(encodeMessage({ id: "a\nb" }, payload));
    expect(decoded.meta.id).toBe("a\nb");
    expect(decoded.payload.equals(payload)).toBe(true);
  });

  it("rejects a message without its metadata line", () => {
    expect(() => decodeMessage(Buffer.from("no newline"))).toThrow(/metadata/);
  });

  it("shapes Hearth's own errors like function errors", () => {
    const { meta, payload } = decodeMessage<ResultMeta>(errorResult("id1", "fn-a", 503, "Hearth.X", "nope"));
    expect(meta).toEqual({ id: "id1", function: "fn-a", status: 503, outcome: "platform_error" });
    expect(JSON.parse(payload.toString())).toEqual({ errorMessage: "nope", errorType: "Hearth.X", stackTrace: [] });
  });

  it("parses the events Lua scripts publish and ignores unknown ones", () => {
    expect(parseEvent("work fn-a")).toEqual({ type: "work", function: "fn-a" });
    expect(parseEvent("deployed fn-a 7")).toEqual({ type: "deployed", function: "fn-a", version: 7 });
    expect(parseEvent('ready fn-a c1 {"createdAt":1,"processStartedAt":2,"codeLoadedAt":3,"runtimeReadyAt":4}')).toMatchObject({
      type: "ready",
      containerId: "c1",
      timings: { runtimeReadyAt: 4 },
    });
    expect(parseEvent("key-revoked 0123abcd")).toEqual({ type: "key-revoked", keyId: "0123abcd" });
    expect(parseEvent("shrug fn-a")).toBeUndefined();
    // Timings that are not all numbers (or not JSON) make no event: a histogram must never see NaN.
    expect(parseEvent("ready fn-a c1 {}")).toBeUndefined();
    expect(parseEvent('ready fn-a c1 {"createdAt":"x","processStartedAt":2,"codeLoadedAt":3,"runtimeReadyAt":4}')).toBeUndefined();
    expect(parseEvent("ready fn-a c1 {not json")).toBeUndefined();
  });

  it("round-trips container records in the form pool.lua parses", () => {
    const record = { state: "busy" as const, version: 3, invokerId: "host-1", since: 1700000000000 };
    expect(formatContainerRecord(record)).toBe("busy|3|host-1|1700000000000");
    expect(parseContainerRecord(formatContainerRecord(record))).toEqual(record);
  });
});
