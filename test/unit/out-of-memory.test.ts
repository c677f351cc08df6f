import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OutOfMemoryDetector, readOomKills } from "../../gateway/adapter/out-of-memory.js";

let dir: string;
beforeAll(async () => (dir = await mkdtemp(path.join(os.tmpdir(), "hearth-oom-"))));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("out-of-memory detection", () => {
  it("reads the kernel's OOM kill count from cgroup v2's memory.events or v1's memory.oom_control", async () => {
    const v2 = path.join(dir, "memory.events");
    const v1 = path.join(dir, "memory.oom_control");
    await writeFile(v2, "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n");
    await writeFile(v1, "oom_kill_disable 0\nunder_oom 0\noom_kill 5\n");
    expect(await readOomKills([v2, v1])).toBe(2);
    expect(await readOomKills([path.join(dir, "absent"), v1])).toBe(5);
    expect(await readOomKills([path.join(dir, "absent")])).toBe(0);
  });

  it("says yes once per new kill, and no for a SIGKILL the kernel's OOM killer did not send", async () => {
    const file = path.join(dir, "counter");
    await writeFile(file, "oom_kill 1\n");
    const detector = await OutOfMemoryDetector.start([file]);
    expect(await detector.killedSinceLastLook()).toBe(false); // the kill before it started is not this runtime's
    await writeFile(file, "oom_kill 2\n");
    expect(await detector.killedSinceLastLook()).toBe(true);
    expect(await detector.killedSinceLastLook()).toBe(false);
  });
});
