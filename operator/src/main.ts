// Process entry: `node --conditions=source operator/src/main.ts` (KUBECONFIG, NATS_URL, ...).
// Exits non-zero only on bad configuration; everything else (NATS or the API server away) is
// waited out and reported in status and /readyz.
import { ConfigError, parseConfig } from "./config.ts";
import { createLogger } from "./log.ts";
import { startOperator } from "./index.ts";

let config;
try {
  config = parseConfig(process.env);
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`jetmesh-operator: configuration error: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
const log = createLogger(config.logLevel);
const op = await startOperator(config, { logger: log, processMetrics: true });

let stopping = false;
const shutdown = (signal: string) => {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, "shutting down");
  const force = setTimeout(() => process.exit(1), 10_000);
  force.unref();
  op.stop().then(
    () => process.exit(0),
    (err: Error) => {
      log.error({ err: err.message }, "shutdown failed");
      process.exit(1);
    },
  );
};
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));
