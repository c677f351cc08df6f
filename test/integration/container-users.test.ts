// A container's Redis user (made by its invoker): its own function's keys and the adapter's commands,
// nothing else. On a real redis-server, reached by its unix socket as containers reach it.

import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deployFunction } from "../../gateway/functions/registry.js";
import { ContainerUsers, type ContainerCredentials } from "../../gateway/invoker/container-users.js";
import { decodeMessage, type ResultMeta } from "../../gateway/protocol/envelope.js";
import { EVENTS_CHANNEL, functionKeys, newInvocationId, repliesKey } from "../../gateway/protocol/keys.js";
import { ALL_SCRIPTS, loadScripts } from "../../gateway/protocol/all-scripts.js";
import { enqueueAsyncInvocation } from "../../gateway/protocol/async-lifecycle.js";
import { finishInvocation } from "../../gateway/protocol/container-lifecycle.js";
import { probeHandler } from "../support/functions.js";
import { defaultQuotas, eventually } from "../support/hearth.js";
import { tarGz } from "../support/packages.js";
import { enqueue, envelope, startWorker, useWorkerSetting } from "../support/worker.js";

const setting = useWorkerSetting();
let users: ContainerUsers;
let attacker: Redis;
let credentials: ContainerCredentials;
const victim = functionKeys("victim");

/** A connection as a container makes it: the unix socket, the container's user, no ready check (INFO). */
function connectAs(user: Partial<ContainerCredentials>): Redis {
  const client = new Redis({ path: setting.socketPath, ...user, enableReadyCheck: false, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  client.on("error", () => undefined);
  return client;
}

/** What a PING as that user comes to, with the errors on the way (a failed AUTH closes the connection). */
async function pingAs(user: Partial<ContainerCredentials>): Promise<string> {
  const client = connectAs(user);
  const errors: string[] = [];
  client.on("error", (error: Error) => errors.push(error.message));
  try {
    await client.connect();
    return await client.ping();
  } catch (error) {
    return [(error as Error).message, ...errors].join("; ");
  } finally {
    client.disconnect();
  }
}

beforeAll(async () => {
  users = new ContainerUsers(setting.redis);
  await deployFunction(setting.redis, defaultQuotas, "victim", { runtime: "node", environment: { SECRET: "s3cret" } }, await tarGz({ "index.js": probeHandler() }));
  await setting.redis.lpush(victim.queue, envelope("victim", "queued-1", 1, { pay: "load" }));
  credentials = await users.create("inv-1", "c-attacker", "attacker");
  attacker = connectAs(credentials);
  await attacker.connect();
});

afterAll(() => attacker?.disconnect());

describe("a container's Redis user", () => {
  it("cannot read, watch, wipe or reconfigure anything beyond its own function", async () => {
    const refused: Array<[string, ...(string | number)[]]> = [
      ["hgetall", victim.def],
      // Its code comes mounted from the invoker's code cache: not even its own package is readable.
      ["get", functionKeys("attacker").code("0".repeat(64))],
      ["lrange", victim.queue, 0, -1],
      ["blmove", victim.queue, functionKeys("attacker").running("c-attacker"), "RIGHT", "LEFT", 0.01],
      ["del", victim.def],
      ["xadd", victim.logs, "*", "m", "forged"],
      ["xrange", victim.logs, "-", "+"],
      ["lpush", victim.history, "{}"],
      ["lrange", repliesKey("gw-test"), 0, -1],
      ["monitor"],
      ["flushall"],
      ["flushdb"],
      ["config", "set", "appendfsync", "no"],
      ["config", "get", "requirepass"],
      ["keys", "*"],
      ["scan", 0],
      ["eval", "return redis.call('hgetall', KEYS[1])", 1, victim.def],
      ["script", "load", "return 1"],
      ["acl", "list"],
      ["client", "list"],
      ["subscribe", "hearth:other"],
      ["info"],
    ];
    for (const [command, ...args] of refused) {
      await expect(attacker.call(command, ...args), `${command} ${args.join(" ")}`).rejects.toThrow(/NOPERM|no permissions/);
    }
    expect(await setting.redis.hget(victim.def, "environment")).toContain("s3cret");
    expect(await setting.redis.llen(victim.queue)).toBe(1);
  });

  it("can do what the adapter does: its own keys, waiting on its inbox, pushing replies, publishing events; not CLIENT ID", async () => {
    const own = functionKeys("attacker");
    expect(await attacker.hgetall(own.def)).toEqual({});
    // Its function's log lines and history (gateway/adapter/function-log.ts).
    expect(await attacker.xadd(own.logs, "MAXLEN", 10, "*", "m", "line")).toMatch(/^\d+-\d+$/);
    expect(await attacker.xtrim(own.logs, "MINID", "~", 0)).toBe(0);
    expect(await attacker.lpush(own.history, "{}")).toBe(1);
    expect(await attacker.ltrim(own.history, 0, 9)).toBe("OK");
    expect(await attacker.rpush(repliesKey("gw-x"), "r")).toBe(1);
    expect(await attacker.pexpire(repliesKey("gw-x"), 1000)).toBe(1);
    expect(await attacker.publish(EVENTS_CHANNEL, "work attacker")).toBeGreaterThanOrEqual(0);
    expect(await attacker.lpush(own.inbox("c1"), "work")).toBe(1);
    expect(await attacker.blmove(own.inbox("c1"), own.running("c1"), "RIGHT", "LEFT", 0.1)).toBe("work");
    // Nothing takes a container's client id any more (wake-ups come through its inbox).
    await expect(attacker.client("ID")).rejects.toThrow(/NOPERM/);
  });

  it("is refused without its password, and loses its connection when its container's user is removed", async () => {
    expect(await pingAs({})).toMatch(/NOAUTH/);
    expect(await pingAs({ username: credentials.username, password: "guessed" })).toMatch(/WRONGPASS|NOAUTH/);
    expect(await pingAs({ username: "default", password: "" })).toMatch(/WRONGPASS|NOAUTH/);

    const doomed = await users.create("inv-1", "c-doomed", "attacker");
    const connection = connectAs(doomed);
    await connection.connect();
    const closed = new Promise((resolve) => connection.once("end", resolve));
    await users.remove("inv-1", "c-doomed");
    await closed;
    expect(await pingAs(doomed)).toMatch(/WRONGPASS|NOAUTH/);
  });

  it("is made again, with the scripts it runs, on a master that lacks both (a promoted replica: ACL SETUSER and SCRIPT LOAD are not replicated)", async () => {
    const restored = await users.create("inv-1", "c-restored", "victim");
    await setting.redis.acl("DELUSER", restored.username);
    await setting.redis.script("FLUSH");
    expect(await pingAs(restored)).toMatch(/WRONGPASS/);
    await users.restore();
    // Logged in (PING is not among its commands).
    expect(await pingAs(restored)).toMatch(/^NOPERM/);
    expect(await setting.redis.script("EXISTS", finishInvocation.sha)).toEqual([1]);
    // A user its container's exit removed is not made again.
    await users.remove("inv-1", "c-restored");
    await users.restore();
    expect(await pingAs(restored)).toMatch(/WRONGPASS/);
  });

  it("loads the scripts a container runs before its user is made when the cache lost them (a restart), and sends none it has", async () => {
    const scriptLoads = async (): Promise<number> => Number(/cmdstat_script\|load:calls=(\d+)/.exec(await setting.redis.info("commandstats"))?.[1] ?? 0);
    await setting.redis.script("FLUSH");
    const first = await users.create("inv-1", "c-flushed", "victim");
    expect(new Set((await setting.redis.script("EXISTS", ...ALL_SCRIPTS.map(({ sha }) => sha))) as number[])).toEqual(new Set([1]));
    const loads = await scriptLoads();
    const second = await users.create("inv-1", "c-cached", "victim");
    expect(await scriptLoads()).toBe(loads);
    for (const credentials of [first, second]) await users.remove("inv-1", credentials.username.split(":")[2]!);
  });

  it("removes the users of invokers it is told are gone", async () => {
    await users.create("inv-dead", "c1", "victim");
    await users.create("inv-alive", "c2", "victim");
    await users.removeWhere((invokerId) => invokerId === "inv-dead");
    const names = (await setting.redis.acl("USERS")) as string[];
    expect(names).not.toContain("hearth-container:inv-dead:c1");
    expect(names).toContain("hearth-container:inv-alive:c2");
  });

  it("serves sync and async invocations through a worker connected as the container's user", async () => {
    const fn = "served";
    const keys = functionKeys(fn);
    await loadScripts(setting.redis);
    const own = await users.create("inv-1", "c-served", fn);
    const worker = await startWorker(setting, {
      fn,
      containerId: "c-served",
      config: { runtime: "node", keepAlive: 2 },
      files: { "index.js": probeHandler() },
      bootstrap: path.resolve("images/node/bootstrap.cjs"),
      credentials: { ...own },
    });
    try {
      await enqueue(setting.redis, fn, envelope(fn, "sync-1", 1, { echo: "sync" }));
      const popped = (await setting.redis.blpopBuffer(repliesKey("gw-test"), 20))!;
      const result = decodeMessage<ResultMeta>(popped[1]);
      expect(result.meta).toMatchObject({ id: "sync-1", function: fn, status: 200 });
      expect(JSON.parse(result.payload.toString())).toMatchObject({ echo: "sync" });

      const id = newInvocationId(fn);
      await enqueueAsyncInvocation.run(setting.redis, { keys, fn, id, payload: Buffer.from(JSON.stringify({ echo: "async" })), expectedVersion: 1, now: Date.now(), retentionMs: 60_000 });
      const status = await eventually(async () => {
        const current = await setting.redis.hget(keys.invocation(id), "status");
        return current === "succeeded" ? current : undefined;
      }, 20_000, "the async invocation to succeed");
      expect(status).toBe("succeeded");
    } finally {
      await worker.stop();
    }
  });
});

