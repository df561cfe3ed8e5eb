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
  },
});
