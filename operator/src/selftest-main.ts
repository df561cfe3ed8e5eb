// Process entry of the chart's `helm test` Pod (templates/tests/selftest.yaml), in the operator
// image: `node dist/selftest-main.js`. NATS settings as the operator reads them (NATS_URL,
// NATS_USER, ...); SELFTEST_NAMESPACE, SELFTEST_LABEL_SELECTOR, SELFTEST_STREAM,
// SELFTEST_TIMEOUT_SECONDS. Exit 0: the install works; 1: it does not (the reason on stderr);
// 2: bad configuration.
import { ConfigError, parseConfig } from "./config.ts";
import { KubeRest } from "./kube/rest.ts";
import { runSelfTest } from "./selftest.ts";

let settings;
try {
  const config = parseConfig(process.env);
  const namespace = process.env.SELFTEST_NAMESPACE ?? config.leaderElection.namespace;
  const labelSelector = process.env.SELFTEST_LABEL_SELECTOR ?? "";
  if (!labelSelector) throw new ConfigError("SELFTEST_LABEL_SELECTOR is required, e.g. app.kubernetes.io/instance=jetmesh");
  const timeout = Number(process.env.SELFTEST_TIMEOUT_SECONDS ?? "180");
  if (!Number.isFinite(timeout) || timeout <= 0)
    throw new ConfigError(`SELFTEST_TIMEOUT_SECONDS="${process.env.SELFTEST_TIMEOUT_SECONDS}": expected a number of seconds > 0`);
  settings = { config, namespace, labelSelector, timeoutMs: timeout * 1000, stream: process.env.SELFTEST_STREAM || undefined };
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`jetmesh selftest: configuration error: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}

const log = (line: string) => process.stdout.write(`jetmesh selftest: ${line}\n`);
try {
  await runSelfTest({
    rest: KubeRest.fromFile(settings.config.kubeconfigPath),
    nats: settings.config.nats,
    namespace: settings.namespace,
    labelSelector: settings.labelSelector,
    stream: settings.stream,
    timeoutMs: settings.timeoutMs,
    log,
  });
  log("PASS");
  process.exit(0);
} catch (err) {
  process.stderr.write(`jetmesh selftest: FAIL: ${(err as Error).message}\n`);
  process.exit(1);
}
