// The baseline: the benchmark's handler served by a plain express app, with the work Hearth's own
// route does on the way (raw body, JSON check, JSON response) and nothing else. A child process of the
// bench (like the gateway), listening on a free loopback port that it reports over IPC.

import express from "express";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";

type Handler = (event: unknown, context: object) => Promise<unknown>;

const handlerPath = process.argv[2];
if (!handlerPath) throw new Error("usage: direct-server <handler file>");
const { handler } = createRequire(__filename)(handlerPath) as { handler: Handler };

const app = express();
app.disable("x-powered-by");
app.post("/", express.raw({ type: () => true, limit: 6 * 1024 * 1024 }), async (req, res) => {
  const body = req.body as Buffer | undefined;
  const event: unknown = body && body.length > 0 ? JSON.parse(body.toString("utf8")) : {};
  const result = await handler(event, { awsRequestId: "direct" });
  res.status(200).type("application/json").send(JSON.stringify(result ?? null));
});

const server = app.listen(0, "127.0.0.1", () => {
  process.send!({ port: (server.address() as AddressInfo).port });
});
process.on("disconnect", () => process.exit(0));
process.on("SIGTERM", () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
