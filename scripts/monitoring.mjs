// Writes Hearth's Grafana dashboards and Prometheus rules from monitoring/*.ts (see monitoring/write.ts).
import { build } from "esbuild";
import { createRequire } from "node:module";
import path from "node:path";

const outfile = "dist/monitoring-write.cjs";
await build({ entryPoints: ["monitoring/write.ts"], bundle: true, platform: "node", target: "node20", format: "cjs", outfile, logLevel: "warning" });
createRequire(import.meta.url)(path.resolve(outfile));
