import { defineConfig, type Plugin } from "vitest/config";

/** Lua scripts are imported as text, as esbuild's text loader does in the build. */
const luaAsText: Plugin = {
  name: "lua-as-text",
  transform(code, id) {
    if (id.endsWith(".lua")) return { code: `export default ${JSON.stringify(code)};`, map: null };
  },
};

export default defineConfig({
  plugins: [luaAsText],
  test: {
    include: ["test/**/*.test.ts"],
    reporters: ["default", "./test/support/summary-reporter.ts"],
    // End-to-end files start containers; one file at a time keeps a 2-core machine responsive.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
