// The runtime adapter on a real redis-server with the real Node bootstrap, outside Docker: the order
// of its Redis writes, and its retirement at the end of the keep-alive.

import path from "node:path";
import { describe, expect, it } from "vitest";
import { deployFunction } from "../../gateway/functions/registry.js";
import { decodeMessage, type InvocationMeta, type ResultMeta } from "../../gateway/protocol/envelope.js";
import { functionKeys, repliesKey } from "../../gateway/protocol/keys.js";
import { finishInvocation } from "../../gateway/protocol/container-lifecycle.js";
import { probeHandler } from "../support/functions.js";
import { defaultQuotas, eventually } from "../support/hearth.js";
import { tarGz } from "../support/packages.js";
import { enqueue, envelope, startWorker, type TestWorker, useWorkerSetting } from "../support/worker.js";

const setting = useWorkerSetting();

const bootstrap = path.resolve("images/node/bootstrap.cjs");

function startProbeWorker(fn: string, containerId: string, keepAlive: number): Promise<TestWorker> {
  return startWorker(setting, { fn, containerId, config: { runtime: "node", keepAlive }, files: { "index.js": probeHandler() }, bootstrap });
}

describe("ContainerWorker", () => {
  it("records itself idle before the caller hears back, and retires when its keep-alive runs out", async () => {
    const fn = "adapted";
    const keys = functionKeys(fn);
    const containerId = "local1";
    // Monitoring before the worker sends anything: ioredis marks the connection monitoring a tick after
    // MONITOR's OK, and a feed line read in the same chunk as that OK fails its command queue.
    const monitor = await setting.redis.monitor();
    const worker = await startProbeWorker(fn, containerId, 2).catch((error: unknown) => {
      monitor.disconnect();
      throw error;
    });
    try {
      const commands: string[][] = [];
      monitor.on("monitor", (_time: string, args: string[]) => commands.push(args));

      await enqueue(setting.redis, fn, envelope(fn, "call-1", 1, { echo: "call-1" }));
      const popped = (await setting.redis.blpopBuffer(repliesKey("gw-test"), 20))!;
      const result = decodeMessage<ResultMeta>(popped[1]);
      expect(result.meta).toMatchObject({ id: "call-1", status: 200, containerId });
      expect(JSON.parse(result.payload.toString())).toMatchObject({ echo: "call-1" });

      // The monitor's feed comes on its own connection, maybe after the reply: wait until it shows the push.
      const replyAt = await eventually(async () => {
        const at = commands.findIndex((args) => args[0]?.toLowerCase() === "rpush" && args[1] === repliesKey("gw-test"));
        return at >= 0 ? at : undefined;
      }, 10_000, "the reply push in the monitor feed");
      const finishAt = commands.findIndex((args) => args[0]?.toLowerCase() === "evalsha" && args[1] === finishInvocation.sha);
      expect(finishAt).toBeGreaterThanOrEqual(0);
      expect(replyAt).toBeGreaterThan(finishAt);
    } finally {
      monitor.disconnect();
      await worker.stop();
    }
    expect(await setting.redis.hexists(keys.containers, containerId)).toBe(0);
  });

  it("sends sequential requests to the most recently used of several idle containers", async () => {
    const fn = "recent";
    const keys = functionKeys(fn);
    const another = (containerId: string) => startWorker(setting, { fn, containerId, config: {}, bootstrap });
    const workers = [await startProbeWorker(fn, "mru1", 60), await another("mru2"), await another("mru3")];
    try {
      await eventually(async () => ((await setting.redis.llen(keys.idle)) === 3 ? true : undefined), 10_000, "three idle workers");
      const [lastRegistered, ...others] = await setting.redis.lrange(keys.idle, 0, -1);
      const servedBy: string[] = [];
      for (let i = 0; i < 12; i += 1) {
        await enqueue(setting.redis, fn, envelope(fn, `seq-${i}`, 1, { echo: i }));
        const popped = (await setting.redis.blpopBuffer(repliesKey("gw-test"), 20))!;
        servedBy.push(decodeMessage<ResultMeta>(popped[1]).meta.containerId!);
        await new Promise((resolve) => setTimeout(resolve, 30));
      }
      // The one that registered last heads the idle list and takes every request; the others get none.
      expect(new Set(servedBy)).toEqual(new Set([lastRegistered]));
      expect(await setting.redis.lrange(keys.idle, 0, -1)).toEqual([lastRegistered, ...others]);
    } finally {
      // A redeploy wakes every idle container through its inbox (no invoker here): each retires.
      await deployFunction(setting.redis, defaultQuotas, fn, { runtime: "node", keepAlive: 60 }, await tarGz({ "index.js": probeHandler("v2") }));
      await Promise.all(workers.map((worker) => worker.stop()));
    }
    expect(await setting.redis.hlen(keys.containers)).toBe(0);
    expect(await setting.redis.llen(keys.idle)).toBe(0);
  });

  it("freezes the runtime between invocations: a timer a handler leaves behind runs only once the next invocation comes", async () => {
    const fn = "frozen";
    const keys = functionKeys(fn);
    const handler = `
let firedAt = null;
exports.handler = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = false;
  const seen = firedAt;
  if (event.arm) setTimeout(() => { firedAt = Date.now(); }, 100);
  callback(null, { firedAt: seen });
};`;
    const worker = await startWorker(setting, { fn, containerId: "cold1", config: { runtime: "node", keepAlive: 3 }, files: { "index.js": handler }, bootstrap });
    const call = async (id: string, event: object): Promise<{ firedAt: number | null }> => {
      await enqueue(setting.redis, fn, envelope(fn, id, 1, event));
      const popped = (await setting.redis.blpopBuffer(repliesKey("gw-test"), 20))!;
      return JSON.parse(decodeMessage<ResultMeta>(popped[1]).payload.toString()) as { firedAt: number | null };
    };
    try {
      await call("arm", { arm: true });
      // Unfrozen, the timer would fire 100 ms after the first call, long before the second.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const secondSentAt = Date.now();
      const { firedAt } = await call("look", {});
      if (firedAt !== null) expect(firedAt).toBeGreaterThanOrEqual(secondSentAt);
    } finally {
      await worker.stop();
    }
  });

  it("calls cold the request that waited for a runtime's init, with its Init Duration: the first, and the first after an idle runtime died; not one after a replacement made ahead", async () => {
    const fn = "recold";
    const keys = functionKeys(fn);
    const handler = `
exports.handler = async (event) => {
  if (event.crash) process.exit(3);
  return { pid: process.pid };
};`;
    const worker = await startWorker(setting, { fn, containerId: "recold1", config: { runtime: "node", keepAlive: 5 }, files: { "index.js": handler }, bootstrap });
    const call = async (id: string, event: object): Promise<{ meta: ResultMeta; body: { pid?: number } }> => {
      await enqueue(setting.redis, fn, envelope(fn, id, 1, event));
      const popped = (await setting.redis.blpopBuffer(repliesKey("gw-test"), 20))!;
      const { meta, payload } = decodeMessage<ResultMeta>(popped[1]);
      return { meta, body: JSON.parse(payload.toString()) as { pid?: number } };
    };
    const reportOf = async (id: string): Promise<string> =>
      eventually(async () => {
        const entries = await setting.redis.xrange(keys.logs, "-", "+");
        const line = entries.map(([, fields]) => fields[fields.indexOf("m") + 1]!).find((message) => message.startsWith(`REPORT RequestId: ${id}`));
        return line;
      }, 10_000, `the REPORT line of ${id}`);
    try {
      const first = await call("first", {});
      const second = await call("second", {});
      // Killed while idle (frozen): the next request waits for a fresh runtime.
      process.kill(second.body.pid!, "SIGKILL");
      await new Promise((resolve) => setTimeout(resolve, 200));
      const third = await call("third", {});
      expect(third.body.pid).not.toBe(second.body.pid);
      // Exits mid-request: the replacement starts before the next request is taken, which is warm.
      const crashed = await call("crash", { crash: true });
      expect(crashed.meta.status).toBe(502);
      const fifth = await call("fifth", {});
      expect(fifth.body.pid).not.toBe(third.body.pid);

      expect([first, second, third, crashed, fifth].map(({ meta }) => meta.cold)).toEqual([true, false, true, false, false]);
      for (const id of ["first", "third"]) expect(await reportOf(id)).toMatch(/\tInit Duration: \d+\.\d\d ms$/);
      for (const id of ["second", "crash", "fifth"]) expect(await reportOf(id)).not.toContain("Init Duration");
      const history = (await setting.redis.lrange(keys.history, 0, -1)).map((entry) => JSON.parse(entry) as { id: string; cold: boolean });
      expect(Object.fromEntries(history.map(({ id, cold }) => [id, cold]))).toEqual({ first: true, second: false, third: true, crash: false, fifth: false });
    } finally {
      await worker.stop();
    }
  });
});
