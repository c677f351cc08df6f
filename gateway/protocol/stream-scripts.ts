// The bindings of the scripts that subscribe a function to a Redis Stream (gateway/async/stream-*.ts).

import { EVENTS_CHANNEL, streamGroup, type FunctionKeys } from "./keys.js";
import { defineScript } from "./scripts.js";
import subscribeStreamSource from "./lua/subscribe-stream.lua";
import unsubscribeStreamSource from "./lua/unsubscribe-stream.lua";
import restoreStreamGroupSource from "./lua/restore-stream-group.lua";

export interface StreamInput {
  keys: FunctionKeys;
  fn: string;
  stream: string;
}

export type SubscribeOutcome = { kind: "created" | "exists"; subscriptionJson: string } | { kind: "missing" } | { kind: "not-a-stream"; keyType: string };

export const subscribeStream = defineScript<StreamInput & { startId: "$" | "0"; subscriptionJson: string }, SubscribeOutcome>({
  source: subscribeStreamSource,
  call: ({ keys, fn, stream, startId, subscriptionJson }) => ({
    keys: [keys.def, keys.streams, stream],
    args: [stream, streamGroup(fn), startId, subscriptionJson, fn, EVENTS_CHANNEL],
  }),
  decode: (raw) => {
    const [kind, detail] = raw as [string, string?];
    if (kind === "missing") return { kind };
    if (kind === "not-a-stream") return { kind, keyType: detail! };
    return { kind: kind as "created" | "exists", subscriptionJson: detail! };
  },
});

/** False when the function was not subscribed. */
export const unsubscribeStream = defineScript<StreamInput, boolean>({
  source: unsubscribeStreamSource,
  call: ({ keys, fn, stream }) => ({ keys: [keys.streams, stream], args: [stream, streamGroup(fn), fn, EVENTS_CHANNEL] }),
  decode: (raw) => raw === 1,
});

/** True when the subscription stands (its group exists now). */
export const restoreStreamGroup = defineScript<StreamInput, boolean>({
  source: restoreStreamGroupSource,
  call: ({ keys, fn, stream }) => ({ keys: [keys.streams, stream], args: [stream, streamGroup(fn)] }),
  decode: (raw) => raw === 1,
});
