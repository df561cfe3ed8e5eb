import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// Workspace packages resolve to their TypeScript sources in tests (no build step needed).
// Exact names (a prefix match would turn a subpath into ".../index.ts/<subpath>").
const src = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const exact = (name: string, path: string) => ({ find: new RegExp(`^${name}$`), replacement: src(path) });

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
    alias: [
      exact("@jetmesh/testing", "./testing/src/index.ts"),
      exact("@jetmesh/mesh", "./services/mesh/src/index.ts"),
      exact("@jetmesh/mesh/consumer-contract", "./services/mesh/src/consumer-contract.ts"),
      exact("@jetmesh/mesh/tracing", "./services/mesh/src/tracing.ts"),
      exact("@jetmesh/shop", "./services/shop/src/index.ts"),
      exact("@jetmesh/shop-tools", "./services/shop-tools/src/index.ts"),
      exact("@jetmesh/edge", "./services/edge/src/index.ts"),
      exact("@jetmesh/cli", "./services/cli/src/index.ts"),
      exact("@jetmesh/operator", "./operator/src/index.ts"),
    ],
  },
  test: {
    exclude,
    projects: [
      { extends: true, test: { name: "nats-current", include: ["**/test/**/*.test.ts"] } },
      ...(compatBin ? [{ extends: true, test: { name: "nats-oldest", include: COMPAT_SUBSET, env: { NATS_SERVER_BIN: compatBin } } }] : []),
    ],
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
      // Totals also when a test failed (the summary line reports both).
      reportOnFailure: true,
      reportsDirectory: process.env.COVERAGE_DIR ?? "node_modules/.cache/coverage",
    },
  },
});
