// The bindings of the scripts that record a function's Redis Stream subscriptions (gateway/async/stream-*.ts).
// They touch the function's keys only: the consumer group on the stream, its producer's key, is made
// and destroyed by commands of their own around them (async/stream-subscriptions.ts).

import { EVENTS_CHANNEL, type FunctionKeys } from "./keys.js";
import { defineScript } from "./scripts.js";
import subscribeStreamSource from "./lua/subscribe-stream.lua";
import unsubscribeStreamSource from "./lua/unsubscribe-stream.lua";

export interface StreamInput {
  keys: FunctionKeys;
  fn: string;
  stream: string;
}

export type SubscribeOutcome = { kind: "created" | "exists"; subscriptionJson: string } | { kind: "missing" };

export const subscribeStream = defineScript<StreamInput & { subscriptionJson: string }, SubscribeOutcome>({
  source: subscribeStreamSource,
  call: ({ keys, fn, stream, subscriptionJson }) => ({
    keys: [keys.def, keys.streams],
    args: [stream, subscriptionJson, fn, EVENTS_CHANNEL],
  }),
  decode: (raw) => {
    const [kind, detail] = raw as [string, string?];
    if (kind === "missing") return { kind };
    return { kind: kind as "created" | "exists", subscriptionJson: detail! };
  },
});

/** False when the function was not subscribed. */
export const unsubscribeStream = defineScript<StreamInput, boolean>({
  source: unsubscribeStreamSource,
  call: ({ keys, fn, stream }) => ({ keys: [keys.streams], args: [stream, fn, EVENTS_CHANNEL] }),
  decode: (raw) => raw === 1,
});
