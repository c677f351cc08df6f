// `node dist/hearth.cjs`: runs Hearth with the settings of its environment (see config.ts).

import { configFromEnv } from "./config.js";
import { startHearth } from "./hearth.js";
import { createLogger } from "./logger.js";

const logger = createLogger("hearth");

async function main(): Promise<void> {
  const config = configFromEnv(process.env);
  const hearth = await startHearth(config, logger);
  // The path of a generated admin token, never the token, and Redis without its password: logs travel
  // further than the data directory.
  logger.info({ url: hearth.url, redis: hearth.redis, roles: config.roles, invoker: config.invokerId, adminTokenFile: hearth.adminTokenFile }, "Hearth is running");
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down: finishing requests in flight");
    hearth.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

main().catch((err: unknown) => {
  logger.error({ err }, "Hearth could not start");
  process.exit(1);
});
