// Hearth on Redis with Sentinel: the master is killed (SIGKILL) under async and sync load. Nothing a
// 202 acknowledged is lost, sync callers hear 200 or a quick 503 (never a hang), and once a replica
// is master the same function works again (its containers replaced, through the invoker's socket).

import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { finalRecord, invokeAsync } from "../support/async.js";
import { probeHandler } from "../support/functions.js";
import { countByStatus, expectQuickSyncAnswers, sleep, slowest, timedPost, type TimedAnswer } from "../support/failover.js";
import { deploy, eventually, invoke, startTestHearth, type TestHearth } from "../support/hearth.js";
import { startSentinelSetup, type SentinelSetup } from "../support/sentinel.js";

/** Two functions, so that sync requests do not queue behind the async load (one queue per function). */
const SYNC_FN = "failover-sync";
const ASYNC_FN = "failover-async";
const ASYNC_REQUESTS = 200;

let setup: SentinelSetup;
let hearth: TestHearth;
let dir: string;

beforeAll(async () => {
  setup = await startSentinelSetup();
  dir = await mkdtemp(path.join(os.tmpdir(), "hearth-sentinel-"));
  hearth = await startTestHearth({ sentinel: setup.target, socketPath: path.join(dir, "socket", "redis.sock") }, {
    asyncReplicas: { count: 1, timeoutMs: 1_000 },
    invokerHeartbeatMs: 1_000,
  });
}, 60_000);

afterAll(async () => {
  try {
    await hearth?.stop();
  } finally {
    await setup?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  }
});

/** A sync call that gives up after 20 s (status 0): a hang shows as such instead of stalling the test. */
const timedInvoke = (event: unknown): Promise<TimedAnswer> => timedPost(hearth.url, `/function/${SYNC_FN}`, event);

describe("Hearth on Redis Sentinel", () => {
  it("keeps every acknowledged async invocation and answers sync callers quickly through a failover of the master", async () => {
    for (const fn of [SYNC_FN, ASYNC_FN]) {
      expect((await deploy(hearth.url, fn, { runtime: "node", maxRetries: 5, retryDelay: 0.2, maxContainers: 4 }, { "index.js": probeHandler() })).status).toBe(201);
      expect((await invoke(hearth.url, fn, { echo: "warm" })).status).toBe(200);
    }
    const oldMaster = await setup.master();

    const accepted: string[] = [];
    const refusedAsync: Array<{ status: number; errorType: string }> = [];
    const asyncLoad = Promise.all(
      [0, 1, 2, 3].map(async (worker) => {
        for (let i = 0; i < ASYNC_REQUESTS / 4; i += 1) {
          const answer = await invokeAsync(hearth.url, ASYNC_FN, { echo: `${worker}-${i}` });
          if (answer.status === 202) accepted.push(answer.body.id);
          else refusedAsync.push({ status: answer.status, errorType: answer.body?.errorType });
          // Paced to last beyond the failover (about 5 s).
          await sleep(100);
        }
      }),
    );
    const syncAnswers: TimedAnswer[] = [];
    let loading = true;
    const syncLoad = Promise.all(
      [0, 1, 2].map(async () => {
        for (let i = 0; loading && i < 400; i += 1) {
          syncAnswers.push(await timedInvoke({ echo: i }));
          await sleep(10);
        }
      }),
    );
    await sleep(2_000);
    const killedAt = Date.now();
    await oldMaster.kill();
    await eventually(async () => ((await setup.master()).port === oldMaster.port ? undefined : true), 30_000, "the Sentinels to promote the replica");
    // The new master has no replica yet: an async invocation is not confirmed, and the caller hears it.
    let unconfirmed = await invokeAsync(hearth.url, ASYNC_FN, { echo: "no replica" });
    // Until the gateway has reconnected to the new master, it refuses without trying.
    for (const until = Date.now() + 15_000; /not reachable/.test(unconfirmed.body?.errorMessage) && Date.now() < until; ) {
      await sleep(100);
      unconfirmed = await invokeAsync(hearth.url, ASYNC_FN, { echo: "no replica" });
    }
    expect(unconfirmed).toMatchObject({ status: 503, body: { errorType: "Hearth.Unavailable", errorMessage: expect.stringMatching(/replica.*it may still run/) } });
    // The old master comes back; the Sentinels make it a replica of the new one.
    await oldMaster.restart();
    await asyncLoad;
    // Sync load goes on until the failover is well over.
    await sleep(Math.max(0, killedAt + 8_000 - Date.now()));
    loading = false;
    await syncLoad;

    console.log(`sentinel failover: async ${accepted.length} accepted, refused ${JSON.stringify(countByStatus(refusedAsync))}; sync ${JSON.stringify(countByStatus(syncAnswers))}, slowest 200 ${slowest(syncAnswers, 200)} ms, slowest 503 ${slowest(syncAnswers, 503)} ms`);
    expectQuickSyncAnswers(syncAnswers);
    for (const refused of refusedAsync) expect(refused).toEqual({ status: 503, errorType: "Hearth.Unavailable" });
    expect(accepted.length).toBeGreaterThan(ASYNC_REQUESTS / 4);
    expect(syncAnswers.filter(({ status }) => status === 200).length).toBeGreaterThan(0);

    // Sync works again on the same function, its containers replaced (async: below).
    expect(await eventually(async () => ((await invoke(hearth.url, SYNC_FN, { echo: "after" })).status === 200 ? true : undefined), 20_000, "sync invocations to work again")).toBe(true);

    // With the old master back as a replica, async is confirmed again.
    const after = await eventually(async () => {
      const answer = await invokeAsync(hearth.url, ASYNC_FN, { echo: "confirmed" });
      return answer.status === 202 ? (answer.body.id as string) : undefined;
    }, 30_000, "async invocations to be confirmed by a replica again");
    expect(await finalRecord(hearth.url, after)).toMatchObject({ status: "succeeded", result: { echo: "confirmed" } });

    // Every 202 completes (one interrupted by the failover runs again).
    for (const id of accepted) expect(await finalRecord(hearth.url, id, 60_000)).toMatchObject({ status: "succeeded" });
  }, 180_000);
});
