// The runtime lifecycle's table of states: every legal move, and a throw for every other.

import { describe, expect, it } from "vitest";
import { nextState, type RuntimeEvent, type RuntimeState } from "../../gateway/adapter/runtime-lifecycle.js";

const STATES: RuntimeState[] = ["created", "initializing", "ready", "frozen", "init-failed", "broken", "stopped"];
const EVENTS: RuntimeEvent[] = ["start", "initialized", "init-failed", "freeze", "thaw", "timeout", "exit", "stop"];

const LEGAL: Array<[RuntimeState, RuntimeEvent, RuntimeState]> = [
  ["created", "start", "initializing"],
  ["created", "stop", "stopped"],
  ["initializing", "initialized", "ready"],
  ["initializing", "init-failed", "init-failed"],
  // The init's own race reports an exit during init, as init-failed.
  ["initializing", "exit", "initializing"],
  ["initializing", "stop", "stopped"],
  ["ready", "freeze", "frozen"],
  ["ready", "timeout", "broken"],
  ["ready", "exit", "broken"],
  ["ready", "stop", "stopped"],
  ["frozen", "thaw", "ready"],
  ["frozen", "exit", "broken"],
  ["frozen", "stop", "stopped"],
  ["init-failed", "exit", "init-failed"],
  ["init-failed", "stop", "stopped"],
  ["broken", "start", "initializing"],
  ["broken", "exit", "broken"],
  ["broken", "stop", "stopped"],
  ["stopped", "exit", "stopped"],
];

describe("runtime lifecycle", () => {
  it.each(LEGAL)("%s on %s goes to %s", (from, event, to) => {
    expect(nextState(from, event)).toBe(to);
  });

  it("throws for every move the table does not list", () => {
    const illegal = STATES.flatMap((from) => EVENTS.map((event) => [from, event] as const)).filter(([from, event]) => !LEGAL.some(([f, e]) => f === from && e === event));
    expect(illegal.length).toBe(STATES.length * EVENTS.length - LEGAL.length);
    for (const [from, event] of illegal) expect(() => nextState(from, event), `${from} on ${event}`).toThrow(`no transition from ${from} on ${event}`);
  });

  it("follows a container's life: cold start, freeze and thaw, a timeout, a replacement, the end", () => {
    const path: RuntimeEvent[] = ["start", "initialized", "freeze", "thaw", "timeout", "exit", "start", "initialized", "freeze", "stop", "exit"];
    expect(path.reduce<RuntimeState>(nextState, "created")).toBe("stopped");
  });

  it("never serves after a failed init, nor restarts it: the container answers its error and leaves", () => {
    const failed = nextState(nextState("created", "start"), "init-failed");
    expect(() => nextState(failed, "start")).toThrow();
    expect(() => nextState(failed, "thaw")).toThrow();
    expect(nextState(failed, "stop")).toBe("stopped");
  });
});
