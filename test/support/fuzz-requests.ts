// What the fuzz suite sends and how it reads the answers: fast-check arbitraries for hostile requests
// to every route of the API (paths, headers, keys, bodies, deploy forms, code packages), a client over
// node:http that sends them as they are (no URL normalisation, any method), and one over node:net for
// bytes that are not HTTP at all.

import http from "node:http";
import net from "node:net";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import yazl from "yazl";
import { rawTarGz, type TarEntry } from "./packages.js";

/** The function the fuzz may call but never change; its async invocation and code must survive it. */
export const KEEPER = "keeper";

/** A function whose handler always throws: its invocations answer 502 with the function's own error. */
export const FAULTY = "faulty";

/** Stand-ins in generated paths for ids the test learns at run time: the keeper's async invocation, a dead letter of the faulty function. */
export const KNOWN_IDS = { before: "@invocation-before-fuzz", deadLetter: "@dead-letter" } as const;

// ---------------------------------------------------------------------------------------------- paths

/** `arbitrary` in `percent` % of the values, undefined in the others. */
function sometimes<T>(arbitrary: fc.Arbitrary<T>, percent: number): fc.Arbitrary<T | undefined> {
  return fc.oneof({ weight: 100 - percent, arbitrary: fc.constant(undefined) }, { weight: percent, arbitrary });
}

/** Printable ASCII that node:http sends as it is in a request target. */
const printable = fc.integer({ min: 0x21, max: 0x7e }).map((code) => String.fromCharCode(code));

/** A path segment: names, ids, encodings, dot segments, very long ones, unicode (percent-encoded as UTF-8 when sent). */
export const segment: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(KEEPER, FAULTY, "ghost", "victim", "victim-b", "a", "0", "stream-1", "-", "_", KNOWN_IDS.before, KNOWN_IDS.deadLetter, KNOWN_IDS.deadLetter) },
  { weight: 3, arbitrary: fc.stringMatching(/^[a-z][a-z0-9-]{0,40}$/) },
  { weight: 2, arbitrary: fc.constantFrom(".", "..", "%2e%2e", "%2E", ".%2e", "%2F", "%5C", "%00", "%", "%zz", "%E0%A4%A", "%C0%AF", "%ff", "%uD800", "a%20b", "*", "+", "@", ":", ";", "~", "\\", "'", '"', "<script>") },
  { weight: 2, arbitrary: fc.string({ unit: printable, maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 8 }) },
  { weight: 1, arbitrary: fc.integer({ min: 256, max: 6000 }).chain((length) => fc.constantFrom("a", "%41", "é", "/").map((unit) => unit.repeat(length))) },
);

/** Percent-encodes, as UTF-8 bytes, what a request target cannot carry as it is; the rest stays raw (dots, %, slashes). */
export function asTarget(text: string): string {
  return text.replace(/[^\x21-\x7e]|#/gsu, (char) => [...Buffer.from(char, "utf8")].map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, "0")}`).join(""));
}

const query = fc.oneof(
  { weight: 4, arbitrary: fc.constant("") },
  { weight: 2, arbitrary: fc.constantFrom("?integration=raw", "?integration=json", "?integration=", "?integration=raw&integration=raw", "?integration[a]=raw", "?offset=-1", "?limit=0", "?limit=1001", "?offset=1e3&limit=2", "?limit=abc", "?offset[]=1", "?", "?&&==&", "?%zz=%") },
  { weight: 1, arbitrary: fc.string({ unit: printable, maxLength: 40 }).map((text) => `?${text}`) },
);

export interface Route {
  method: string;
  path: string;
  /** A call that runs a function synchronously: 502/503/504 are answers it may legitimately give. */
  invokes: boolean;
}

type Template = [method: string, parts: Array<string | "NAME" | "ID">];

const TEMPLATES: Template[] = [
  ["GET", ["healthz"]],
  ["GET", ["metrics"]],
  ["GET", ["system", "functions"]],
  ["GET", ["system", "functions", "NAME"]],
  ["PUT", ["system", "functions", "NAME"]],
  ["DELETE", ["system", "functions", "NAME"]],
  ["GET", ["system", "functions", "NAME", "dead-letters"]],
  ["DELETE", ["system", "functions", "NAME", "dead-letters"]],
  ["POST", ["system", "functions", "NAME", "dead-letters", "redrive"]],
  ["POST", ["system", "functions", "NAME", "dead-letters", "ID", "redrive"]],
  ["DELETE", ["system", "functions", "NAME", "dead-letters", "ID"]],
  ["GET", ["system", "functions", "NAME", "streams"]],
  ["PUT", ["system", "functions", "NAME", "streams", "ID"]],
  ["DELETE", ["system", "functions", "NAME", "streams", "ID"]],
  ["GET", ["system", "keys"]],
  ["POST", ["system", "keys"]],
  ["DELETE", ["system", "keys", "ID"]],
  ["POST", ["function", "NAME"]],
  ["POST", ["async-function", "NAME"]],
  ["GET", ["invocations", "ID"]],
  ["DELETE", ["invocations", "ID"]],
  ["GET", ["http", "NAME"]],
  ["POST", ["http", "NAME", "ID", "ID"]],
];

export const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "PROPFIND", "PURGE", "SEARCH"];

/** A route of the API with random names and ids (or a path that is none), its own method most of the time. */
export const route: fc.Arbitrary<Route> = fc
  .record({
    template: fc.constantFrom(...TEMPLATES),
    name: segment,
    id: segment,
    otherMethod: sometimes(fc.constantFrom(...METHODS), 25),
    extra: sometimes(fc.array(segment, { minLength: 1, maxLength: 4 }), 15),
    prefix: fc.oneof({ weight: 85, arbitrary: fc.constant("/") }, { weight: 15, arbitrary: fc.constantFrom("//", "/./", "/../", "/%2e/") }),
    trailing: fc.oneof({ weight: 85, arbitrary: fc.constant("") }, { weight: 15, arbitrary: fc.constantFrom("/", "/.", "/..", "%2F") }),
    query,
  })
  .map(({ template: [method, parts], name, id, otherMethod, extra, prefix, trailing, query }) => {
    const segments = [...parts.map((part) => (part === "NAME" ? name : part === "ID" ? id : part)), ...(extra ?? [])];
    const chosen = otherMethod ?? method;
    const path = prefix + segments.map(asTarget).join("/") + trailing + query;
    return { method: chosen, path, invokes: /^\/+(function|http)\//.test(path) && chosen !== "HEAD" };
  });

// -------------------------------------------------------------------------------------------- headers

/** Latin-1 without control characters: what node:http lets a header value carry. */
const headerText = (maxLength: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.oneof(printable, fc.constantFrom(" ", "\t", "é", "\u00ff")), maxLength });

export type AuthKind = "none" | "garbage" | "admin" | "invoker" | "reader";

export const authKind: fc.Arbitrary<AuthKind> = fc.constantFrom("none", "garbage", "garbage", "admin", "admin", "invoker", "reader");

/** An Authorization value that is no key of Hearth's. */
export const garbageAuthorization: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom("", "Bearer", "Bearer ", "Bearer  ", "Basic YWRtaW46YWRtaW4=", "bearer x y", "Bearer hearth_", "Token abc", "Bearer \t"),
  headerText(80).map((text) => `Bearer ${text}`),
  headerText(80),
  fc.integer({ min: 4000, max: 15_000 }).map((length) => `Bearer ${"k".repeat(length)}`),
);

export const contentType: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      "application/json", "application/json; charset=utf-8", "application/json; charset=utf-16", "APPLICATION/JSON", "application/json;;;",
      "text/plain", "application/octet-stream", "application/x-www-form-urlencoded", "multipart/form-data", "multipart/form-data; boundary=",
      "multipart/form-data; boundary=x", 'multipart/form-data; boundary="a b"', "multipart/mixed; boundary=x", "garbage/;;;", "/", ";", "*/*",
      "application/json; charset=nope", "application/vnd.api+json", "text/html; charset=latin1",
    ),
  },
  { weight: 1, arbitrary: headerText(60) },
);

/** X-Callback-Url values: refused ranges and names (refused before any connection) or hosts under .invalid (never resolve). */
export const callbackUrl: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "http://127.0.0.1:1/", "http://127.1/", "http://localhost/x", "http://LOCALHOST./", "http://10.0.0.1/", "http://172.16.0.1/", "http://192.168.1.1/",
    "http://100.64.0.1/", "http://169.254.169.254/latest/meta-data/", "http://0.0.0.0/", "http://[::1]/", "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/", "http://[fc00::1]/", "http://[fe80::1]/", "http://224.0.0.1/", "http://255.255.255.255/", "http://2130706433/",
    "http://0x7f000001/", "http://017700000001/", "https://hooks.invalid/x", "http://a.b.invalid:8443/cb?x=1", "ftp://files.invalid/",
    "file:///etc/passwd", "gopher://x.invalid/", "javascript:alert(1)", "http://", "http://user:pass@hooks.invalid/", "not a url", "",
  ),
  fc.stringMatching(/^[a-z0-9-]{1,20}$/).map((host) => `https://${host}.invalid/`),
  // Anything else that cannot be an http(s) URL, so that it never names a reachable host.
  headerText(100).filter((text) => !/^\s*https?:/i.test(text)),
);

export interface Headers {
  [name: string]: string;
}

/** The headers of a request, Authorization aside: each there in some requests only. */
export const extraHeaders: fc.Arbitrary<Headers> = fc
  .record({
    "content-type": sometimes(contentType, 50),
    "x-invocation-type": sometimes(fc.constantFrom("Event", "RequestResponse", "DryRun", "event", "", "Event, Event"), 20),
    "idempotency-key": sometimes(fc.oneof(fc.constantFrom("", "k", "stream:x", "x".repeat(255), "x".repeat(256), " k ", "dup"), headerText(300)), 25),
    "x-callback-url": sometimes(callbackUrl, 25),
    accept: sometimes(fc.constantFrom("application/json", "text/html", "*/*", "", "application/xml"), 10),
    "transfer-encoding": sometimes(fc.constant("chunked"), 10),
    expect: sometimes(fc.constantFrom("100-continue", "200-ok"), 6),
    "x-forwarded-for": sometimes(fc.constantFrom("127.0.0.1", "1.2.3.4, 10.0.0.1", "garbage"), 5),
    connection: sometimes(fc.constantFrom("close", "keep-alive", "Upgrade", "upgrade, keep-alive"), 10),
    upgrade: sometimes(fc.constantFrom("websocket", "h2c", "garbage"), 5),
    cookie: sometimes(headerText(200), 5),
  })
  .map((headers) => Object.fromEntries(Object.entries(headers).filter(([, value]) => value !== undefined)) as Headers);

// --------------------------------------------------------------------------------------------- bodies

/** A JSON value as text: what a function must take as its event. */
export const jsonText: fc.Arbitrary<string> = fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value));

export const body: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(Buffer.alloc(0)) },
  { weight: 4, arbitrary: jsonText.map((text) => Buffer.from(text)) },
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 2048 }).map((bytes) => Buffer.from(bytes)) },
  { weight: 2, arbitrary: fc.constantFrom("{", "[1,", '{"ids":', '{"ids":[1]}', '{"ids":"x"}', '{"startFrom":"oldest"}', '{"startFrom":1}', '{"name":"k","scopes":["invoke"],"functions":["*"]}', '{"name":"k","scopes":["admin"]}', '{"__proto__":{"admin":true}}', "null", '"\\ud800"', "1e999", "\u0000").map((text) => Buffer.from(text)) },
  // Huge-ish: past the 16 KiB, 64 KiB and 1 MiB JSON limits of admin routes, rarely past the 6 MB payload limit.
  { weight: 1, arbitrary: fc.constantFrom(20_000, 70_000, 1_100_000, 6_300_000).map((size) => Buffer.from(`"${"x".repeat(size - 2)}"`)) },
);

// ------------------------------------------------------------------------------------ deploy forms

export type Archive =
  | { kind: "bytes"; bytes: Uint8Array }
  | { kind: "tar"; entries: TarEntry[]; after: Uint8Array }
  | { kind: "zip"; entries: Array<{ name: string; data: string; mode: number }> };

const tarEntry: fc.Arbitrary<TarEntry> = fc.record({
  path: fc.oneof(fc.stringMatching(/^[a-z]{1,6}(\/[a-z]{1,6}){0,2}(\.js)?$/), fc.constantFrom("/etc/passwd", "../x", "a/../../b", ".", "./", "", "a//b", "\\x"), fc.string({ unit: "grapheme", maxLength: 120 })),
  type: fc.constantFrom("File", "File", "File", "Directory", "SymbolicLink", "Link", "CharacterDevice", "FIFO", "ContiguousFile", "GNUDumpDir"),
  linkpath: fc.oneof(fc.constantFrom("index.js", "../../etc/passwd", "/etc/passwd", "a/../..", "x", ""), fc.string({ maxLength: 40 })),
  data: fc.string({ maxLength: 200 }),
  size: sometimes(fc.constantFrom(0, 1, 511, 512, 513, 10_000_000, 2 ** 33 - 1), 15),
});

/** Code packages: random bytes (with zip or gzip magic), gzipped noise, small hand-written tar.gz, zips of random entries. */
export const archive: fc.Arbitrary<Archive> = fc.oneof(
  fc.uint8Array({ maxLength: 1024 }).map((bytes): Archive => ({ kind: "bytes", bytes })),
  fc.tuple(fc.constantFrom([0x50, 0x4b, 0x03, 0x04], [0x50, 0x4b, 0x05, 0x06], [0x1f, 0x8b], [0x1f, 0x8b, 0x08, 0x00]), fc.uint8Array({ maxLength: 512 })).map(([magic, rest]): Archive => ({ kind: "bytes", bytes: Uint8Array.from([...magic, ...rest]) })),
  fc.uint8Array({ maxLength: 2048 }).map((bytes): Archive => ({ kind: "bytes", bytes: gzipSync(bytes) })),
  fc.record({ entries: fc.array(tarEntry, { maxLength: 6 }), after: fc.uint8Array({ maxLength: 64 }) }).map((tar): Archive => ({ kind: "tar", ...tar })),
  fc.array(fc.record({ name: fc.oneof(fc.stringMatching(/^[a-z]{1,6}(\/[a-z]{1,6}){0,2}(\.js)?$/), fc.string({ unit: "grapheme", maxLength: 60 })), data: fc.string({ maxLength: 200 }), mode: fc.constantFrom(0o100644, 0o100755, 0o120777, 0o40755, 0o20644, 0) }), { maxLength: 5 }).map((entries): Archive => ({ kind: "zip", entries })),
);

export async function archiveBytes(archive: Archive): Promise<Buffer> {
  if (archive.kind === "bytes") return Buffer.from(archive.bytes);
  if (archive.kind === "tar") {
    try {
      return rawTarGz(archive.entries, Buffer.from(archive.after));
    } catch {
      return gzipSync(Buffer.from(archive.after)); // node-tar refuses to encode the header: noise instead
    }
  }
  const zip = new yazl.ZipFile();
  try {
    for (const entry of archive.entries) zip.addBuffer(Buffer.from(entry.data), entry.name, { mode: entry.mode });
  } catch {
    // yazl refuses some names (absolute, "..", empty): whatever it took so far
  }
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export interface FormPart {
  name: string;
  filename?: string;
  contentType?: string;
  data: { config: unknown } | { text: string } | { archive: Archive };
}

export const formConfig: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom({ runtime: "node" }, { runtime: "python", handler: "main.handler" }, { runtime: "node", timeout: -1 }, { runtime: "cobol" }, {}, [], null, { runtime: "node", environment: { AWS_X: "1" } }, { runtime: "node", auth: "none" }, { runtime: "node", maxContainers: 1e9 }),
  fc.record({ runtime: fc.constantFrom("node", "python"), handler: fc.string({ maxLength: 200 }), environment: fc.dictionary(fc.string({ maxLength: 20 }), fc.string({ maxLength: 40 }), { maxKeys: 5 }), memory: fc.integer() }, { requiredKeys: ["runtime"] }),
  fc.jsonValue({ maxDepth: 3 }),
);

const formPart: fc.Arbitrary<FormPart> = fc.record(
  {
    name: fc.oneof(fc.constantFrom("config", "code", "config", "code", "other", "", "CONFIG", 'co"de', "config\r\nX-Evil: 1"), fc.string({ unit: printable, maxLength: 20 })),
    filename: fc.oneof(fc.constantFrom("code.tgz", "code.zip", "", "../../x", "a\"b", "é.zip", "x".repeat(300)), fc.string({ unit: printable, maxLength: 30 })),
    contentType: fc.constantFrom("application/json", "application/zip", "application/gzip", "text/plain", "", "garbage"),
    data: fc.oneof(formConfig.map((config) => ({ config })), fc.string({ maxLength: 300 }).map((text) => ({ text })), archive.map((archive) => ({ archive }))),
  },
  { requiredKeys: ["name", "data"] },
);

const boundary = fc.oneof(
  fc.constantFrom("b", "----WebKitFormBoundary7MA4YWxkTrZu0gW", "x".repeat(70), "x".repeat(200), "a b", "--", "=", "é"),
  fc.stringMatching(/^[A-Za-z0-9'()+_,./:=?-]{1,70}$/),
);

export interface DeployForm {
  name: string;
  boundary: string;
  /** The boundary the content-type header names (sometimes not the one the body uses), or a header that is no form. */
  contentType: string;
  parts: FormPart[];
  /** Cut the body to this fraction of its length. */
  truncateAt?: number;
  /** A well-formed form of a valid config and a tar.gz of plain files under a valid name: it deserves 200 or 201. */
  deservesSuccess: boolean;
}

const deployName = fc.oneof({ weight: 4, arbitrary: fc.constantFrom("victim", "victim-b", "victim-c") }, { weight: 1, arbitrary: segment });

const validFiles = fc.uniqueArray(fc.record({ path: fc.stringMatching(/^[a-z]{1,8}(\/[a-z]{1,8}){0,2}\.js$/), data: fc.string({ maxLength: 200 }) }), { maxLength: 5, selector: (file) => file.path });

const validForm: fc.Arbitrary<DeployForm> = fc
  .record({ name: fc.constantFrom("victim", "victim-b"), runtime: fc.constantFrom("node", "python"), files: validFiles })
  .map(({ name, runtime, files }) => ({
    name,
    boundary: "fuzzBoundary",
    contentType: "multipart/form-data; boundary=fuzzBoundary",
    parts: [
      { name: "config", data: { config: { runtime } } },
      { name: "code", filename: "code.tgz", data: { archive: { kind: "tar" as const, entries: [runtime === "node" ? { path: "index.js", data: "exports.handler = async () => 1;" } : { path: "index.py", data: "def handler(event, context):\n    return 1\n" }, ...files], after: new Uint8Array() } } },
    ],
    deservesSuccess: true,
  }));

const randomForm: fc.Arbitrary<DeployForm> = fc
  .record({
    name: deployName,
    boundary,
    header: fc.constantFrom("same", "same", "same", "quoted", "other", "none", "json"),
    parts: fc.array(formPart, { maxLength: 4 }),
    truncateAt: sometimes(fc.double({ min: 0, max: 1, noNaN: true }), 15),
  })
  .map(({ name, boundary, header, parts, truncateAt }) => ({
    name,
    boundary,
    contentType: { same: `multipart/form-data; boundary=${boundary}`, quoted: `multipart/form-data; boundary="${boundary}"`, other: "multipart/form-data; boundary=other", none: "multipart/form-data", json: "application/json" }[header]!,
    parts,
    truncateAt,
    deservesSuccess: false,
  }));

/** The form's right shape (config, then code) with random settings and a random package: what reaches the package checks. */
const plausibleForm: fc.Arbitrary<DeployForm> = fc
  .record({ name: deployName, config: formConfig, archive, filename: fc.constantFrom("code.tgz", "code.zip", "c"), truncateAt: sometimes(fc.double({ min: 0, max: 1, noNaN: true }), 10) })
  .map(({ name, config, archive, filename, truncateAt }) => ({
    name,
    boundary: "fuzzBoundary",
    contentType: "multipart/form-data; boundary=fuzzBoundary",
    parts: [{ name: "config", data: { config } }, { name: "code", filename, data: { archive } }],
    truncateAt,
    deservesSuccess: false,
  }));

export const deployForm: fc.Arbitrary<DeployForm> = fc.oneof({ weight: 1, arbitrary: validForm }, { weight: 3, arbitrary: plausibleForm }, { weight: 3, arbitrary: randomForm });

export async function formBody(form: DeployForm): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for (const part of form.parts) {
    const disposition = `form-data; name="${part.name}"${part.filename === undefined ? "" : `; filename="${part.filename}"`}`;
    const type = part.contentType ? `Content-Type: ${part.contentType}\r\n` : "";
    const data = "config" in part.data ? Buffer.from(JSON.stringify(part.data.config) ?? "") : "text" in part.data ? Buffer.from(part.data.text) : await archiveBytes(part.data.archive);
    chunks.push(Buffer.from(`--${form.boundary}\r\nContent-Disposition: ${disposition}\r\n${type}\r\n`), data, Buffer.from("\r\n"));
  }
  chunks.push(Buffer.from(`--${form.boundary}--\r\n`));
  const whole = Buffer.concat(chunks);
  return form.truncateAt === undefined ? whole : whole.subarray(0, Math.floor(whole.length * form.truncateAt));
}

// ----------------------------------------------------------------------------------------- raw bytes

/** Request bytes: noise, and requests of every route whose request line, headers or framing may be wrong or lie. */
export const rawRequest: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 512 }).map((bytes) => Buffer.from(bytes)) },
  {
    weight: 4,
    arbitrary: fc
      .record({
        route,
        method: sometimes(fc.oneof(fc.constantFrom("CONNECT", "get", "G ET", "", "\u0000", "PRI"), fc.string({ unit: printable, maxLength: 12 })), 15),
        target: sometimes(fc.oneof(fc.constantFrom("*", "http://x/healthz", "x:1", "/ healthz", "/a\u0000b", "", "healthz", "/%", "/\u00e9", "/\r/"), fc.string({ maxLength: 40 })), 15),
        version: fc.oneof({ weight: 8, arbitrary: fc.constant("HTTP/1.1") }, { weight: 2, arbitrary: fc.constantFrom("HTTP/1.0", "HTTP/2.0", "HTTP/0.9", "HTTP/1.1x", "", "http/1.1", "HTTP/9.9") }),
        host: fc.oneof({ weight: 8, arbitrary: fc.constant(["Host: x"]) }, { weight: 2, arbitrary: fc.constantFrom([], ["Host: a", "Host: b"], ["Host:"], ["Host: " + "h".repeat(300)]) }),
        auth: fc.constantFrom([], [], [`Authorization: Bearer nope`], ["Authorization: Bearer"]),
        headers: fc.array(
          fc.oneof(
            fc.constantFrom("Content-Length: 5", "Content-Length: 99999", "Content-Length: -1", "Content-Length: 1, 2", "Content-Length: 0x10", "Content-Length: 2", "Transfer-Encoding: chunked", "Transfer-Encoding: gzip, chunked", "Transfer-Encoding: identity", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked", "Connection: close", "Connection: keep-alive", "Expect: 100-continue", "Expect: 200-ok", "Upgrade: websocket", "Connection: Upgrade", " folded", "NoColon", ": empty name", "X\u0000: y", "Content-Type: application/json", "Content-Type: multipart/form-data; boundary=b", "X-Invocation-Type: Event", "X-Callback-Url: http://127.0.0.1:1/"),
            fc.string({ unit: printable, maxLength: 60 }).map((text) => `X-Fuzz: ${text}`),
          ),
          { maxLength: 5 },
        ),
        lineEnd: fc.oneof({ weight: 9, arbitrary: fc.constant("\r\n") }, { weight: 1, arbitrary: fc.constantFrom("\n", "\r", "\n\r") }),
        body: fc.oneof(fc.constant(""), fc.constantFrom("0\r\n\r\n", "5\r\nhello\r\n0\r\n\r\n", "2\r\n{}\r\n0\r\n\r\n", "zz\r\n", "ffffffffffffffffff\r\n", "5;ext=" + "e".repeat(20_000) + "\r\nhello\r\n0\r\n\r\n", "{}", "GET / HTTP/1.1\r\n\r\n", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"), fc.string({ maxLength: 100 })),
      })
      .map(({ route, method, target, version, host, auth, headers, lineEnd, body }) => {
        const head = [`${method ?? route.method} ${target ?? route.path} ${version}`, ...host, ...auth, ...headers];
        return Buffer.from(`${head.join(lineEnd)}${lineEnd}${lineEnd}${body}`, "utf8");
      }),
  },
);

// ------------------------------------------------------------------------------------------- clients

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  ms: number;
}

/** One request on a connection of its own, sent as it is; rejects when no answer arrives within `timeoutMs`. */
export function send(base: string, method: string, path: string, headers: Headers, payload: Buffer, timeoutMs: number): Promise<Answer> {
  const { hostname, port } = new URL(base);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      request.destroy();
      reject(new Error(`no answer to ${method} ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    let answered = false;
    // Node's client frames no body of a GET (or DELETE, OPTIONS, …) unless told its length: the body would be read as the next request.
    const framed = payload.length > 0 && headers["transfer-encoding"] === undefined ? { ...headers, "content-length": String(payload.length) } : headers;
    const request = http.request({ host: hostname, port, method, path, headers: framed, agent: false, setHost: true }, (response) => {
      answered = true;
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("error", () => undefined); // a cut after the head still counts as the answer read so far
      response.on("close", () => {
        clearTimeout(timer);
        resolve({ status: response.statusCode!, headers: response.headers, text: Buffer.concat(chunks).toString("utf8"), ms: performance.now() - started });
      });
    });
    // The server may answer (401, 413) and close before reading a large body: writing on fails then, the answer stands.
    request.on("error", (error) => {
      if (answered) return;
      clearTimeout(timer);
      reject(error);
    });
    request.end(payload.length > 0 ? payload : undefined);
  });
}

export interface RawAnswer {
  /** What the server wrote before it closed the connection. */
  bytes: Buffer;
  /** The server closed the connection (after our end of it, at the latest). */
  closed: boolean;
}

/**
 * Writes `request` and reads what comes back. The sending side stays open until the answers stop (a
 * half-close would make Node abort the request before an async handler answers); then it is ended,
 * and the server has `timeoutMs` to close.
 */
export async function sendRaw(base: string, request: Buffer, timeoutMs: number): Promise<RawAnswer> {
  const { hostname, port } = new URL(base);
  const socket = net.connect(Number(port), hostname);
  const chunks: Buffer[] = [];
  let lastData = performance.now();
  let closed = false;
  socket.on("data", (chunk: Buffer) => {
    chunks.push(chunk);
    lastData = performance.now();
  });
  socket.on("error", () => undefined); // a reset is a close
  const closing = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  void closing.then(() => (closed = true));
  socket.write(request);
  const started = performance.now();
  // Until the server closes, or its answers have paused for a while (keep-alive), or it said nothing for a few seconds (a body it still waits for).
  while (!closed && performance.now() - started < timeoutMs) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    if (chunks.length > 0 ? performance.now() - lastData > 300 : performance.now() - started > 3000) break;
  }
  socket.end();
  await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, timeoutMs))]);
  socket.destroy();
  return { bytes: Buffer.concat(chunks), closed };
}

export interface RawResponse {
  status: number;
  head: string;
  body: string;
}

/**
 * The answers in what a connection received, one after the other (a request may be answered before its
 * body is cut, then the cut answered too). An answer to a HEAD has no body, whatever its Content-Length
 * says (unless the request was refused before it was read: then the error comes with its body).
 */
export function splitResponses(bytes: Buffer, head: boolean): RawResponse[] {
  const responses: RawResponse[] = [];
  let rest = bytes;
  while (rest.length > 0) {
    const headEnd = rest.indexOf("\r\n\r\n");
    if (headEnd < 0) throw new Error(`an answer without the end of its head: ${JSON.stringify(rest.toString("latin1").slice(0, 200))}`);
    const text = rest.subarray(0, headEnd).toString("latin1");
    const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(text)?.[1]);
    if (!status) throw new Error(`not an HTTP answer: ${JSON.stringify(text.slice(0, 200))}`);
    const length = /^content-length: *(\d+)/im.exec(text)?.[1];
    if (length === undefined && /^transfer-encoding: *chunked/im.test(text)) throw new Error(`a chunked answer: ${JSON.stringify(text)}`);
    const after = rest.subarray(headEnd + 4);
    const bodiless = head && status >= 200 && (after.length === 0 || after.subarray(0, 5).toString() === "HTTP/");
    const bodyEnd = bodiless ? headEnd + 4 : length === undefined ? rest.length : headEnd + 4 + Number(length);
    responses.push({ status, head: text, body: rest.subarray(headEnd + 4, bodyEnd).toString("utf8") });
    rest = rest.subarray(bodyEnd);
  }
  return responses;
}
