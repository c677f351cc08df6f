// The Redis Stream entry a stream-triggered async invocation came from (its record's `source`). The
// scripts that make such an invocation final return it, and their caller acknowledges it after, a
// command of its own: the stream is its producer's key, in another Redis Cluster slot (maybe on
// another node) than the function's. A process that dies in between leaves the entry pending, and the
// stream reader that claims it later finds its invocation final and acknowledges it.

import type { RedisClient } from "../redis/connections.js";

/** A connection that can acknowledge entries of `stream`: a gateway's own (a Cluster client routes by key) or the adapter's to the stream's master. */
type StreamConnection = (stream: string) => Pick<RedisClient, "xack">;

export interface StreamSource {
  stream: string;
  group: string;
  entry: string;
}

/** The sources a script returned (JSON, as the record holds them). */
export function decodeSources(raw: unknown): StreamSource[] {
  return (raw as Array<Buffer | string>).map((json) => JSON.parse(json.toString()) as StreamSource);
}

/**
 * XACKs each entry. A stream or group gone meanwhile acknowledges nothing, and is no error; a key the
 * producer replaced with another type rejects (WRONGTYPE), as does an entry of a stream the connection's
 * user may not write.
 */
export async function xackSources(connectionFor: StreamConnection, sources: StreamSource[]): Promise<void> {
  await Promise.all(sources.map(({ stream, group, entry }) => connectionFor(stream).xack(stream, group, entry)));
}
