// The attack surface, on a real Hearth: who may reach what with which key. Every caller is hostile:
// no key, a garbage key, a revoked key, a key with the wrong scope or for another function.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../../gateway/auth/keys.js";
import { adminHeaders, deploy, startTestHearth, useTestHearth, type TestHearth } from "../support/hearth.js";

const h = useTestHearth();
/** A second gateway (API only) on the same Redis, with /metrics protected. */
let second: TestHearth;

/** Reports what it was called with: the event's headers (HTTP trigger) and a secret from its environment. */
const HANDLER = `
exports.handler = async (event) => ({ authorization: event.headers?.authorization ?? null, password: process.env.DB_PASSWORD ?? null });
`;

interface Answer {
  status: number;
  body: any;
  headers: Headers;
}

async function call(url: string, method: string, path: string, key?: string, body?: unknown): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (key !== undefined) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: kept as text
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

async function createKey(spec: { name: string; scopes: string[]; functions?: string[] }): Promise<{ id: string; key: string }> {
  const created = await call(h.url, "POST", "/system/keys", h.adminToken, spec);
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body as { id: string; key: string };
}

async function asyncId(fn: string): Promise<string> {
  const accepted = await call(h.url, "POST", `/async-function/${fn}`, h.adminToken, {});
  expect(accepted.status).toBe(202);
  return accepted.body.id as string;
}

function expectUnauthorized(answer: Answer, what: string): void {
  expect(answer.status, what).toBe(401);
  expect(answer.body, what).toMatchObject({ errorType: "Unauthorized", errorMessage: expect.any(String) });
  expect(answer.headers.get("www-authenticate"), what).toMatch(/^Bearer realm="hearth"/);
}

function expectForbidden(answer: Answer, what: string): void {
  expect(answer.status, what).toBe(403);
  expect(answer.body, what).toMatchObject({ errorType: "Forbidden", errorMessage: expect.any(String) });
  expect(answer.headers.get("www-authenticate"), what).toBe('Bearer realm="hearth", error="insufficient_scope"');
}

let fId: string;
let gId: string;

beforeAll(async () => {
  for (const [name, config] of [
    ["f", { runtime: "node", environment: { DB_PASSWORD: "hunter2-plain-secret" } }],
    ["g", { runtime: "node" }],
    ["open", { runtime: "node", auth: "none" }],
  ] as const) {
    expect((await deploy(h.url, name, config, { "index.js": HANDLER })).status).toBe(201);
  }
  fId = await asyncId("f");
  gId = await asyncId("g");
  second = await startTestHearth(h.redis, { roles: { api: true, invoker: false }, metricsAuth: "key" });
});

afterAll(async () => {
  await second?.stop();
});

/** Every admin route, and the invoke routes of a function that needs a key. */
function routes(): Array<[string, string, unknown?]> {
  return [
    ["GET", "/system/functions"],
    ["GET", "/system/functions/f"],
    ["PUT", "/system/functions/intruder", { runtime: "node" }],
    ["PUT", "/system/functions/f", { runtime: "node", timeout: 1 }],
    ["DELETE", "/system/functions/f"],
    ["GET", "/system/functions/f/dead-letters"],
    ["POST", "/system/functions/f/dead-letters/redrive"],
    ["POST", `/system/functions/f/dead-letters/${fId}/redrive`],
    ["DELETE", "/system/functions/f/dead-letters"],
    ["DELETE", `/system/functions/f/dead-letters/${fId}`],
    ["GET", "/system/functions/f/streams"],
    ["PUT", "/system/functions/f/streams/orders", {}],
    ["DELETE", "/system/functions/f/streams/orders"],
    ["GET", `/invocations/${fId}`],
    ["DELETE", `/invocations/${fId}`],
    ["GET", "/system/keys"],
    ["POST", "/system/keys", { name: "mine", scopes: ["admin"] }],
    ["DELETE", "/system/keys/anything"],
    ["POST", "/function/f", {}],
    ["POST", "/async-function/f", {}],
    ["GET", "/http/f/anything"],
    ["POST", "/function/no-such-function", {}],
  ];
}

describe("authentication", () => {
  it("answers 401 with a Bearer challenge, and changes nothing, for no key, a garbage key and a revoked key on every route", async () => {
    const revoked = await createKey({ name: "soon revoked", scopes: ["admin"] });
    expect((await call(h.url, "GET", "/system/functions", revoked.key)).status).toBe(200); // verified and cached
    expect((await call(h.url, "DELETE", `/system/keys/${revoked.id}`, h.adminToken)).status).toBe(204);

    for (const key of [undefined, "garbage", `${h.adminToken}x`, revoked.key]) {
      for (const [method, path, body] of routes()) expectUnauthorized(await call(h.url, method, path, key, body), `${method} ${path} with ${key === undefined ? "no key" : "a bad key"}`);
    }
    // A scheme other than Bearer is no key either.
    expectUnauthorized(await call(h.url, "GET", "/system/functions", undefined), "no header");
    const basic = await fetch(`${h.url}/system/functions`, { headers: { authorization: `Basic ${Buffer.from(`admin:${h.adminToken}`).toString("base64")}` } });
    expect(basic.status).toBe(401);

    const admin = await call(h.url, "GET", "/system/functions/f", h.adminToken);
    expect(admin.body).toMatchObject({ version: 1, timeout: 30 });
    expect((await call(h.url, "GET", "/system/functions/intruder", h.adminToken)).status).toBe(404);
    expect((await call(h.url, "GET", `/invocations/${fId}`, h.adminToken)).status).toBe(200);
  });

  it("does not tell an anonymous caller which functions exist", async () => {
    const missing = await call(h.url, "POST", "/function/no-such-function", undefined, {});
    const existing = await call(h.url, "POST", "/function/g", undefined, {});
    expect([missing.status, missing.body]).toEqual([existing.status, existing.body]);
    expect((await call(h.url, "POST", "/function/no-such-function", h.adminToken, {})).status).toBe(404);
  });

  it("keeps an invoke key off the admin API (403), and lets it call only its functions", async () => {
    const invoker = await createKey({ name: "f caller", scopes: ["invoke"], functions: ["f"] });
    for (const [method, path, body] of routes().filter(([, path]) => !path.startsWith("/function/") && !path.startsWith("/async-function/") && !path.startsWith("/http/") && !path.startsWith("/invocations/"))) {
      expectForbidden(await call(h.url, method, path, invoker.key, body), `${method} ${path}`);
    }
    expect((await call(h.url, "POST", "/function/f", invoker.key, {})).status).toBe(200);
    expect((await call(h.url, "POST", "/async-function/f", invoker.key, {})).status).toBe(202);
    expectForbidden(await call(h.url, "POST", "/function/g", invoker.key, {}), "sync g");
    expectForbidden(await call(h.url, "POST", "/async-function/g", invoker.key, {}), "async g");
    expectForbidden(await call(h.url, "GET", "/http/g/x", invoker.key), "http g");
    // One it may not call answers the same whether it exists or not.
    expectForbidden(await call(h.url, "POST", "/function/no-such-function", invoker.key, {}), "unknown");

    // Async invocations: its own function's, not another's.
    expect((await call(h.url, "GET", `/invocations/${fId}`, invoker.key)).body).toMatchObject({ id: fId, function: "f" });
    expectForbidden(await call(h.url, "GET", `/invocations/${gId}`, invoker.key), "g's invocation");
    expectForbidden(await call(h.url, "DELETE", `/invocations/${gId}`, invoker.key), "cancel g's invocation");
    expect((await call(h.url, "GET", `/invocations/${gId}`, h.adminToken)).body.status).not.toBe("cancelled");

    const everything = await createKey({ name: "any caller", scopes: ["invoke"], functions: ["*"] });
    expect((await call(h.url, "POST", "/function/g", everything.key, {})).status).toBe(200);
    expectForbidden(await call(h.url, "GET", "/system/functions", everything.key), "list");
  });

  it("lets a read key see the admin views but change nothing, and not the keys", async () => {
    const reader = await createKey({ name: "dashboard", scopes: ["read"] });
    for (const path of ["/system/functions", "/system/functions/f", "/system/functions/f/dead-letters", "/system/functions/f/streams", `/invocations/${gId}`]) {
      expect((await call(h.url, "GET", path, reader.key)).status, path).toBe(200);
    }
    expectForbidden(await call(h.url, "GET", "/system/keys", reader.key), "list keys");
    expectForbidden(await call(h.url, "DELETE", "/system/functions/g", reader.key), "delete");
    expectForbidden(await call(h.url, "DELETE", `/invocations/${gId}`, reader.key), "cancel");
    expectForbidden(await call(h.url, "POST", "/function/g", reader.key, {}), "invoke");
  });

  it('serves an auth: "none" function to anyone, its own Authorization header included, while its admin routes still need a key', async () => {
    const anonymous = await call(h.url, "GET", "/http/open/page");
    expect(anonymous.status).toBe(200);
    expect(anonymous.body).toMatchObject({ authorization: null });
    // The function does its own authentication: the header reaches it untouched.
    expect((await call(h.url, "GET", "/http/open/page", "the-apps-own-token")).body).toMatchObject({ authorization: "Bearer the-apps-own-token" });
    expect((await call(h.url, "POST", "/function/open", undefined, {})).status).toBe(200);
    expect((await call(h.url, "POST", "/async-function/open", undefined, {})).status).toBe(202);

    expectUnauthorized(await call(h.url, "GET", "/system/functions/open"), "read it");
    expectUnauthorized(await call(h.url, "DELETE", "/system/functions/open"), "delete it");
    expectUnauthorized(await call(h.url, "PUT", "/system/functions/open", undefined, { runtime: "node", auth: "key" }), "close it");
    expect((await call(h.url, "GET", "/system/functions/open", h.adminToken)).body).toMatchObject({ auth: "none", version: 1 });
  });

  it("stops accepting a revoked key at once, in every gateway on the Redis", async () => {
    const key = await createKey({ name: "short-lived", scopes: ["admin"] });
    // Both gateways have verified (and cached) it.
    expect((await call(h.url, "GET", "/system/functions", key.key)).status).toBe(200);
    expect((await call(second.url, "GET", "/system/functions", key.key)).status).toBe(200);
    expect((await call(h.url, "DELETE", `/system/keys/${key.id}`, h.adminToken)).status).toBe(204);
    expectUnauthorized(await call(h.url, "GET", "/system/functions", key.key), "the gateway that revoked it");
    expectUnauthorized(await call(second.url, "GET", "/system/functions", key.key), "the other gateway");
    expect((await call(h.url, "DELETE", `/system/keys/${key.id}`, h.adminToken)).status).toBe(404);
  });

  it("creates keys from strictly checked requests, answers the secret once, and never stores it", async () => {
    const bad: unknown[] = [
      {},
      { name: "x" },
      { name: "x", scopes: [] },
      { name: "x", scopes: ["root"] },
      { name: "x", scopes: ["invoke"] },
      { name: "x", scopes: ["invoke"], functions: ["Not_A_Name"] },
      { name: "x", scopes: ["read", "read"] },
      { name: "", scopes: ["read"] },
      { name: "x", scopes: ["read"], extra: true },
      [],
      "text",
    ];
    for (const body of bad) {
      const answer = await call(h.url, "POST", "/system/keys", h.adminToken, body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.errorType, JSON.stringify(body)).toMatch(/^(InvalidKeyRequest|InvalidRequestContent)$/);
    }
    const notJson = await fetch(`${h.url}/system/keys`, { method: "POST", headers: { ...adminHeaders, "content-type": "text/plain" }, body: "name=x" });
    expect(notJson.status).toBe(415);

    const created = await createKey({ name: "ci deploys", scopes: ["invoke", "read"], functions: ["f", "g"] });
    expect(created).toMatchObject({ name: "ci deploys", scopes: ["invoke", "read"], functions: ["f", "g"], key: expect.stringMatching(/^hearth_[A-Za-z0-9_-]{43}$/) });
    const listed = await call(h.url, "GET", "/system/keys", h.adminToken);
    const entry = listed.body.keys.find((k: { id: string }) => k.id === created.id);
    expect(entry).toEqual({ id: created.id, name: "ci deploys", scopes: ["invoke", "read"], functions: ["f", "g"], createdAt: expect.any(String) });
    expect(JSON.stringify(listed.body)).not.toContain(created.key);

    // Every key and value in Redis: the hash is there, the secret nowhere.
    const dump = await dumpRedis();
    expect(dump).toContain(sha256Hex(created.key));
    expect(dump).not.toContain(created.key);
    expect(dump).not.toContain(created.key.slice("hearth_".length));
  });

  it("never shows environment values in an answer about a function", async () => {
    const put = await call(h.url, "PUT", "/system/functions/f", h.adminToken, { runtime: "node", environment: { DB_PASSWORD: "hunter2-plain-secret", REGION: "north" } });
    const one = await call(h.url, "GET", "/system/functions/f", h.adminToken);
    const list = await call(h.url, "GET", "/system/functions", h.adminToken);
    for (const answer of [put, one, list]) expect(JSON.stringify(answer.body)).not.toContain("hunter2-plain-secret");
    expect(put.body.environment).toEqual(["DB_PASSWORD", "REGION"]);
    expect(one.body.environment).toEqual(["DB_PASSWORD", "REGION"]);
    expect(list.body.functions.find((fn: { name: string }) => fn.name === "f").environment).toEqual(["DB_PASSWORD", "REGION"]);
    // The function itself still has it.
    expect((await call(h.url, "POST", "/function/f", h.adminToken, {})).body).toMatchObject({ password: "hunter2-plain-secret" });
  });

  it("keeps /metrics and /healthz open by default, and /metrics behind a metrics key when HEARTH_METRICS_AUTH=key", async () => {
    expect((await call(h.url, "GET", "/metrics")).status).toBe(200);
    expect((await call(h.url, "GET", "/healthz")).status).toBe(200);
    expect((await call(second.url, "GET", "/healthz")).status).toBe(200);

    expectUnauthorized(await call(second.url, "GET", "/metrics"), "no key");
    const scraper = await createKey({ name: "prometheus", scopes: ["metrics"] });
    const invoker = await createKey({ name: "caller", scopes: ["invoke"], functions: ["*"] });
    expectForbidden(await call(second.url, "GET", "/metrics", invoker.key), "invoke key");
    const scraped = await call(second.url, "GET", "/metrics", scraper.key);
    expect(scraped.status).toBe(200);
    expect(scraped.body).toContain("hearth_");
    expect((await call(second.url, "GET", "/metrics", h.adminToken)).status).toBe(200);
    // A metrics key is for metrics only.
    expectForbidden(await call(second.url, "GET", "/system/functions", scraper.key), "list with a metrics key");
  });
});

/** Every key name and every value in the test's Redis, as one text. */
async function dumpRedis(): Promise<string> {
  const parts: string[] = [];
  let cursor = "0";
  do {
    const [next, keys] = await h.client.scan(cursor, "COUNT", 1000);
    cursor = next;
    for (const key of keys) {
      parts.push(key);
      const type = await h.client.type(key);
      if (type === "string") parts.push((await h.client.getBuffer(key))!.toString("latin1"));
      if (type === "hash") parts.push(JSON.stringify(await h.client.hgetall(key)));
      if (type === "list") parts.push(JSON.stringify(await h.client.lrange(key, 0, -1)));
      if (type === "set") parts.push(JSON.stringify(await h.client.smembers(key)));
      if (type === "zset") parts.push(JSON.stringify(await h.client.zrange(key, 0, -1)));
      if (type === "stream") parts.push(JSON.stringify(await h.client.xrange(key, "-", "+")));
    }
  } while (cursor !== "0");
  return parts.join("\n");
}
