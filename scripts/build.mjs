// Builds the two programs: the gateway (dist/hearth.js, its packages from node_modules) and the
// runtime adapter (dist/adapter.cjs, one self-contained file copied into every runtime image).
import { build } from "esbuild";

const common = { bundle: true, platform: "node", target: "node20", loader: { ".lua": "text" }, sourcemap: true, logLevel: "warning" };

await build({ ...common, entryPoints: ["gateway/main.ts"], outfile: "dist/hearth.js", format: "esm", packages: "external" });
await build({ ...common, entryPoints: ["gateway/adapter/main.ts"], outfile: "dist/adapter.cjs", format: "cjs", sourcemap: false, minify: true });
