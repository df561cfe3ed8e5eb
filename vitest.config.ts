import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// Workspace packages resolve to their TypeScript sources in tests (no build step needed).
const src = (p: string) => fileURLToPath(new URL(p, import.meta.url));

// The compatibility subset: with NATS_SERVER_COMPAT_BIN set (the oldest supported nats-server,
// tools/ensure.sh nats-compat), these files run a second time against it, as the project
// "oldest-nats". The runtime on the wire, the consumer runner, and the operator's reconcile.
export const COMPAT_SUBSET = [
  "services/mesh/test/publisher.test.ts",
  "services/mesh/test/consumer.test.ts",
  "operator/test/jetstream-admin.test.ts",
  "operator/test/e2e-shop.test.ts",
  "operator/test/e2e-pause.test.ts",
  "operator/test/e2e-dead-letter.test.ts",
];
const compatBin = process.env.NATS_SERVER_COMPAT_BIN;
const exclude = ["**/node_modules/**", "**/dist/**", ".tools/**"];

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
    exclude,
    projects: [
      { extends: true, test: { name: "nats-current", include: ["**/test/**/*.test.ts"] } },
      ...(compatBin
        ? [{ extends: true, test: { name: "nats-oldest", include: COMPAT_SUBSET, env: { NATS_SERVER_BIN: compatBin } } }]
        : []),
    ],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    reporters: ["default"],
  },
});
