// Callbacks from a hostile caller, end to end on a real redis-server and Docker: X-Callback-Url may
// not point Hearth at itself or at its network (refused with 400 before anything is queued, so before
// any connection), and a failed callback's record does not tell a closed port from a silent one.

import net from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { finalRecord, getInvocation, invokeAsync, request, startReceiver } from "../support/async.js";
import { probeHandler } from "../support/functions.js";
import { deploy, eventually, startTestHearth, startTestRedis, useTestHearth } from "../support/hearth.js";

// The default policy: no HEARTH_CALLBACK_ALLOW.
const h = useTestHearth({ callbacks: { attempts: 1, retryDelayMs: 50, timeoutMs: 1_000, allow: [] } });
const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

/** How many async invocations Redis holds records of. */
const records = async (): Promise<number> => (await h.client.keys("hearth:{*}:invocation:*")).length;

describe("callback policy", () => {
  it("refuses loopback, link-local, private and localhost callbacks at accept, before anything is queued", async () => {
    await deploy(h.url, "job", { runtime: "node" }, { "index.js": probeHandler() });
    const listening = await startReceiver();
    closers.push(listening.close);
    const port = new URL(listening.url).port;
    const before = await records();
    const refused: Array<[url: string, reason: string]> = [
      [listening.url, "127.0.0.1 (loopback address)"],
      [`http://[::1]:${port}/`, "::1 (loopback address)"],
      ["http://169.254.169.254/latest/meta-data/", "169.254.169.254 (link-local address)"],
      ["http://10.0.0.1/hook", "10.0.0.1 (private address)"],
      [`http://localhost:${port}/receive`, "localhost (a name of this host)"],
      [`http://[::ffff:127.0.0.1]:${port}/receive`, "::ffff:7f00:1 (loopback address)"],
    ];
    for (const [url, reason] of refused) {
      const answer = await invokeAsync(h.url, "job", { echo: url }, { "X-Callback-Url": url });
      expect(answer.status, url).toBe(400);
      expect(answer.body).toMatchObject({ errorType: "InvalidCallbackUrl" });
      expect(answer.body.errorMessage).toContain(`may not point at ${reason}`);
    }
    expect(await records()).toBe(before);
    expect(listening.calls).toHaveLength(0);
  });

  it("cannot be turned on Hearth's own API: a redrive of another function's dead letters is refused and they stay", async () => {
    await deploy(h.url, "victim", { runtime: "node", maxRetries: 0 }, { "index.js": probeHandler() });
    const failed = await invokeAsync(h.url, "victim", { fail: "kept for later" });
    expect((await finalRecord(h.url, failed.body.id)).status).toBe("dead-lettered");

    for (const path of ["/system/functions/victim/dead-letters/redrive", "/function/victim"]) {
      const attack = await invokeAsync(h.url, "job", { fail: "attacker's body" }, { "X-Callback-Url": `${h.url}${path}` });
      expect(attack.status, path).toBe(400);
      expect(attack.body.errorType).toBe("InvalidCallbackUrl");
    }
    const deadLetters = await request(h.url, "GET", "/system/functions/victim/dead-letters");
    expect(deadLetters.body).toMatchObject({ total: 1, invocations: [{ id: failed.body.id, status: "dead-lettered", attempts: 1 }] });
  });

  it("records a closed port and a silent one alike: no HTTP answer", async () => {
    // Loopback receivers need the allow list: a Hearth of this test's that has one.
    const redis = await startTestRedis();
    closers.push(() => redis.stop());
    const open = await startTestHearth(redis, { callbacks: { attempts: 1, retryDelayMs: 50, timeoutMs: 1_000, allow: ["127.0.0.1/32"] } });
    closers.push(() => open.stop());
    await deploy(open.url, "job", { runtime: "node" }, { "index.js": probeHandler() });

    // Takes connections and never answers.
    const held = new Set<net.Socket>();
    const silent = net.createServer((socket) => held.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    closers.push(() => {
      for (const socket of held) socket.destroy();
      return new Promise((resolve) => silent.close(() => resolve()));
    });
    const closedPort = await freePort();
    const outcomes = await Promise.all(
      [`http://127.0.0.1:${closedPort}/`, `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}/`].map(async (url) => {
        const { body } = await invokeAsync(open.url, "job", {}, { "X-Callback-Url": url });
        return eventually(async () => {
          const record = await getInvocation(open.url, body.id);
          return record.callback?.status === "failed" ? record.callback : undefined;
        }, 30_000, `the callback to ${url} to fail`);
      }),
    );
    for (const callback of outcomes) expect(callback).toMatchObject({ status: "failed", attempts: 1, lastError: "no HTTP answer" });
    expect(held.size).toBe(1);
  });
});

/** A loopback port nothing listens on (it was free a moment ago). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
