// Builds the programs, each one self-contained file that needs nothing but Node at run time:
// the gateway (dist/hearth.cjs, with its worker dist/package-inspector.cjs), the runtime adapter (dist/adapter.cjs, copied into every runtime image)
// and the `hearth` command (dist/hearth-cli.cjs).
import { chmodSync } from "node:fs";
import { build } from "esbuild";

const common = { bundle: true, platform: "node", target: "node20", loader: { ".lua": "text" }, sourcemap: true, logLevel: "warning" };

// dockerode's SSH transport has optional native parts; Hearth talks to Docker over its socket.
await build({ ...common, entryPoints: ["gateway/main.ts"], outfile: "dist/hearth.cjs", format: "cjs", external: ["cpu-features", "*.node"] });
// The gateway's code package inspector, a worker thread it starts per deploy (gateway/functions/package-inspector.ts).
await build({ ...common, entryPoints: ["gateway/functions/package-inspector-worker.ts"], outfile: "dist/package-inspector.cjs", format: "cjs" });
await build({ ...common, entryPoints: ["gateway/adapter/main.ts"], outfile: "dist/adapter.cjs", format: "cjs", sourcemap: false, minify: true });
// The `hearth` command (cli/), run by Node as the package's bin.
await build({ ...common, entryPoints: ["cli/main.ts"], outfile: "dist/hearth-cli.cjs", format: "cjs", banner: { js: "#!/usr/bin/env node" } });
chmodSync("dist/hearth-cli.cjs", 0o755);
// The benchmark harness (npm run bench, see bench/): the orchestrator and the processes it forks.
await build({
  ...common,
  entryPoints: { main: "bench/main.ts", "load-worker": "bench/load/worker.ts", "direct-server": "bench/services/direct-server.ts", "bullmq-worker": "bench/peers/bullmq-worker.ts" },
  outdir: "dist/bench",
  outExtension: { ".js": ".cjs" },
  format: "cjs",
  external: ["cpu-features", "*.node"],
});
