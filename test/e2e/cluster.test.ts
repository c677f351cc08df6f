// Hearth (API and invoker) on a real Redis Cluster: three masters, a replica each, HEARTH_ASYNC_REPLICAS=1.
// Functions, their streams and the global keys sit on different masters (names chosen by their slots):
// deploys, deletes and quotas; sync and async invocations with Idempotency-Keys, retries and dead
// letters; a stream on another master than its function, its entries acknowledged; and a master killed
// (SIGKILL) under load: nothing a 202 acknowledged is lost, and no caller is left hanging.

import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CODE_BYTES, functionKeys, streamGroup } from "../../gateway/protocol/keys.js";
import { finalRecord, getInvocation, invokeAsync, request, startReceiver } from "../support/async.js";
import { countByStatus, expectQuickSyncAnswers, functionState, sleep, slowest, timedPost, UNAVAILABLE_BOUND_MS, type TimedAnswer } from "../support/failover.js";
import { probeHandler, streamHandler } from "../support/functions.js";
import { defaultQuotas, deploy, eventually, invoke, startTestHearthOnCluster, type ClusterTestHearth } from "../support/hearth.js";
import { startRedisCluster, type RedisCluster } from "../support/redis-cluster.js";

/** Slot ranges (masters) of the names below, as cluster-key-slot computes them: checked in beforeAll. */
const RANGES = {
  orders: 0,
  refunds: 1,
  billing: 2,
  invoices: 2,
  flaky: 1,
  consumer: 1,
  payments: 1,
  ledger: 0,
  audit: 0,
};
/** Deployed together by the quota test; every other test's function fits beside them afterwards. */
const QUOTA_FUNCTIONS = ["orders", "refunds", "billing", "shipping", "mailer", "beta", "delta"];
const MAX_FUNCTIONS = QUOTA_FUNCTIONS.length;

let cluster: RedisCluster;
let client: Cluster;
let hearth: ClusterTestHearth;
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  cluster = await startRedisCluster({ replicas: true });
  client = cluster.connect();
  for (const [name, range] of Object.entries(RANGES)) expect([name, cluster.rangeOf(functionKeys(name).def)]).toEqual([name, range]);
  hearth = await startTestHearthOnCluster(cluster, {
    // HEARTH_ASYNC_REPLICAS' default with a cluster: a 202 only once the replica of the function's master has it.
    asyncReplicas: { count: 1, timeoutMs: 1_000 },
    quotas: { ...defaultQuotas, maxFunctions: MAX_FUNCTIONS },
    containerNetworks: ["host"],
    invokerHeartbeatMs: 1_000,
  });
}, 60_000);

afterAll(async () => {
  try {
    for (const close of closers.reverse()) await close();
    await hearth?.stop();
  } finally {
    client?.disconnect();
    await cluster?.stop();
  }
});

/** A read of `key` on the replica of the master that holds it: what a failover would keep. */
async function onReplica<T>(key: string, read: (replica: Redis) => Promise<T>): Promise<T> {
  const replica = cluster.replicas[cluster.rangeOf(key)]!.connect();
  try {
    // A cluster replica answers MOVED to reads unless the connection says it takes them.
    await replica.call("READONLY");
    return await read(replica);
  } finally {
    replica.disconnect();
  }
}

/** An HTTP server of the test's that answers "fail" to the first `failures` requests and "ok" after. */
async function failFirst(failures: number): Promise<{ url: string; asked: () => number }> {
  let asked = 0;
  const server = http.createServer((_req, res) => {
    asked += 1;
    res.end(asked <= failures ? "fail" : "ok");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(() => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/verdict`, asked: () => asked };
}

const node = (settings: object = {}) => ({ runtime: "node", network: "host", ...settings });

describe("Hearth on a three-master Redis Cluster with a replica each", () => {
  it("deploys, lists and deletes functions on every master, within HEARTH_MAX_FUNCTIONS, counting code bytes", async () => {
    expect(new Set(QUOTA_FUNCTIONS.map((name) => cluster.rangeOf(functionKeys(name).def))).size).toBe(3);
    const deployed = await Promise.all(QUOTA_FUNCTIONS.map((name) => deploy(hearth.url, name, node(), { "index.js": probeHandler(name) })));
    expect(deployed.map(({ status }) => status)).toEqual(QUOTA_FUNCTIONS.map(() => 201));
    const refused = await deploy(hearth.url, "gamma", node(), { "index.js": probeHandler() });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ errorType: "QuotaExceeded" });

    const listed = await request(hearth.url, "GET", "/system/functions");
    expect(listed.status).toBe(200);
    const functions = listed.body.functions as Array<{ name: string; codeSize: number }>;
    expect(functions.map(({ name }) => name).sort()).toEqual([...QUOTA_FUNCTIONS].sort());
    expect(Number(await client.get(CODE_BYTES))).toBe(functions.reduce((sum, { codeSize }) => sum + codeSize, 0));

    for (const name of QUOTA_FUNCTIONS) expect((await request(hearth.url, "DELETE", `/system/functions/${name}`)).status).toBe(204);
    expect((await request(hearth.url, "GET", "/system/functions")).body.functions).toEqual([]);
    expect(Number(await client.get(CODE_BYTES))).toBe(0);
    // Every name was given back: a deploy goes in again.
    expect((await deploy(hearth.url, "gamma", node(), { "index.js": probeHandler() })).status).toBe(201);
    expect((await request(hearth.url, "DELETE", "/system/functions/gamma")).status).toBe(204);
  });

  it("accepts an async invocation once per Idempotency-Key, confirmed on the replica of its function's master before the 202", async () => {
    expect((await deploy(hearth.url, "invoices", node(), { "index.js": probeHandler() })).status).toBe(201);
    const key = { "Idempotency-Key": "invoice-42" };
    const first = await invokeAsync(hearth.url, "invoices", { echo: "once" }, key);
    expect(first.status).toBe(202);
    const again = await invokeAsync(hearth.url, "invoices", { echo: "once" }, key);
    expect(again).toMatchObject({ status: 202, body: { id: first.body.id } });
    const other = await invokeAsync(hearth.url, "invoices", { echo: "another" }, key);
    expect(other).toMatchObject({ status: 422, body: { errorType: "IdempotencyKeyMismatch" } });

    // HEARTH_ASYNC_REPLICAS=1: the record and the key were on the replica when the caller heard 202.
    const keys = functionKeys("invoices");
    expect(await onReplica(keys.invocation(first.body.id), (replica) => replica.exists(keys.invocation(first.body.id)))).toBe(1);
    expect(await onReplica(keys.idempotency("invoice-42"), (replica) => replica.get(keys.idempotency("invoice-42")))).toContain(first.body.id);
    expect((await getInvocation(hearth.url, first.body.id)).id).toBe(first.body.id);
  });

  it("runs sync invocations of a node function, and the async one accepted above once", async () => {
    for (let n = 0; n < 5; n += 1) {
      const answer = await invoke(hearth.url, "invoices", { echo: n });
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ echo: n });
    }
    const accepted = await invokeAsync(hearth.url, "invoices", { echo: "run" });
    expect(await finalRecord(hearth.url, accepted.body.id)).toMatchObject({ status: "succeeded", attempts: 1, result: { echo: "run" } });
  });

  it("retries a failing async invocation to success, and dead-letters one that keeps failing", async () => {
    expect((await deploy(hearth.url, "flaky", node({ maxRetries: 2, retryDelay: 0.2 }), { "index.js": probeHandler() })).status).toBe(201);
    const twice = await failFirst(2);
    const recovers = await invokeAsync(hearth.url, "flaky", { failIf: twice.url, echo: "third time" });
    expect(await finalRecord(hearth.url, recovers.body.id)).toMatchObject({ status: "succeeded", attempts: 3, result: { echo: "third time" } });

    const always = await failFirst(Number.MAX_SAFE_INTEGER);
    const doomed = await invokeAsync(hearth.url, "flaky", { failIf: always.url });
    expect(await finalRecord(hearth.url, doomed.body.id)).toMatchObject({ status: "dead-lettered", attempts: 3, error: { errorMessage: "told to fail" } });
    expect(always.asked()).toBe(3);
    const dead = await request(hearth.url, "GET", "/system/functions/flaky/dead-letters");
    expect(dead.body.invocations.map(({ id }: { id: string }) => id)).toEqual([doomed.body.id]);
  });

  it("invokes a function for each entry of a stream on another master, and acknowledges each once final", async () => {
    const stream = "orders";
    expect(cluster.rangeOf(stream)).not.toBe(cluster.rangeOf(functionKeys("consumer").def));
    expect((await deploy(hearth.url, "consumer", node(), { "index.js": streamHandler() })).status).toBe(201);
    expect((await request(hearth.url, "PUT", `/system/functions/consumer/streams/${stream}`)).status).toBe(201);
    const reports = await startReceiver();
    closers.push(reports.close);
    const ids: string[] = [];
    for (let n = 0; n < 3; n += 1) ids.push((await client.xadd(stream, "*", "report", reports.url, "n", String(n)))!);
    const ran = await eventually(async () => (reports.calls.length >= 3 ? reports.calls.map((call) => JSON.parse(call.body).event.id as string) : undefined), 30_000, "an invocation per entry");
    expect(ran.sort()).toEqual([...ids].sort());
    // Acknowledged on the stream's master once each invocation is final: nothing left pending.
    await eventually(async () => ((await client.xpending(stream, streamGroup("consumer")))[0] === 0 ? true : undefined), 20_000, "every entry acknowledged");
  });

  it("answers async callers 202 or a quick 503 while its function's master fails over, and loses no 202 (API side)", async () => {
    expect((await deploy(hearth.url, "payments", node({ maxContainers: 1 }), { "index.js": probeHandler() })).status).toBe(201);
    const answers: TimedAnswer[] = [];
    const load = Promise.all(
      [0, 1, 2, 3].map(async (worker) => {
        for (let i = 0; i < 40; i += 1) {
          answers.push(await timedPost(hearth.url, "/async-function/payments", { echo: `${worker}-${i}` }));
          await sleep(50);
        }
      }),
    );
    await sleep(1_000);
    const { promoted } = await cluster.killMaster(RANGES.payments);
    await load;
    console.log(`cluster failover (API side): async ${JSON.stringify(countByStatus(answers))}, slowest ${Math.max(...answers.map(({ ms }) => ms))} ms`);
    for (const answer of answers) {
      expect([202, 503]).toContain(answer.status);
      if (answer.status === 503) expect(answer.errorType).toBe("Hearth.Unavailable");
      expect(answer.ms).toBeLessThan(UNAVAILABLE_BOUND_MS);
    }
    const accepted = answers.filter(({ status }) => status === 202).map(({ id }) => id!);
    expect(accepted.length).toBeGreaterThan(10);
    // WAIT=1 had each on the replica, the master now: every acknowledged record is there.
    const newMaster = promoted.connect();
    try {
      for (const id of accepted) expect(await newMaster.exists(functionKeys("payments").invocation(id))).toBe(1);
    } finally {
      newMaster.disconnect();
    }
    // Through the API too. A read right after the failover may meet the gateway's old map of slots
    // (read again every second): a 503 "try again shortly", then the record.
    for (const id of accepted) {
      const record = await eventually(async () => {
        const got = await request(hearth.url, "GET", `/invocations/${id}`);
        if (got.status === 503) return undefined;
        expect(got.status, JSON.stringify(got.body)).toBe(200);
        return got.body;
      }, UNAVAILABLE_BOUND_MS, `invocation ${id} to be readable`);
      expect(record.id).toBe(id);
    }
    // The new master has no replica: an async invocation is not confirmed, and the caller hears so.
    const unconfirmed = await eventually(async () => {
      const answer = await invokeAsync(hearth.url, "payments", { echo: "no replica" });
      return answer.status === 503 && /replica/.test(answer.body?.errorMessage) ? answer : undefined;
    }, 15_000, "a 503 for want of a replica");
    expect(unconfirmed.body.errorType).toBe("Hearth.Unavailable");
    // Functions on the other masters are served as before; the listing reads every master.
    expect((await invokeAsync(hearth.url, "invoices", { echo: "elsewhere" })).status).toBe(202);
    expect((await request(hearth.url, "GET", "/system/functions")).body.functions.map(({ name }: { name: string }) => name)).toContain("payments");
  }, 60_000);

  it("answers sync callers 200 or a quick 503 through a failover under sync and async load, and runs every 202 to success", async () => {
    for (const fn of ["ledger", "audit"]) {
      expect((await deploy(hearth.url, fn, node({ maxRetries: 5, retryDelay: 0.2, maxContainers: 4 }), { "index.js": probeHandler() })).status).toBe(201);
      expect((await invoke(hearth.url, fn, { echo: "warm" })).status).toBe(200);
    }
    const asyncAnswers: TimedAnswer[] = [];
    let loading = true;
    // Both loads last until the failover is well over (each async 503 for want of a replica waits HEARTH_ASYNC_REPLICA_TIMEOUT_MS).
    const asyncLoad = Promise.all(
      [0, 1, 2, 3].map(async (worker) => {
        for (let i = 0; loading && i < 40; i += 1) {
          asyncAnswers.push(await timedPost(hearth.url, "/async-function/audit", { echo: `${worker}-${i}` }));
          await sleep(100);
        }
      }),
    );
    const syncAnswers: TimedAnswer[] = [];
    const hangs: object[] = [];
    const syncLoad = Promise.all(
      [0, 1, 2].map(async () => {
        for (let i = 0; loading && i < 400; i += 1) {
          const answer = await timedPost(hearth.url, "/function/ledger", { echo: i });
          syncAnswers.push(answer);
          if (answer.status === 0) hangs.push(await functionState(client, "ledger").catch((error: unknown) => ({ unreadable: String(error) })));
          await sleep(10);
        }
      }),
    );
    await sleep(1_500);
    const killedAt = Date.now();
    await cluster.killMaster(RANGES.ledger);
    await sleep(Math.max(0, killedAt + 6_000 - Date.now()));
    loading = false;
    await Promise.all([asyncLoad, syncLoad]);

    console.log(`cluster failover: async ${JSON.stringify(countByStatus(asyncAnswers))}; sync ${JSON.stringify(countByStatus(syncAnswers))}, slowest 200 ${slowest(syncAnswers, 200)} ms, slowest 503 ${slowest(syncAnswers, 503)} ms`);
    expectQuickSyncAnswers(syncAnswers, hangs);
    for (const answer of asyncAnswers) {
      expect([202, 503]).toContain(answer.status);
      expect(answer.ms).toBeLessThan(UNAVAILABLE_BOUND_MS);
    }
    expect(syncAnswers.filter(({ status }) => status === 200).length).toBeGreaterThan(0);
    // Sync works again on the same function, its containers replaced.
    await eventually(async () => ((await invoke(hearth.url, "ledger", { echo: "after" })).status === 200 ? true : undefined), 20_000, "sync invocations to work again");
    // Every 202 completes (one interrupted by the failover runs again).
    for (const { id } of asyncAnswers.filter(({ status }) => status === 202)) expect(await finalRecord(hearth.url, id!, 60_000)).toMatchObject({ status: "succeeded" });
  }, 120_000);
});
