// The bindings of the scripts that keep API keys (gateway/auth/keys.ts).

import { API_KEY_SECRET_PREFIX, API_KEYS_INDEX, EVENTS_CHANNEL } from "./keys.js";
import { defineScript } from "./scripts.js";
import createApiKeySource from "./lua/create-api-key.lua";
import revokeApiKeySource from "./lua/revoke-api-key.lua";

/** False when the id or the secret's hash is taken (the caller draws new ones). */
export const createApiKey = defineScript<{ id: string; secretSha256: string; recordJson: string }, boolean>({
  source: createApiKeySource,
  call: ({ id, secretSha256, recordJson }) => ({ keys: [API_KEYS_INDEX, API_KEY_SECRET_PREFIX + secretSha256], args: [id, recordJson] }),
  decode: (raw) => raw === 1,
});

/** False when there is no key of that id. */
export const revokeApiKey = defineScript<{ id: string }, boolean>({
  source: revokeApiKeySource,
  call: ({ id }) => ({ keys: [API_KEYS_INDEX], args: [id, API_KEY_SECRET_PREFIX, EVENTS_CHANNEL] }),
  decode: (raw) => raw === 1,
});
