// Reads a V8 CPU profile (node --cpu-prof) of the gateway and says where its CPU went during a
// window: self time by package or Node module, the bundle's positions mapped back through its source map.

import { readFile } from "node:fs/promises";
import { SourceMap } from "./sourcemap.js";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileGroup {
  group: string;
  selfMs: number;
  share: number;
  /** Self time per request handled in the window. */
  usPerRequest: number;
  topFunctions: string[];
}

export interface ProfileSummary {
  windowMs: number;
  sampledMs: number;
  /** Time the gateway's thread was not idle, per request. */
  busyUsPerRequest: number;
  groups: ProfileGroup[];
}

/**
 * Self time by group over samples taken in [fromUs, toUs] (the monotonic clock in µs, the one
 * process.hrtime uses), divided by `requests`.
 */
export async function summarizeProfile(profilePath: string, sourceMapPath: string, window: { fromUs: number; toUs: number }, requests: number): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(profilePath, "utf8")) as CpuProfile;
  const sourceMap = new SourceMap(JSON.parse(await readFile(sourceMapPath, "utf8")) as { sources: string[]; mappings: string });
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i += 1) {
    at += profile.timeDeltas[i]!;
    // A sample's time is the gap until the next one.
    const duration = profile.timeDeltas[i + 1] ?? 0;
    if (at < window.fromUs || at > window.toUs) continue;
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + duration);
  }
  const groups = new Map<string, { us: number; functions: Map<string, number> }>();
  let sampled = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const frame = nodes.get(id)!.callFrame;
    const group = groupOf(frame, sourceMap);
    sampled += us;
    if (group === "(idle)") idle += us;
    const entry = groups.get(group) ?? { us: 0, functions: new Map<string, number>() };
    entry.us += us;
    const name = frame.functionName || "(anonymous)";
    entry.functions.set(name, (entry.functions.get(name) ?? 0) + us);
    groups.set(group, entry);
  }
  const busy = sampled - idle;
  return {
    windowMs: (window.toUs - window.fromUs) / 1000,
    sampledMs: sampled / 1000,
    busyUsPerRequest: requests > 0 ? busy / requests : NaN,
    groups: [...groups.entries()]
      .filter(([group]) => group !== "(idle)")
      .map(([group, { us, functions }]) => ({
        group,
        selfMs: us / 1000,
        share: busy > 0 ? us / busy : 0,
        usPerRequest: requests > 0 ? us / requests : NaN,
        topFunctions: [...functions.entries()].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([name, fnUs]) => `${name} ${(fnUs / Math.max(1, requests)).toFixed(1)}µs`),
      }))
      .sort((a, b) => b.selfMs - a.selfMs),
  };
}

function groupOf(frame: ProfileNode["callFrame"], sourceMap: SourceMap): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith("(") ? functionName : "V8/native builtins";
  if (url.startsWith("node:")) {
    const module = url.slice("node:".length).replace(/^internal\//, "");
    if (/http|_http/.test(module)) return "node: http";
    if (/stream|net|tcp|socket|buffer/.test(module)) return "node: net, streams, buffers";
    if (/timers|process\/task_queues|async_hooks|promise/.test(module)) return "node: timers, task queues";
    if (/crypto/.test(module)) return "node: crypto";
    return "node: other";
  }
  const source = sourceMap.sourceAt(frame.lineNumber, frame.columnNumber) ?? url;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(source);
  if (pkg) return packageGroup(pkg[1]!);
  const own = /(gateway\/.+)$/.exec(source);
  return own ? `hearth: ${own[1]}` : source;
}

/** express' own helpers count as express. */
function packageGroup(name: string): string {
  if (["router", "body-parser", "raw-body", "finalhandler", "send", "type-is", "content-type", "on-finished", "mime-types", "mime-db", "accepts", "negotiator", "depd", "iconv-lite", "qs", "parseurl", "statuses", "http-errors", "media-typer", "bytes", "unpipe", "proxy-addr", "path-to-regexp"].includes(name)) return `express (+ ${name})`;
  if (["redis-parser", "denque", "standard-as-callback", "cluster-key-slot", "redis-errors"].includes(name)) return `ioredis (+ ${name})`;
  if (["tdigest", "bintrees"].includes(name)) return `prom-client (+ ${name})`;
  return name;
}
