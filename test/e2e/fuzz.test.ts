// Property-based fuzzing of every route of a real Hearth (fast-check): random methods, paths, keys,
// headers, bodies, deploy forms, code packages and bytes that are not HTTP. After every request: an
// answer arrives in bounded time, 2xx or 4xx (5xx only 502/503/504 from a function invocation, never
// 500), and every error is JSON {errorMessage, errorType} with no trace of Hearth's own code. After the
// run: the process serves, and a function and an async invocation made before the fuzz are intact.
//
// FUZZ_SEED=<n> replays a run (fast-check prints the seed and the shrunk counterexample on failure).

import fc from "fast-check";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { finalRecord, invokeAsync, request } from "../support/async.js";
import {
  asTarget, authKind, body, deployForm, extraHeaders, FAULTY, formBody, garbageAuthorization, jsonText, KEEPER, KNOWN_IDS, rawRequest, route, send, sendRaw, splitResponses,
  type Answer, type AuthKind, type Headers,
} from "../support/fuzz-requests.js";
import { deploy, invoke, TEST_ADMIN_TOKEN, useTestHearth } from "../support/hearth.js";

const h = useTestHearth();

const seed = Number(process.env.FUZZ_SEED || 20261127);
if (!Number.isSafeInteger(seed)) throw new Error(`FUZZ_SEED is an integer, got ${process.env.FUZZ_SEED}`);
const ANSWER_MS = 25_000; // a sync invoke may wait for a container (queue timeout 20 s)
const HEALTHY_MS = 1_000;
/** Errors of the HTTP layer, answered before any route (and its key check) is reached. */
const BEFORE_ROUTING = /"errorType":"(MalformedRequest|RequestHeaderFieldsTooLarge|ExpectationFailed)"/;

/** Bounded runs: each property stops at its count or its time, whichever comes first. */
/** A property's test may take its time limit, then its last request's (ANSWER_MS), then some. */
const PROPERTY_TEST_MS = 30_000 + ANSWER_MS + 10_000;

function runs(numRuns: number, seconds: number): fc.Parameters<unknown> {
  return { seed, numRuns, interruptAfterTimeLimit: seconds * 1000, markInterruptAsFailure: false, endOnFailure: true };
}

const keys: Record<Exclude<AuthKind, "none" | "garbage">, string> = { admin: TEST_ADMIN_TOKEN, invoker: "", reader: "" };

let keeperVersion: unknown;
let asyncBefore: { id: string; result: unknown };
let deadLetterId: string;

/** Generated paths name real records: the pre-fuzz invocation (which no fuzzed call may change) and a dead letter (which they may). */
function withKnownIds(path: string): string {
  return path.replaceAll(KNOWN_IDS.before, asyncBefore.id).replaceAll(KNOWN_IDS.deadLetter, deadLetterId);
}

// The functions the fuzz calls: one answers what it got and never fails, the other always fails.
const echo = { "index.js": "exports.handler = async (event) => ({ echo: event });" };
const thrower = { "index.js": 'exports.handler = async () => { throw new TypeError("always"); };' };

/** Answers by status and error type, printed after each property: what the generated requests reached. */
const seen = new Map<string, number>();
function tally(status: number, text: string): void {
  const label = `${status}${status >= 300 ? ` ${/"errorType":"([^"]+)"/.exec(text)?.[1] ?? ""}` : ""}`;
  seen.set(label, (seen.get(label) ?? 0) + 1);
}
afterEach(() => {
  if (seen.size > 0) console.log([...seen].sort((a, b) => b[1] - a[1]).map(([label, count]) => `${count}× ${label}`).join(", "));
  seen.clear();
});

/** What every answer must be, whatever was asked. */
function expectWellFormed(answer: Answer, what: { method: string; path: string; invokes: boolean }): void {
  tally(answer.status, answer.text);
  const context = `${what.method} ${what.path} answered ${answer.status} ${answer.text.slice(0, 300)}`;
  const legitimate5xx = what.invokes && [502, 503, 504].includes(answer.status);
  expect(answer.status < 500 || legitimate5xx, context).toBe(true);
  expect(answer.status >= 200 && answer.status !== 304 && !(answer.status >= 300 && answer.status < 400), context).toBe(true);
  if (answer.status < 300 || what.method === "HEAD") return;
  expect(answer.headers["content-type"], context).toMatch(/^application\/json/);
  const error = JSON.parse(answer.text) as Record<string, unknown>;
  expect(error, context).toMatchObject({ errorMessage: expect.any(String), errorType: expect.any(String) });
  // A function's own error carries its stack trace; Hearth's errors carry nothing more than the two fields.
  if (answer.headers["x-function-error"] === "true") return;
  expect(Object.keys(error).sort(), context).toEqual(["errorMessage", "errorType"]);
  expect(answer.text, context).not.toMatch(/\\n +at |\(node:internal|[\w/]+\.(ts|js|cjs):\d+:\d+/);
}

function authorization(kind: AuthKind, garbage: string): Headers {
  if (kind === "none") return {};
  if (kind === "garbage") return { authorization: garbage };
  return { authorization: `Bearer ${keys[kind]}` };
}

/** The admin may change anything but the keeper: its destructive calls there go to a victim instead. */
function sparingKeeper(path: string, method: string, kind: AuthKind): string {
  if (kind !== "admin" || method === "GET" || method === "HEAD") return path;
  return path.replace(new RegExp(`^(/+system/+functions/+)${KEEPER}(?=/|$|\\?)`), "$1victim");
}

async function createKey(body: object): Promise<string> {
  const created = await request(h.url, "POST", "/system/keys", body);
  expect(created.status).toBe(201);
  return created.body.key;
}

describe("fuzz", () => {
  beforeAll(async () => {
    console.log(`fuzz seed ${seed} (FUZZ_SEED replays it)`);
    expect((await deploy(h.url, KEEPER, { runtime: "node", maxContainers: 2 }, echo)).status).toBe(201);
    expect((await invoke(h.url, KEEPER, { warm: true })).body).toEqual({ echo: { warm: true } }); // cold start here, not in a property
    expect((await deploy(h.url, FAULTY, { runtime: "node", maxContainers: 1, maxRetries: 0 }, thrower)).status).toBe(201);
    expect((await invoke(h.url, FAULTY)).status).toBe(502);
    deadLetterId = (await invokeAsync(h.url, FAULTY)).body.id;
    expect(await finalRecord(h.url, deadLetterId)).toMatchObject({ status: "dead-lettered" });
    keeperVersion = (await request(h.url, "GET", `/system/functions/${KEEPER}`)).body.version;
    const accepted = await invokeAsync(h.url, KEEPER, { before: "fuzz" }, { "idempotency-key": `before-fuzz-${seed}` });
    expect(accepted.status).toBe(202);
    asyncBefore = { id: accepted.body.id, result: { echo: { before: "fuzz" } } };
    keys.invoker = await createKey({ name: "fuzz invoker", scopes: ["invoke"], functions: [KEEPER, FAULTY, "victim"] });
    keys.reader = await createKey({ name: "fuzz reader", scopes: ["read"] });
  });

  it("answers any request to any route with 2xx or a JSON 4xx, in bounded time", async () => {
    await fc.assert(
      fc.asyncProperty(route, authKind, garbageAuthorization, extraHeaders, body, async (target, kind, garbage, headers, payload) => {
        const path = withKnownIds(sparingKeeper(target.path, target.method, kind));
        const answer = await send(h.url, target.method, path, { ...headers, ...authorization(kind, garbage) }, payload, ANSWER_MS);
        expectWellFormed(answer, { ...target, path });
        // Nothing of the admin API answers a caller without a valid key.
        // (A request Node's parser rejects, or an Expect Hearth cannot meet, is answered before anything is routed.)
        const guarded = (kind === "none" || kind === "garbage") && /^\/system(\/|$)/.test(path) && target.method !== "HEAD";
        if (guarded && !BEFORE_ROUTING.test(answer.text)) expect(answer.status, answer.text).toBe(401);
      }),
      runs(1000, 30),
    );
  }, PROPERTY_TEST_MS);

  it("answers a valid event 200 with the keeper's echo (202 when async) and 502 with the faulty function's error, whatever else the request carries", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(KEEPER, KEEPER, FAULTY),
        fc.constantFrom("/function/", "/async-function/", "event"),
        fc.constantFrom<AuthKind>("admin", "invoker"),
        jsonText,
        fc.option(fc.constantFrom("application/json", "text/plain", "application/octet-stream", "garbage/;;")),
        async (fn, chosenTrigger, kind, event, type) => {
          const trigger = fn === FAULTY ? "/function/" : chosenTrigger; // (async failures would be retried for seconds after the run)
          const headers: Headers = { ...authorization(kind, ""), ...(type ? { "content-type": type } : {}), ...(trigger === "event" ? { "x-invocation-type": "Event" } : {}) };
          const path = `${trigger === "/async-function/" ? trigger : "/function/"}${fn}`;
          const answer = await send(h.url, "POST", path, headers, Buffer.from(event), ANSWER_MS);
          expectWellFormed(answer, { method: "POST", path, invokes: true });
          if (trigger !== "/function/") return void expect(answer.status, answer.text).toBe(202);
          if (fn === FAULTY) {
            expect(answer.status, answer.text).toBe(502);
            expect(answer.headers["x-function-error"]).toBe("true");
            return void expect(JSON.parse(answer.text)).toMatchObject({ errorType: "TypeError", errorMessage: "always" });
          }
          expect(answer.status, answer.text).toBe(200);
          expect(JSON.parse(answer.text)).toEqual({ echo: JSON.parse(event) });
        },
      ),
      runs(300, 15),
    );
  }, PROPERTY_TEST_MS);

  it("answers random deploy forms and code packages 2xx or a JSON 4xx, and a well-formed one 200 or 201", async () => {
    await fc.assert(
      fc.asyncProperty(deployForm, fc.constantFrom<AuthKind>("admin", "admin", "admin", "invoker", "garbage"), async (form, kind) => {
        const path = `/system/functions/${asTarget(form.name === KEEPER ? "victim" : form.name)}`;
        const answer = await send(h.url, "PUT", path, { ...authorization(kind, "Bearer nope"), "content-type": form.contentType }, await formBody(form), ANSWER_MS);
        expectWellFormed(answer, { method: "PUT", path, invokes: false });
        if (form.deservesSuccess && kind === "admin") expect([200, 201], answer.text).toContain(answer.status);
      }),
      runs(500, 25),
    );
  }, PROPERTY_TEST_MS);

  it("answers bytes that are not HTTP, or lie about their framing, with JSON and closes the connection", async () => {
    await fc.assert(
      fc.asyncProperty(rawRequest, async (bytes) => {
        const answer = await sendRaw(h.url, bytes, 10_000);
        const context = `${JSON.stringify(bytes.toString("latin1").slice(0, 200))} got ${JSON.stringify(answer.bytes.toString("latin1").slice(0, 300))}`;
        expect(answer.closed, context).toBe(true);
        expect(answer.bytes.length, context).toBeGreaterThan(0);
        const head = bytes.subarray(0, 5).toString() === "HEAD ";
        for (const response of splitResponses(answer.bytes, head)) {
          tally(response.status, response.body);
          expect(response.status, context).toBeLessThan(500);
          if (response.status < 300 || (head && response.body === "")) continue;
          expect(response.head, context).toMatch(/^Content-Type: application\/json/im);
          expect(JSON.parse(response.body), context).toMatchObject({ errorMessage: expect.any(String), errorType: expect.any(String) });
        }
      }),
      runs(150, 25),
    );
  }, PROPERTY_TEST_MS);

  it("is alive afterwards, and what the fuzz was not allowed to touch is intact", async () => {
    const started = performance.now();
    expect((await fetch(`${h.url}/healthz`)).status).toBe(200);
    expect(performance.now() - started).toBeLessThan(HEALTHY_MS);
    expect(await invoke(h.url, KEEPER, { after: "fuzz" })).toMatchObject({ status: 200, body: { echo: { after: "fuzz" } } });
    expect((await request(h.url, "GET", `/system/functions/${KEEPER}`)).body.version).toBe(keeperVersion);
    const record = await finalRecord(h.url, asyncBefore.id);
    expect(record).toMatchObject({ status: "succeeded", result: asyncBefore.result });
    // The keys the fuzz used are still good (no fuzzed call revoked them).
    const byInvoker = await send(h.url, "POST", `/function/${KEEPER}`, authorization("invoker", ""), Buffer.from("[1]"), ANSWER_MS);
    expect(byInvoker).toMatchObject({ status: 200, text: '{"echo":[1]}' });
    expect((await send(h.url, "GET", "/system/keys", authorization("admin", ""), Buffer.alloc(0), ANSWER_MS)).status).toBe(200);
  });
});
