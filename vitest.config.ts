import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// Workspace packages resolve to their TypeScript sources in tests (no build step needed).
const src = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  resolve: {
    alias: {
      "@jetmesh/testing": src("./testing/src/index.ts"),
      "@jetmesh/mesh": src("./services/mesh/src/index.ts"),
      "@jetmesh/shop": src("./services/shop/src/index.ts"),
      "@jetmesh/cli": src("./services/cli/src/index.ts"),
      "@jetmesh/operator": src("./operator/src/index.ts"),
    },
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
