// The HTTP trigger formats, as plain functions of a request and a result: the JSON event (default),
// the raw body (`?integration=raw`, Yandex Cloud Functions style) and the HTTP-proxy event (API
// Gateway payload 2.0 style, whose result describes the whole HTTP response).

import { isUtf8 } from "node:buffer";
import { randomUUID } from "node:crypto";
import { HearthError } from "../errors.js";

/** What the HTTP layer hands over: express's request reduced to what the formats read. */
export interface HttpRequest {
  method: string;
  /** The path under the function, starting with "/". */
  path: string;
  /** Query string without the "?" (may be empty). */
  query: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  sourceIp: string;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  cookies: string[];
  body: Buffer;
}

/** The request body, checked to be JSON; an empty body is the empty event {}. */
export function jsonEvent(body: Buffer): Buffer {
  if (body.length === 0) return Buffer.from("{}");
  try {
    JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw new HearthError(400, "InvalidRequestContent", `request body is not valid JSON: ${(error as Error).message}`);
  }
  return body;
}

/**
 * A raw-integration result: a JSON string is sent as its text, anything else as the bytes the
 * runtime sent (Go's []byte results are not JSON at all).
 */
export function rawResponse(result: Buffer): { contentType: string; body: Buffer } {
  if (result[0] === 0x22 /* " */) {
    try {
      const text: unknown = JSON.parse(result.toString("utf8"));
      if (typeof text === "string") return { contentType: "text/plain; charset=utf-8", body: Buffer.from(text) };
    } catch {
      // Not JSON after all: sent as it is below.
    }
  }
  return { contentType: isJson(result) ? "application/json" : "application/octet-stream", body: result };
}

/** Content types whose bodies go into the event as text; anything else is base64. */
const TEXT_TYPES = /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded|graphql)|[^;]*\+(json|xml))/i;

export function proxyEvent(req: HttpRequest, now = new Date()): Buffer {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name === "cookie") continue;
    headers[name.toLowerCase()] = Array.isArray(value) ? value.join(",") : value;
  }
  const cookieHeader = req.headers.cookie;
  const cookies = (Array.isArray(cookieHeader) ? cookieHeader.join("; ") : (cookieHeader ?? ""))
    .split(";")
    .map((cookie) => cookie.trim())
    .filter(Boolean);
  const queryStringParameters: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(req.query)) {
    queryStringParameters[name] = name in queryStringParameters ? `${queryStringParameters[name]},${value}` : value;
  }
  const asText = TEXT_TYPES.test(headers["content-type"] ?? "") || (headers["content-type"] === undefined && isUtf8(req.body));
  const event = {
    version: "2.0",
    routeKey: "$default",
    rawPath: req.path,
    rawQueryString: req.query,
    ...(cookies.length > 0 && { cookies }),
    headers,
    ...(req.query && { queryStringParameters }),
    requestContext: {
      accountId: "anonymous",
      apiId: "hearth",
      domainName: headers.host ?? "",
      http: { method: req.method, path: req.path, protocol: "HTTP/1.1", sourceIp: req.sourceIp, userAgent: headers["user-agent"] ?? "" },
      requestId: randomUUID(),
      routeKey: "$default",
      stage: "$default",
      time: apiGatewayTime(now),
      timeEpoch: now.getTime(),
    },
    ...(req.body.length > 0 && { body: asText ? req.body.toString("utf8") : req.body.toString("base64") }),
    isBase64Encoded: req.body.length > 0 && !asText,
  };
  return Buffer.from(JSON.stringify(event));
}

/**
 * The HTTP response a proxy result describes. A result without statusCode is the JSON body of a 200;
 * one with statusCode must be well formed, or the caller gets 502 with what is wrong.
 */
export function proxyResponse(result: Buffer): HttpResponse {
  let parsed: unknown;
  try {
    parsed = JSON.parse(result.toString("utf8"));
  } catch {
    throw malformed("the result is not JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed) || !("statusCode" in parsed)) {
    return { status: 200, headers: { "content-type": "application/json" }, cookies: [], body: result };
  }
  const { statusCode, headers = {}, cookies = [], body = "", isBase64Encoded = false } = parsed as Record<string, unknown>;
  if (typeof statusCode !== "number" || !Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599) {
    throw malformed(`statusCode must be an integer from 100 to 599, got ${JSON.stringify(statusCode)}`);
  }
  if (typeof headers !== "object" || headers === null || Array.isArray(headers)) throw malformed("headers must be an object");
  const responseHeaders: Record<string, string> = { "content-type": "application/json" };
  for (const [name, value] of Object.entries(headers)) {
    if (!["string", "number", "boolean"].includes(typeof value)) throw malformed(`header ${name} must be a string, number or boolean`);
    if (!/^[!#$%&'*+.^`|~\w-]+$/.test(name)) throw malformed(`${JSON.stringify(name)} is not a valid header name`);
    const text = String(value);
    if (/[\r\n\0]/.test(text)) throw malformed(`header ${name} holds a line break or NUL`);
    responseHeaders[name.toLowerCase()] = text;
  }
  if (!Array.isArray(cookies) || !cookies.every((cookie) => typeof cookie === "string" && !/[\r\n\0]/.test(cookie))) {
    throw malformed("cookies must be an array of strings");
  }
  if (typeof body !== "string") throw malformed("body must be a string (JSON-encode objects yourself)");
  if (typeof isBase64Encoded !== "boolean") throw malformed("isBase64Encoded must be a boolean");
  // Framing is the gateway's business, not the function's.
  for (const hopByHop of ["content-length", "transfer-encoding", "connection", "keep-alive"]) delete responseHeaders[hopByHop];
  return { status: statusCode, headers: responseHeaders, cookies: cookies as string[], body: Buffer.from(body, isBase64Encoded ? "base64" : "utf8") };
}

function malformed(problem: string): HearthError {
  return new HearthError(502, "Hearth.MalformedProxyResponse", `the function's HTTP-proxy result is malformed: ${problem}`);
}

export function isJson(data: Buffer): boolean {
  try {
    JSON.parse(data.toString("utf8"));
    return true;
  } catch {
    return false;
  }
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** API Gateway's requestContext.time: 21/Nov/2026:05:54:48 +0000. */
function apiGatewayTime(date: Date): string {
  const pad = (n: number): string => String(n).padStart(2, "0");
  return `${pad(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`;
}
