// Stem cells: prewarmed containers per runtime that a function's first request specializes. Real
// Docker and Redis: the cell runs before any function exists, reaches nothing of any function until it
// is handed one, serves that one function only, and is replaced; functions it does not fit start normally.

import { randomBytes } from "node:crypto";
import { mkdir, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { containerUserName } from "../../gateway/invoker/container-users.js";
import { LABELS } from "../../gateway/invoker/docker-backend.js";
import type { ColdStartTimings } from "../../gateway/protocol/envelope.js";
import { parseEvent } from "../../gateway/protocol/events.js";
import { EVENTS_CHANNEL, functionKeys } from "../../gateway/protocol/keys.js";
import { deploy, docker, eventually, invoke, listContainers, startTestHearth, TEST_CODE_CACHE_DIR, useTestHearth } from "../support/hearth.js";

const h = useTestHearth({ stemCells: { node: 1, python: 1, go: 0, custom: 0 } });

const NODE_HOSTNAME = `exports.handler = async () => ({ host: require("node:os").hostname() });`;
const PYTHON_HOSTNAME = `import socket\ndef handler(event, context):\n    return {"host": socket.gethostname()}\n`;

interface RunningStemCell {
  dockerId: string;
  stemId: string;
}

/** The stem cells of a runtime that Docker runs now (a stem cell keeps its label once specialized: `exclude` those). */
async function stemCells(invokerId: string, runtime: string, exclude: string[] = []): Promise<RunningStemCell[]> {
  const found = await docker.listContainers({ filters: { label: [`${LABELS.invoker}=${invokerId}`, `${LABELS.stem}=${runtime}`] } });
  return found.filter((info) => info.State === "running" && !exclude.includes(info.Id)).map((info) => ({ dockerId: info.Id, stemId: info.Labels[LABELS.container]! }));
}

async function oneStemCell(invokerId: string, runtime: string, exclude: string[] = []): Promise<RunningStemCell> {
  return eventually(async () => (await stemCells(invokerId, runtime, exclude))[0], 30_000, `a running ${runtime} stem cell`);
}

/** The stem cell's own Redis credentials, as its invoker gave them (in its environment, root's inside the container). */
async function stemCredentials(dockerId: string): Promise<{ username: string; password: string }> {
  const env = (await docker.getContainer(dockerId).inspect()).Config.Env;
  const value = (name: string): string => env.find((entry) => entry.startsWith(`${name}=`))!.slice(name.length + 1);
  return { username: value("HEARTH_REDIS_USER"), password: value("HEARTH_REDIS_PASSWORD") };
}

/** Collects the `ready` events (cold-start timings) of the test's Hearth. */
async function readyEvents(): Promise<{ timings: Map<string, ColdStartTimings & { function: string }>; stop(): void }> {
  const subscriber = h.client.duplicate();
  const timings = new Map<string, ColdStartTimings & { function: string }>();
  subscriber.on("message", (_channel: string, message: string) => {
    const event = parseEvent(message);
    if (event?.type === "ready") timings.set(event.function, { ...event.timings, function: event.function });
  });
  await subscriber.subscribe(EVENTS_CHANNEL);
  return { timings, stop: () => subscriber.disconnect() };
}

function connectAs(credentials: { username: string; password: string }): Redis {
  const url = new URL(h.redisUrl);
  return new Redis({ host: url.hostname, port: Number(url.port), ...credentials, lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
}

describe("stem cells", () => {
  it("a stem cell runs before any function exists, and reaches nothing of any function", async () => {
    const cell = await oneStemCell(h.invokerId, "node");
    expect(await listContainers(h.invokerId)).toHaveLength(2); // node and python, nothing else
    expect((await deploy(h.url, "stem-secret", { runtime: "node", handler: "index.handler" }, { "index.js": NODE_HOSTNAME })).status).toBe(201);

    const asCell = connectAs(await stemCredentials(cell.dockerId));
    try {
      await asCell.connect();
      await expect(asCell.get(functionKeys("stem-secret").def)).rejects.toThrow(/NOPERM/);
      await expect(asCell.hgetall(functionKeys("stem-secret").def)).rejects.toThrow(/NOPERM/);
      await expect(asCell.publish(EVENTS_CHANNEL, "work stem-secret")).rejects.toThrow(/NOPERM/);
      await expect(asCell.rpush("hearth:replies:{someone}", "x")).rejects.toThrow(/NOPERM/);
      // Not even another stem cell's key.
      await expect(asCell.blpop("hearth:stem:another", 0.01)).rejects.toThrow(/NOPERM/);
    } finally {
      asCell.disconnect();
    }
  });

  it("a node function's first request is served by the stem cell, which becomes that function's container only, and is replaced", async () => {
    const cell = await oneStemCell(h.invokerId, "node");
    const events = await readyEvents();
    try {
      expect((await deploy(h.url, "stem-first", { runtime: "node", handler: "index.handler", memory: 512 }, { "index.js": NODE_HOSTNAME })).status).toBe(201);
      const first = await invoke(h.url, "stem-first");
      expect(first.status).toBe(200);
      // Docker gives a container its id's first 12 characters as its host name.
      expect(first.body.host).toBe(cell.dockerId.slice(0, 12));
      // Its memory limit is the function's now.
      expect((await docker.getContainer(cell.dockerId).inspect()).HostConfig.Memory).toBe(512 * 1024 * 1024);

      // A refill: another node stem cell, started after the specialization.
      const next = await oneStemCell(h.invokerId, "node", [cell.dockerId]);
      expect(next.stemId).not.toBe(cell.stemId);

      // Its connection is the function's Redis user now, which reaches no other function's keys; the cell's own user is gone.
      const [containerId] = Object.keys(await h.client.hgetall(functionKeys("stem-first").containers));
      const functionUser = containerUserName(h.invokerId, containerId!);
      const clients = (await h.client.client("LIST")) as string;
      const connection = clients.split("\n").find((line) => line.includes(`name=hearth-adapter:stem-${cell.stemId} `));
      expect(connection).toContain(` user=${functionUser} `);
      expect(await h.client.acl("DRYRUN", functionUser, "hgetall", functionKeys("stem-first").def)).toBe("OK");
      expect(String(await h.client.acl("DRYRUN", functionUser, "hgetall", functionKeys("stem-secret").def))).toMatch(/no permissions/);
      await eventually(async () => ((await h.client.acl("GETUSER", containerUserName(h.invokerId, cell.stemId))) === null ? true : undefined), 10_000, "the stem cell's own user deleted");

      // The cold start's timings start at the specialization: the hand-over takes a fraction of what
      // creating a container and booting its adapter takes (a function the stem cell does not fit).
      expect((await deploy(h.url, "stem-unfit", { runtime: "node", handler: "index.handler", ephemeralStorage: 1024 }, { "index.js": NODE_HOSTNAME })).status).toBe(201);
      const unfit = await invoke(h.url, "stem-unfit");
      expect(unfit.status).toBe(200);
      expect((await stemCells(h.invokerId, "node")).map((c) => c.dockerId.slice(0, 12))).not.toContain(unfit.body.host);
      expect((await stemCells(h.invokerId, "node", [cell.dockerId])).map((c) => c.stemId)).toEqual([next.stemId]);
      const fromStem = events.timings.get("stem-first")!;
      const created = events.timings.get("stem-unfit")!;
      const handOverMs = fromStem.processStartedAt - fromStem.createdAt;
      const bootMs = created.processStartedAt - created.createdAt;
      expect(handOverMs).toBeGreaterThanOrEqual(0);
      expect(handOverMs).toBeLessThan(bootMs);
      expect(fromStem.runtimeReadyAt - fromStem.createdAt).toBeLessThan(created.runtimeReadyAt - created.createdAt);

      // Killed, the specialized cell is its function's container like any other: its record is released, and the next request gets a new container.
      await docker.getContainer(cell.dockerId).kill();
      await eventually(async () => ((await h.client.hexists(functionKeys("stem-first").containers, containerId!)) === 0 ? true : undefined), 10_000, "the record released");
      expect((await invoke(h.url, "stem-first")).status).toBe(200);
    } finally {
      events.stop();
    }
  });

  it("a python function's first request is served by the python stem cell, its memory limit lowered to the function's", async () => {
    const cell = await oneStemCell(h.invokerId, "python");
    expect((await deploy(h.url, "stem-python", { runtime: "python", handler: "main.handler", memory: 128 }, { "main.py": PYTHON_HOSTNAME })).status).toBe(201);
    const first = await invoke(h.url, "stem-python");
    expect(first.status).toBe(200);
    expect(first.body.host).toBe(cell.dockerId.slice(0, 12));
    const { HostConfig } = await docker.getContainer(cell.dockerId).inspect();
    expect([HostConfig.Memory, HostConfig.MemorySwap]).toEqual([128 * 1024 * 1024, 128 * 1024 * 1024]);
  });

  it("a stem cell that dies is replaced, and the invoker's stop removes its stem cells", async () => {
    const other = await startTestHearth(h.redis, { stemCells: { node: 1, python: 0, go: 0, custom: 0 } });
    try {
      const cell = await oneStemCell(other.invokerId, "node");
      await docker.getContainer(cell.dockerId).kill();
      await oneStemCell(other.invokerId, "node", [cell.dockerId]);
      await other.hearth.stop();
      expect(await listContainers(other.invokerId)).toEqual([]);
    } finally {
      await other.stop();
    }
  });

  it("an invoker that starts again after a crash removes the code its crashed run hard-linked into stem cells", async () => {
    const invokerId = `test-restarted-${randomBytes(4).toString("hex")}`;
    // What a run SIGKILLed after a hand-over leaves: a cell's folder with a function's code in it.
    const leftover = path.join(`${path.join(TEST_CODE_CACHE_DIR, invokerId)}-stem-cells`, "crashed-cell");
    await mkdir(leftover, { recursive: true });
    await writeFile(path.join(leftover, "index.js"), NODE_HOSTNAME);
    const restarted = await startTestHearth(h.redis, { invokerId, stemCells: { node: 1, python: 0, go: 0, custom: 0 } });
    try {
      await oneStemCell(invokerId, "node");
      await expect(stat(leftover)).rejects.toMatchObject({ code: "ENOENT" });
    } finally {
      await restarted.stop();
    }
  });
});
