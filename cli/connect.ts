// The API client every command that talks to Hearth uses.

import { HearthApi } from "./api.js";
import { resolveConnection } from "./settings.js";

export async function connect(): Promise<HearthApi> {
  return new HearthApi(await resolveConnection());
}
