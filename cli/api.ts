// The HTTP client of Hearth's API: a failed call becomes a CliError carrying the API's `errorType: errorMessage`.

import { CliError } from "./errors.js";
import type { Connection } from "./settings.js";

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  /** Sent as JSON. */
  json?: unknown;
  body?: BodyInit;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export class HearthApi {
  constructor(readonly connection: Connection) {}

  /** The response of a successful call (2xx); any other answer throws with the API's message. */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const response = await this.send(method, path, options);
    if (!response.ok) throw await errorOf(response);
    return response;
  }

  /** The response whatever its status (for invoke, whose error answers are the function's). */
  async send(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { ...options.headers };
    if (this.connection.token) headers.authorization = `Bearer ${this.connection.token}`;
    let body = options.body;
    if (options.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(options.json);
    }
    const url = this.url(path, options.query);
    try {
      // Streamed bodies (deploy's upload) need half duplex in Node's fetch.
      return await fetch(url, { method, headers, body, signal: options.signal, duplex: "half" } as RequestInit);
    } catch (error) {
      if (options.signal?.aborted) throw error;
      const cause = (error as { cause?: Error }).cause;
      throw new CliError(`cannot reach Hearth at ${this.connection.url}: ${cause?.message ?? (error as Error).message}`);
    }
  }

  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.request(method, path, options);
    return (await response.json()) as T;
  }

  private url(path: string, query: RequestOptions["query"] = {}): string {
    const url = new URL(this.connection.url + path);
    for (const [name, value] of Object.entries(query)) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    return url.toString();
  }
}

/** `errorType: errorMessage` from Hearth's JSON errors; the status and body text for anything else. */
export async function errorOf(response: Response): Promise<CliError> {
  const text = await response.text();
  return new CliError(describeError(text) ?? `HTTP ${response.status}${text ? `: ${text.slice(0, 500)}` : ""}`);
}

export function describeError(body: unknown): string | undefined {
  let error = body;
  if (typeof body === "string") {
    try {
      error = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  if (!error || typeof error !== "object") return undefined;
  const { errorType, errorMessage } = error as { errorType?: unknown; errorMessage?: unknown };
  if (typeof errorMessage !== "string" && typeof errorType !== "string") return undefined;
  return [errorType, errorMessage].filter((part) => typeof part === "string").join(": ");
}

/** A path segment from user input (a name, an id), so that `/` or `?` in it cannot reach another route. */
export function segment(value: string): string {
  return encodeURIComponent(value);
}
