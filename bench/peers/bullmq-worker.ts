// The BullMQ peer's worker process (forked by peers/bullmq.ts): the bench's no-op handler (returns
// its input) as a BullMQ Worker on the bench's redis-server, so that a job crosses a process
// boundary as a Hearth request crosses into its container.

import { Worker } from "bullmq";
import { bullmqConnection, BULLMQ_QUEUE } from "./bullmq-connection.js";

const [redisUrl, concurrency] = process.argv.slice(2);
const worker = new Worker(BULLMQ_QUEUE, async (job) => job.data, { connection: bullmqConnection(redisUrl!), concurrency: Number(concurrency) });
worker.on("error", (error) => process.stderr.write(`bullmq worker: ${error.message}\n`));
void worker.waitUntilReady().then(() => process.send?.({ ready: true }));
process.once("SIGTERM", () => void worker.close().finally(() => process.exit(0)));
