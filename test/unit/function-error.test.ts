// A function's error body: what the runtime posted when it is a JSON object, else wrapped by Hearth.

import { describe, expect, it } from "vitest";
import { functionErrorBody } from "../../gateway/adapter/function-error.js";

describe("functionErrorBody", () => {
  it("passes a JSON object through byte for byte, whatever its shape and spacing", () => {
    for (const posted of ['{"errorMessage":"not so lucky","errorType":"UserCodeError"}', '{"errorType":"Error","errorMessage":"boom","trace":["Error: boom"]}', '{"errorMessage": "bad", "errorType": "ValueError", "requestId": "r1", "stackTrace": []}', '{"anything":1}']) {
      expect(functionErrorBody(Buffer.from(posted), "Unhandled").toString()).toBe(posted);
    }
  });

  it("wraps what is not a JSON object, with the runtime's error type", () => {
    expect(JSON.parse(functionErrorBody(Buffer.from("it broke"), "Custom.Failure").toString())).toEqual({ errorMessage: "it broke", errorType: "Custom.Failure", stackTrace: [] });
    expect(JSON.parse(functionErrorBody(Buffer.from('["a", 1]'), "Unhandled").toString())).toEqual({ errorMessage: '["a",1]', errorType: "Unhandled", stackTrace: [] });
    expect(JSON.parse(functionErrorBody(Buffer.from("null"), "Unhandled").toString())).toEqual({ errorMessage: "null", errorType: "Unhandled", stackTrace: [] });
    expect(JSON.parse(functionErrorBody(Buffer.alloc(0), "Unhandled").toString())).toEqual({ errorMessage: "", errorType: "Unhandled", stackTrace: [] });
  });
});
