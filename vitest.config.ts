import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// Workspace packages resolve to their TypeScript sources in tests (no build step needed).
// Exact names (a prefix match would turn a subpath into ".../index.ts/<subpath>").
const src = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const exact = (name: string, path: string) => ({ find: new RegExp(`^${name}$`), replacement: src(path) });

export default defineConfig({
  resolve: {
    alias: [
      exact("@jetmesh/testing", "./testing/src/index.ts"),
      exact("@jetmesh/mesh", "./services/mesh/src/index.ts"),
      exact("@jetmesh/mesh/consumer-contract", "./services/mesh/src/consumer-contract.ts"),
      exact("@jetmesh/shop", "./services/shop/src/index.ts"),
      exact("@jetmesh/cli", "./services/cli/src/index.ts"),
      exact("@jetmesh/operator", "./operator/src/index.ts"),
    ],
  },
  test: {
    include: ["**/test/**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/dist/**", ".tools/**"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    reporters: ["default"],
    // V8 coverage of the shipped sources, off by default (it slows every test file); COVERAGE=1
    // turns it on: a text summary at the end, per-file numbers in coverage-summary.json.
    coverage: {
      enabled: process.env.COVERAGE === "1",
      provider: "v8",
      include: ["services/*/src/**/*.ts", "operator/src/**/*.ts", "testing/src/**/*.ts"],
      exclude: ["**/*.d.ts", "**/test/**"],
      reporter: ["text-summary", "json-summary"],
      reportsDirectory: process.env.COVERAGE_DIR ?? "node_modules/.cache/coverage",
    },
  },
});
