import { describe, expect, it } from "vitest";
import { functionOfInvocation, invocationRecordKey, newInvocationId } from "../../gateway/protocol/keys.js";

describe("async invocation ids", () => {
  it("name their function, so that the record is found in the function's slot", () => {
    const id = newInvocationId("hello-world");
    expect(id).toMatch(/^hello-world\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(functionOfInvocation(id)).toBe("hello-world");
    expect(invocationRecordKey(id)).toBe(`hearth:{hello-world}:invocation:${id}`);
    expect(newInvocationId("hello-world")).not.toBe(id);
  });

  it("refuses ids of any other form", () => {
    const uuid = "0b6f3c1e-2a4d-4c8e-9f10-123456789abc";
    for (const bad of ["", uuid, `Hello.${uuid}`, `a.b.${uuid}`, `-a.${uuid}`, `a.${uuid}x`, `a.${uuid.toUpperCase()}`, "a.not-a-uuid", `{a}.${uuid}`, `a:*.${uuid}`]) {
      expect(functionOfInvocation(bad), bad).toBeUndefined();
      expect(invocationRecordKey(bad), bad).toBeUndefined();
    }
  });
});
