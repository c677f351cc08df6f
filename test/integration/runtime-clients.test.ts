// Runtime clients that know only the published Lambda and Function Compute runtime APIs (Python
// programs in test/support/runtime-clients, nothing of Hearth's) served by the real adapter on a
// real redis-server: events in, results out, chunked posts, and FC's habit of asking for the next
// event while one still runs, which must not break one-request-at-a-time.

import path from "node:path";
import { describe, expect, it } from "vitest";
import { decodeMessage, type ResultMeta } from "../../gateway/protocol/envelope.js";
import { functionKeys, repliesKey } from "../../gateway/protocol/keys.js";
import { enqueue, envelope, startWorker, useWorkerSetting } from "../support/worker.js";

const setting = useWorkerSetting();

async function collect(replyTo: string, count: number): Promise<{ meta: ResultMeta; body: any }[]> {
  const results = [];
  while (results.length < count) {
    const popped = await setting.redis.blpopBuffer(repliesKey(replyTo), 20);
    if (!popped) throw new Error("no result within 20 s");
    const { meta, payload } = decodeMessage<ResultMeta>(popped[1]);
    results.push({ meta, body: JSON.parse(payload.toString()) });
  }
  return results.sort((a, b) => a.meta.startedAt! - b.meta.startedAt!);
}

describe.each([
  { client: "fc", script: "fc_client.py" },
  { client: "lambda", script: "lambda_client.py" },
])("a $client runtime client written only against its published API", ({ client, script }) => {
  it("gets each event with its headers, posts results and errors chunked, one request at a time", async () => {
    const fn = `foreign-${client}`;
    const keys = functionKeys(fn);
    const worker = await startWorker(setting, {
      fn,
      containerId: `${client}1`,
      // A keep-alive of 2 s ends the worker once the requests are done.
      config: { runtime: "go", handler: "bootstrap", timeout: 7, keepAlive: 2 },
      files: { bootstrap: "prebuilt binary stand-in: the adapter runs the client script instead" },
      bootstrap: path.resolve("test/support/runtime-clients", script),
    });
    try {
      for (const [id, event] of [["a", { n: 1 }], ["b", { fail: "client said no" }], ["c", { n: 3 }]] as const) {
        await enqueue(setting.redis, fn, envelope(fn, `${client}-${id}`, 1, event, `gw-${client}`));
      }
      const [a, b, c] = await collect(`gw-${client}`, 3);
      expect(a!.meta).toMatchObject({ id: `${client}-a`, status: 200 });
      expect(a!.body).toMatchObject({ client, requestId: `${client}-a`, functionName: fn, handler: "bootstrap", event: { n: 1 } });
      expect(a!.body.deadline).toBeGreaterThan(a!.meta.startedAt!);
      if (client === "fc") expect(a!.body.timeout).toBe(7);
      else expect(a!.body.arn).toContain(`:function:${fn}`);

      expect(b!.meta).toMatchObject({ id: `${client}-b`, status: 502, functionError: true });
      expect(b!.body).toMatchObject({ errorType: "ClientError", errorMessage: "client said no" });

      expect(c!.body).toMatchObject({ requestId: `${client}-c`, event: { n: 3 } });
      // One request at a time, even with FC's early second /next.
      expect(b!.meta.startedAt!).toBeGreaterThanOrEqual(a!.meta.finishedAt!);
      expect(c!.meta.startedAt!).toBeGreaterThanOrEqual(b!.meta.finishedAt!);
    } finally {
      await worker.stop();
    }
  });
});

describe("Function Compute's lifecycle hooks, to a client that knows only FC's runtime API", () => {
  it("delivers the initializer once, before the first event, and preStop once the keep-alive is over", async () => {
    const fn = "foreign-hooks";
    const keys = functionKeys(fn);
    const worker = await startWorker(setting, {
      fn,
      containerId: "hooks1",
      config: { runtime: "go", handler: "bootstrap", initializer: "bootstrap.initializer", preStop: "bootstrap.preStop", keepAlive: 1 },
      files: { bootstrap: "prebuilt binary stand-in: the adapter runs the client script instead" },
      bootstrap: path.resolve("test/support/runtime-clients/fc_client.py"),
    });
    try {
      for (const id of ["h-a", "h-b"]) {
        await enqueue(setting.redis, fn, envelope(fn, id, 1, { id }, "gw-hooks"));
      }
      const results = await collect("gw-hooks", 2);
      expect(results.map(({ meta }) => meta.status)).toEqual([200, 200]);
      expect(results[0]!.meta.cold).toBe(true);
    } finally {
      await worker.stop();
    }
    const messages = (await setting.redis.xrange(keys.logs, "-", "+")).map(([, fields]) => fields[fields.indexOf("m") + 1]!);
    const order = messages.flatMap((message) => {
      if (message.startsWith("FC Initialize Start")) return ["initialize"];
      if (message.startsWith("FC PreStop Start")) return ["preStop"];
      if (message.startsWith("START RequestId")) return [message.split(" ")[2]];
      return [];
    });
    expect(order).toEqual(["initialize", "h-a", "h-b", "preStop"]);
  });
});

